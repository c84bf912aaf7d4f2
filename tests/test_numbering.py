"""Numbering sequences of the plugins' records (``crm.services.numbering.next_number(session,
"<plugin id>_<kind>", prefix=...)``): the same guarantees as the documents' numbers -- never
twice, even for transactions racing to make the sequence, and no gap left by a refused one."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.db import db
from crm.models import Sequence
from crm.services import numbering
from crm.services.numbering import next_number
from crm.testing import all_at_once


def test_a_plugin_sequence_is_made_on_first_use_and_counts_on(session):
    assert next_number(session, "hello_greeting", prefix="G-") == "G-0001"
    assert next_number(session, "hello_greeting", prefix="ignored-", padding=9) == "G-0002"   # the stored ones count
    assert next_number(session, "hello_card", padding=6) == "000001"
    assert next_number(session, "quote") == "QUO-0001"                      # the documents' own are untouched
    long_name = "accounting_sync_" + "x" * 44                                # 60 characters are stored
    assert next_number(session, long_name, prefix="A/") == "A/0001"
    session.commit()
    numbering.configure(session, "hello_greeting", prefix="GR-", padding=3, next_value=40)
    assert next_number(session, "hello_greeting") == "GR-040"
    session.rollback()                                                       # refused: nothing was taken
    assert next_number(session, "hello_greeting") == "G-0003"
    assert next_number(session, long_name) == "A/0002"


@pytest.mark.parametrize("name", ["hello", "Hello_greeting", "hello-greeting", "hello_", "_greeting", "1a_b",
                                  "hello_" + "x" * 55, "", None, "hello greeting"])
def test_a_sequence_name_is_a_document_type_or_a_plugin_id_and_a_kind(session, name):
    with pytest.raises(ValueError, match="<plugin id>_<kind>"):
        next_number(session, name)
    assert name not in session.scalars(select(Sequence.doc_type)).all()


def test_configure_refuses_a_plugin_sequence_that_does_not_exist(session):
    from crm.errors import ValidationError
    with pytest.raises(ValidationError):
        numbering.configure(session, "hello_nothing", prefix="N-")
    assert session.get(Sequence, "hello_nothing") is None



def test_racing_transactions_never_share_a_number_and_refused_ones_leave_no_gap(app):
    """Twenty transactions take numbers of a sequence that does not exist yet, all at once; every
    third one is then refused (rolled back): the numbers kept are 1..n, each once."""
    def take(i):
        session = db.new_session(app)
        try:
            number = next_number(session, "hello_ticket", prefix="T-")
            if i % 3 == 0:
                session.rollback()
                return None
            session.commit()
            return number
        finally:
            session.close()

    kept = [number for number in all_at_once(20, take) if number is not None]
    assert sorted(kept) == [f"T-{n:04d}" for n in range(1, len(kept) + 1)]
    session = db.new_session(app)
    try:
        assert next_number(session, "hello_ticket") == f"T-{len(kept) + 1:04d}"
    finally:
        session.close()


def test_purging_a_plugin_forgets_its_sequences_only(app, session, runner):
    for name in ("hello_greeting", "hello_card", "hellothere_x"):
        next_number(session, name)
    next_number(session, "quote")
    session.commit()
    result = runner.invoke(["plugins", "purge", "hello", "--confirm", "hello"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    names = set(session.scalars(select(Sequence.doc_type)))
    assert {"hello_greeting", "hello_card"}.isdisjoint(names)
    assert {"hellothere_x", "quote", "sales_order", "purchase_order", "invoice"} <= names
