"""What a layout is once compiled: its columns and totals (:class:`Column`, :class:`Total`),
the :class:`CompiledLayout` documents evaluate, the layout of the built-in columns alone, the
limits of a layout and how its entries are stored as JSON."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crm import money
from crm.services.doctypes import BY_PATH, DOC_TYPES
from crm_idca import formulas as fx
from crm_idca.formulas import BOOL, DATE, NUMBER, TEXT

BUILTIN_COLUMNS = ("item", "description", "quantity", "unit_price", "discount", "net", "tax", "total")
BUILTIN_LABELS = {"item": "Item", "description": "Description", "quantity": "Quantity",
                  "unit_price": "Unit price", "discount": "Discount", "net": "Net", "tax": "Tax",
                  "total": "Total"}
#: what line formulas may read of a line's built-in amounts (all numbers, never empty)
LINE_NAMES = ("quantity", "unit_price", "gross", "discount", "net", "tax", "total")
TOTAL_LABELS = {"subtotal": "Subtotal", "discount": "Discount", "taxable": "Taxable", "tax": "Tax",
                "shipping": "Shipping", "shipping_tax": "Shipping tax", "adjustment": "Adjustment",
                "grand_total": "Grand total"}
#: the parts of grand_total: overriding one makes the core recompute grand_total
GRAND_TOTAL_PARTS = ("taxable", "tax", "shipping", "shipping_tax", "adjustment")

COLUMN_TYPES = ("number", "money", "percent", "text", "date", "select")
TOTAL_TYPES = ("number", "money", "percent")
KIND_OF = {"number": NUMBER, "money": NUMBER, "percent": NUMBER, "text": TEXT, "select": TEXT, "date": DATE}
DEFAULT_SOURCES = ("value", "item", "item_custom")

ITEM_FIELDS = {"unit_price": NUMBER, "purchase_cost": NUMBER, "qty_per_unit": NUMBER, "reorder_level": NUMBER,
               "on_hand": NUMBER, "available": NUMBER, "name": TEXT, "sku": TEXT, "kind": TEXT,
               "category": TEXT, "subcategory": TEXT, "manufacturer": TEXT, "usage_unit": TEXT}
DOC_FIELDS = {"currency": TEXT, "tax_mode": TEXT, "doc_type": TEXT, "status": TEXT, "number": TEXT,
              "subject": TEXT, "billing_country": TEXT, "shipping_country": TEXT,
              "conversion_rate": NUMBER, "discount_percent": NUMBER, "discount_amount": NUMBER,
              "shipping_amount": NUMBER, "adjustment": NUMBER,
              "date": DATE, "due_date": DATE, "valid_until": DATE, "invoice_date": DATE}
CUSTOM_FIELD_KINDS = {"text": TEXT, "select": TEXT, "number": NUMBER, "decimal": NUMBER, "date": DATE,
                      "boolean": BOOL}

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")
WIDTH = re.compile(r"^\d{1,4}(\.\d{1,2})?(px|%|em|rem|mm|cm|pt|ch)\Z")
#: keys a custom column or total may not take
RESERVED = frozenset({"errors", "item", "doc", "sum", "if", "round", "min", "max", "abs", "coalesce",
                      "subtotal", "sums", "true", "false", "none", "custom", "idca"})
MAX_COLUMNS = 40
MAX_TOTALS = 20
MAX_LABEL = 100
MAX_CHOICES = 100
MAX_DECIMALS = 6
MAX_TEXT_VALUE = 2000
MAX_NUMBER = Decimal("1e15")
BUILTIN_TYPES = {"item": "text", "description": "text", "quantity": "number", "unit_price": "money",
                 "discount": "money", "net": "money", "tax": "money", "total": "money"}


def doc_type_of(path_or_name: str) -> str:
    """``"sales-orders"`` or ``"sales_order"`` -> ``"sales_order"``."""
    if path_or_name in DOC_TYPES:
        return path_or_name
    return BY_PATH[path_or_name].name


class _WithFormula:
    """A column or a total, whose ``formula`` is the text sent until the layout is built, then
    the prepared formula (None: none, or one that did not compile)."""

    key: str
    formula: fx.Formula | str | None

    @property
    def prepared(self) -> fx.Formula:
        """The prepared formula, of a formula column or total of a built layout."""
        if not isinstance(self.formula, fx.Formula):
            raise TypeError(f"{self.key}: no prepared formula")
        return self.formula


@dataclass
class Column(_WithFormula):
    """One entry of a layout's columns (built-in or custom), normalised."""

    key: str
    label: str
    builtin: bool
    visible: bool = True
    width: str | None = None
    type: str = "text"
    editable: bool = False
    formula: fx.Formula | str | None = None
    default: dict | None = None
    default_value: Any = None      # a fixed default, converted
    decimals: int | None = None
    choices: tuple = ()
    position: int = 0              # index in the stored list, for error fields

    @property
    def kind(self) -> str:
        return KIND_OF.get(self.type, TEXT)

    def places(self, currency: str) -> int | None:
        if self.decimals is not None:
            return self.decimals
        if self.type == "money":
            return money.currency_precision(currency)
        if self.type == "percent":
            return 2
        if self.type == "number":
            return 3
        return None


