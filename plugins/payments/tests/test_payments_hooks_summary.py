"""The hooks the plugin implements and emits, the core's ``crm_invoice_paid``, the
business summary, and the plugin's migrations."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm import hookimpl
from crm.testing import registered_plugin

from payments_helpers import days_ago


class EventSpy:
    """Another plugin listening to payments and paid invoices."""

    def __init__(self):
        self.events = []

    @hookimpl
    def crm_payment_event(self, session, event, payment, invoice):
        self.events.append((event, payment.id, payment.amount, invoice.id, invoice.received, invoice.status))

    @hookimpl
    def crm_invoice_paid(self, session, invoice):
        self.events.append(("paid", invoice.id, invoice.balance, invoice.status))


def test_payment_events_and_the_core_announces_paid_once_per_transition(app, api, make_invoice):
    inv = make_invoice(total="100.00")
    spy = EventSpy()
    with registered_plugin(app, spy, "spy_payments"):
        a = api.post(f"/invoices/{inv}/payments", json={"amount": "60.00"}).json()["id"]
        b = api.post(f"/invoices/{inv}/payments", json={"amount": "40.00"}).json()["id"]
        api.patch(f"/payments/{b}", json={"amount": "39.00"})
        api.patch(f"/payments/{b}", json={"amount": "40.00"})
        api.delete(f"/payments/{a}")
    seen = [(e[0], e[1], e[2], e[4], e[5]) if e[0] != "paid" else e[:1] + e[2:] for e in spy.events]
    D = Decimal
    assert seen == [
        ("recorded", a, D("60"), D("60"), "Partially Paid"),
        ("paid", 0, "Paid"),                           # the core, when the status becomes Paid ...
        ("recorded", b, D("40"), D("100"), "Paid"),    # ... before the plugin's event, same transaction
        ("changed", b, D("39"), D("99"), "Partially Paid"),
        ("paid", 0, "Paid"),                           # paid again: announced again
        ("changed", b, D("40"), D("100"), "Paid"),
        ("deleted", a, D("60"), D("40"), "Partially Paid"),
    ]
    assert {e[3] if e[0] != "paid" else e[1] for e in spy.events} == {inv}


def test_crm_invoice_received_answers_the_sum_of_counted_payments_minus_refunds(app, api, make_invoice):
    from crm.db import db
    from crm.plugins import get_registry
    from crm.services import documents
    inv = make_invoice(total="100.00")
    for amount, status in (("50.00", "Paid"), ("30.00", "Pending"), ("20.00", "Paid"), ("5.00", "Refunded")):
        api.post(f"/invoices/{inv}/payments", json={"amount": amount, "status": status})
    with app.app_context():
        session = db.session
        invoice = documents.get_document(session, "invoice", inv)
        answer = get_registry(app).pm.hook.crm_invoice_received(session=session, invoice=invoice)
        assert answer == Decimal("65.00") and isinstance(answer, Decimal)
        quote = documents.create_document(session, "quote", {"account_id": invoice.account_id, "lines": []})
        assert get_registry(app).pm.hook.crm_invoice_received(session=session, invoice=quote) is None
        session.rollback()


def test_summary_invoiced_received_outstanding_overdue_and_by_month(api, make_invoice):
    a = make_invoice(total="100.00", invoice_date="2027-01-05", due_date=days_ago(5).isoformat())
    b = make_invoice(total="50.00", invoice_date="2027-02-05", due_date=(dt.date.today() + dt.timedelta(days=30))
                     .isoformat())
    make_invoice(total="999.00", status="Created")      # a draft is not invoiced
    make_invoice(total="999.00", status="Cancelled")    # nor a cancelled one
    dollars = make_invoice(total="10.00", currency="USD", invoice_date="2027-01-07")
    api.post(f"/invoices/{a}/payments", json={"amount": "30.00", "date": "2027-01-20"})
    api.post(f"/invoices/{a}/payments", json={"amount": "10.00", "date": "2027-02-02"})
    api.post(f"/invoices/{a}/payments", json={"amount": "5.00", "date": "2027-02-03", "status": "Refunded"})
    api.post(f"/invoices/{b}/payments", json={"amount": "50.00", "date": "2027-02-10"})
    api.post(f"/invoices/{dollars}/payments", json={"amount": "4.00", "date": "2027-01-08"})
    api.post(f"/invoices/{a}/payment-schedule", json={"installments": 1, "first_date": days_ago(1).isoformat()})
    r = api.get("/payments/summary")
    assert r.status_code == 200, r.text
    data = r.json()
    eur, usd = data["currencies"]
    assert (eur["currency"], eur["invoices"], eur["invoiced"], eur["received"], eur["outstanding"], eur["overdue"]) \
        == ("EUR", 2, "150.00", "85.00", "65.00", "65.00")
    assert (eur["scheduled"], eur["overdue_installments"]) == ("65.00", "65.00")
    assert (usd["invoiced"], usd["received"], usd["outstanding"], usd["overdue"]) == ("10.00", "4.00", "6.00", "0.00")
    assert data["by_month"] == [{"month": "2027-01", "currency": "EUR", "received": "30.00"},
                                {"month": "2027-01", "currency": "USD", "received": "4.00"},
                                {"month": "2027-02", "currency": "EUR", "received": "55.00"}]
    february = api.get("/payments/summary?from=2027-02-01&to=2027-02-28").json()
    (feb_eur,) = february["currencies"]
    assert (feb_eur["invoiced"], feb_eur["received"]) == ("50.00", "55.00")
    assert api.get("/payments/summary?from=nonsense").status_code == 422


def test_models_and_migrations_agree_and_round_trip(app):
    from sqlalchemy import inspect
    from crm import migrate
    from crm.db import db
    assert migrate.schema_differences(app, "payments") == []
    assert migrate.current_revisions(app)["payments"] == "payments_0002"
    migrate.downgrade(app, "payments", "payments_0001")
    tables = set(inspect(db.engine(app)).get_table_names())
    assert "payments_payments" not in tables and "payments_statuses" in tables
    migrate.downgrade(app, "payments", "base")
    assert not {t for t in inspect(db.engine(app)).get_table_names() if t.startswith("payments_")}
    migrate.upgrade(app, "payments")
    assert migrate.schema_differences(app, "payments") == []
    tables = {t for t in inspect(db.engine(app)).get_table_names() if t.startswith("payments_")}
    assert tables == {"payments_statuses", "payments_methods", "payments_payments", "payments_schedules",
                      "payments_credits", "payments_credit_applications"}
