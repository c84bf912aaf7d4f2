"""Statuses and discounts with QuickBooks (the connector against the fake over HTTP), both ways:
a document discount as QuickBooks' DiscountLineDetail (PercentBased / DiscountPercent or an
amount), line discounts as net unit prices, a quote's status as the estimate's TxnStatus,
cancelled invoices and sales orders as voided transactions."""
from __future__ import annotations

import copy
from decimal import Decimal

from sqlalchemy import select

from accsync_helpers import configure, in_app, links, sync
from crm.models import Document
from crm.services import documents


def _make(app, catalog, doc_type, status=None, **extra):
    def make(s):
        doc = documents.create_document(s, doc_type, {"account_id": catalog.account, "lines": [
            {"item_id": catalog.consulting, "quantity": Decimal("3"), "discount_percent": Decimal("10")}], **extra})
        if status:
            documents.change_status(s, doc, status)
        return doc.id
    return in_app(app, make)


def _get(app, doc_id) -> Document:
    def load(s):
        doc = s.get(Document, doc_id)
        doc.lines  # noqa: B018  (loaded before it leaves the session)
        s.expunge(doc)
        return doc
    return in_app(app, load)


def _remote(app, qbo, entity, kind, doc_id) -> dict:
    link = next(link for link in links(app, "qbo", entity) if link.local_id == doc_id)
    return qbo.objects(kind)[link.remote_id]


def _discount_line(obj: dict) -> dict:
    [line] = [li for li in obj["Line"] if li["DetailType"] == "DiscountLineDetail"]
    return line


def test_document_discounts_both_ways(app, qbo, catalog):
    quote = _make(app, catalog, "quote", discount_percent=Decimal("10"))
    invoice = _make(app, catalog, "invoice", discount_amount=Decimal("5"))
    run = sync(app, "qbo")
    assert run.status == "done", run
    est = _remote(app, qbo, "quotes", "Estimate", quote)
    line = _discount_line(est)
    assert line["DiscountLineDetail"] == {"PercentBased": True, "DiscountPercent": Decimal("10")}
    # 3 x 40 - 10% on the line = 108 (a net unit price of 36); 10% of it off the document
    assert est["Line"][0]["SalesItemLineDetail"]["UnitPrice"] == Decimal("36")
    assert line["Amount"] == Decimal("10.80")
    assert est["TotalAmt"] == _get(app, quote).grand_total
    inv = _remote(app, qbo, "invoices", "Invoice", invoice)
    assert _discount_line(inv)["DiscountLineDetail"] == {"PercentBased": False}
    assert _discount_line(inv)["Amount"] == Decimal("5") and inv["TotalAmt"] == _get(app, invoice).grand_total
    assert sync(app, "qbo").total("updated") == 0
    # changed in QuickBooks: 15% on the estimate, 7.50 off the invoice
    lines = copy.deepcopy(est["Line"])
    _discount_line({"Line": lines})["DiscountLineDetail"]["DiscountPercent"] = Decimal("15")
    qbo.user_update("Estimate", est["Id"], {"Line": lines})
    lines = copy.deepcopy(inv["Line"])
    _discount_line({"Line": lines})["Amount"] = Decimal("7.50")
    qbo.user_update("Invoice", inv["Id"], {"Line": lines})
    run = sync(app, "qbo", ["quotes", "invoices"])
    assert run.count("quotes", "from_remote", "updated") == 1, run
    assert run.count("invoices", "from_remote", "updated") == 1, run
    got = _get(app, quote)
    assert got.discount_percent == Decimal("15") and got.discount_amount is None
    assert got.discount_total == Decimal("16.20")
    assert got.lines[0].discount_percent == Decimal("10")       # the line's own discount stays
    got = _get(app, invoice)
    assert got.discount_amount == Decimal("7.50") and got.discount_percent is None
    # and a percent that becomes an amount here goes there as an amount
    in_app(app, lambda s: documents.update_document(s, s.get(Document, quote), {"discount_percent": None,
                                                                                "discount_amount": Decimal("4")}))
    run = sync(app, "qbo", ["quotes"])
    assert run.count("quotes", "to_remote", "updated") == 1, run
    est = _remote(app, qbo, "quotes", "Estimate", quote)
    assert _discount_line(est)["DiscountLineDetail"] == {"PercentBased": False}
    assert _discount_line(est)["Amount"] == Decimal("4")
    again = sync(app, "qbo")
    assert again.total("updated") + again.total("created") + again.total("failed") == 0, again