@dataclass
class Total(_WithFormula):
    """One entry of a layout's totals: a custom total, or a built-in one relabelled,
    hidden or replaced (``formula`` on a built-in key)."""

    key: str
    label: str
    builtin: bool
    visible: bool = True
    type: str = "money"
    formula: fx.Formula | str | None = None
    decimals: int | None = None
    position: int = 0

    @property
    def overrides(self) -> bool:
        return self.builtin and self.formula is not None

    def places(self, currency: str) -> int:
        if self.decimals is not None:
            return self.decimals
        if self.type == "money":
            return money.currency_precision(currency)
        return 2 if self.type == "percent" else 3


@dataclass
class CompiledLayout:
    doc_type: str
    version: int
    columns: list[Column]                    # display order, built-in and custom
    totals: list[Total]                      # display order
    column_order: list[Column]               # formula columns, in evaluation order
    value_columns: list[Column]              # custom columns without a formula
    total_order: list[Total]                 # totals with a formula, in evaluation order
    item_fields: set = field(default_factory=set)
    item_custom: dict = field(default_factory=dict)    # key -> kind, the ones formulas/defaults read
    doc_fields: set = field(default_factory=set)
    doc_custom: dict = field(default_factory=dict)
    sum_columns: set = field(default_factory=set)
    stored: dict = field(default_factory=dict)        # the stored JSON (columns, totals, fields)
    plans: dict = field(default_factory=dict)         # per currency: what the engine loops over

    def plan(self, currency: str) -> list[tuple]:
        """``(key, function, places, column)`` of the formula columns in evaluation order, with
        the decimals number columns are rounded to in ``currency`` (None for the other types):
        computed once per currency."""
        found = self.plans.get(currency)
        if found is None:
            found = [(c.key, c.prepared.function,
                      c.places(currency) if c.kind == NUMBER else None, c)
                     for c in self.column_order]
            self.plans[currency] = found
        return found

    @property
    def custom_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.builtin]

    @property
    def custom_totals(self) -> list[Total]:
        return [t for t in self.totals if not t.builtin]

    @property
    def computes_lines(self) -> bool:
        return bool(self.column_order or self.value_columns)

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


def empty_layout(doc_type: str) -> CompiledLayout:
    columns = [Column(key=k, label=BUILTIN_LABELS[k], builtin=True, position=i) for i, k in enumerate(BUILTIN_COLUMNS)]
    return CompiledLayout(doc_type=doc_type, version=0, columns=columns, totals=[], column_order=[],
                          value_columns=[], total_order=[],
                          stored={"columns": [column_json(c) for c in columns], "totals": [], "fields": {}})


def column_json(column: Column) -> dict:
    """A column as the layout stores it."""
    if column.builtin:
        return {"key": column.key, "builtin": True, "label": column.label, "visible": column.visible,
                "width": column.width}
    formula = column.formula.source if isinstance(column.formula, fx.Formula) else column.formula
    return {"key": column.key, "builtin": False, "label": column.label, "type": column.type,
            "visible": column.visible, "width": column.width, "editable": column.editable,
            "formula": formula, "default": column.default, "decimals": column.decimals,
            "choices": list(column.choices)}


def total_json(total: Total) -> dict:
    """A total as the layout stores it."""
    formula = total.formula.source if isinstance(total.formula, fx.Formula) else total.formula
    return {"key": total.key, "builtin": total.builtin, "label": total.label, "type": total.type,
            "visible": total.visible, "formula": formula, "decimals": total.decimals}
