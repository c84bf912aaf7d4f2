"""Contacts and quotes with a real Tryton server, both ways.

Contacts are the named contact mechanisms of their account's party (an email and a phone
named "Ana López"); quotes are Tryton sales marked as quotes (sent from here, or quoted in
Tryton), apart from the sales orders."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from accsync_helpers import in_app, links, sync
from crm.models import Account, Contact, Document
from crm.services import accounts, contacts, documents

pytest.importorskip("trytond", reason="Tryton is an optional extra: pip install -e 'plugins/accounting_sync[tryton]'")


def _mechanisms(tryton, party):
    return tryton.rpc("party.contact_mechanism", "search_read", [("party", "=", party)], 0, None, [("id", "ASC")],
                      ["name", "type", "value", "comment"])


def test_contacts_both_ways(app, tryton, catalog):
    in_app(app, lambda s: contacts.update_contact(s, s.get(Contact, catalog.contact), {
        "email": "ana@lopez.example", "phone": "+34 915 550 100", "title": "Compras"}))
    run = sync(app, "tryton", ["accounts", "contacts"])
    assert run.status == "done", run
    assert run.count("contacts", "to_remote", "created") == 1, run
    party = int(links(app, "tryton", "accounts")[0].remote_id)
    mechs = _mechanisms(tryton, party)
    ana = [(m["type"], m["value"], m["comment"]) for m in mechs if m["name"] == "Ana López"]
    assert ana == [("email", "ana@lopez.example", "Compras"), ("phone", "+34 915 550 100", "")], mechs
    assert ("email", "compras@lopez.example") in [(m["type"], m["value"]) for m in mechs if not m["name"]]
    assert sync(app, "tryton", ["accounts", "contacts"]).total("updated") == 0
    # an account change here leaves its contacts' mechanisms alone
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), {"phone": "+34 915 550 200"}))
    run = sync(app, "tryton", ["accounts", "contacts"])
    assert run.count("accounts", "to_remote", "updated") == 1, run
    assert len([m for m in _mechanisms(tryton, party) if m["name"] == "Ana López"]) == 2
    # in Tryton: Ana's email changes, a new contact is added to the party
    [email] = [m for m in _mechanisms(tryton, party) if m["name"] == "Ana López" and m["type"] == "email"]
    tryton.rpc("party.contact_mechanism", "write", [email["id"]], {"value": "ana.lopez@lopez.example"})
    tryton.rpc("party.contact_mechanism", "create", [{"party": party, "name": "Luis Gómez", "type": "email",
                                                      "value": "luis@lopez.example"}])
    run = sync(app, "tryton", ["accounts", "contacts"])
    assert run.count("contacts", "from_remote", "updated") == 1, run
    assert run.count("contacts", "from_remote", "created") == 1, run

    def check(s):
        assert s.get(Contact, catalog.contact).email == "ana.lopez@lopez.example"
        luis = s.scalar(select(Contact).where(Contact.last_name == "Gómez"))
        assert luis.first_name == "Luis" and luis.account_id == catalog.account
        assert luis.email == "luis@lopez.example"
        assert s.get(Account, catalog.account).email == "compras@lopez.example"
    in_app(app, check)
    # here: Ana loses her phone -> one mechanism left there; deleted here -> gone there
    in_app(app, lambda s: contacts.update_contact(s, s.get(Contact, catalog.contact), {"phone": ""}))
    run = sync(app, "tryton", ["contacts"])
    assert run.count("contacts", "to_remote", "updated") == 1, run
    assert [m["type"] for m in _mechanisms(tryton, party) if m["name"] == "Ana López"] == ["email"]
    luis_id = in_app(app, lambda s: s.scalar(select(Contact.id).where(Contact.last_name == "Gómez")))
    in_app(app, lambda s: contacts.delete_contact(s, s.get(Contact, luis_id)))
    run = sync(app, "tryton", ["contacts"])
    assert run.count("contacts", "to_remote", "deleted") == 1, run
    assert not [m for m in _mechanisms(tryton, party) if m["name"] == "Luis Gómez"]
    again = sync(app, "tryton", ["accounts", "contacts"])
    assert again.total("updated") + again.total("created") + again.total("failed") == 0, again


def test_quotes_both_ways_apart_from_sales_orders(app, tryton, catalog):
    quote = in_app(app, lambda s: documents.create_document(s, "quote", {
        "account_id": catalog.account, "subject": "Presupuesto CRM",
        "lines": [{"item_id": catalog.consulting, "quantity": Decimal("2")}]}).id)
    run = sync(app, "tryton")
    assert run.status == "done", run
    assert run.count("quotes", "to_remote", "created") == 1, run
    assert run.count("sales-orders", "from_remote", "created") == 0, run
    sale_id = int(links(app, "tryton", "quotes")[0].remote_id)
    sale = tryton.rpc("sale.sale", "read", [sale_id], ["state", "comment", "description", "total_amount"])[0]
    assert sale["state"] == "draft" and "CRM: quote" in sale["comment"] and sale["description"] == "Presupuesto CRM"
    assert sale["total_amount"] == Decimal("96.80")
    # a sale quoted in Tryton is a quote here (not a sales order), and stays one when confirmed there
    party = int(links(app, "tryton", "accounts")[0].remote_id)
    product = int(next(link for link in links(app, "tryton", "items") if link.local_id == catalog.consulting).remote_id)
    [theirs] = tryton.rpc("sale.sale", "create", [{
        "party": party, "invoice_address": tryton._party_address(party),
        "shipment_address": tryton._party_address(party), "description": "Presupuesto Tryton",
        "lines": [("create", [{"type": "line", "product": product, "quantity": 3.0,
                               "unit": tryton._id_of("product.uom", "Unit"), "unit_price": Decimal("40")}])]}])
    tryton.rpc("sale.sale", "quote", [theirs])
    run = sync(app, "tryton", ["quotes", "sales-orders"])
    assert run.count("quotes", "from_remote", "created") == 1, run
    assert run.count("sales-orders", "from_remote", "created") == 0, run

    def theirs_here(s):
        return s.scalar(select(Document).where(Document.doc_type == "quote", Document.subject == "Presupuesto Tryton"))
    assert in_app(app, lambda s: theirs_here(s).status) == "Created"
    tryton.rpc("sale.sale", "confirm", [theirs])
    run = sync(app, "tryton", ["quotes", "sales-orders"])
    assert run.count("quotes", "from_remote", "updated") == 1, run
    assert run.count("sales-orders", "from_remote", "created") == 0, run
    assert in_app(app, lambda s: theirs_here(s).status) == "Accepted"
    # ours changes here (a line) and is then accepted: confirmed there; another rejected: cancelled
    in_app(app, lambda s: documents.update_document(s, s.get(Document, quote), {
        "lines": [{"item_id": catalog.consulting, "quantity": Decimal("5")}]}))
    run = sync(app, "tryton", ["quotes"])
    assert run.count("quotes", "to_remote", "updated") == 1, run
    assert tryton.rpc("sale.sale", "read", [sale_id], ["total_amount"])[0]["total_amount"] == Decimal("242.00")
    in_app(app, lambda s: documents.change_status(s, s.get(Document, quote), "Accepted"))
    run = sync(app, "tryton", ["quotes"])
    assert [r for r in run.records if r["action"] in ("failed", "conflict", "waiting")] == [], run
    assert tryton.rpc("sale.sale", "read", [sale_id], ["state"])[0]["state"] in ("confirmed", "processing")
    other = in_app(app, lambda s: documents.create_document(s, "quote", {
        "account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": Decimal("1")}]}).id)
    sync(app, "tryton", ["quotes"])
    in_app(app, lambda s: documents.change_status(s, s.get(Document, other), "Rejected"))
    run = sync(app, "tryton", ["quotes"])
    other_id = int(next(link for link in links(app, "tryton", "quotes") if link.local_id == other).remote_id)
    assert tryton.rpc("sale.sale", "read", [other_id], ["state"])[0]["state"] == "cancelled", run
    # Tryton invoiced the two sales it confirmed (invoice method "order"): those invoices come here
    run = sync(app, "tryton")
    assert run.count("invoices", "from_remote", "created") == 2, run
    again = sync(app, "tryton")
    assert again.total("updated") + again.total("created") + again.total("failed") == 0, again
