"""Every edit form of the payments plugin (found in the URL map by ``crm.testing.edit_forms``),
submitted untouched as a browser would, changes nothing: a payment (edited in the invoice's
payments panel), a status and a payment type read through the API are the same before and
after. A form of the plugin without a case here fails the test."""
from __future__ import annotations

import pytest

from crm.testing import check_round_trip, comparable, edit_forms
from payments_helpers import signed_in

#: the plugin's pages and form targets that look like edit forms but are not
NOT_EDIT_FORMS = {
    "/payments/settings/statuses": "lists the statuses: each row's form posts to /payments/settings/statuses/<id>",
    "/payments/settings/types": "lists the types: each row's form posts to /payments/settings/types/<id>",
    "/payments/settings/statuses/<int:status_id>/delete": "deletes a status",
    "/payments/settings/types/<int:method_id>/delete": "deletes a type",
}
NOTE = "Paid at the counter\nreceipt 42 «stamped»"


def read(api, path):
    def get():
        response = api.get(path)
        assert response.status_code == 200, response.text
        return comparable(response.json())
    return get


def _payment(api, make_invoice):
    invoice = make_invoice(total="250.00")
    status = api.post("/payments/statuses", json={"name": "Cleared", "counts_as_received": True}).json()
    method = api.post("/payments/methods", json={"name": "Bizum", "position": 3}).json()
    payment = api.post(f"/invoices/{invoice}/payments", json={
        "amount": "99.95", "date": "2026-03-04", "status": status["id"], "method": method["id"],
        "reference": "REF-7/«A»", "note": NOTE})
    assert payment.status_code == 201, payment.text
    return f"/invoices/{invoice}", f"/payments/{payment.json()['id']}/edit", read(api, f"/payments/{payment.json()['id']}")


def _status(api, make_invoice):
    status = api.post("/payments/statuses", json={"name": "Disputed «bank»", "is_refund": True,
                                                  "counts_as_received": True, "position": 7}).json()
    assert api.patch(f"/payments/statuses/{status['id']}", json={"active": False}).status_code == 200
    return "/payments/settings/statuses", f"/payments/settings/statuses/{status['id']}", \
        read(api, f"/payments/statuses/{status['id']}")


def _status_in_use(api, make_invoice):
    """A status in use: its flags are shown disabled (and carried by hidden inputs)."""
    invoice = make_invoice(total="80.00")
    status = api.post("/payments/statuses", json={"name": "Held", "is_scheduled": True, "position": 2}).json()
    api.post(f"/invoices/{invoice}/payments", json={"amount": "10.00", "status": status["id"]})
    return "/payments/settings/statuses", f"/payments/settings/statuses/{status['id']}", \
        read(api, f"/payments/statuses/{status['id']}")


def _failure_status(api, make_invoice):
    """A status that means a failed payment: the flag comes back checked."""
    status = api.post("/payments/statuses", json={"name": "Bounced «check»", "is_failure": True, "position": 5}).json()
    assert status["is_failure"] is True
    return "/payments/settings/statuses", f"/payments/settings/statuses/{status['id']}", \
        read(api, f"/payments/statuses/{status['id']}")


def _builtin_failed(api, make_invoice):
    """The built-in Failed status: its flags are shown disabled (and carried by hidden inputs)."""
    failed = next(s for s in api.get("/payments/statuses").json()["items"] if s["code"] == "failed")
    return "/payments/settings/statuses", f"/payments/settings/statuses/{failed['id']}", \
        read(api, f"/payments/statuses/{failed['id']}")


def _method(api, make_invoice):
    method = api.post("/payments/methods", json={"name": "Pagaré", "position": 9}).json()
    assert api.patch(f"/payments/methods/{method['id']}", json={"active": False}).status_code == 200
    return "/payments/settings/types", f"/payments/settings/types/{method['id']}", \
        read(api, f"/payments/methods/{method['id']}")


CASES = {
    "/payments/<int:payment_id>/edit": [_payment],
    "/payments/settings/statuses/<int:status_id>": [_status, _status_in_use, _failure_status, _builtin_failed],
    "/payments/settings/types/<int:method_id>": [_method],
}


def test_every_edit_form_of_the_plugin_has_a_case(app):
    ours = {f.rule for f in edit_forms(app) if f.owner == "payments"}
    assert ours - set(CASES) - set(NOT_EDIT_FORMS) == set(), "edit forms without a round-trip case"
    assert set(CASES) | set(NOT_EDIT_FORMS) <= ours, "cases of forms that are gone"


@pytest.mark.parametrize("make", [pytest.param(make, id=make.__name__) for makes in CASES.values() for make in makes])
def test_an_edit_form_saved_unchanged_changes_nothing(app, api, make_user, make_invoice, make):
    page, action, read_record = make(api, make_invoice)
    client = signed_in(app.test_client(), make_user("admin"))
    check_round_trip(client, page, read_record, action)
