"""How the layout shows: the document's API representation and its PDF."""
from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session, object_session

from crm.models import Document
from crm.ui import LineColumn
from crm_idca import engine, layouts as lay
from crm_idca.models import DocumentLayout

#: what a cell that could not be computed prints as
ERROR_CELL = "#ERR"


def serialize(document: Document, data: dict) -> None:
    """Full documents (with lines) get ``"idca": {"layout_version", "live", "total_errors"}``:
    the layout version the document was computed with, whether it still follows the current
    layout, and the custom totals that could not be computed (their value is null)."""
    if "lines" not in data or getattr(document, "id", None) is None:
        return
    session = object_session(document)
    if session is None:
        return
    row = None if getattr(document, engine.UNBOUND_ATTR, False) else session.get(DocumentLayout, document.id)
    data["idca"] = {"layout_version": row.layout_version if row is not None else None,
                    "live": engine.is_live(document),
                    "total_errors": dict(row.total_errors or {}) if row is not None else {}}


def _label(entry_label: str, default_label: str, core_label: str) -> str:
    """A built-in's label: the core's (translated) one unless the layout renamed it."""
    return entry_label if entry_label and entry_label != default_label else core_label


def builtin_arrangement(layout: lay.CompiledLayout | None) -> dict | None:
    """What ``crm_builtin_line_columns`` answers for ``layout``: ``{key: {"label", "visible",
    "width", "position"}}`` for every built-in column (``label`` None unless renamed, so the core
    shows its translated one) and ``{"position"}`` for every visible custom column, or None when
    the layout keeps the built-in columns as the core shows them (default labels, visible, no
    width, in their default order, custom columns after them)."""
    if layout is None:
        return None
    builtins = [c for c in layout.columns if c.builtin]
    first_custom = next((i for i, c in enumerate(layout.columns) if not c.builtin), len(layout.columns))
    untouched = (tuple(c.key for c in builtins) == lay.BUILTIN_COLUMNS
                 and all(c.visible and not c.width and c.label == lay.BUILTIN_LABELS[c.key] for c in builtins)
                 and all(c.builtin for c in layout.columns[:first_custom])
                 and all(not c.builtin for c in layout.columns[first_custom:]))
    if untouched:
        return None
    arrangement = {}
    for position, column in enumerate(layout.columns):
        if column.builtin:
            renamed = column.label if column.label and column.label != lay.BUILTIN_LABELS[column.key] else None
            arrangement[column.key] = {"label": renamed, "visible": column.visible, "width": column.width,
                                       "position": position}
        elif column.visible:
            arrangement[column.key] = {"position": position}
    return arrangement


def extra_totals(layout: lay.CompiledLayout | None) -> list:
    """What ``crm_extra_totals`` answers for ``layout``: its custom totals, in its order."""
    from crm.ui import ExtraTotal
    if layout is None:
        return []
    return [ExtraTotal(t.key, t.label, type=t.type, visible=t.visible) for t in layout.totals if not t.builtin]


def pdf_context(session: Session, document: Document, context: dict) -> None:
    """Apply the document's layout to the PDF: built-in columns hidden, relabelled, moved and
    resized; custom columns (of the version an issued document was computed with) in the
    layout's order; totals relabelled or hidden and custom totals with their labels and types."""
    layout, _live = engine.layout_of(session, document)
    announced = {c.key for c in engine.line_columns(layout)}   # what crm_line_columns gave for the document
    columns = context.get("columns") or []
    core = {c.key: c for c in columns if c.key in lay.BUILTIN_COLUMNS}
    others = [c for c in columns if c.key not in lay.BUILTIN_COLUMNS and c.key not in announced]
    if layout is None:  # an issued document the plugin never computed: it announced no columns
        return
    shown = []
    for column in layout.columns:
        if column.builtin:
            base = core.get(column.key)
            if base is None or not column.visible:
                continue
            shown.append(dataclasses.replace(
                base, label=_label(column.label, lay.BUILTIN_LABELS[column.key], base.label),
                width=column.width or base.width))
        elif column.visible:
            shown.append(LineColumn(column.key, column.label, type=column.type, editable=column.editable,
                                    width=column.width, choices=tuple(column.choices)))
    context["columns"] = shown + others
    for row in context.get("lines") or []:
        if row.get("type") != "item":
            continue
        errors = (row["line"].custom or {}).get(engine.ERRORS_KEY) or {}
        for key in errors:
            row["values"][key] = ERROR_CELL
    _totals(layout, document, context)


def _totals(layout: lay.CompiledLayout, document: Document, context: dict) -> None:
    builtin = {t.key: t for t in layout.totals if t.builtin}
    rows = []
    for row in context.get("totals") or []:
        entry = builtin.get(row["key"])
        if entry is not None:
            if not entry.visible:
                continue
            row = {**row, "label": _label(entry.label, lay.TOTAL_LABELS[entry.key], row["label"])}
        rows.append(row)
    context["totals"] = rows
    custom = {t.key: t for t in layout.totals if not t.builtin}
    existing = {row["key"]: row for row in context.get("extra_totals") or []}
    extra = []
    for total in layout.totals:
        if total.builtin or not total.visible or total.key not in existing:
            continue
        row = existing[total.key]
        value = row.get("value")
        extra.append({**row, "label": total.label, "type": total.type,
                      "value": ERROR_CELL if value is None else value})
    extra += [row for key, row in existing.items() if key not in custom]
    context["extra_totals"] = extra
