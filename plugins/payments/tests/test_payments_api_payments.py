"""Payments through the API: many per invoice, edit, delete, and the invoice's received,
balance and status recomputed by every change."""
from __future__ import annotations

import uuid

import pytest

from payments_helpers import invoice_state


def pay(api, invoice_id, amount, **extra):
    return api.post(f"/invoices/{invoice_id}/payments", json={"amount": amount, **extra})


def test_many_payments_recompute_received_balance_and_status(api, make_invoice):
    inv = make_invoice(total="100.00")
    assert invoice_state(api, inv) == ("0.00", "100.00", "Approved")
    first = pay(api, inv, "30.00", method="Bank transfer", reference="TR-1", note="deposit", date="2027-01-15")
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["amount"], body["status"], body["method"], body["date"]) == ("30.00", "Paid", "Bank transfer",
                                                                             "2027-01-15")
    assert body["counts_as_received"] is True and body["created_by"] == api.user.username
    assert invoice_state(api, inv) == ("30.00", "70.00", "Partially Paid")
    assert pay(api, inv, "70.00", method="Cash", date="2027-01-20").status_code == 201
    assert invoice_state(api, inv) == ("100.00", "0.00", "Paid")
    listed = api.get(f"/invoices/{inv}/payments").json()
    assert listed["total"] == 2 and [p["amount"] for p in listed["items"]] == ["30.00", "70.00"]


def test_statuses_that_do_not_count_leave_the_balance_alone(api, make_invoice):
    inv = make_invoice(total="100.00")
    for status in ("Pending", "Scheduled", "Failed"):
        r = pay(api, inv, "40.00", status=status)
        assert r.status_code == 201, r.text
        assert r.json()["counts_as_received"] is False
    assert invoice_state(api, inv) == ("0.00", "100.00", "Approved")
    assert pay(api, inv, "25.50").status_code == 201
    assert invoice_state(api, inv) == ("25.50", "74.50", "Partially Paid")


def test_a_refund_subtracts_and_cannot_exceed_what_was_received(api, make_invoice):
    inv = make_invoice(total="100.00")
    pay(api, inv, "100.00")
    assert invoice_state(api, inv)[2] == "Paid"
    refund = pay(api, inv, "20.00", status="Refunded")
    assert refund.status_code == 201 and refund.json()["is_refund"] is True
    assert invoice_state(api, inv) == ("80.00", "20.00", "Partially Paid")
    too_much = pay(api, inv, "80.01", status="Refunded")
    assert too_much.status_code == 422
    assert too_much.json()["error"]["code"] == "refund_exceeds_received"
    assert invoice_state(api, inv) == ("80.00", "20.00", "Partially Paid")


def test_overpayment_is_refused_with_the_balance_in_the_message_and_changes_nothing(api, make_invoice):
    inv = make_invoice(total="100.00")
    pay(api, inv, "60.00")
    r = pay(api, inv, "40.01")
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "overpayment" and "40.00 EUR" in error["message"] and "amount" in error["fields"]
    assert invoice_state(api, inv) == ("60.00", "40.00", "Partially Paid")
    assert api.get(f"/invoices/{inv}/payments").json()["total"] == 1
    assert pay(api, inv, "40.00").status_code == 201
    assert invoice_state(api, inv) == ("100.00", "0.00", "Paid")  # exactly the balance: Paid, never negative


def test_edit_changes_the_balance_and_refuses_an_overpaying_edit(api, make_invoice):
    inv = make_invoice(total="100.00")
    a = pay(api, inv, "30.00").json()
    b = pay(api, inv, "20.00").json()
    r = api.patch(f"/payments/{a['id']}", json={"amount": "50.00", "note": "corrected"})
    assert r.status_code == 200, r.text
    assert r.json()["amount"] == "50.00" and r.json()["note"] == "corrected"
    assert invoice_state(api, inv) == ("70.00", "30.00", "Partially Paid")
    too_much = api.patch(f"/payments/{b['id']}", json={"amount": "50.01"})
    assert too_much.status_code == 422 and "50.00 EUR" in too_much.json()["error"]["message"]
    assert api.get(f"/payments/{b['id']}").json()["amount"] == "20.00"
    assert api.patch(f"/payments/{b['id']}", json={"amount": "50.00"}).json()["amount"] == "50.00"
    assert invoice_state(api, inv) == ("100.00", "0.00", "Paid")
    # a status that does not count takes the payment out of received
    assert api.patch(f"/payments/{b['id']}", json={"status": "Failed"}).status_code == 200
    assert invoice_state(api, inv) == ("50.00", "50.00", "Partially Paid")


