"""Layouts: the line columns and totals of a document type, validated, versioned and compiled.

A layout is stored as JSON (``idca_layouts``, the current one; ``idca_layout_versions``, every
saved version, never changed). :func:`save_layout` validates the whole layout -- every entry,
every formula, the dependency graph -- and refuses it with a 422 naming each bad input
(``columns.2.formula``), or stores it with ``version + 1``.

:func:`compiled` turns a stored version into a :class:`CompiledLayout` (formulas parsed,
checked and compiled, evaluation order fixed) once per ``(doc_type, version)`` and per app:
documents only evaluate it.
"""
from __future__ import annotations

import datetime as dt
import keyword
import logging
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import money
from crm.context import current_actor_id
from crm.errors import Conflict, ValidationError
from crm.services.doctypes import BY_PATH, DOC_TYPES
from crm.totals import TOTAL_NAMES
from crm_idca import formulas as fx
from crm_idca.formulas import BOOL, DATE, NUMBER, TEXT, FormulaError
from crm_idca.models import Layout, LayoutVersion

logger = logging.getLogger(__name__)

#: the core's line columns (``crm.services.pdf.builtin_columns``), in their default order
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


def doc_type_of(path_or_name: str) -> str:
    """``"sales-orders"`` or ``"sales_order"`` -> ``"sales_order"``."""
    if path_or_name in DOC_TYPES:
        return path_or_name
    return BY_PATH[path_or_name].name


# --------------------------------------------------------------------------------------------
# Compiled layouts
# --------------------------------------------------------------------------------------------

@dataclass
class Column:
    """One entry of a layout's columns (built-in or custom), normalised."""

    key: str
    label: str
    builtin: bool
    visible: bool = True
    width: str | None = None
    type: str = "text"
    editable: bool = False
    formula: fx.Formula | None = None
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
class Total:
    """One entry of a layout's totals: a custom total, or a built-in one relabelled,
    hidden or replaced (``formula`` on a built-in key)."""

    key: str
    label: str
    builtin: bool
    visible: bool = True
    type: str = "money"
    formula: fx.Formula | None = None
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
        """``(key, function, quantum, column)`` of the formula columns in evaluation order, with
        the rounding quantum of number columns in ``currency`` (None for the other types):
        computed once per currency."""
        found = self.plans.get(currency)
        if found is None:
            found = [(c.key, c.formula.function,
                      Decimal(1).scaleb(-c.places(currency)) if c.kind == NUMBER else None, c)
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
                          stored={"columns": [_column_json(c) for c in columns], "totals": [], "fields": {}})


