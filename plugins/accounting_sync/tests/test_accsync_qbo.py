"""The QuickBooks Online connector, unchanged, against the QuickBooks fake over HTTP."""
from __future__ import annotations

from decimal import Decimal

from accsync_helpers import WITH_PAYMENTS, configure, in_app, links, sync
from crm.models import Account, Document, Item, Vendor
from crm.services import documents

#: sales orders are not synced with QuickBooks unless chosen (they would post revenue as sales receipts)
SALES_ORDERS_TOO = {"sales-orders": {"direction": "both"}}


def test_initial_sync_pushes_everything_and_reruns_send_nothing(app, qbo, catalog):
    run = sync(app, "qbo")
    assert run.status == "done", run
    customers = qbo.objects("Customer")
    assert sorted(c["DisplayName"] for c in customers.values()) == ["Ana López", "Ferretería López S.L."]
    contact = next(c for c in customers.values() if c.get("ParentRef"))
    assert customers[contact["ParentRef"]["value"]]["DisplayName"] == "Ferretería López S.L."
    assert [v["DisplayName"] for v in qbo.objects("Vendor").values()] == ["Suministros Norte"]
    widget = next(i for i in qbo.objects("Item").values() if i["Name"] == "Widget")
    assert widget["UnitPrice"] == Decimal("19.99") and widget["Type"] == "NonInventory"
    assert next(i for i in qbo.objects("Item").values() if i["Name"] == "Gadget")["UnitPrice"] == Decimal("7.455")
    writes = [c for c in qbo.calls if c[0] == "POST" and "/query" not in c[1]]
    again = sync(app, "qbo")
    assert again.status == "done", again
    assert again.total("created") + again.total("updated") + again.total("failed") == 0
    assert [c for c in qbo.calls if c[0] == "POST" and "/query" not in c[1]] == writes


def _doc(app, catalog, doc_type, status=None, **extra):
    def make(s):
        party = {"vendor_id": catalog.vendor} if doc_type == "purchase_order" else {"account_id": catalog.account}
        doc = documents.create_document(s, doc_type, {**party, "lines": [
            {"item_id": catalog.consulting, "quantity": Decimal("2")},
            {"item_id": catalog.gadget, "quantity": Decimal("3"), "discount_percent": Decimal("10")}], **extra})
        if status:
            documents.change_status(s, doc, status)
        return doc.id
    return in_app(app, make)


@WITH_PAYMENTS
def test_documents_and_payments_to_quickbooks(app, api, qbo, catalog):
    configure(app, "qbo", entities=SALES_ORDERS_TOO)
    from crm.services import stock
    in_app(app, lambda s: stock.adjust(s, catalog.gadget, quantity=Decimal("50"), reason="found"))
    quote = _doc(app, catalog, "quote")
    order = _doc(app, catalog, "sales_order")
    po = _doc(app, catalog, "purchase_order")
    invoice = _doc(app, catalog, "invoice", "Sent", invoice_date=__import__("datetime").date(2030, 1, 2))
    paid = api.post(f"/invoices/{invoice}/payments", json={"amount": "50.00", "reference": "R1"})
    assert paid.status_code == 201, paid.text
    run = sync(app, "qbo")
    assert run.status == "done", run
    for entity in ("quotes", "sales-orders", "purchase-orders", "invoices", "payments"):
        assert run.count(entity, "to_remote", "created") == 1, (entity, run)
    [inv] = qbo.objects("Invoice").values()
    local = in_app(app, lambda s: s.get(Document, invoice))
    assert inv["TotalAmt"] == local.grand_total and inv["DocNumber"] == local.number
    assert inv["Balance"] == local.grand_total - Decimal("50.00")
    assert inv["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": qbo.tax_code_id("IVA 21%")}
    assert inv["TxnDate"] == "2030-01-02"
    [est] = qbo.objects("Estimate").values()
    assert est["TotalAmt"] == in_app(app, lambda s: s.get(Document, quote).grand_total)
    [receipt] = qbo.objects("SalesReceipt").values()
    assert receipt["TotalAmt"] == in_app(app, lambda s: s.get(Document, order).grand_total)
    [purchase] = qbo.objects("PurchaseOrder").values()
    assert purchase["Line"][0]["DetailType"] == "ItemBasedExpenseLineDetail"
    assert purchase["TotalAmt"] == in_app(app, lambda s: s.get(Document, po).grand_total)
    assert sync(app, "qbo").total("created") == 0