def test_deleting_payments_goes_back_to_the_status_before_payments(api, make_invoice):
    inv = make_invoice(total="100.00", status="Sent")
    ids = [pay(api, inv, amount).json()["id"] for amount in ("40.00", "60.00")]
    assert invoice_state(api, inv)[2] == "Paid"
    assert api.delete(f"/payments/{ids[1]}").status_code == 204
    assert invoice_state(api, inv) == ("40.00", "60.00", "Partially Paid")
    assert api.delete(f"/payments/{ids[0]}").status_code == 204
    assert invoice_state(api, inv) == ("0.00", "100.00", "Sent")
    assert api.get(f"/payments/{ids[0]}").status_code == 404
    assert api.delete(f"/payments/{ids[0]}").status_code == 404


def test_deleting_a_payment_that_refunds_depend_on_is_refused(api, make_invoice):
    inv = make_invoice(total="100.00")
    paid = pay(api, inv, "50.00").json()
    pay(api, inv, "30.00", status="Refunded")
    r = api.delete(f"/payments/{paid['id']}")
    assert r.status_code == 409 and r.json()["error"]["code"] == "refund_exceeds_received"
    assert invoice_state(api, inv) == ("20.00", "80.00", "Partially Paid")


@pytest.mark.parametrize("status", ["Created", "Cancelled", "Credit Invoice"])
def test_only_issued_invoices_take_payments(api, make_invoice, status):
    inv = make_invoice(total="100.00", status=status)
    r = pay(api, inv, "10.00")
    assert r.status_code == 409 and r.json()["error"]["code"] == "invoice_not_payable"
    assert status in r.json()["error"]["message"]
    assert api.get(f"/invoices/{inv}/payments").json()["total"] == 0


def test_payments_on_sent_and_paid_invoices_and_unknown_ids(api, make_invoice):
    inv = make_invoice(total="10.00", status="Sent")
    assert pay(api, inv, "10.00").status_code == 201
    assert pay(api, inv, "1.00", status="Pending").status_code == 201  # Paid still takes pending ones
    assert pay(api, 999999, "1.00").status_code == 404
    assert api.get("/invoices/999999/payments").status_code == 404
    assert api.patch("/payments/999999", json={"note": "x"}).status_code == 404


def test_the_hand_edited_received_is_refused_while_payments_keep_it(api, make_invoice):
    inv = make_invoice(total="100.00")
    r = api.patch(f"/invoices/{inv}", json={"received": "50.00"})
    assert r.status_code == 422 and "received" in r.json()["error"]["fields"]
    assert invoice_state(api, inv) == ("0.00", "100.00", "Approved")