def test_a_quickbooks_percent_discount_arrives_as_a_percent(app, qbo, catalog):
    customer = qbo.user_create("Customer", {"DisplayName": "Cliente Descuento"})
    service = qbo.user_create("Item", {"Name": "Montaje", "Type": "Service",
                                       "IncomeAccountRef": {"value": qbo.account_id("Sales")},
                                       "UnitPrice": Decimal("50")})
    qbo.user_create("Estimate", {"CustomerRef": {"value": customer["Id"]}, "TxnStatus": "Accepted", "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": Decimal("100.00"),
         "SalesItemLineDetail": {"ItemRef": {"value": service["Id"]}, "Qty": Decimal("2"),
                                 "UnitPrice": Decimal("50"), "TaxCodeRef": {"value": qbo.tax_code_id("Exento")}}},
        {"DetailType": "DiscountLineDetail", "DiscountLineDetail": {"PercentBased": True,
                                                                    "DiscountPercent": Decimal("12.5")}}]})
    run = sync(app, "qbo")
    assert run.count("quotes", "from_remote", "created") == 1, run

    def check(s):
        quote = s.scalar(select(Document).where(Document.doc_type == "quote"))
        assert quote.discount_percent == Decimal("12.5") and quote.discount_total == Decimal("12.50")
        assert quote.status == "Accepted"
    in_app(app, check)


def test_statuses_both_ways(app, qbo, catalog):
    configure(app, "qbo", entities={"sales-orders": {"direction": "both"}})
    quote_a = _make(app, catalog, "quote")
    quote_b = _make(app, catalog, "quote")
    order = _make(app, catalog, "sales_order")
    invoice = _make(app, catalog, "invoice", "Approved")
    po = in_app(app, lambda s: documents.create_document(s, "purchase_order", {
        "vendor_id": catalog.vendor, "lines": [{"item_id": catalog.widget, "quantity": Decimal("1")}]}).id)
    run = sync(app, "qbo")
    assert run.status == "done", run
    assert _remote(app, qbo, "quotes", "Estimate", quote_a)["TxnStatus"] == "Pending"
    assert _remote(app, qbo, "purchase-orders", "PurchaseOrder", po)["POStatus"] == "Open"
    # here: a quote rejected, the invoice cancelled, the purchase order cancelled
    in_app(app, lambda s: documents.change_status(s, s.get(Document, quote_b), "Rejected"))
    in_app(app, lambda s: documents.change_status(s, s.get(Document, invoice), "Cancelled"))
    in_app(app, lambda s: documents.change_status(s, s.get(Document, po), "Cancelled"))
    # there: the other quote accepted, the sales receipt voided
    est_a = _remote(app, qbo, "quotes", "Estimate", quote_a)
    qbo.user_update("Estimate", est_a["Id"], {"TxnStatus": "Accepted"})
    qbo.user_void("SalesReceipt", _remote(app, qbo, "sales-orders", "SalesReceipt", order)["Id"])
    run = sync(app, "qbo")
    assert run.status == "done", run
    assert [r for r in run.records if r["action"] in ("failed", "conflict", "waiting")] == []
    assert _remote(app, qbo, "quotes", "Estimate", quote_b)["TxnStatus"] == "Rejected"
    voided = _remote(app, qbo, "invoices", "Invoice", invoice)
    assert voided["PrivateNote"] == "Voided" and voided["TotalAmt"] == 0
    assert _remote(app, qbo, "purchase-orders", "PurchaseOrder", po)["POStatus"] == "Closed"
    assert _get(app, quote_a).status == "Accepted"
    order_doc = _get(app, order)
    assert order_doc.status == "Cancelled"
    assert order_doc.grand_total > 0 and order_doc.subject == ""    # a voided receipt's zeroes do not come
    assert _get(app, invoice).status == "Cancelled" and _get(app, invoice).grand_total > 0
    again = sync(app, "qbo")
    assert again.total("updated") + again.total("created") + again.total("failed") == 0, again


def test_a_transaction_voided_before_it_was_synced_is_not_created_here(app, qbo, catalog):
    customer = qbo.user_create("Customer", {"DisplayName": "Cliente Anulado"})
    service = qbo.user_create("Item", {"Name": "Visita", "Type": "Service",
                                       "IncomeAccountRef": {"value": qbo.account_id("Sales")},
                                       "UnitPrice": Decimal("30")})
    inv = qbo.user_create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": Decimal("30.00"),
         "SalesItemLineDetail": {"ItemRef": {"value": service["Id"]}, "Qty": Decimal("1"),
                                 "UnitPrice": Decimal("30"), "TaxCodeRef": {"value": qbo.tax_code_id("Exento")}}}]})
    qbo.user_void("Invoice", inv["Id"])
    run = sync(app, "qbo")
    assert run.status == "done", run
    [record] = [r for r in run.records if r["entity"] == "invoices"]
    assert record["action"] == "skipped" and "voided" in record["message"]
    assert in_app(app, lambda s: s.scalar(select(Document.id).where(Document.doc_type == "invoice"))) is None
    assert sync(app, "qbo").total("skipped") <= 1
