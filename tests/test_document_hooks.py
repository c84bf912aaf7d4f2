"""The document hooks: plugins validate, watch status changes and add fields."""
from __future__ import annotations

import pytest

from crm import hookimpl
from crm.errors import ValidationError
from crm.testing import registered_plugin
from tests.test_documents import quote_body


class DocumentWatcher:
    def __init__(self):
        self.changes = []

    @hookimpl
    def crm_document_validate(self, session, document, data):
        if document.subject == "forbidden":
            raise ValidationError.for_field("subject", "this subject is not allowed here")

    @hookimpl
    def crm_document_status_changed(self, session, document, old_status, new_status):
        self.changes.append((document.number, old_status, new_status))

    @hookimpl
    def crm_document_serialize(self, document, data):
        data["watched"] = f"{document.number} is {document.status}"


def test_plugins_validate_watch_and_extend_documents(app, api, catalog):
    watcher = DocumentWatcher()
    with registered_plugin(app, watcher, "watcher"):
        refused = api.post("/quotes", json=quote_body(catalog, subject="forbidden"))
        assert refused.status_code == 422 and "subject" in refused.json()["error"]["fields"]
        assert api.get("/quotes").json()["total"] == 0
        quote = api.post("/quotes", json=quote_body(catalog)).json()
        assert quote["watched"] == "QUO-0001 is Created"
        accepted = api.patch(f"/quotes/{quote['id']}", json={"status": "Accepted"}).json()
        assert accepted["watched"] == "QUO-0001 is Accepted"
        assert watcher.changes == [("QUO-0001", "Created", "Accepted")]
    assert "watched" not in api.get(f"/quotes/{quote['id']}").json()


@pytest.mark.crm_plugins()   # no payments plugin: the received amount is kept by hand
def test_an_invoice_paid_by_hand_is_announced_once_per_time_it_becomes_paid(app, api, catalog):
    """Without a payments plugin, ``received`` edited by hand (a PATCH of the invoice) moves the
    invoice to Paid, and ``crm_invoice_paid`` says so, like a payment would."""
    from decimal import Decimal

    from tests.plugins.spy_plugin import SpyPlugin
    paid = []
    spy = SpyPlugin(crm_invoice_paid=lambda session, invoice: paid.append(
        (invoice.number, invoice.status, invoice.received, invoice.balance)))
    invoice = api.post("/invoices", json={"account_id": catalog.account, "lines": [
        {"item_id": catalog.consulting, "quantity": "1"}]}).json()
    url, total = f"/invoices/{invoice['id']}", invoice["totals"]["grand_total"]
    assert api.patch(url, json={"status": "Sent"}).status_code == 200
    with registered_plugin(app, spy, "spy"):
        assert api.patch(url, json={"received": "10.00"}).json()["status"] == "Partially Paid"
        assert paid == []
        assert api.patch(url, json={"received": total}).json()["status"] == "Paid"
        assert paid == [(invoice["number"], "Paid", Decimal(total), Decimal("0"))]
        api.patch(url, json={"subject": "paid already"})
        assert len(paid) == 1
        assert api.patch(url, json={"received": "0"}).json()["status"] == "Sent"
        assert api.patch(url, json={"received": total}).json()["status"] == "Paid"
        assert len(paid) == 2
