"""The validation of a layout as sent (columns and totals as JSON): every entry read and
normalised, every formula prepared against what it may read, the evaluation order fixed; every
refused input is collected and named (``columns.2.formula``) in one ``ValidationError``."""
from __future__ import annotations

import keyword

from flask_babel import gettext as _

from crm.errors import ValidationError
from crm.totals import TOTAL_NAMES
from crm_idca import formulas as fx
from crm_idca.formulas import DATE, NUMBER, TEXT, FormulaError
from crm_idca.layouts.model import (
    BUILTIN_COLUMNS,
    BUILTIN_LABELS,
    BUILTIN_TYPES,
    COLUMN_TYPES,
    DEFAULT_SOURCES,
    DOC_FIELDS,
    ITEM_FIELDS,
    KEY,
    LINE_NAMES,
    MAX_CHOICES,
    MAX_COLUMNS,
    MAX_DECIMALS,
    MAX_LABEL,
    MAX_TOTALS,
    RESERVED,
    TOTAL_LABELS,
    TOTAL_TYPES,
    WIDTH,
    Column,
    CompiledLayout,
    Total,
    column_json,
    total_json,
)
from crm_idca.layouts.order import column_order, total_order
from crm_idca.layouts.values import convert_input, jsonable


class Errors:
    """Collects every refused input of a layout, keyed by field."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, where: str, message: str) -> None:
        self.fields.setdefault(where, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            where, messages = next(iter(self.fields.items()))
            raise ValidationError(f"{where}: {messages[0]}", dict(self.fields))


def _entries(data: object, name: str, limit: int, errors: Errors, too_many: str) -> list:
    """The ``columns`` or ``totals`` sent: a list of at most ``limit`` entries, else none (the
    mistake noted)."""
    if not isinstance(data, list):
        errors.add(name, _("must be a list"))
        return []
    if len(data) > limit:
        errors.add(name, too_many)
        return []
    return data


def build(doc_type: str, version: int, columns_data: object, totals_data: object, field_types: dict) -> CompiledLayout:
    """Validate and compile a layout; raises ValidationError naming every bad field.

    ``field_types`` is ``{"item": {key: kind}, "doc": {key: kind}}``: the custom fields
    formulas may read (the current definitions when saving, the stored ones afterwards).
    """
    errors = Errors()
    columns_data = _entries(columns_data, "columns", MAX_COLUMNS + len(BUILTIN_COLUMNS), errors,
                            _("at most %(count)s custom columns", count=MAX_COLUMNS))
    totals_data = _entries(totals_data, "totals", MAX_TOTALS + len(TOTAL_NAMES), errors,
                           _("at most %(count)s totals", count=MAX_TOTALS))
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
        _prepare(column, "columns", line_scope, column.kind, _("a %(type)s column", type=column.type), errors)

    sum_kinds = {**{name: NUMBER for name in LINE_NAMES}, **column_kinds}
    total_scope = fx.Scope(
        names={**{name: NUMBER for name in TOTAL_NAMES}, **{t.key: NUMBER for t in totals if not t.builtin}},
        item_fields=None, doc_fields=DOC_FIELDS, doc_custom=doc_types, sum_columns=sum_kinds,
        plain=frozenset(TOTAL_NAMES), kind="totals")
    for total in totals:
        _prepare(total, "totals", total_scope, NUMBER, _("a total"), errors)

    # the dependency graph of the formulas that are valid on their own: cycles are reported
    # together with the other mistakes
    evaluated_columns = column_order(columns, errors)
    evaluated_totals = total_order(totals, errors)
    errors.raise_if_any()

    layout = CompiledLayout(doc_type=doc_type, version=version, columns=columns, totals=totals,
                            column_order=evaluated_columns,
                            value_columns=[c for c in columns if not c.builtin and c.formula is None],
                            total_order=evaluated_totals)
    for column in evaluated_columns:
        checked = column.prepared.checked
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
    for total in evaluated_totals:
        checked = total.prepared.checked
        layout.sum_columns |= checked.sums
        layout.doc_fields |= checked.doc_fields
        layout.doc_custom.update({k: doc_types[k] for k in checked.doc_custom})
    used_types = {"item": {k: item_types[k] for k in layout.item_custom if k in item_types},
                  "doc": dict(layout.doc_custom)}
    layout.stored = {"columns": [column_json(c) for c in columns], "totals": [total_json(t) for t in totals],
                     "fields": used_types}
    return layout


def _prepare(entry: Column | Total, group: str, scope: fx.Scope, kind: str, what: str, errors: Errors) -> None:
    """Compile a column's or a total's formula in ``scope`` and check the kind of its result;
    a formula that does not compile is dropped, so the other formulas are still checked."""
    if not isinstance(entry.formula, str):  # no formula
        return
    where = f"{group}.{entry.position}.formula"
    try:
        entry.formula = fx.prepare(entry.formula, scope)
    except FormulaError as exc:
        errors.add(where, exc.message)
        entry.formula = None
        return
    _check_result_type(entry.formula, kind, where, errors, what)


def _check_result_type(formula: fx.Formula, wanted: str, where: str, errors: Errors, what: str) -> None:
    if formula.type != wanted:
        errors.add(where, _("gives %(result)s, but %(what)s needs %(wanted)s", result=fx.TYPE_NAMES[formula.type],
                           what=what, wanted=fx.TYPE_NAMES[wanted]))


def _text(value: object, where: str, errors: Errors, *, required: bool = False, limit: int = MAX_LABEL) -> str | None:
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


def _bool(value: object, where: str, errors: Errors, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.add(where, _("must be true or false"))
        return default
    return value


def _decimals(value: object, where: str, errors: Errors) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DECIMALS:
        errors.add(where, _("must be a whole number from 0 to %(max)s", max=MAX_DECIMALS))
        return None
    return value


def _width(value: object, where: str, errors: Errors) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10000:
        return f"{value}px"
    if not isinstance(value, str) or not WIDTH.match(value.strip()):
        errors.add(where, _("must be a CSS length like 80px, 12%, 6em or 20mm"))
        return None
    return value.strip()


def _key(value: object, where: str, errors: Errors) -> str | None:
    if not isinstance(value, str) or not KEY.match(value):
        errors.add(where, _("use 1-40 lower case letters, digits and _, starting with a letter"))
        return None
    if value in RESERVED or keyword.iskeyword(value) or value in LINE_NAMES or value in BUILTIN_COLUMNS:
        errors.add(where, _("'%(key)s' is reserved; choose another key", key=value))
        return None
    return value


def _builtin_column(entry: dict, key: str, index: int, where: str, errors: Errors) -> Column:
    """A built-in column as placed: relabelled, hidden, moved or resized, nothing else."""
    for name in ("type", "editable", "formula", "default", "decimals", "choices"):
        if not _harmless(name, entry.get(name), key):
            errors.add(f"{where}.{name}", _("a built-in column can only be relabelled, hidden, moved or resized"))
    return Column(key=key, builtin=True, position=index,
                  label=_text(entry.get("label"), f"{where}.label", errors) or BUILTIN_LABELS[key],
                  visible=_bool(entry.get("visible"), f"{where}.visible", errors, True),
                  width=_width(entry.get("width"), f"{where}.width", errors),
                  type=BUILTIN_TYPES[key])


def _custom_column(entry: dict, key: str, index: int, where: str, errors: Errors, item_types: dict) -> Column:
    """A column of the layout's own: its type, label, decimals, choices, formula or default."""
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
    return column


def _read_columns(data: list, errors: Errors, item_types: dict) -> list[Column]:
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
            columns.append(_builtin_column(entry, key, index, where, errors))
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
        columns.append(_custom_column(entry, key, index, where, errors, item_types))
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


def _harmless(name: str, value: object, key: str) -> bool:
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


def _choices(value: object, where: str, errors: Errors, column_type: str) -> tuple:
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


def _default(value: object, where: str, errors: Errors, column: Column, item_types: dict) -> dict | None:
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


def _read_totals(data: list, errors: Errors) -> list[Total]:
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
        sent_key = entry.get("key")
        builtin = sent_key in TOTAL_NAMES
        key = sent_key if builtin else _key(sent_key, f"{where}.key", errors)
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
