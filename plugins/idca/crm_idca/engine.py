"""The plugin's part of the totals pipeline (``crm_totals_stage``).

``line_columns``: every custom column of the document's layout gets its value on each item
line -- editable values (converted by type, or their default when empty) and formulas, in
dependency order -- into ``LineResult.custom``; a cell that cannot be computed is null and
its message is in the line's ``custom["errors"]``. Subtotal rows get the running sums since
the previous section or subtotal.

``document_totals``: the layout's totals, in dependency order: custom ones into
``Totals.extra`` (null plus an error message when they cannot be computed), formulas on a
built-in key through ``Computation.override_total`` (a replacement that cannot be computed
refuses the save with a 422: a wrong grand total is never stored).

Which layout: a document whose lines may still change (a new one, or a status in its type's
``editable`` statuses) follows the current layout; an issued one keeps the values computed
with the version it was issued with (``idca_document_layouts``): they are re-emitted
unchanged, so changing a layout, an item's cost or anything else never rewrites it.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, NoReturn, TypedDict

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from crm import money
from crm.errors import ValidationError
from crm.models import Document, DocumentLine, Item
from crm.services.doctypes import DOC_TYPES
from crm.totals import Computation, Totals
from crm_idca import layouts as lay
from crm_idca.formulas import DATE, NUMBER, TEXT, Failed, error_message
from crm_idca.models import DocumentLayout

#: where the stage leaves what it used, for ``crm_record_saved`` to store
STATE_ATTR = "_idca_state"
#: set by ``crm_record_saved`` on a document known to have no ``idca_document_layouts`` row
UNBOUND_ATTR = "_idca_unbound"
ERRORS_KEY = "errors"
class _State(TypedDict, total=False):
    """What the stage leaves on the document (``STATE_ATTR``)."""

    layout: lay.CompiledLayout | None
    live: bool
    line_errors: dict[int, dict[str, str]]
    total_errors: dict[str, str]


TOTAL_COLUMNS = {"subtotal": "subtotal", "discount": "discount_total", "taxable": "taxable", "tax": "tax_total",
                 "shipping": "shipping", "shipping_tax": "shipping_tax", "adjustment": "adjustment",
                 "grand_total": "grand_total"}


# --- which layout ---------------------------------------------------------------------------

_FORCED: ContextVar[lay.CompiledLayout | None] = ContextVar("idca_forced_layout", default=None)


@contextlib.contextmanager
def using_layout(layout: lay.CompiledLayout) -> Iterator[lay.CompiledLayout]:
    """Compute documents with ``layout`` (an unsaved one: the settings page's preview)."""
    token = _FORCED.set(layout)
    try:
        yield layout
    finally:
        _FORCED.reset(token)


def is_live(document: Document) -> bool:
    """Whether ``document`` follows the current layout (its lines may still change)."""
    kind = DOC_TYPES.get(document.doc_type)
    return document.id is None or kind is None or document.status in kind.editable


def binding(session: Session, document: Document) -> DocumentLayout | None:
    if document.id is None:
        return None
    with session.no_autoflush:
        return session.get(DocumentLayout, document.id)


def layout_of(session: Session, document: Document) -> tuple[lay.CompiledLayout | None, bool]:
    """The compiled layout the document is shown and computed with, and whether it is live.
    An issued document that was never computed by the plugin has no layout (None)."""
    forced = _FORCED.get()
    if forced is not None:
        return forced, True
    if is_live(document):
        return lay.compiled(session, document.doc_type), True
    bound = binding(session, document)
    if bound is None:
        return None, False
    return lay.compiled_version(session, document.doc_type, bound.layout_version), False


def line_columns(layout: lay.CompiledLayout | None) -> list:
    """What ``crm_line_columns`` gives for ``layout``: its visible custom columns."""
    from crm.ui import LineColumn
    if layout is None:
        return []
    return [LineColumn(c.key, c.label, type=c.type, editable=c.editable, width=c.width, choices=tuple(c.choices))
            for c in layout.custom_columns if c.visible]


def custom_keys(layout: lay.CompiledLayout | None) -> dict[str, bool]:
    """What ``crm_line_custom_keys`` gives for ``layout``: each custom column (True when
    editable), the line's errors and a subtotal row's sums (computed)."""
    keys = {ERRORS_KEY: False, "subtotal": False, "total": False}
    for column in layout.custom_columns if layout is not None else ():
        keys[column.key] = column.editable
    return keys


# --- the stage ------------------------------------------------------------------------------

def run_stage(stage: str, computation: Computation, document: Document, session: Session) -> None:
    if stage == "line_columns":
        layout, live = layout_of(session, document)
        context: _State = {"layout": layout, "live": live}
        setattr(document, STATE_ATTR, context)
        if layout is None or not live or not (layout.computes_lines or _has_subtotals(document)):
            return
        context["line_errors"] = compute_lines(layout, computation, document)
    elif stage == "document_totals":
        stored: _State | None = getattr(document, STATE_ATTR, None)
        if stored is None:  # the engine was run without the first stage: nothing to add
            return
        layout, live = stored["layout"], stored["live"]
        if layout is None:
            return
        if live:
            stored["total_errors"] = compute_totals(layout, computation, document)
        else:
            replay_totals(layout, computation, document)


# --- lines ----------------------------------------------------------------------------------

def _has_subtotals(document: Document) -> bool:
    for line in getattr(document, "lines", None) or ():
        loaded = line.__dict__   # the loaded value without the ORM descriptor; the attribute if expired
        if (loaded["display_type"] if "display_type" in loaded else line.display_type) == "subtotal":
            return True
    return False


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):  # None, a float, anything else
        return None
    try:
        return money.to_decimal(value)
    except ValueError:
        return None