class _Errors:
    """Collects every refused input of a layout, keyed by field."""

    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, where: str, message: str) -> None:
        self.fields.setdefault(where, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            where, messages = next(iter(self.fields.items()))
            raise ValidationError(f"{where}: {messages[0]}", dict(self.fields))


def build(doc_type: str, version: int, columns_data, totals_data, field_types: dict) -> CompiledLayout:
    """Validate and compile a layout; raises ValidationError naming every bad field.

    ``field_types`` is ``{"item": {key: kind}, "doc": {key: kind}}``: the custom fields
    formulas may read (the current definitions when saving, the stored ones afterwards).
    """
    errors = _Errors()
    if not isinstance(columns_data, list):
        errors.add("columns", _("must be a list"))
        columns_data = []
    if not isinstance(totals_data, list):
        errors.add("totals", _("must be a list"))
        totals_data = []
    if len(columns_data) > MAX_COLUMNS + len(BUILTIN_COLUMNS):
        errors.add("columns", _("at most %(count)s custom columns", count=MAX_COLUMNS))
        columns_data = []
    if len(totals_data) > MAX_TOTALS + len(TOTAL_NAMES):
        errors.add("totals", _("at most %(count)s totals", count=MAX_TOTALS))
        totals_data = []
    item_types = dict(field_types.get("item") or {})
    doc_types = dict(field_types.get("doc") or {})

    columns = _read_columns(columns_data, errors, item_types)
    totals = _read_totals(totals_data, errors)
    column_kinds = {c.key: c.kind for c in columns if not c.builtin}
    line_scope = fx.Scope(
        names={**{name: NUMBER for name in LINE_NAMES}, **column_kinds},
        item_fields=ITEM_FIELDS, item_custom=item_types, doc_fields=DOC_FIELDS, doc_custom=doc_types,
        plain=frozenset(LINE_NAMES), kind="line")
    for column in columns:
        source = column.formula
        if source is None:
            continue
        where = f"columns.{column.position}.formula"
        try:
            column.formula = fx.prepare(source, line_scope)
        except FormulaError as exc:
            errors.add(where, exc.message)
            column.formula = None  # keep going: the other formulas are still checked
            continue
        _check_result_type(column.formula, column.kind, where, errors, _("a %(type)s column", type=column.type))

    sum_kinds = {**{name: NUMBER for name in LINE_NAMES}, **column_kinds}
    total_scope = fx.Scope(
        names={**{name: NUMBER for name in TOTAL_NAMES}, **{t.key: NUMBER for t in totals if not t.builtin}},
        item_fields=None, doc_fields=DOC_FIELDS, doc_custom=doc_types, sum_columns=sum_kinds,
        plain=frozenset(TOTAL_NAMES), kind="totals")
    for total in totals:
        source = total.formula
        if source is None:
            continue
        where = f"totals.{total.position}.formula"
        try:
            total.formula = fx.prepare(source, total_scope)
        except FormulaError as exc:
            errors.add(where, exc.message)
            total.formula = None
            continue
        _check_result_type(total.formula, NUMBER, where, errors, _("a total"))

    # the dependency graph of the formulas that are valid on their own: cycles are reported
    # together with the other mistakes
    column_order = _column_order(columns, errors)
    total_order = _total_order(totals, errors)
    errors.raise_if_any()

    layout = CompiledLayout(doc_type=doc_type, version=version, columns=columns, totals=totals,
                            column_order=column_order,
                            value_columns=[c for c in columns if not c.builtin and c.formula is None],
                            total_order=total_order)
    for column in column_order:
        checked = column.formula.checked
        layout.item_fields |= checked.item_fields
        layout.item_custom.update({k: item_types[k] for k in checked.item_custom})
        layout.doc_fields |= checked.doc_fields
        layout.doc_custom.update({k: doc_types[k] for k in checked.doc_custom})
    for column in layout.value_columns:
        default = column.default or {}
        if default.get("source") == "item":
            layout.item_fields.add(default["field"])
        elif default.get("source") == "item_custom":
            layout.item_custom[default["field"]] = item_types.get(default["field"], TEXT)
    for total in total_order:
        checked = total.formula.checked
        layout.sum_columns |= checked.sums
        layout.doc_fields |= checked.doc_fields
        layout.doc_custom.update({k: doc_types[k] for k in checked.doc_custom})
    used_types = {"item": {k: item_types[k] for k in layout.item_custom if k in item_types},
                  "doc": dict(layout.doc_custom)}
    layout.stored = {"columns": [_column_json(c) for c in columns], "totals": [_total_json(t) for t in totals],
                     "fields": used_types}
    return layout


def _check_result_type(formula: fx.Formula, wanted: str, where: str, errors: _Errors, what: str) -> None:
    if formula.type != wanted:
        errors.add(where, _("gives %(result)s, but %(what)s needs %(wanted)s", result=fx.TYPE_NAMES[formula.type],
                           what=what, wanted=fx.TYPE_NAMES[wanted]))


def _text(value, where: str, errors: _Errors, *, required: bool = False, limit: int = MAX_LABEL) -> str | None:
    if value is None or value == "":
        if required:
            errors.add(where, _("is required"))
        return None
    if not isinstance(value, str):
        errors.add(where, _("must be text"))
        return None
    value = value.strip()
    if len(value) > limit:
        errors.add(where, _("must be at most %(limit)s characters", limit=limit))
        return None
    if "\x00" in value:
        errors.add(where, _("must not contain NUL characters"))
        return None
    return value


def _bool(value, where: str, errors: _Errors, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.add(where, _("must be true or false"))
        return default
    return value


def _decimals(value, where: str, errors: _Errors) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DECIMALS:
        errors.add(where, _("must be a whole number from 0 to %(max)s", max=MAX_DECIMALS))
        return None
    return value


def _width(value, where: str, errors: _Errors) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10000:
        return f"{value}px"
    if not isinstance(value, str) or not WIDTH.match(value.strip()):
        errors.add(where, _("must be a CSS length like 80px, 12%, 6em or 20mm"))
        return None
    return value.strip()


def _key(value, where: str, errors: _Errors) -> str | None:
    if not isinstance(value, str) or not KEY.match(value):
        errors.add(where, _("use 1-40 lower case letters, digits and _, starting with a letter"))
        return None
    if value in RESERVED or keyword.iskeyword(value) or value in LINE_NAMES or value in BUILTIN_COLUMNS:
        errors.add(where, _("'%(key)s' is reserved; choose another key", key=value))
        return None
    return value


def _read_columns(data: list, errors: _Errors, item_types: dict) -> list[Column]:
    columns: list[Column] = []
    seen: set[str] = set()
    custom_count = 0
    for index, entry in enumerate(data):
        where = f"columns.{index}"
        if not isinstance(entry, dict):
            errors.add(where, _("must be an object"))
            continue
        unknown = set(entry) - {"key", "label", "builtin", "visible", "width", "type", "editable", "formula",
                                "default", "decimals", "choices"}
        if unknown:
            errors.add(f"{where}.{sorted(unknown)[0]}", _("unknown field"))
        key = entry.get("key")
        if key in BUILTIN_COLUMNS:
            if key in seen:
                errors.add(f"{where}.key", _("column %(key)s is listed twice", key=key))
                continue
            seen.add(key)
            for name in ("type", "editable", "formula", "default", "decimals", "choices"):
                if not _harmless(name, entry.get(name), key):
                    errors.add(f"{where}.{name}",
                               _("a built-in column can only be relabelled, hidden, moved or resized"))
            columns.append(Column(key=key, builtin=True, position=index,
                                  label=_text(entry.get("label"), f"{where}.label", errors) or BUILTIN_LABELS[key],
                                  visible=_bool(entry.get("visible"), f"{where}.visible", errors, True),
                                  width=_width(entry.get("width"), f"{where}.width", errors),
                                  type=BUILTIN_TYPES[key]))
            continue
        key = _key(key, f"{where}.key", errors)
        if key is None:
            continue
        if key in seen:
            errors.add(f"{where}.key", _("another column has the key %(key)s", key=key))
            continue
        seen.add(key)
        custom_count += 1
        if custom_count > MAX_COLUMNS:
            errors.add(where, _("at most %(count)s custom columns", count=MAX_COLUMNS))
            continue
        column_type = entry.get("type") or "text"
        if column_type not in COLUMN_TYPES:
            errors.add(f"{where}.type", _("must be one of %(choices)s", choices=", ".join(COLUMN_TYPES)))
            column_type = "text"
        column = Column(key=key, builtin=False, position=index, type=column_type,
                        label=_text(entry.get("label"), f"{where}.label", errors, required=True) or key,
                        visible=_bool(entry.get("visible"), f"{where}.visible", errors, True),
                        width=_width(entry.get("width"), f"{where}.width", errors),
                        editable=_bool(entry.get("editable"), f"{where}.editable", errors, False),
                        decimals=_decimals(entry.get("decimals"), f"{where}.decimals", errors))
        if column.decimals is not None and column.kind != NUMBER:
            errors.add(f"{where}.decimals", _("only number, money and percent columns have decimals"))
        column.choices = _choices(entry.get("choices"), f"{where}.choices", errors, column_type)
        formula = entry.get("formula")
        if formula not in (None, ""):
            if not isinstance(formula, str):
                errors.add(f"{where}.formula", _("must be text"))
            else:
                column.formula = formula  # compiled by build()
                if column.editable:
                    errors.add(f"{where}.editable", _("a formula column is computed; it cannot be editable"))
        column.default = _default(entry.get("default"), f"{where}.default", errors, column, item_types)
        if column.default is not None and column.formula is not None:
            errors.add(f"{where}.default", _("a formula column has no default"))
        if column.formula is None and not column.editable and column.default is None:
            errors.add(f"{where}.formula", _("a column that is not editable needs a formula or a default"))
        columns.append(column)
    # a built-in column left out keeps its default place: right after the built-in column that
    # precedes it by default (the first ones at the start)
    for index, key in enumerate(BUILTIN_COLUMNS):
        if key in seen:
            continue
        column = Column(key=key, label=BUILTIN_LABELS[key], builtin=True, type=BUILTIN_TYPES[key])
        before = [c.key for c in columns]
        previous = next((k for k in reversed(BUILTIN_COLUMNS[:index]) if k in before), None)
        columns.insert(before.index(previous) + 1 if previous else 0, column)
        seen.add(key)
    return columns


def _harmless(name: str, value, key: str) -> bool:
    """What a built-in column entry may carry besides label, visible and width (what GET shows)."""
    if value is None:
        return True
    if name == "type":
        return value == BUILTIN_TYPES[key]
    if name == "editable":
        return value is False
    if name == "formula":
        return value == ""
    if name == "choices":
        return value == []
    return False


BUILTIN_TYPES = {"item": "text", "description": "text", "quantity": "number", "unit_price": "money",
                 "discount": "money", "net": "money", "tax": "money", "total": "money"}


def _choices(value, where: str, errors: _Errors, column_type: str) -> tuple:
    if value in (None, [], ()):
        if column_type == "select":
            errors.add(where, _("a select column needs choices"))
        return ()
    if column_type != "select":
        errors.add(where, _("only select columns have choices"))
        return ()
    if not isinstance(value, (list, tuple)) or len(value) > MAX_CHOICES:
        errors.add(where, _("must be a list of at most %(max)s texts", max=MAX_CHOICES))
        return ()
    choices = []
    for position, choice in enumerate(value):
        text = _text(choice, f"{where}.{position}", errors, required=True)
        if text is not None:
            if text in choices:
                errors.add(f"{where}.{position}", _("is listed twice"))
            choices.append(text)
    return tuple(choices)


def _default(value, where: str, errors: _Errors, column: Column, item_types: dict) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("source") not in DEFAULT_SOURCES:
        errors.add(f"{where}.source", _("must be one of %(choices)s", choices=", ".join(DEFAULT_SOURCES)))
        return None
    source = value["source"]
    unknown = set(value) - {"source", "value", "field"}
    if unknown:
        errors.add(f"{where}.{sorted(unknown)[0]}", _("unknown field"))
    if source == "value":
        try:
            column.default_value = convert_input(column, value.get("value"), "EUR")
        except ValueError as exc:
            errors.add(f"{where}.value", str(exc))
            return None
        if column.default_value is None:
            errors.add(f"{where}.value", _("is required"))
            return None
        return {"source": "value", "value": jsonable(column.default_value)}
    name = value.get("field")
    fields = ITEM_FIELDS if source == "item" else item_types
    if not isinstance(name, str) or name not in fields:
        known = ", ".join(sorted(fields)) or _("none defined")
        if source == "item":
            errors.add(f"{where}.field", _("unknown item field; known: %(known)s", known=known))
        else:
            errors.add(f"{where}.field", _("unknown item custom field; known: %(known)s", known=known))
        return None
    kind = fields[name]
    if kind != column.kind and not (column.kind == TEXT and kind in (NUMBER, DATE)):
        errors.add(f"{where}.field", _("%(name)s is %(kind)s; a %(type)s column needs %(wanted)s", name=name,
                                       kind=fx.TYPE_NAMES[kind], type=column.type,
                                       wanted=fx.TYPE_NAMES[column.kind]))
        return None
    return {"source": source, "field": name}


def _read_totals(data: list, errors: _Errors) -> list[Total]:
    totals: list[Total] = []
    seen: set[str] = set()
    for index, entry in enumerate(data):
        where = f"totals.{index}"
        if not isinstance(entry, dict):
            errors.add(where, _("must be an object"))
            continue
        unknown = set(entry) - {"key", "label", "builtin", "visible", "type", "formula", "decimals"}
        if unknown:
            errors.add(f"{where}.{sorted(unknown)[0]}", _("unknown field"))
        key = entry.get("key")
        builtin = key in TOTAL_NAMES
        if not builtin:
            key = _key(key, f"{where}.key", errors)
            if key is None:
                continue
        if key in seen:
            errors.add(f"{where}.key", _("another total has the key %(key)s", key=key))
            continue
        seen.add(key)
        total_type = entry.get("type") or "money"
        if total_type not in TOTAL_TYPES:
            errors.add(f"{where}.type", _("must be one of %(choices)s", choices=", ".join(TOTAL_TYPES)))
            total_type = "money"
        if builtin and total_type != "money":
            errors.add(f"{where}.type", _("a built-in total is money"))
            total_type = "money"
        total = Total(key=key, builtin=builtin, position=index, type=total_type,
                      label=_text(entry.get("label"), f"{where}.label", errors, required=not builtin)
                      or TOTAL_LABELS.get(key, key),
                      visible=_bool(entry.get("visible"), f"{where}.visible", errors, True),
                      decimals=_decimals(entry.get("decimals"), f"{where}.decimals", errors))
        if builtin and total.decimals is not None:
            errors.add(f"{where}.decimals", _("a built-in total has the currency's decimals"))
        formula = entry.get("formula")
        if formula not in (None, ""):
            if not isinstance(formula, str):
                errors.add(f"{where}.formula", _("must be text"))
            else:
                total.formula = formula
        elif not builtin:
            errors.add(f"{where}.formula", _("a custom total needs a formula"))
        totals.append(total)
    return totals


# --- dependency order -----------------------------------------------------------------------

def _topological(nodes: dict[str, Any], edges: dict[str, list[str]], where_of, errors: _Errors) -> list[str]:
    """Keys in evaluation order (dependencies first); a cycle is reported with its path."""
    order: list[str] = []
    state: dict[str, int] = {}   # 1: on the path, 2: done
    reported = set()

    def visit(key: str, path: list[str]) -> None:
        state[key] = 1
        path.append(key)
        for dependency in edges.get(key, ()):
            if dependency not in nodes:
                continue
            if state.get(dependency) == 1:
                cycle = path[path.index(dependency):] + [dependency]
                first = cycle[0]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    errors.add(where_of(first), _("circular reference: %(cycle)s", cycle=" -> ".join(cycle)))
                continue
            if state.get(dependency) is None:
                visit(dependency, path)
        path.pop()
        state[key] = 2
        order.append(key)

    for key in nodes:
        if state.get(key) is None:
            visit(key, [])
    return order


def _column_order(columns: list[Column], errors: _Errors) -> list[Column]:
    formulas = {c.key: c for c in columns if not c.builtin and c.formula is not None}
    edges = {key: sorted(column.formula.checked.names - set(LINE_NAMES)) for key, column in formulas.items()}
    order = _topological(formulas, edges, lambda key: f"columns.{formulas[key].position}.formula", errors)
    return [formulas[key] for key in order]


def _total_order(totals: list[Total], errors: _Errors) -> list[Total]:
    formulas = {t.key: t for t in totals if t.formula is not None}
    overridden = {t.key for t in totals if t.overrides}
    edges: dict[str, list[str]] = {}
    for key, total in formulas.items():
        needs = []
        for name in sorted(total.formula.checked.names):
            if name == key and total.builtin:
                # inside the formula replacing a built-in total, its own name is the value before
                # the replacement: it only waits for the parts that change that value
                if key == "grand_total":
                    needs.extend(p for p in GRAND_TOTAL_PARTS if p in overridden)
                continue
            if name in formulas:
                needs.append(name)
            if name == "grand_total" and "grand_total" not in overridden:
                needs.extend(p for p in GRAND_TOTAL_PARTS if p in overridden)
        edges[key] = needs
    order = _topological(formulas, edges, lambda key: f"totals.{formulas[key].position}.formula", errors)
    return [formulas[key] for key in order]


# --- values ---------------------------------------------------------------------------------

def convert_input(column: Column, value, currency: str):
    """A value entered for ``column`` (API, default) as the evaluation sees it: Decimal, str or
    date; None when empty. Raises ValueError with a message for the user."""
    if value is None or (isinstance(value, str) and value.strip() == "" and column.kind != TEXT):
        return None
    kind = column.kind
    if kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise ValueError(_("must be a number (a decimal string like \"12.50\")"))
        if isinstance(value, str) and len(value) > 60:
            raise ValueError(_("must be a number"))
        try:
            number = money.to_decimal(value)
        except (TypeError, ValueError):
            raise ValueError(_("must be a number (a decimal string like \"12.50\")")) from None
        if abs(number) >= MAX_NUMBER:
            raise ValueError(_("must be below 10^15"))
        places = column.places(currency)
        return number if places is None else number.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP,
                                                              money.CONTEXT)
    if kind == DATE:
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise ValueError(_("must be a date (YYYY-MM-DD)"))
    if not isinstance(value, str):
        if column.type == "text" and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            value = str(value)
        else:
            raise ValueError(_("must be text"))
    if len(value) > MAX_TEXT_VALUE:
        raise ValueError(_("must be at most %(limit)s characters", limit=MAX_TEXT_VALUE))
    if "\x00" in value:
        raise ValueError(_("must not contain NUL characters"))
    if column.type == "select" and value not in column.choices:
        raise ValueError(_("must be one of: %(choices)s", choices=", ".join(column.choices)))
    return value


def jsonable(value):
    """How a value is stored in JSON: decimals as plain strings, dates as ISO strings."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return "0" + text[2:] if text.startswith("-0") and not value else text
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _column_json(column: Column) -> dict:
    if column.builtin:
        return {"key": column.key, "builtin": True, "label": column.label, "visible": column.visible,
                "width": column.width}
    formula = column.formula.source if isinstance(column.formula, fx.Formula) else column.formula
    return {"key": column.key, "builtin": False, "label": column.label, "type": column.type,
            "visible": column.visible, "width": column.width, "editable": column.editable,
            "formula": formula, "default": column.default, "decimals": column.decimals,
            "choices": list(column.choices)}


def _total_json(total: Total) -> dict:
    formula = total.formula.source if isinstance(total.formula, fx.Formula) else total.formula
    return {"key": total.key, "builtin": total.builtin, "label": total.label, "type": total.type,
            "visible": total.visible, "formula": formula, "decimals": total.decimals}


# --------------------------------------------------------------------------------------------
# Storage and the per-app cache
# --------------------------------------------------------------------------------------------

def custom_field_types(session: Session) -> dict:
    """The active custom fields of items and documents, as formula types."""
    from crm.services.custom_fields import fields_for
    return {"item": {f.key: CUSTOM_FIELD_KINDS.get(f.type, TEXT) for f in fields_for(session, "items")},
            "doc": {f.key: CUSTOM_FIELD_KINDS.get(f.type, TEXT) for f in fields_for(session, "documents")}}


def current_layout(session: Session, doc_type: str) -> Layout | None:
    return session.get(Layout, doc_type)


def save_layout(session: Session, doc_type: str, data: dict) -> Layout:
    """Validate ``{"columns", "totals", "version"?}`` and store it as the next version."""
    doc_type = doc_type_of(doc_type)
    layout = session.get(Layout, doc_type, with_for_update=True)
    expected = data.get("version")
    current_version = layout.version if layout is not None else 0
    if expected is not None and expected != current_version:
        raise Conflict(_("the layout changed since you read it (version %(current)s, you sent %(sent)s); reload it",
                         current=current_version, sent=expected),
                       {"version": [_("is %(version)s", version=current_version)]}, code="stale_version")
    compiled_layout = build(doc_type, current_version + 1, data.get("columns") or [], data.get("totals") or [],
                            custom_field_types(session))
    stored = compiled_layout.stored
    if layout is None:
        layout = Layout(doc_type=doc_type, version=0, columns=[], totals=[])
        session.add(layout)
    layout.version = current_version + 1
    layout.columns, layout.totals, layout.fields = stored["columns"], stored["totals"], stored["fields"]
    layout.updated_at = dt.datetime.now(dt.timezone.utc)
    layout.updated_by_id = current_actor_id()
    session.add(LayoutVersion(doc_type=doc_type, version=layout.version, columns=stored["columns"],
                              totals=stored["totals"], fields=stored["fields"], created_at=layout.updated_at,
                              created_by_id=layout.updated_by_id))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(_("another administrator saved this layout at the same time; reload it"),
                       code="stale_version") from None
    _remember(compiled_layout)
    _remember_version(session, doc_type, layout.version)
    return layout


def preview_layout(session: Session, doc_type: str, data: dict) -> CompiledLayout:
    """Validate a layout without storing it (the settings page's live preview)."""
    doc_type = doc_type_of(doc_type)
    return build(doc_type, -1, data.get("columns") or [], data.get("totals") or [], custom_field_types(session))


_FALLBACK_CACHE: "OrderedDict[tuple, CompiledLayout]" = OrderedDict()
_LOCK = threading.Lock()
CACHE_SIZE = 64


def _cache() -> "OrderedDict[tuple, CompiledLayout]":
    from flask import current_app, has_app_context
    if not has_app_context():
        return _FALLBACK_CACHE
    return current_app.extensions.setdefault("idca.layouts", OrderedDict())


def _remember(layout: CompiledLayout) -> None:
    cache = _cache()
    with _LOCK:
        cache[(layout.doc_type, layout.version)] = layout
        cache.move_to_end((layout.doc_type, layout.version))
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)


def _cached(doc_type: str, version: int) -> CompiledLayout | None:
    cache = _cache()
    with _LOCK:
        found = cache.get((doc_type, version))
        if found is not None:
            cache.move_to_end((doc_type, version))
        return found


def from_stored(doc_type: str, version: int, columns, totals, fields, session: Session | None = None
                ) -> CompiledLayout:
    """Compile a stored layout version. Its formulas were valid when it was saved, against the
    custom field types stored with it; a layout stored otherwise (written to the table by hand,
    or before ``idca_0002``) is checked against the current custom fields, and if it is still
    invalid it is logged and replaced by the built-in columns: documents always open and save."""
    found = _cached(doc_type, version)
    if found is not None:
        return found
    try:
        found = build(doc_type, version, columns or [], totals or [], fields or {})
    except ValidationError as first:
        try:
            if session is None or fields:
                raise first
            found = build(doc_type, version, columns or [], totals or [], custom_field_types(session))
        except ValidationError as exc:
            logger.error("idca: stored layout %s version %s is invalid and is ignored: %s (%s)",
                         doc_type, version, exc.message, exc.fields)
            found = empty_layout(doc_type)
            found.version = version
    _remember(found)
    return found


_VERSION = select(Layout.version).where(Layout.doc_type == bindparam("doc_type"))


def current_version(session: Session, doc_type: str) -> int:
    """The current version of ``doc_type``'s layout (0: none saved): a SELECT of one integer,
    without flushing the document being computed, made once per transaction and document type
    (a transaction sees one version of a layout from start to end)."""
    transaction = session.get_transaction()
    known = session.info.get("idca.versions", {}).get(doc_type)
    if transaction is not None and known is not None and known[0]() is transaction:
        return known[1]
    with session.no_autoflush:
        version = session.execute(_VERSION, {"doc_type": doc_type}).scalar() or 0
    _remember_version(session, doc_type, version)
    return version


def _remember_version(session: Session, doc_type: str, version: int) -> None:
    transaction = session.get_transaction()
    if transaction is not None:
        session.info.setdefault("idca.versions", {})[doc_type] = (weakref.ref(transaction), version)


def compiled(session: Session, doc_type: str) -> CompiledLayout:
    """The current layout of ``doc_type`` compiled (the empty layout when none was saved)."""
    doc_type = doc_type_of(doc_type)
    version = current_version(session, doc_type)
    if version == 0:
        return _empty(doc_type)
    found = _cached(doc_type, version)
    if found is not None:
        return found
    with session.no_autoflush:
        layout = session.get(Layout, doc_type)
    if layout is None:
        return _empty(doc_type)
    return from_stored(doc_type, layout.version, layout.columns, layout.totals, layout.fields, session)


_EMPTY: dict[str, CompiledLayout] = {}


def _empty(doc_type: str) -> CompiledLayout:
    found = _EMPTY.get(doc_type)
    if found is None:
        found = _EMPTY[doc_type] = empty_layout(doc_type)
    return found


def compiled_version(session: Session, doc_type: str, version: int) -> CompiledLayout | None:
    """A saved version of ``doc_type``'s layout compiled; None when it does not exist."""
    found = _cached(doc_type, version)
    if found is not None:
        return found
    with session.no_autoflush:
        row = session.get(LayoutVersion, (doc_type, version))
    if row is None:
        return None
    return from_stored(doc_type, version, row.columns, row.totals, row.fields, session)


def versions(session: Session, doc_type: str) -> list[LayoutVersion]:
    return list(session.scalars(select(LayoutVersion).where(LayoutVersion.doc_type == doc_type_of(doc_type))
                                .order_by(LayoutVersion.version.desc())))