@pytest.mark.parametrize("body, field", [
    ({"amount": "0"}, "amount"),
    ({"amount": "-5.00"}, "amount"),
    ({"amount": "1.001"}, "amount"),      # more decimals than EUR has
    ({"amount": "abc"}, "amount"),
    ({}, "amount"),
    ({"amount": "5.00", "status": "Nope"}, "status"),
    ({"amount": "5.00", "method": "Bitcoin"}, "method"),
    ({"amount": "5.00", "status": "Credit"}, "status"),  # only credit application uses it
    ({"amount": "5.00", "date": "2027-02-30"}, "date"),
    ({"amount": "5.00", "reference": "x" * 101}, "reference"),
])
def test_bad_input_is_a_422_on_its_field_and_changes_nothing(api, make_invoice, body, field):
    inv = make_invoice(total="100.00")
    r = pay(api, inv, **body) if "amount" in body else api.post(f"/invoices/{inv}/payments", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["fields"]
    assert api.get(f"/invoices/{inv}/payments").json()["total"] == 0


def test_amounts_are_decimal_strings_and_numbers_are_accepted(api, make_invoice):
    inv = make_invoice(total="0.30")
    r = pay(api, inv, 0.1)  # a JSON number is read as a decimal, never a float
    assert r.status_code == 201 and r.json()["amount"] == "0.10"
    pay(api, inv, "0.20")
    assert invoice_state(api, inv) == ("0.30", "0.00", "Paid")  # 0.1 + 0.2 == 0.3 exactly


def test_status_and_method_by_id_and_inactive_ones_refused(api, make_invoice):
    inv = make_invoice(total="100.00")
    statuses = {s["name"]: s for s in api.get("/payments/statuses").json()["items"]}
    methods = {m["name"]: m for m in api.get("/payments/methods").json()["items"]}
    r = pay(api, inv, "5.00", status=statuses["Pending"]["id"], method=methods["Cash"]["id"])
    assert r.status_code == 201 and (r.json()["status"], r.json()["method"]) == ("Pending", "Cash")
    api.patch(f"/payments/methods/{methods['Check']['id']}", json={"active": False})
    refused = pay(api, inv, "5.00", method="Check")
    assert refused.status_code == 422 and "inactive" in refused.json()["error"]["message"]


def test_idempotency_key_returns_the_first_payment_and_never_pays_twice(api, make_invoice):
    inv = make_invoice(total="100.00")
    headers = {"Idempotency-Key": f"pay-{uuid.uuid4()}"}
    first = api.post(f"/invoices/{inv}/payments", json={"amount": "30.00"}, headers=headers)
    again = api.post(f"/invoices/{inv}/payments", json={"amount": "30.00"}, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json()    # answered in its transaction, or read again: the same
    assert api.get(f"/invoices/{inv}/payments").json()["total"] == 1
    assert invoice_state(api, inv) == ("30.00", "70.00", "Partially Paid")
    other = api.post(f"/invoices/{inv}/payments", json={"amount": "31.00"}, headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_mismatch"
    assert api.get(f"/invoices/{inv}/payments").json()["total"] == 1


def test_a_stale_version_is_a_409(api, make_invoice):
    inv = make_invoice(total="100.00")
    p = pay(api, inv, "10.00").json()
    assert api.patch(f"/payments/{p['id']}", json={"note": "a", "version": p["version"]}).status_code == 200
    stale = api.patch(f"/payments/{p['id']}", json={"note": "b", "version": p["version"]})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"


def test_roles_read_everyone_write_admin_accounting(api, api_as, make_invoice):
    inv = make_invoice(total="100.00")
    warehouse = api_as("warehouse")
    assert warehouse.get(f"/invoices/{inv}/payments").status_code == 200
    for role in ("warehouse", "sales", "purchasing"):
        assert pay(api_as(role), inv, "1.00").status_code == 403
    assert pay(api_as("accounting"), inv, "1.00").status_code == 201
    p = pay(api, inv, "1.00").json()
    assert warehouse.patch(f"/payments/{p['id']}", json={"note": "x"}).status_code == 403
    assert warehouse.delete(f"/payments/{p['id']}").status_code == 403
    anonymous = api.anonymous()
    assert anonymous.get(f"/invoices/{inv}/payments").status_code == 401


def test_list_filters_and_sort(api, make_invoice, other_account):
    a = make_invoice(total="100.00")
    b = make_invoice(total="100.00", account_id=other_account)
    pay(api, a, "10.00", reference="ALPHA", date="2027-01-10")
    pay(api, a, "20.00", status="Pending", date="2027-02-10")
    pay(api, b, "30.00", method="Cash", date="2027-03-10")
    everything = api.get("/payments").json()
    assert everything["total"] == 3 and [p["amount"] for p in everything["items"]] == ["30.00", "20.00", "10.00"]
    assert api.get(f"/payments?invoice_id={a}").json()["total"] == 2
    assert api.get(f"/payments?account_id={other_account}").json()["total"] == 1
    assert api.get("/payments?status=Pending").json()["items"][0]["amount"] == "20.00"
    assert api.get("/payments?method=Cash").json()["items"][0]["amount"] == "30.00"
    assert api.get("/payments?q=alph").json()["total"] == 1
    assert api.get("/payments?from=2027-02-01&to=2027-02-28").json()["total"] == 1
    assert api.get("/payments?counted=true").json()["total"] == 2
    assert [p["amount"] for p in api.get("/payments?sort=amount").json()["items"]] == ["10.00", "20.00", "30.00"]
    assert api.get("/payments?sort=nope").status_code == 422
    assert api.get("/payments?status=Nope").status_code == 422


def test_the_openapi_description_has_the_plugin_paths_and_prefixed_schemas(api):
    spec = api.get("/openapi.json").json()
    for path in ("/api/v1/invoices/{invoice_id}/payments", "/api/v1/payments/{payment_id}",
                 "/api/v1/invoices/{invoice_id}/payment-calculator", "/api/v1/invoices/{invoice_id}/payment-schedule",
                 "/api/v1/payments/summary", "/api/v1/payments/credits", "/api/v1/payments/statuses"):
        assert path in spec["paths"], path
    ours = [name for name in spec["components"]["schemas"] if "Payment" in name or "Credit" in name]
    assert ours and all(name.startswith("Payments") for name in ours), ours
