"""``crm_document_validate``: values sent for editable custom columns are checked by type."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm.errors import ValidationError
from crm.models import Document
from crm_idca import engine, layouts as lay


def validate_document(session: Session, document: Document, data: dict) -> None:
    """Refuse (422, ``lines.<i>.custom.<key>``) a value of an editable column that does not fit
    its type: a number column gets a number, a date column a date, a select column one of its
    choices, a text column text of at most 2000 characters. Values sent for computed columns
    and ``errors`` are ignored (they are recomputed); keys of other plugins are theirs to check."""
    lines = data.get("lines")
    if not lines:
        return
    layout, live = engine.layout_of(session, document)
    if layout is None or not live:
        return
    editable = {c.key: c for c in layout.custom_columns if c.editable}
    if not editable:
        return
    for index, line in enumerate(lines):
        custom = line.get("custom") if isinstance(line, dict) else None
        if not custom or line.get("display_type"):
            continue
        for key, value in custom.items():
            column = editable.get(key)
            if column is None:
                continue
            try:
                lay.convert_input(column, value, document.currency)
            except ValueError as exc:
                raise ValidationError.for_field(f"lines.{index}.custom.{key}", str(exc)) from None
