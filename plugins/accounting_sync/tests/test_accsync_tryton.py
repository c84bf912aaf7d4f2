"""The Tryton connector against a real trytond server (skipped without the ``tryton`` extra)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from accsync_helpers import in_app, links, sync
from crm.models import Account, Document
from crm.services import accounts, documents

pytest.importorskip("trytond", reason="Tryton is an optional extra: pip install -e 'plugins/accounting_sync[tryton]'")


def _parties(tryton, category):
    return tryton.rpc("party.party", "search_read", [("categories.name", "=", category)], 0, None, None,
                      ["name", "active"])


def test_master_data_both_ways(app, tryton, catalog):
    run = sync(app, "tryton", ["accounts", "vendors", "items"])
    assert run.status == "done", run
    assert run.count("accounts", "to_remote", "created") == 1
    assert run.count("vendors", "to_remote", "created") == 1
    assert run.count("items", "to_remote", "created") == 4
    [party] = _parties(tryton, tryton.settings["customer_category"])
    assert party["name"] == "Ferretería López S.L."
    products = tryton.rpc("product.product", "search_read",
                          [("template.account_category.name", "=", tryton.settings["account_category"])], 0, None,
                          None, ["code", "template.list_price", "cost_price"])
    widget = next(p for p in products if p["code"] == "W-1")
    assert widget["template."]["list_price"] == Decimal("19.99") and widget["cost_price"] == Decimal("12.00")
    # changed in Tryton
    tryton.rpc("party.party", "write", [party["id"]], {"name": "Ferretería López S.L.U."})
    new = tryton.rpc("party.party", "create", [{"name": "Cliente Tryton",
                                                 "categories": [("add", [tryton._id_of("party.category",
                                                                                       tryton.settings["customer_category"])])]}])
    run = sync(app, "tryton", ["accounts", "vendors", "items"])
    assert run.count("accounts", "from_remote", "updated") == 1 and run.count("accounts", "from_remote", "created") == 1
    assert in_app(app, lambda s: s.get(Account, catalog.account).name) == "Ferretería López S.L.U."
    again = sync(app, "tryton", ["accounts", "vendors", "items"])
    assert again.total("created") + again.total("updated") + again.total("failed") == 0, again
    del new


def test_optimistic_locking_is_a_stale_version(app, tryton, catalog):
    sync(app, "tryton", ["accounts"])
    [link] = links(app, "tryton", "accounts")
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), {"phone": "+34 9"}))
    # changed in Tryton after our read: the _timestamp we send is stale
    tryton.rpc("party.party", "write", [int(link.remote_id)], {"name": "Cambiado en Tryton"})
    from crm.db import db
    from crm_accounting_sync.models import Connection

    def forget_cursor(s):   # as if the change had happened after this run read the changes
        row = s.get(Connection, "tryton")
        row.state = {**row.state, "cursors": {"accounts": "2999-01-01T00:00:00+00:00"}}
    in_app(app, forget_cursor)
    run = sync(app, "tryton", ["accounts"])
    assert run.status == "done", run
    party = tryton.rpc("party.party", "read", [int(link.remote_id)], ["name", "contact_mechanisms"])[0]
    assert party["name"] == "Cambiado en Tryton"
    assert in_app(app, lambda s: s.get(Account, catalog.account).name) == "Cambiado en Tryton"
    del db


def test_sales_purchases_invoices_both_ways_and_posted_invoices_are_conflicts(app, tryton, catalog):
    def docs(s):
        made = {}
        for doc_type, party in (("sales_order", {"account_id": catalog.account}),
                                ("purchase_order", {"vendor_id": catalog.vendor}),
                                ("invoice", {"account_id": catalog.account})):
            made[doc_type] = documents.create_document(s, doc_type, {**party, "lines": [
                {"item_id": catalog.consulting, "quantity": Decimal("2")}]}).id
        return made
    made = in_app(app, docs)
    run = sync(app, "tryton")
    assert run.status == "done", run
    for entity in ("sales-orders", "purchase-orders", "invoices"):
        assert run.count(entity, "to_remote", "created") == 1, (entity, run)
    [inv_link] = links(app, "tryton", "invoices")
    invoice = tryton.rpc("account.invoice", "read", [int(inv_link.remote_id)], ["total_amount", "state"])[0]
    assert invoice["total_amount"] == Decimal("96.80") and invoice["state"] == "draft"
    # posted in Tryton: it cannot change any more; our change is a conflict in the log
    tryton.rpc("account.invoice", "write", [int(inv_link.remote_id)], {"invoice_date": __import__("datetime").date.today()})
    tryton.rpc("account.invoice", "post", [int(inv_link.remote_id)], _skip_warnings=True)
    in_app(app, lambda s: documents.update_document(s, s.get(Document, made["invoice"]), {
        "lines": [{"item_id": catalog.consulting, "quantity": Decimal("3")}]}))
    run = sync(app, "tryton", ["invoices"])
    [record] = [r for r in run.records if r["entity"] == "invoices" and r["side"] == "to_remote"]
    assert record["action"] == "conflict" and "posted" in record["message"], run
    [link] = links(app, "tryton", "invoices")
    assert link.status == "conflict"
    # a sale created in Tryton comes here
    party = int(links(app, "tryton", "accounts")[0].remote_id)
    product = int(next(link for link in links(app, "tryton", "items") if link.local_id == catalog.consulting).remote_id)
    unit = tryton._id_of("product.uom", "Unit")
    tryton.rpc("sale.sale", "create", [{"party": party, "invoice_address": tryton._party_address(party),
                                        "shipment_address": tryton._party_address(party), "description": "Desde Tryton",
                                        "lines": [("create", [{"type": "line", "product": product, "quantity": 5.0,
                                                               "unit": unit, "unit_price": Decimal("40")}])]}])
    run = sync(app, "tryton", ["sales-orders"])
    assert run.count("sales-orders", "from_remote", "created") == 1, run

    def check(s):
        order = s.scalar(select(Document).where(Document.doc_type == "sales_order", Document.subject == "Desde Tryton"))
        assert order.lines[0].quantity == Decimal("5") and order.subtotal == Decimal("200.00")
    in_app(app, check)
