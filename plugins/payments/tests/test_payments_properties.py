"""Properties (hypothesis): whatever sequence of payments is added, edited and deleted,
with whatever statuses, the invoice's received is the sum of its counted payments minus
its refunds, balance = total - received, the status follows, and a change is refused
exactly when it would overpay or refund more than was received (and then changes nothing)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from crm.db import db
from crm.errors import CRMError
from crm.services import documents
from crm_payments import services
from payments_helpers import create_invoice

TOTAL = Decimal("100.00")
#: status -> sign: +1 counts, -1 refund, 0 does not count
STATUSES = {"Paid": 1, "Pending": 0, "Scheduled": 0, "Failed": 0, "Refunded": -1}

amounts = st.one_of(st.integers(1, 5000), st.integers(1, 12000)).map(lambda cents: Decimal(cents).scaleb(-2))
statuses = st.sampled_from(["Paid", "Paid", "Refunded", "Refunded", "Pending", "Scheduled", "Failed"])
operations = st.one_of(
    st.tuples(st.just("add"), amounts, statuses),
    st.tuples(st.just("edit"), st.integers(0, 20), st.none() | amounts, st.none() | statuses),
    st.tuples(st.just("delete"), st.integers(0, 20)),
)
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _received(model: dict) -> Decimal:
    return sum((amount * STATUSES[status] for amount, status in model.values()), Decimal("0"))


def _run(app, change) -> bool:
    """Run ``change(session)`` in its own request-like transaction; True if accepted."""
    with app.app_context():
        try:
            with db.transaction() as session:
                change(session)
            return True
        except CRMError:
            return False


def _check(app, invoice_id: int, model: dict, status_before: str) -> None:
    with app.app_context():
        session = db.new_session(app)
        try:
            invoice = documents.get_document(session, "invoice", invoice_id)
            expected = _received(model)
            assert invoice.received == expected
            assert invoice.balance == invoice.grand_total - invoice.received == TOTAL - expected
            assert services.received_on(session, invoice_id) == expected
            stored = {p.id: (p.amount, p.status.name) for p in services.payments_of(session, invoice_id)}
            assert stored == model
            if expected >= TOTAL:
                assert invoice.status == "Paid"
            elif expected > 0:
                assert invoice.status == "Partially Paid"
            else:
                assert invoice.status == status_before
        finally:
            session.close()


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(ops=st.lists(operations, max_size=10))
@example(ops=[("add", Decimal("60.00"), "Paid"), ("add", Decimal("20.00"), "Refunded"),   # refund accepted
              ("add", Decimal("40.01"), "Refunded"),                                      # more than received
              ("add", Decimal("60.01"), "Paid"),                                          # overpays
              ("add", Decimal("60.00"), "Paid"),                                          # exactly: Paid
              ("edit", 1, None, "Pending"),                                               # refund no longer counts
              ("delete", 0), ("edit", 0, Decimal("100.00"), "Paid"), ("delete", 0)])
@example(ops=[("add", Decimal("30.00"), "Scheduled"), ("edit", 0, None, "Paid"), ("add", Decimal("10.00"), "Refunded"),
              ("delete", 0), ("edit", 1, Decimal("0.01"), "Paid"), ("edit", 0, Decimal("99.99"), None)])
def test_received_is_always_the_sum_of_counted_payments_minus_refunds(app, catalog, ops):
    status_before = "Sent"
    invoice_id = create_invoice(app, catalog, total=str(TOTAL), status=status_before)
    model: dict[int, tuple[Decimal, str]] = {}
    for op in ops:
        if op[0] == "add":
            _, amount, status = op
            after = _received(model) + amount * STATUSES[status]
            created = []
            accepted = _run(app, lambda s: created.append(
                services.record_payment(s, invoice_id, {"amount": amount, "status": status}).id))
            assert accepted == (Decimal("0") <= after <= TOTAL), (op, model)
            if accepted:
                model[created[0]] = (amount, status)
        elif op[0] == "edit":
            _, index, amount, status = op
            if not model:
                continue
            payment_id = sorted(model)[index % len(model)]
            old_amount, old_status = model[payment_id]
            new = (amount if amount is not None else old_amount, status or old_status)
            after = _received({**model, payment_id: new})
            data = {k: v for k, v in (("amount", amount), ("status", status)) if v is not None}
            accepted = _run(app, lambda s: services.update_payment(s, payment_id, data))
            assert accepted == (Decimal("0") <= after <= TOTAL), (op, model)
            if accepted:
                model[payment_id] = new
        else:
            _, index = op
            if not model:
                continue
            payment_id = sorted(model)[index % len(model)]
            rest = {k: v for k, v in model.items() if k != payment_id}
            accepted = _run(app, lambda s: services.delete_payment(s, payment_id))
            assert accepted == (_received(rest) >= 0), (op, model)
            if accepted:
                model = rest
        _check(app, invoice_id, model, status_before)


@PROPERTY_SETTINGS
@given(paid=st.integers(0, 9999), installments=st.integers(1, 12),
       interval=st.sampled_from(["weekly", "monthly", "quarterly"]),
       first=st.dates(dt.date(2027, 1, 1), dt.date(2030, 12, 31)))
def test_a_schedule_always_adds_up_to_the_balance(app, catalog, paid, installments, interval, first):
    invoice_id = create_invoice(app, catalog, total="100.00")
    if paid:
        _run(app, lambda s: services.record_payment(s, invoice_id, {"amount": Decimal(paid).scaleb(-2)}))
    with app.app_context():
        with db.transaction() as session:
            schedule = services.create_schedule(session, invoice_id, {
                "installments": installments, "first_date": first, "interval": interval})
            amounts = [p.amount for p in schedule.payments]
            dates = [p.date for p in schedule.payments]
    balance = Decimal("100.00") - Decimal(paid).scaleb(-2)
    assert sum(amounts) == balance and len(amounts) == installments
    assert all(a > 0 for a in amounts) and max(amounts) - min(amounts) < Decimal(installments).scaleb(-2)
    assert amounts[-1] == max(amounts)
    assert dates == sorted(dates) and dates[0] == first
