"""Values pulled from an accounting system are held to what a user may type here: amounts and
quantities within ``crm.money``'s bounds, numbers in ASCII digits, dates within ``crm.dates``'
range. A record that breaks one is refused by name and reported on the run; the run goes on
with the others (a value beyond a column used to fail the whole run on PostgreSQL)."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from accsync_helpers import in_app, sync
from crm.models import Document, Item

TOO_LARGE = "1" + "0" * 20


def test_pulled_records_with_values_beyond_what_is_accepted_here_are_refused_by_name(app, mem, catalog):
    good = mem.put("items", {"kind": "service", "name": "Soporte", "unit_price": "55.5", "active": True})
    for name, price in (("Huge", TOO_LARGE), ("Full width", "\uff11\uff12"), ("Underscore", "1_000"),
                        ("Not a number", "NaN")):
        mem.put("items", {"kind": "service", "name": name, "unit_price": price, "active": True})
    account = mem.put("accounts", {"name": "Nuevo Cliente", "active": True})
    line = {"item_ref": good.id, "quantity": "2", "unit_price": "55.5", "description": "x", "taxes": []}
    mem.put("invoices", {"account_ref": account.id, "date": "2030-01-02", "subject": "Fine", "lines": [line]})
    mem.put("invoices", {"account_ref": account.id, "date": "9999-12-31", "subject": "Far", "lines": [line]})
    mem.put("invoices", {"account_ref": account.id, "date": "2030-01-02", "subject": "Many",
                         "lines": [{**line, "quantity": TOO_LARGE}]})
    run = sync(app, "mem")
    assert run.status == "done", run
    failed = sorted(r["message"].split(":")[0] for r in run.records if r["action"] == "failed")
    assert failed == ["invoice_date", "lines.0.quantity", "unit_price", "unit_price", "unit_price", "unit_price"], run

    def stored(s):
        names = set(s.scalars(select(Item.name)))
        subjects = set(s.scalars(select(Document.subject).where(Document.doc_type == "invoice")))
        return names, subjects
    names, subjects = in_app(app, stored)
    assert "Soporte" in names and not names & {"Huge", "Full width", "Underscore", "Not a number"}
    assert subjects == {"Fine"}
    assert in_app(app, lambda s: s.scalar(select(Item.unit_price).where(Item.name == "Soporte"))) == Decimal("55.5")
