"""Overpayment as customer credit, and credit applied to another invoice of the account."""
from __future__ import annotations

import uuid

from payments_helpers import invoice_state


def _overpay(api, inv, amount):
    r = api.post(f"/invoices/{inv}/payments", json={"amount": amount, "excess_as_credit": True})
    assert r.status_code == 201, r.text
    return r.json()


def test_the_excess_becomes_credit_and_the_invoice_is_paid_not_negative(api, make_invoice, catalog):
    inv = make_invoice(total="100.00")
    api.post(f"/invoices/{inv}/payments", json={"amount": "30.00"})
    payment = _overpay(api, inv, "120.00")
    assert payment["amount"] == "70.00"  # what the invoice takes
    assert payment["credit_created"]["amount"] == "50.00" and payment["credit_created"]["remaining"] == "50.00"
    assert invoice_state(api, inv) == ("100.00", "0.00", "Paid")
    credits = api.get(f"/payments/credits?account_id={catalog.account}").json()
    assert credits["total"] == 1
    credit = credits["items"][0]
    assert (credit["amount"], credit["remaining"], credit["currency"]) == ("50.00", "50.00", "EUR")
    assert credit["source_invoice_id"] == inv and credit["source_payment_id"] == payment["id"]


def test_no_credit_without_the_flag_and_none_on_a_paid_invoice(api, make_invoice):
    inv = make_invoice(total="100.00")
    _overpay(api, inv, "100.00")
    assert api.get("/payments/credits").json()["total"] == 0  # exactly the balance: no credit
    r = api.post(f"/invoices/{inv}/payments", json={"amount": "5.00", "excess_as_credit": True})
    assert r.status_code == 409 and r.json()["error"]["code"] == "nothing_to_pay"


def test_credit_applies_to_another_invoice_of_the_account_atomically(api, make_invoice, catalog):
    source = make_invoice(total="100.00")
    target = make_invoice(total="80.00")
    credit_id = _overpay(api, source, "150.00")["credit_created"]["id"]
    r = api.post(f"/payments/credits/{credit_id}/apply", json={"invoice_id": target, "amount": "30.00"})
    assert r.status_code == 201, r.text
    applied = r.json()
    assert (applied["status"], applied["method"], applied["amount"]) == ("Credit", "Credit", "30.00")
    assert applied["credit_applied_id"] == credit_id
    assert invoice_state(api, target) == ("30.00", "50.00", "Partially Paid")
    assert api.get(f"/payments/credits/{credit_id}").json()["remaining"] == "20.00"
    # without an amount: as much as the credit and the balance allow
    rest = api.post(f"/payments/credits/{credit_id}/apply", json={"invoice_id": target}).json()
    assert rest["amount"] == "20.00"
    assert invoice_state(api, target) == ("50.00", "30.00", "Partially Paid")
    credit = api.get(f"/payments/credits/{credit_id}").json()
    assert credit["remaining"] == "0.00" and [a["amount"] for a in credit["applications"]] == ["30.00", "20.00"]
    assert api.get(f"/payments/credits?account_id={catalog.account}&open=true").json()["total"] == 0
    used_up = api.post(f"/payments/credits/{credit_id}/apply", json={"invoice_id": target})
    assert used_up.status_code == 409 and used_up.json()["error"]["code"] == "credit_used_up"


def test_credit_never_goes_below_zero_nor_overpays(api, make_invoice):
    source = make_invoice(total="10.00")
    target = make_invoice(total="100.00")
    small = make_invoice(total="5.00")
    credit_id = _overpay(api, source, "50.00")["credit_created"]["id"]
    more = api.post(f"/payments/credits/{credit_id}/apply", json={"invoice_id": target, "amount": "40.01"})
    assert more.status_code == 422 and "40.00 EUR" in more.json()["error"]["message"]
    over = api.post(f"/payments/credits/{credit_id}/apply", json={"invoice_id": small, "amount": "6.00"})
    assert over.status_code == 422 and over.json()["error"]["code"] == "overpayment"
    assert api.get(f"/payments/credits/{credit_id}").json()["remaining"] == "40.00"
    assert invoice_state(api, small) == ("0.00", "5.00", "Approved")


def test_credit_of_another_account_or_currency_is_refused(api, make_invoice, other_account):
    source = make_invoice(total="10.00")
    foreign = make_invoice(total="10.00", account_id=other_account)
    dollars = make_invoice(total="10.00", currency="USD")
    credit_id = _overpay(api, source, "20.00")["credit_created"]["id"]
    for inv in (foreign, dollars):
        r = api.post(f"/payments/credits/{credit_id}/apply", json={"invoice_id": inv})
        assert r.status_code == 422 and "invoice_id" in r.json()["error"]["fields"]
    assert api.get(f"/payments/credits/{credit_id}").json()["remaining"] == "10.00"
    assert api.post("/payments/credits/999999/apply", json={"invoice_id": source}).status_code == 404


def test_deleting_a_credit_payment_gives_the_credit_back(api, make_invoice):
    source = make_invoice(total="10.00")
    target = make_invoice(total="100.00")
    credit_id = _overpay(api, source, "40.00")["credit_created"]["id"]
    applied = api.post(f"/payments/credits/{credit_id}/apply", json={"invoice_id": target}).json()
    changed = api.patch(f"/payments/{applied['id']}", json={"amount": "10.00"})
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "credit_payment"
    assert api.patch(f"/payments/{applied['id']}", json={"note": "ok"}).status_code == 200
    assert api.delete(f"/payments/{applied['id']}").status_code == 204
    assert api.get(f"/payments/credits/{credit_id}").json()["remaining"] == "30.00"
    assert invoice_state(api, target) == ("0.00", "100.00", "Approved")


def test_an_overpayment_whose_credit_was_used_cannot_be_undone(api, make_invoice):
    source = make_invoice(total="10.00")
    target = make_invoice(total="100.00")
    overpayment = _overpay(api, source, "40.00")
    credit_id = overpayment["credit_created"]["id"]
    applied = api.post(f"/payments/credits/{credit_id}/apply", json={"invoice_id": target, "amount": "5.00"}).json()
    for attempt in (api.delete(f"/payments/{overpayment['id']}"),
                    api.patch(f"/payments/{overpayment['id']}", json={"status": "Failed"})):
        assert attempt.status_code == 409 and attempt.json()["error"]["code"] == "credit_in_use"
    assert invoice_state(api, source) == ("10.00", "0.00", "Paid")
    api.delete(f"/payments/{applied['id']}")
    # now unused: deleting the overpayment drops its credit too
    assert api.delete(f"/payments/{overpayment['id']}").status_code == 204
    assert api.get(f"/payments/credits/{credit_id}").status_code == 404
    assert invoice_state(api, source) == ("0.00", "10.00", "Approved")


def test_applying_credit_is_idempotent(api, make_invoice):
    source = make_invoice(total="10.00")
    target = make_invoice(total="100.00")
    credit_id = _overpay(api, source, "40.00")["credit_created"]["id"]
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = api.post(f"/payments/credits/{credit_id}/apply", json={"invoice_id": target, "amount": "10.00"},
                     headers=headers)
    again = api.post(f"/payments/credits/{credit_id}/apply", json={"invoice_id": target, "amount": "10.00"},
                     headers=headers)
    assert first.json()["id"] == again.json()["id"]
    assert api.get(f"/payments/credits/{credit_id}").json()["remaining"] == "20.00"
