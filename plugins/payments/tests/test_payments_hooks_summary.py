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


def test_a_payment_recorded_with_or_changed_to_a_failure_status_is_announced_as_failed(app, api, make_invoice):
    inv = make_invoice(total="100.00")
    spy = EventSpy()
    with registered_plugin(app, spy, "spy_payments"):
        a = api.post(f"/invoices/{inv}/payments", json={"amount": "60.00", "status": "Failed"}).json()["id"]
        api.patch(f"/payments/{a}", json={"note": "declined"})         # still failed: no new failure
        b = api.post(f"/invoices/{inv}/payments", json={"amount": "40.00", "status": "Pending"}).json()["id"]
        api.patch(f"/payments/{b}", json={"status": "Failed"})
        api.patch(f"/payments/{b}", json={"status": "Paid"})
    assert [(e[0], e[1], e[4]) for e in spy.events] == [
        ("recorded", a, Decimal("0")), ("failed", a, Decimal("0")), ("changed", a, Decimal("0")),
        ("recorded", b, Decimal("0")), ("changed", b, Decimal("0")), ("failed", b, Decimal("0")),
        ("changed", b, Decimal("40")),
    ]


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
    from sqlalchemy import inspect, text

    from crm import migrate
    from crm.db import db
    assert migrate.schema_differences(app, "payments") == []
    assert migrate.current_revisions(app)["payments"] == "payments_0004"
    migrate.downgrade(app, "payments", "payments_0003")
    assert "is_failure" not in {c["name"] for c in inspect(db.engine(app)).get_columns("payments_statuses")}
    migrate.upgrade(app, "payments")
    assert migrate.schema_differences(app, "payments") == []
    with db.engine(app).connect() as connection:  # the seeded Failed status became the built-in one, once
        failed = connection.execute(text("SELECT name, code, is_failure FROM payments_statuses "
                                         "WHERE is_failure = :yes"), {"yes": True}).all()
    assert [tuple(row) for row in failed] == [("Failed", "failed", True)]
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


def test_overdue_is_one_figure_on_the_dashboard_the_invoice_list_the_aging_report_and_the_summary(
        app, api, make_invoice, web_as):
    """crm.services.receivables defines an overdue invoice once; every place that shows one agrees."""
    import re
    past, future = days_ago(10).isoformat(), (dt.date.today() + dt.timedelta(days=10)).isoformat()
    make_invoice(total="100.00", due_date=past)                           # overdue
    make_invoice(total="20.00", status="Sent", due_date=past)             # overdue
    make_invoice(total="7.00", invoice_date=days_ago(3).isoformat())      # no due date: due on its date
    paid_part = make_invoice(total="50.00", due_date=past)                # partly paid: its balance
    api.post(f"/invoices/{paid_part}/payments", json={"amount": "20.00"})
    make_invoice(total="900.00", status="Created", due_date=past)         # a draft is not owed
    make_invoice(total="800.00", status="Cancelled", due_date=past)       # nor a cancelled one
    make_invoice(total="700.00", status="Credit Invoice", due_date=past)  # nor a credit invoice
    make_invoice(total="600.00", due_date=future)                         # not due yet
    make_invoice(total="500.00", currency="USD", due_date=past)           # another currency
    expected_count, expected = 4, "157.00"

    (eur, _usd) = api.get("/payments/summary").json()["currencies"]
    assert eur["overdue"] == expected
    aging = api.get("/reports/invoice-aging").json()["totals"]
    assert Decimal(aging["total"]) - Decimal(aging["current"]) == Decimal(expected)
    client = web_as("admin")
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'data-kpi="overdue">\s*%d\s*<' % expected_count, home)
    assert "157.00" in home
    listed = client.get("/invoices/?overdue=1").get_data(as_text=True)
    assert len(set(re.findall(r'href="/invoices/(\d+)"', listed))) == expected_count + 1  # and the USD one


def test_a_cancelled_invoice_owes_nothing(api, make_invoice):
    invoice = make_invoice(total="80.00", status="Cancelled")
    assert api.get(f"/invoices/{invoice}").json()["balance"] == "0.00"
    cancelled_later = make_invoice(total="80.00")
    api.patch(f"/invoices/{cancelled_later}", json={"status": "Cancelled"})
    assert api.get(f"/invoices/{cancelled_later}").json()["balance"] == "0.00"