def _custom_value(raw: object, kind: str) -> object:
    """A custom field's stored value as formulas see it."""
    if raw is None:
        return None
    if kind == NUMBER:
        return _decimal(raw)
    if kind == DATE:
        return raw if isinstance(raw, dt.date) else _date(raw)
    if kind == "bool":
        return raw if isinstance(raw, bool) else None
    return raw if isinstance(raw, str) else str(raw)


def _date(raw: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        return None


def item_values(item: Item | None, layout: lay.CompiledLayout) -> dict:
    if item is None:
        return {"custom": {}}
    values: dict[str, Any] = {}
    for name in layout.item_fields:
        kind = lay.ITEM_FIELDS[name]
        try:
            raw = getattr(item, name, None)
        except (TypeError, ArithmeticError):   # e.g. ``available`` of an item never saved
            raw = None
        values[name] = _decimal(raw) if kind == NUMBER else (None if raw is None else str(raw))
    if layout.item_custom:
        custom = item.custom or {}
        values["custom"] = {key: _custom_value(custom.get(key), kind) for key, kind in layout.item_custom.items()}
    else:
        values["custom"] = {}
    return values


def doc_values(document: Document, layout: lay.CompiledLayout, names: Iterable[str] | None = None) -> dict:
    values: dict[str, Any] = {}
    wanted = layout.doc_fields if names is None else names
    for name in wanted:
        kind = lay.DOC_FIELDS[name]
        if name == "billing_country":
            raw = (document.billing_address or {}).get("country")
        elif name == "shipping_country":
            raw = (document.shipping_address or {}).get("country")
        elif name == "date":
            raw = document.invoice_date or (document.created_at.date() if document.created_at else dt.date.today())
        else:
            raw = getattr(document, name, None)
        if kind == NUMBER:
            values[name] = _decimal(raw)
        elif kind == DATE:
            values[name] = raw if isinstance(raw, dt.date) or raw is None else _date(raw)
        else:
            values[name] = None if raw is None else str(raw)
    custom = document.custom or {}
    values["custom"] = {key: _custom_value(custom.get(key), kind) for key, kind in layout.doc_custom.items()}
    return values


def coerce(column: lay.Column, value: object) -> str:
    """A formula's result of a text, select or date column as stored; raises ValueError.
    (Number columns are rounded inline by :func:`compute_lines`.)"""
    if column.kind == DATE:
        if not isinstance(value, dt.date):
            raise ValueError("is not a date")
        return value.isoformat()
    if not isinstance(value, str):
        raise ValueError("is not text")
    if column.type == "select" and value not in column.choices:
        raise ValueError(f"'{value[:40]}' is not one of the choices")
    return value[:lay.MAX_TEXT_VALUE]


_MAX_DIGITS = 15    # numbers stay below 10^15 (lay.MAX_NUMBER)


def _default(column: lay.Column, item_vals: dict, currency: str) -> object:
    default = column.default
    if default is None:
        return None
    source = default["source"]
    if source == "value":
        return column.default_value
    if source == "item":
        raw = item_vals.get(default["field"])
    else:
        raw = item_vals.get("custom", {}).get(default["field"])
    if raw is None:
        return None
    if column.kind == TEXT and not isinstance(raw, str):
        raw = lay.jsonable(raw)
    return lay.convert_input(column, raw, currency)


def compute_lines(layout: lay.CompiledLayout, computation: Computation, document: Document) -> dict[int, dict[str, str]]:
    """Custom column values of every item line, and the running subtotals. Returns
    ``{line position: {key: message}}`` for the lines with errors."""
    currency = computation.document.currency
    doc_vals = doc_values(document, layout)
    value_columns = layout.value_columns
    plan = layout.plan(currency)
    item_cache: dict[int, dict] = {}
    all_errors: dict[int, dict] = {}
    by_line: dict[int, dict] | None = {} if _has_subtotals(document) else None   # what _subtotals adds up
    for index, result in enumerate(computation.lines):
        line = result.key
        loaded = getattr(line, "__dict__", {})   # read loaded attributes without the ORM's descriptors
        item = loaded["item"] if "item" in loaded else getattr(line, "item", None)
        cache_key = id(item)
        item_vals = item_cache.get(cache_key)
        if item_vals is None:
            item_vals = item_cache[cache_key] = item_values(item, layout)
        names = {"quantity": result.quantity, "unit_price": result.unit_price, "gross": result.gross,
                 "discount": result.discount, "net": result.net, "tax": result.tax, "total": result.total,
                 "item": item_vals, "doc": doc_vals}
        out = result.custom
        stored = (loaded["custom"] if "custom" in loaded else getattr(line, "custom", None)) or {}
        errors: dict[str, str] = {}
        _entered_values(value_columns, stored, item_vals, currency, names, out, errors)
        for key, function, places, column in plan:
            try:
                value = function(names)
                if places is not None:             # a number column: round it to its decimals
                    if value.__class__ is not Decimal:
                        raise ValueError("is not a number")
                    value = money.round_places(value, places)
                    if value.adjusted() >= _MAX_DIGITS or (column.type == "money" and
                                                          abs(value) > money.MAX_TOTAL):
                        raise ValueError("number too large")
                    if not value and value.is_signed():
                        value = value.copy_abs()   # -0.00 (a tiny negative rounded) is 0.00
                    out[key] = value
                else:
                    out[key] = coerce(column, value)
            except Exception as exc:  # noqa: BLE001 - every failure is a per-cell error, never a 500
                message = str(exc) if type(exc) is ValueError else error_message(exc)
                errors[key] = message
                names[key] = Failed(key, message)
                out[key] = None
                continue
            names[key] = value
        if errors:
            out[ERRORS_KEY] = errors
            all_errors[index] = errors
        elif stored and ERRORS_KEY in stored and isinstance(line, DocumentLine):
            # the core merges the values into line.custom: drop the errors of an earlier computation
            line.custom = {k: v for k, v in stored.items() if k != ERRORS_KEY}
        if by_line is not None:
            by_line[id(line)] = names
    if by_line is not None:
        _subtotals(layout, document, by_line, currency)
    return all_errors


def _entered_values(value_columns: list[lay.Column], stored: dict, item_vals: dict, currency: str, names: dict, out: dict,
                    errors: dict[str, str]) -> None:
    """The line's values of the columns without a formula (what was entered, else the column's
    default) into ``names`` (for the formulas) and ``out`` (stored); a bad one into ``errors``."""
    for column in value_columns:
        key = column.key
        raw = stored.get(key) if column.editable else None
        try:
            if raw is None or raw == "":
                value = _default(column, item_vals, currency) if column.default else None
            else:
                value = lay.convert_input(column, raw, currency)
        except ValueError as exc:
            errors[key] = str(exc)
            names[key] = Failed(key, str(exc))
            out[key] = raw if column.editable else None  # keep what was typed, to correct it
            continue
        names[key] = value
        out[key] = lay.jsonable(value)


def _summable(layout: lay.CompiledLayout) -> list[str]:
    return [c.key for c in layout.custom_columns if c.type in ("money", "number")]


def _subtotals(layout: lay.CompiledLayout, document: Document, by_line: dict, currency: str) -> None:
    """Write the running sums into the subtotal rows: ``subtotal`` (the nets since the previous
    section or subtotal, like the core's PDF), ``total`` and each money/number custom column."""
    lines = document.lines
    keys = ["net", "total"] + _summable(layout)
    zero = {key: money.ZERO for key in keys}
    running = dict(zero)
    failed: set[str] = set()
    for line in lines:
        if line.display_type is None:
            names = by_line.get(id(line))
            if names is None:
                continue
            for key in keys:
                value = names.get(key)
                if value.__class__ is Failed:
                    failed.add(key)
                elif isinstance(value, Decimal):
                    running[key] = money.add(running[key], value)
        elif line.display_type == "section":
            running, failed = dict(zero), set()
        elif line.display_type == "subtotal":
            sums = {key: (None if key in failed else lay.jsonable(money.round_money(running[key], currency)
                                                                  if key in ("net", "total") else running[key]))
                    for key in keys}
            line.custom = {"subtotal": sums.pop("net"), **sums}
            running, failed = dict(zero), set()


# --- totals ---------------------------------------------------------------------------------

def totals_of(computation: Computation) -> Totals:
    """The document's totals, which the core has computed by the ``document_totals`` stage."""
    if computation.totals is None:
        raise RuntimeError("the totals are computed before the document_totals stage")
    return computation.totals


def _sums(layout: lay.CompiledLayout, computation: Computation) -> dict:
    """What ``sum(column)`` reads: the column's sum over the item lines, or a Failed naming
    the first line where the column has an error."""
    lines = computation.lines
    with_errors = [(position, errors) for position, result in enumerate(lines, start=1)
                   if isinstance(errors := result.custom.get(ERRORS_KEY), dict) and errors]
    sums: dict[str, Any] = {}
    for key in layout.sum_columns:
        if key in lay.LINE_NAMES:
            sums[key] = money.total(getattr(result, key) for result in lines)
            continue
        failure = next((Failed(f"{key} on item line {position}", errors[key])
                        for position, errors in with_errors if key in errors), None)
        if failure is not None:
            sums[key] = failure
            continue
        numbers = [_decimal(result.custom.get(key)) for result in lines]
        sums[key] = money.total([number for number in numbers if number is not None])
    return sums


def compute_totals(layout: lay.CompiledLayout, computation: Computation, document: Document) -> dict[str, str]:
    """Evaluate the layout's totals; returns ``{key: message}`` of the custom totals that failed."""
    if not layout.total_order:
        return {}
    currency = computation.document.currency
    names: dict[str, Any] = dict(totals_of(computation).as_dict())
    names["sum"] = _sums(layout, computation)
    names["doc"] = doc_values(document, layout)
    errors: dict[str, str] = {}
    for total in layout.total_order:
        key = total.key
        try:
            value = total.prepared.function(names)
            if not isinstance(value, Decimal):
                raise ValueError("is not a number")
            value = money.round_places(value, total.places(currency))
            if abs(value) >= lay.MAX_NUMBER or (not total.builtin and total.type == "money" and
                                                abs(value) > money.MAX_TOTAL):
                raise ValueError("number too large")
            if not value and value.is_signed():
                value = value.copy_abs()
        except Exception as exc:  # noqa: BLE001 - a per-total error, never a 500
            message = str(exc) if type(exc) is ValueError else error_message(exc)
            if total.builtin:
                raise ValidationError.for_field(
                    f"totals.{key}", _("%(label)s cannot be computed with the layout's formula: %(message)s",
                                       label=total.label, message=message)
                ) from None
            errors[key] = message
            names[key] = Failed(key, message)
            totals_of(computation).extra[key] = None
            continue
        if total.builtin:
            _override(computation, total, value)
            names.update(totals_of(computation).as_dict())
        else:
            names[key] = value
            totals_of(computation).extra[key] = value
    return errors


#: built-in totals the core may make negative: any other one replaced by a negative value is refused
_SIGNED_TOTALS = ("adjustment", "grand_total")


def _override(computation: Computation, total: lay.Total, value: Decimal) -> None:
    """Replace built-in ``total`` with ``value``; refused (422 ``totals.<key>``) when the value
    is negative where the core's never is, passes the largest amount a document may hold, or
    makes the grand total negative."""
    key = total.key
    before = totals_of(computation).grand_total
    if value < 0 and key not in _SIGNED_TOTALS:
        _refuse_total(total, _("the layout's formula makes it negative (%(value)s)", value=value))
    if abs(value) > money.MAX_TOTAL:
        _refuse_total(total, _("the layout's formula makes it %(value)s, more than the largest amount %(limit)s",
                               value=value, limit=money.MAX_TOTAL))
    computation.override_total(key, value)
    after = totals_of(computation).grand_total
    if after < 0 <= before:
        _refuse_total(total, _("the layout's formula makes the grand total negative (%(total)s)", total=after))


def _refuse_total(total: lay.Total, message: str) -> NoReturn:
    raise ValidationError.for_field(f"totals.{total.key}", _("%(label)s: %(message)s", label=total.label,
                                                             message=message))


def replay_totals(layout: lay.CompiledLayout, computation: Computation, document: Document) -> None:
    """An issued document: its custom totals and replaced built-in totals stay as stored."""
    stored = document.extra_totals or {}
    for total in layout.totals:
        if not total.builtin and total.key in stored:
            value = stored[total.key]
            totals_of(computation).extra[total.key] = _decimal(value) if value is not None else None
    overrides = [t for t in layout.totals if t.overrides]
    for total in sorted(overrides, key=lambda t: t.key == "grand_total"):
        value = getattr(document, TOTAL_COLUMNS[total.key], None)
        if value is not None:
            computation.override_total(total.key, value)


# --- after the save -------------------------------------------------------------------------

def remember(session: Session, document: Document) -> None:
    """Store the layout version a live document was just computed with (``crm_record_saved``)."""
    context = getattr(document, STATE_ATTR, None)
    if context is None or document.id is None:
        return
    try:
        delattr(document, STATE_ATTR)
    except AttributeError:
        pass
    layout = context.get("layout")
    if context.get("live") and layout is not None and layout.version == 0 and _FORCED.get() is None:
        # no layout was ever saved for its type (versions only go up): it has no binding row,
        # which the answer's serialization need not read again
        setattr(document, UNBOUND_ATTR, True)
        return
    with contextlib.suppress(AttributeError):
        delattr(document, UNBOUND_ATTR)
    if not context.get("live") or layout is None or layout.version <= 0:
        return
    row = session.get(DocumentLayout, document.id)
    if row is None:
        session.add(DocumentLayout(document_id=document.id, doc_type=document.doc_type,
                                   layout_version=layout.version, total_errors=context.get("total_errors") or {}))
    else:
        row.layout_version = layout.version
        row.total_errors = context.get("total_errors") or {}
