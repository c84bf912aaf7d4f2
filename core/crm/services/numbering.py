"""Numbers that never repeat: a sequence per document type (prefix + zero-padded counter),
and sequences of the plugins' own records.

A sequence is a row of ``sequences`` named after what it numbers: a core document type
(``quote``, ``sales_order``, ``purchase_order``, ``invoice``) or ``<plugin id>_<kind>`` for a
plugin (``hello_greeting``), created on first use. The counter row is locked (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite serialises writers), so concurrent transactions never get the
same number, and a refused creation rolls the counter back with everything else: numbers have
no gaps caused by errors.
"""
from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crm.errors import ValidationError
from crm.models import Sequence
from crm.services.doctypes import DOC_TYPES

#: a plugin's sequence: ``<plugin id>_<kind>``, at most ``MAX_NAME`` characters
PLUGIN_SEQUENCE = re.compile(r"[a-z][a-z0-9_]*_[a-z0-9]+")
MAX_NAME = 60
MAX_PREFIX = 20
DEFAULT_PADDING = 4


def next_number(session: Session, name: str, *, prefix: str = "", padding: int = DEFAULT_PADDING) -> str:
    """The next number of the sequence ``name``: a document type, or a plugin's
    ``"<plugin id>_<kind>"`` (``next_number(session, "hello_greeting", prefix="G-")`` ->
    ``"G-0001"``, then ``"G-0002"``). ``prefix`` and ``padding`` are those of a plugin's
    sequence when this call creates it; afterwards the stored ones count (see
    :func:`configure`). A document type's prefix is its own (``QUO-``, ...)."""
    sequence = _locked(session, name, prefix, padding)
    value = sequence.next_value
    sequence.next_value = value + 1
    session.flush()
    return f"{sequence.prefix}{value:0{sequence.padding}d}"


def _check_name(name: str) -> None:
    if name in DOC_TYPES:
        return
    if not isinstance(name, str) or len(name) > MAX_NAME or not PLUGIN_SEQUENCE.fullmatch(name):
        raise ValueError(f"a sequence is a document type ({', '.join(DOC_TYPES)}) or '<plugin id>_<kind>' "
                         f"of lowercase letters, digits and _ (at most {MAX_NAME} characters), not {name!r}")


def _locked(session: Session, name: str, prefix: str, padding: int) -> Sequence:
    """The sequence's row, locked for this transaction; made first if it does not exist (two
    transactions making it at once: one inserts, the other waits for it and uses it)."""
    _check_name(name)
    query = select(Sequence).where(Sequence.doc_type == name).with_for_update()
    sequence = session.scalar(query)
    if sequence is not None:
        return sequence
    if name in DOC_TYPES:
        prefix, padding = DOC_TYPES[name].prefix, DEFAULT_PADDING
    if len(prefix) > MAX_PREFIX or not 1 <= padding <= 12:
        raise ValueError(f"a sequence's prefix has at most {MAX_PREFIX} characters and its padding is 1 to 12")
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(Sequence).values(doc_type=name, prefix=prefix, padding=padding, next_value=1)
                    .on_conflict_do_nothing())
    return session.scalars(query.execution_options(populate_existing=True)).one()


def configure(session: Session, doc_type: str, *, prefix: str | None = None, padding: int | None = None,
              next_value: int | None = None) -> Sequence:
    """Change a sequence's prefix, padding or next value (never below a used number): a
    document type's, or a plugin's sequence that exists."""
    if doc_type not in DOC_TYPES and not _exists(session, doc_type):
        raise ValidationError.for_field("doc_type", _("unknown document type"))
    sequence = _locked(session, doc_type, "", DEFAULT_PADDING)
    if prefix is not None:
        if len(prefix) > MAX_PREFIX:
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


def _exists(session: Session, name: str) -> bool:
    return isinstance(name, str) and session.scalar(select(Sequence.doc_type).where(Sequence.doc_type == name)) is not None
