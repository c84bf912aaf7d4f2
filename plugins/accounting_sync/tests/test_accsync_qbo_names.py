"""QuickBooks' rules on names, payments, purchase orders, custom fields and two faults (6190,
6140), as the fake enforces them: sub-customers are jobs, a Title holds 16 characters, a
DisplayName is unique across customers, vendors and employees and has no ":", a payment applied to
several invoices is a payment per invoice here, a purchase order has no discount line, custom fields
exist on transactions only, an ended subscription stops the run, a duplicate number is a duplicate."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from accsync_helpers import WITH_PAYMENTS, configure, in_app, links, sync
from crm.models import Contact, Document
from crm.services import accounts, contacts, documents, vendors


def _remote_of(app, qbo, entity, kind, local_id, name="qbo") -> dict:
    link = next(link for link in links(app, name, entity) if link.local_id == local_id)
    return qbo.objects(kind)[link.remote_id]


def test_contacts_are_jobs_of_their_customer_with_a_title_quickbooks_takes(app, qbo, catalog):
    in_app(app, lambda s: contacts.update_contact(s, s.get(Contact, catalog.contact),
                                                  {"title": "Directora de compras y logística"}))
    run = sync(app, "qbo", ["accounts", "contacts"])
    assert run.status == "done" and run.count("contacts", "to_remote", "created") == 1, run
    contact = _remote_of(app, qbo, "contacts", "Customer", catalog.contact)
    parent = _remote_of(app, qbo, "accounts", "Customer", catalog.account)
    assert contact["Job"] is True and contact["ParentRef"] == {"value": parent["Id"]}
    assert contact["Title"] == "Directora de com"
    # the title cut there is not brought back here
    assert sync(app, "qbo", ["contacts"]).total("updated") == 0
    assert in_app(app, lambda s: s.get(Contact, catalog.contact).title) == "Directora de compras y logística"


def test_display_names_are_unique_across_customers_vendors_and_employees_and_have_no_colon(app, qbo, catalog):
    qbo.user_create("Employee", {"DisplayName": "Suministros Norte", "GivenName": "Suministros"})
    account = in_app(app, lambda s: accounts.create_account(s, {"name": "Obras: Norte"}).id)
    twin = in_app(app, lambda s: vendors.create_vendor(s, {"name": "Ferretería López S.L."}).id)
    namesake = in_app(app, lambda s: contacts.create_contact(s, {"first_name": "Ana", "last_name": "López",
                                                                 "account_id": account}).id)
    run = sync(app, "qbo", ["accounts", "contacts", "vendors"])
    assert run.status == "done", run
    assert not [r for r in run.records if r["action"] in ("failed", "waiting")], run
    assert _remote_of(app, qbo, "accounts", "Customer", account)["DisplayName"] == "Obras- Norte"
    assert _remote_of(app, qbo, "vendors", "Vendor", catalog.vendor)["DisplayName"] == "Suministros Norte (vendor)"
    assert _remote_of(app, qbo, "vendors", "Vendor", twin)["DisplayName"] == "Ferretería López S.L. (vendor)"
    names = {_remote_of(app, qbo, "contacts", "Customer", c)["DisplayName"] for c in (catalog.contact, namesake)}
    assert names in ({"Ana López", "Ana López (Obras- Norte)"}, {"Ana López", "Ana López (Ferretería López S.L.)"})
    assert sync(app, "qbo", ["accounts", "contacts", "vendors"]).total("updated") == 0


@WITH_PAYMENTS
def test_a_payment_applied_to_several_invoices_is_read_per_invoice(app, qbo, catalog):
    customer = qbo.user_create("Customer", {"DisplayName": "Cliente Dos Facturas"})
    service = qbo.user_create("Item", {"Name": "Revisión", "Type": "Service",
                                       "IncomeAccountRef": {"value": qbo.account_id("Sales")}})

    def invoice(amount):
        return qbo.user_create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": {
                "ItemRef": {"value": service["Id"]}, "Qty": 1, "UnitPrice": amount,
                "TaxCodeRef": {"value": qbo.tax_code_id("Exento")}}}]})
    first, second = invoice(Decimal("100.00")), invoice(Decimal("40.00"))
    qbo.user_create("Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": Decimal("130.00"), "Line": [
        {"Amount": Decimal("100.00"), "LinkedTxn": [{"TxnId": first["Id"], "TxnType": "Invoice"}]},
        {"Amount": Decimal("30.00"), "LinkedTxn": [{"TxnId": second["Id"], "TxnType": "Invoice"}]}]})
    run = sync(app, "qbo")
    assert run.status == "done", run
    assert run.count("payments", "from_remote", "created") == 2, run

    def check(s):
        docs = {d.grand_total: d for d in s.scalars(select(Document).where(Document.doc_type == "invoice"))}
        assert docs[Decimal("100.00")].status == "Paid"
        assert docs[Decimal("40.00")].balance == Decimal("10.00")
    in_app(app, check)
    assert sync(app, "qbo").total("created") + sync(app, "qbo").total("failed") == 0


def test_a_purchase_order_gets_no_discount_line(app, qbo, catalog):
    po = in_app(app, lambda s: documents.create_document(s, "purchase_order", {
        "vendor_id": catalog.vendor, "discount_amount": Decimal("10"),
        "lines": [{"item_id": catalog.widget, "quantity": Decimal("4")},
                  {"item_id": catalog.gadget, "quantity": Decimal("10")}]}).id)
    run = sync(app, "qbo")
    assert run.status == "done" and run.count("purchase-orders", "to_remote", "created") == 1, run
    remote = _remote_of(app, qbo, "purchase-orders", "PurchaseOrder", po)
    assert {line["DetailType"] for line in remote["Line"]} == {"ItemBasedExpenseLineDetail"}
    local = in_app(app, lambda s: s.get(Document, po))
    assert abs(remote["TotalAmt"] - local.grand_total) <= Decimal("0.02")


def test_custom_fields_are_refused_where_quickbooks_has_none(app, api, qbo, catalog):
    from crm.services.custom_fields import create_field
    in_app(app, lambda s: create_field(s, {"entity": "accounts", "key": "region", "label": "Region",
                                           "type": "text"}))
    answer = api.put("/accounting-sync/connections/qbo", json={"settings": {"mappings": [
        {"entity": "accounts", "local": "custom.region", "remote": "CustomField:Region"}]}})
    assert answer.status_code == 422, answer.text
    assert "transactions only" in answer.json()["error"]["fields"]["settings.mappings.0.remote"][0]
    # one stored before: each record says so instead of losing the value there
    def store(s):
        from crm_accounting_sync.models import Connection
        connection = s.get(Connection, "qbo")
        connection.settings = {**connection.settings, "mappings": [
            {"entity": "accounts", "local": "custom.region", "remote": "CustomField:Region"}]}
    in_app(app, store)
    run = sync(app, "qbo", ["accounts"])
    [record] = [r for r in run.records if r["entity"] == "accounts"]
    assert record["action"] == "failed" and "transactions only" in record["message"], run


def test_an_ended_subscription_stops_the_run_saying_so(app, qbo, catalog):
    qbo.company().subscription_ended = True
    run = sync(app, "qbo")
    assert run.status == "failed", run
    assert "subscription has ended" in run.error and "6190" in run.error
    assert len([r for r in run.records if r["action"] in ("failed", "conflict")]) == 0


def test_a_duplicate_document_number_is_a_duplicate_not_a_conflict(app, qbo, catalog):
    invoice = in_app(app, lambda s: documents.create_document(s, "invoice", {
        "account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": Decimal("1")}]}))
    number = invoice.number
    sync(app, "qbo", ["accounts", "items"])
    customer = _remote_of(app, qbo, "accounts", "Customer", catalog.account)
    item = _remote_of(app, qbo, "items", "Item", catalog.consulting)
    qbo.user_create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "DocNumber": number, "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": Decimal("5.00"), "SalesItemLineDetail": {
            "ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": Decimal("5"),
            "TaxCodeRef": {"value": qbo.tax_code_id("Exento")}}}]})
    configure(app, "qbo", entities={"invoices": {"direction": "to_remote"}})
    run = sync(app, "qbo", ["invoices"])
    [record] = [r for r in run.records if r["entity"] == "invoices"]
    assert record["action"] == "failed" and "6140" in record["message"], run
    link = next(link for link in links(app, "qbo", "invoices") if link.local_id == invoice.id)
    assert link.status == "failed"
