"""Statuses and types are admin-managed lists; a status in use keeps its meaning."""
from __future__ import annotations

import pytest

from payments_helpers import invoice_state, signed_in


def _by_name(api, what):
    return {row["name"]: row for row in api.get(f"/payments/{what}").json()["items"]}


def test_the_seeded_statuses_types_and_their_flags(api):
    statuses = _by_name(api, "statuses")
    flags = {name: (s["counts_as_received"], s["is_refund"], s["is_scheduled"], s["is_failure"])
             for name, s in statuses.items()}
    assert flags == {"Paid": (True, False, False, False), "Pending": (False, False, False, False),
                     "Scheduled": (False, False, True, False), "Failed": (False, False, False, True),
                     "Refunded": (True, True, False, False), "Credit": (True, False, False, False)}
    assert statuses["Credit"]["code"] == "credit" and statuses["Paid"]["code"] is None
    assert statuses["Failed"]["code"] == "failed"
    assert set(_by_name(api, "methods")) == {"Cash", "Check", "Credit card", "Bank transfer", "Direct debit",
                                             "Credit"}


def test_admin_creates_renames_and_deletes_an_unused_status(api):
    r = api.post("/payments/statuses", json={"name": "Cleared", "counts_as_received": True})
    assert r.status_code == 201, r.text
    status = r.json()
    assert (status["counts_as_received"], status["is_refund"], status["active"]) == (True, False, True)
    renamed = api.patch(f"/payments/statuses/{status['id']}", json={"name": "Cleared by bank", "is_refund": True})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Cleared by bank"
    assert renamed.json()["is_refund"] is True and renamed.json()["counts_as_received"] is True
    assert api.get(f"/payments/statuses/{status['id']}").json()["name"] == "Cleared by bank"
    assert api.delete(f"/payments/statuses/{status['id']}").status_code == 204
    assert api.get(f"/payments/statuses/{status['id']}").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"name": "Refund only", "is_refund": True}, "is_refund"),
    ({"name": "Odd", "is_scheduled": True, "counts_as_received": True}, "is_scheduled"),
    ({"name": "Bounced", "is_failure": True, "counts_as_received": True}, "is_failure"),
    ({"name": "Missed", "is_failure": True, "is_scheduled": True}, "is_failure"),
    ({"name": ""}, "name"),
    ({}, "name"),
])
def test_inconsistent_flags_and_blank_names_are_refused(api, body, field):
    r = api.post("/payments/statuses", json=body)
    assert r.status_code == 422 and field in r.json()["error"]["fields"], r.text


def test_duplicate_names_are_a_conflict(api):
    assert api.post("/payments/statuses", json={"name": "paid"}).status_code == 409
    assert api.post("/payments/methods", json={"name": "CASH"}).status_code == 409


def test_a_status_in_use_cannot_be_deleted_nor_change_its_flags_but_can_be_deactivated(api, make_invoice):
    inv = make_invoice(total="100.00")
    pending = _by_name(api, "statuses")["Pending"]
    api.post(f"/invoices/{inv}/payments", json={"amount": "40.00", "status": "Pending"})
    deleted = api.delete(f"/payments/statuses/{pending['id']}")
    assert deleted.status_code == 409 and "deactivate" in deleted.json()["error"]["message"]
    flipped = api.patch(f"/payments/statuses/{pending['id']}", json={"counts_as_received": True})
    assert flipped.status_code == 409 and flipped.json()["error"]["code"] == "status_in_use"
    assert invoice_state(api, inv) == ("0.00", "100.00", "Approved")  # the balance did not move
    off = api.patch(f"/payments/statuses/{pending['id']}", json={"active": False, "name": "Pending (old)"})
    assert off.status_code == 200 and off.json()["active"] is False
    assert api.post(f"/invoices/{inv}/payments", json={"amount": "1.00", "status": "Pending (old)"}).status_code == 422
    # a payment already in it can still be edited
    payment = api.get(f"/invoices/{inv}/payments").json()["items"][0]
    assert api.patch(f"/payments/{payment['id']}", json={"note": "still here"}).status_code == 200


