"""``crm demo`` with the payments plugin: the demo invoices get payments, schedules and a
customer credit (hook ``crm_demo_data``), consistent with the invoices, loaded once."""
from __future__ import annotations

from sqlalchemy import func, select

from crm.models import Document
from crm_payments import services
from crm_payments.models import Credit, Payment, PaymentSchedule


def test_demo_payments_are_consistent_and_loaded_once(app, runner, session):
    first = runner.invoke(["demo"])
    assert first.exit_code == 0, first.output
    assert "payments" in first.output and "customer credits" in first.output
    count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
    payments, schedules, credits = count(Payment), count(PaymentSchedule), count(Credit)
    assert payments >= 20 and schedules >= 2 and credits == 1
    statuses = set(session.scalars(select(Document.status).where(Document.doc_type == "invoice").distinct()))
    assert {"Paid", "Partially Paid", "Sent"} <= statuses
    for invoice in session.scalars(select(Document).where(Document.doc_type == "invoice")):
        assert invoice.received == services.received_on(session, invoice.id), invoice.number
        owed = 0 if invoice.status == "Cancelled" else invoice.grand_total - invoice.received
        assert invoice.balance == owed, invoice.number
        assert 0 <= invoice.received <= invoice.grand_total
    assert session.scalars(select(Payment).where(Payment.created_by_id.is_(None))).first() is None
    session.rollback()  # SQLite: the test's reading transaction would hold the write lock
    check = runner.invoke(["payments", "recompute", "--dry-run"])
    assert check.exit_code == 0, check.output
    again = runner.invoke(["demo"])
    assert again.exit_code == 0 and "payments" not in again.output
    assert (count(Payment), count(PaymentSchedule), count(Credit)) == (payments, schedules, credits)
