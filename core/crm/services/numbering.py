"""Document numbers: a sequence per document type (prefix + zero-padded counter).

The counter row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
serialises writers), so concurrent creations never get the same number, and a
refused creation rolls the counter back with everything else.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import ValidationError
from crm.models import Sequence
from crm.services.doctypes import DOC_TYPES


def next_number(session: Session, doc_type: str) -> str:
    sequence = session.scalar(select(Sequence).where(Sequence.doc_type == doc_type).with_for_update())
    if sequence is None:
        sequence = Sequence(doc_type=doc_type, prefix=DOC_TYPES[doc_type].prefix, padding=4, next_value=1)
        session.add(sequence)
    value = sequence.next_value
    sequence.next_value = value + 1
    session.flush()
    return f"{sequence.prefix}{value:0{sequence.padding}d}"


def configure(session: Session, doc_type: str, *, prefix: str | None = None, padding: int | None = None,
              next_value: int | None = None) -> Sequence:
    """Change a sequence's prefix, padding or next value (never below a used number)."""
    if doc_type not in DOC_TYPES:
        raise ValidationError.for_field("doc_type", _("unknown document type"))
    sequence = session.scalar(select(Sequence).where(Sequence.doc_type == doc_type).with_for_update())
    if sequence is None:
        sequence = Sequence(doc_type=doc_type, prefix=DOC_TYPES[doc_type].prefix, padding=4, next_value=1)
        session.add(sequence)
    if prefix is not None:
        if len(prefix) > 20:
            raise ValidationError.for_field("prefix", _("at most 20 characters"))
        sequence.prefix = prefix
    if padding is not None:
        if not 1 <= padding <= 12:
            raise ValidationError.for_field("padding", _("between 1 and 12"))
        sequence.padding = padding
    if next_value is not None:
        if next_value < sequence.next_value:
            raise ValidationError.for_field("next_value", _("numbers below %(value)s may be in use",
                                                            value=sequence.next_value))
        sequence.next_value = next_value
    session.flush()
    return sequence