def test_the_builtin_credit_status_and_method_cannot_be_deleted_or_changed(api):
    credit = _by_name(api, "statuses")["Credit"]
    assert api.delete(f"/payments/statuses/{credit['id']}").status_code == 409
    assert api.patch(f"/payments/statuses/{credit['id']}", json={"counts_as_received": False}).status_code == 409
    failed = _by_name(api, "statuses")["Failed"]
    assert api.delete(f"/payments/statuses/{failed['id']}").status_code == 409
    assert api.patch(f"/payments/statuses/{failed['id']}", json={"is_failure": False}).status_code == 409
    renamed = api.patch(f"/payments/statuses/{failed['id']}", json={"name": "Rejected by the bank"})
    assert renamed.status_code == 200 and renamed.json()["is_failure"] is True
    method = _by_name(api, "methods")["Credit"]
    assert api.delete(f"/payments/methods/{method['id']}").status_code == 409


def test_methods_crud_and_in_use(api, make_invoice):
    r = api.post("/payments/methods", json={"name": "PayPal"})
    assert r.status_code == 201
    method = r.json()
    assert api.patch(f"/payments/methods/{method['id']}", json={"name": "PayPal (EU)"}).json()["name"] == "PayPal (EU)"
    inv = make_invoice(total="10.00")
    api.post(f"/invoices/{inv}/payments", json={"amount": "5.00", "method": "PayPal (EU)"})
    assert api.delete(f"/payments/methods/{method['id']}").status_code == 409
    assert api.patch(f"/payments/methods/{method['id']}", json={"active": False}).json()["active"] is False
    unused = api.post("/payments/methods", json={"name": "Voucher"}).json()
    assert api.delete(f"/payments/methods/{unused['id']}").status_code == 204


def test_only_admins_write_the_lists(api_as):
    for role in ("sales", "accounting", "warehouse"):
        client = api_as(role)
        assert client.get("/payments/statuses").status_code == 200
        assert client.post("/payments/statuses", json={"name": f"x-{role}"}).status_code == 403
        assert client.post("/payments/methods", json={"name": f"x-{role}"}).status_code == 403
        assert client.patch("/payments/statuses/1", json={"name": "y"}).status_code == 403
        assert client.delete("/payments/methods/1").status_code == 403


def test_a_new_counting_status_counts_and_a_new_refund_status_subtracts(api, make_invoice):
    inv = make_invoice(total="100.00")
    api.post("/payments/statuses", json={"name": "Cleared", "counts_as_received": True})
    api.post("/payments/statuses", json={"name": "Chargeback", "counts_as_received": True, "is_refund": True})
    api.post(f"/invoices/{inv}/payments", json={"amount": "70.00", "status": "Cleared"})
    api.post(f"/invoices/{inv}/payments", json={"amount": "15.00", "status": "Chargeback"})
    assert invoice_state(api, inv) == ("55.00", "45.00", "Partially Paid")


def test_a_failed_payment_does_not_count_and_its_status_is_offered_on_the_invoice(api, make_invoice, client,
                                                                                  make_user):
    inv = make_invoice(total="100.00")
    declined = api.post("/payments/statuses", json={"name": "Declined card", "is_failure": True})
    assert declined.status_code == 201 and declined.json()["is_failure"] is True
    for status in ("Failed", "Declined card"):
        made = api.post(f"/invoices/{inv}/payments", json={"amount": "60.00", "status": status})
        assert made.status_code == 201 and made.json()["is_failure"] is True, made.text
    assert invoice_state(api, inv) == ("0.00", "100.00", "Approved")
    in_use = api.patch(f"/payments/statuses/{declined.json()['id']}", json={"is_failure": False})
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "status_in_use"
    signed_in(client, make_user("accounting"))
    panel = client.get(f"/invoices/{inv}").get_data(as_text=True)
    assert f'<option value="{_by_name(api, "statuses")["Failed"]["id"]}" >Failed</option>' in panel