@WITH_PAYMENTS
def test_everything_from_quickbooks(app, qbo, catalog):
    configure(app, "qbo", entities=SALES_ORDERS_TOO)
    customer = qbo.user_create("Customer", {"DisplayName": "Cliente QBO", "PrimaryEmailAddr": {"Address": "c@q.example"},
                                            "BillAddr": {"Line1": "Main 1", "City": "Sevilla", "Country": "ES"}})
    qbo.user_create("Customer", {"GivenName": "Luis", "FamilyName": "Q", "ParentRef": {"value": customer["Id"]},
                                 "Job": True})
    vendor = qbo.user_create("Vendor", {"DisplayName": "Proveedor QBO"})
    service = qbo.user_create("Item", {"Name": "Instalación", "Type": "Service",
                                       "IncomeAccountRef": {"value": qbo.account_id("Sales")},
                                       "UnitPrice": Decimal("80")})
    product = qbo.user_create("Item", {"Name": "Tornillo", "Type": "NonInventory",
                                       "IncomeAccountRef": {"value": qbo.account_id("Sales")},
                                       "UnitPrice": Decimal("0.35"),
                                       "Sku": "T-9"})

    iva21 = qbo.tax_code_id("IVA 21%")

    def line(item, qty, price, code=iva21):
        return {"DetailType": "SalesItemLineDetail", "Amount": (Decimal(qty) * Decimal(price)).quantize(Decimal("0.01")),
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": Decimal(qty),
                                        "UnitPrice": Decimal(price), "TaxCodeRef": {"value": code}}}
    ref = {"value": customer["Id"]}
    qbo.user_create("Estimate", {"CustomerRef": ref, "Line": [line(service, "1", "80")],
                                 "TxnTaxDetail": {"TotalTax": Decimal("16.80")}})
    qbo.user_create("SalesReceipt", {"CustomerRef": ref, "Line": [line(product, "100", "0.35")],
                                     "TxnTaxDetail": {"TotalTax": Decimal("7.35")}})
    qbo.user_create("PurchaseOrder", {"VendorRef": {"value": vendor["Id"]}, "Line": [
        {"DetailType": "ItemBasedExpenseLineDetail", "Amount": Decimal("20.00"),
         "ItemBasedExpenseLineDetail": {"ItemRef": {"value": product["Id"]}, "Qty": 100, "UnitPrice": Decimal("0.2"),
                                       "TaxCodeRef": {"value": qbo.tax_code_id("Exento")}}}]})
    inv = qbo.user_create("Invoice", {"CustomerRef": ref, "TxnDate": "2030-03-01", "DueDate": "2030-03-31",
                                      "Line": [line(service, "2", "80")], "TxnTaxDetail": {"TotalTax": Decimal("33.60")}})
    qbo.user_create("Payment", {"CustomerRef": ref, "TotalAmt": Decimal("193.60"), "TxnDate": "2030-03-05",
                                "Line": [{"Amount": Decimal("193.60"), "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}]})
    run = sync(app, "qbo")
    assert run.status == "done", run
    for entity in ("accounts", "contacts", "vendors", "quotes", "sales-orders", "purchase-orders", "invoices",
                   "payments"):
        assert run.count(entity, "from_remote", "created") == 1, (entity, run)
    assert run.count("items", "from_remote", "created") == 2

    def check(s):
        from sqlalchemy import select
        account = s.scalar(select(Account).where(Account.name == "Cliente QBO"))
        assert account.billing_address == {"street": "Main 1", "city": "Sevilla", "country": "ES"}
        assert account.contacts[0].first_name == "Luis"
        screw = s.scalar(select(Item).where(Item.sku == "T-9"))
        assert screw.kind == "product" and screw.unit_price == Decimal("0.35")
        invoice = s.scalar(select(Document).where(Document.doc_type == "invoice"))
        assert invoice.grand_total == Decimal("193.60") and invoice.status == "Paid"
        assert str(invoice.invoice_date) == "2030-03-01"
        assert [t["name"] for t in invoice.lines[0].taxes] == ["IVA 21%"]
    in_app(app, check)
    again = sync(app, "qbo")
    assert again.total("created") + again.total("updated") + again.total("failed") == 0, again


def test_deletions_both_ways_with_quickbooks(app, qbo, catalog):
    from crm.services import vendors as vendor_service
    spare = in_app(app, lambda s: vendor_service.create_vendor(s, {"name": "Proveedor de paso"}).id)
    invoice = in_app(app, lambda s: documents.create_document(s, "invoice", {
        "account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": Decimal("1")}]}).id)
    sync(app, "qbo")
    vendor_link = next(link for link in links(app, "qbo", "vendors") if link.local_id == spare)
    invoice_link = next(link for link in links(app, "qbo", "invoices") if link.local_id == invoice)
    in_app(app, lambda s: vendor_service.delete_vendor(s, s.get(Vendor, spare)))
    qbo.user_delete("Invoice", invoice_link.remote_id)
    run = sync(app, "qbo")
    assert run.status == "done", run
    assert qbo.objects("Vendor")[vendor_link.remote_id]["Active"] is False        # names are only deactivated
    assert ("vendors", "to_remote", "deleted", spare, vendor_link.remote_id) in run.actions("vendors")
    assert ("invoices", "from_remote", "deleted", invoice, invoice_link.remote_id) in run.actions("invoices")
    assert in_app(app, lambda s: s.get(Document, invoice)) is None                  # still Created: deleted here
    again = sync(app, "qbo")
    assert again.total("deleted") == 0


def test_custom_fields_of_quickbooks_transactions(app, qbo, catalog):
    from accsync_helpers import configure
    from crm.services.custom_fields import create_field
    in_app(app, lambda s: create_field(s, {"entity": "documents", "key": "project", "label": "Project",
                                           "type": "text"}))
    configure(app, "qbo", mappings=[{"entity": "invoices", "local": "custom.project", "remote": "CustomField:Project"}])
    invoice = in_app(app, lambda s: documents.create_document(s, "invoice", {
        "account_id": catalog.account, "custom": {"project": "Obra Norte"},
        "lines": [{"item_id": catalog.consulting, "quantity": Decimal("1")}]}).id)
    sync(app, "qbo")
    [remote] = qbo.objects("Invoice").values()
    assert remote["CustomField"] == [{"DefinitionId": "1", "Name": "Project", "Type": "StringType",
                                      "StringValue": "Obra Norte"}]
    qbo.user_update("Invoice", remote["Id"], {"CustomField": [{"DefinitionId": "1", "Name": "Project",
                                                               "Type": "StringType", "StringValue": "Obra Sur"}]})
    run = sync(app, "qbo")
    assert run.count("invoices", "from_remote", "updated") == 1, run
    assert in_app(app, lambda s: s.get(Document, invoice).custom) == {"project": "Obra Sur"}
