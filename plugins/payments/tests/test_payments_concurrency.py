"""Races over real HTTP on PostgreSQL: the invoice row (and the credit row) is locked,
so two clients paying the last balance get one success and one refusal."""
from __future__ import annotations

from decimal import Decimal

import pytest

from crm.testing import at_once
from payments_helpers import invoice_state

pytestmark = pytest.mark.postgres_only

ROUNDS = 5


def test_two_payments_racing_for_the_last_balance_one_201_one_422(live_api, live_api_as, make_invoice):
    other = live_api_as("accounting")
    for _ in range(ROUNDS):
        inv = make_invoice(total="100.00")
        assert live_api.post(f"/invoices/{inv}/payments", json={"amount": "40.00"}).status_code == 201
        first, second = at_once(
            lambda: live_api.post(f"/invoices/{inv}/payments", json={"amount": "60.00", "reference": "A"}),
            lambda: other.post(f"/invoices/{inv}/payments", json={"amount": "60.00", "reference": "B"}))
        assert sorted([first.status_code, second.status_code]) == [201, 422], (first.text, second.text)
        refused = first if first.status_code == 422 else second
        assert refused.json()["error"]["code"] == "overpayment"
        assert "0.00 EUR" in refused.json()["error"]["message"]  # the balance it saw: after the winner
        assert invoice_state(live_api, inv) == ("100.00", "0.00", "Paid")
        assert live_api.get(f"/invoices/{inv}/payments").json()["total"] == 2


def test_marking_two_installments_paid_at_once_keeps_received_exact(live_api, live_api_as, make_invoice):
    other = live_api_as("accounting")
    for _ in range(ROUNDS):
        inv = make_invoice(total="100.00")
        schedule = live_api.post(f"/invoices/{inv}/payment-schedule",
                            json={"installments": 2, "first_date": "2027-01-01"}).json()
        a, b = (p["id"] for p in schedule["payments"])
        first, second = at_once(lambda: live_api.patch(f"/payments/{a}", json={"status": "Paid"}),
                             lambda: other.patch(f"/payments/{b}", json={"status": "Paid"}))
        assert first.status_code == second.status_code == 200, (first.text, second.text)
        assert invoice_state(live_api, inv) == ("100.00", "0.00", "Paid")  # no lost update of received


def test_one_credit_applied_twice_at_once_never_goes_below_zero(live_api, live_api_as, make_invoice):
    other = live_api_as("accounting")
    for _ in range(ROUNDS):
        source = make_invoice(total="10.00")
        x, y = make_invoice(total="100.00"), make_invoice(total="100.00")
        credit = live_api.post(f"/invoices/{source}/payments",
                          json={"amount": "60.00", "excess_as_credit": True}).json()["credit_created"]
        first, second = at_once(
            lambda: live_api.post(f"/payments/credits/{credit['id']}/apply", json={"invoice_id": x, "amount": "30.00"}),
            lambda: other.post(f"/payments/credits/{credit['id']}/apply", json={"invoice_id": y, "amount": "30.00"}))
        assert sorted([first.status_code, second.status_code]) == [201, 422], (first.text, second.text)
        assert live_api.get(f"/payments/credits/{credit['id']}").json()["remaining"] == "20.00"
        received = [Decimal(invoice_state(live_api, inv)[0]) for inv in (x, y)]
        assert sorted(received) == [Decimal("0"), Decimal("30.00")]
