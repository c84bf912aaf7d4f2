"""``POST /api/v1/<records>/mass-actions`` (crm.api.mass_actions) and the documents' and custom
fields' mass edit of the list pages: the same service (crm.services.mass_actions) behind both --
every action through the API and through the page, the role's right, all or nothing with each
refused record listed, the audit trail, and bad input a 4xx naming the field."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import inspect, select

from crm.context import acting_as
from crm.models import Account, AuditEntry, Contact, CustomField, Document, Item
from crm.services import documents
from tests.test_mass_actions import _accounts, _user
from tests.test_web_pages import html_of, sign_in


def _quotes(session, admin, catalog, count=3):
    with acting_as(admin):
        made = [documents.create_document(session, "quote", {
            "account_id": catalog.account, "subject": f"Q{n}",
            "lines": [{"item_id": catalog.widget, "quantity": Decimal("1")}]}) for n in range(count)]
        session.commit()
    return made


def _fresh(session, model, record_id):
    """The record as stored now (its columns; a document's last status change too), the test's
    transaction ended (an open one would lock SQLite for the app)."""
    session.expire_all()
    found = session.scalar(select(model).where(model.id == record_id))
    snapshot = None
    if found is not None:
        snapshot = SimpleNamespace(**{c.key: getattr(found, c.key) for c in inspect(model).column_attrs})
        if model is Document:
            snapshot.last_change = found.history[-1].to_status if found.history else None
    session.commit()
    return snapshot


def _mass_entries(session, action):
    found = session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
    session.commit()
    return found


# --- the API ---------------------------------------------------------------------------------------

def test_api_edits_a_field_of_the_records_named_and_audits_it(api, session):
    made = _accounts(session, "A", "B", "C")
    response = api.post("/accounts/mass-actions", json={"action": "edit", "ids": [made[0].id, made[2].id],
                                                        "field": "active", "value": False})
    assert response.status_code == 200, response.text
    assert response.json() == {"action": "edit", "count": 2, "ids": [made[0].id, made[2].id]}
    session.expire_all()
    assert [a.active for a in session.scalars(select(Account).order_by(Account.id))] == [False, True, False]
    session.commit()
    [entry] = _mass_entries(session, "mass_edit")
    assert entry.entity == "accounts" and entry.changes["ids"] == [made[0].id, made[2].id]
    assert entry.changes["fields"] == ["active"] and entry.user_id == api.user.id


def test_api_acts_on_every_record_its_filter_matches(api_as, session, make_user):
    _accounts(session, "Madrid one", "Madrid two", "Bilbao")
    _accounts(session, "Madrid closed", active=False)
    seller = _user(session, make_user("sales"))
    api = api_as("sales")
    response = api.post("/accounts/mass-actions", json={"action": "assign", "filter": {"q": "madrid", "active": True},
                                                        "user_id": seller.id})
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 2
    session.expire_all()
    assigned = {a.name: a.assigned_user_id for a in session.scalars(select(Account))}
    session.commit()
    assert assigned == {"Madrid one": seller.id, "Madrid two": seller.id, "Bilbao": None, "Madrid closed": None}
    assert len(_mass_entries(session, "mass_assign")) == 1
    # "nobody" clears it
    response = api.post("/accounts/mass-actions", json={"action": "assign", "filter": {}, "user_id": None})
    assert response.status_code == 200 and response.json()["count"] == 4
    session.expire_all()
    assert set(session.scalars(select(Account.assigned_user_id))) == {None}
    session.commit()


def test_api_delete_is_refused_whole_listing_the_records_in_use(api_as, session, catalog):
    api = api_as("purchasing")
    spare = Item(kind="product", name="Spare", sku="SP-1", unit_price=Decimal("1"))
    session.add(spare)
    session.commit()
    spare_id = spare.id
    response = api.post("/products/mass-actions", json={"action": "delete",
                                                        "ids": [spare_id, catalog.widget, catalog.gadget]})
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "mass_action_refused" and error["total"] == 3
    assert [(r["id"], r["name"]) for r in error["refused"]] == [(catalog.widget, "Widget"), (catalog.gadget, "Gadget")]
    assert "bundles" in error["refused"][0]["reason"]
    assert _fresh(session, Item, spare_id) is not None   # all or nothing
    assert _mass_entries(session, "mass_delete") == []
    response = api.post("/products/mass-actions", json={"action": "delete", "ids": [spare_id]})
    assert response.status_code == 200 and response.json()["count"] == 1
    assert _fresh(session, Item, spare_id) is None
    assert _mass_entries(session, "mass_delete")[0].changes["ids"] == [spare_id]


def test_api_status_change_goes_through_the_rules_all_or_nothing(api_as, session, make_user, catalog):
    admin = _user(session, make_user("admin"))
    quotes = _quotes(session, admin, catalog)
    with acting_as(admin):
        documents.change_status(session, quotes[2], "Rejected")
        session.commit()
    api = api_as("sales")
    ids = [q.id for q in quotes]
    response = api.post("/quotes/mass-actions", json={"action": "status", "ids": ids, "status": "Accepted"})
    assert response.status_code == 409, response.text
    assert [r["name"] for r in response.json()["error"]["refused"]] == [quotes[2].number]
    assert [_fresh(session, Document, i).status for i in ids] == ["Created", "Created", "Rejected"]
    response = api.post("/quotes/mass-actions", json={"action": "status", "filter": {"status": "Created"},
                                                      "status": "Delivered"})
    assert response.status_code == 200 and response.json()["count"] == 2
    found = [_fresh(session, Document, i) for i in ids]
    assert [d.status for d in found] == ["Delivered", "Delivered", "Rejected"]
    assert found[0].last_change == "Delivered"
    # a quote list never acts on another list's records
    response = api.post("/sales-orders/mass-actions", json={"action": "status", "ids": ids[:1], "status": "Approved"})
    assert response.status_code == 422 and "ids" in response.json()["error"]["fields"]


def test_api_edits_a_document_date_in_any_status_and_amounts_only_where_they_may_change(api_as, session, make_user,
                                                                                         catalog):
    admin = _user(session, make_user("admin"))
    quotes = _quotes(session, admin, catalog)
    with acting_as(admin):
        documents.change_status(session, quotes[2], "Rejected")
        session.commit()
    versions = [q.version for q in quotes]
    ids = [q.id for q in quotes]
    session.commit()
    api = api_as("sales")
    response = api.post("/quotes/mass-actions", json={"action": "edit", "ids": ids, "field": "valid_until",
                                                      "value": "2027-03-31"})
    assert response.status_code == 200, response.text
    found = [_fresh(session, Document, i) for i in ids]
    assert {d.valid_until for d in found} == {dt.date(2027, 3, 31)}
    assert [d.version for d in found] == [v + 1 for v in versions]
    assert api.get(f"/quotes/{ids[0]}").json()["valid_until"] == "2027-03-31"
    # a discount changes amounts: the rejected quote refuses it, so nothing changes
    response = api.post("/quotes/mass-actions", json={"action": "edit", "ids": ids, "field": "discount_percent",
                                                      "value": "10"})
    assert response.status_code == 409, response.text
    assert [r["name"] for r in response.json()["error"]["refused"]] == [quotes[2].number]
    assert {_fresh(session, Document, i).discount_percent for i in ids} == {None}
    response = api.post("/quotes/mass-actions", json={"action": "edit", "ids": ids[:2], "field": "discount_percent",
                                                      "value": "10"})
    assert response.status_code == 200
    quote = api.get(f"/quotes/{ids[0]}").json()
    assert quote["discount_percent"] == "10" and quote["totals"]["discount"] != "0.00"
    assert [e.entity for e in _mass_entries(session, "mass_edit")] == ["quotes", "quotes"]


def test_api_edits_a_custom_field_checked_as_its_type(api_as, session, catalog):
    session.add_all([CustomField(entity="items", key="colour", label="Colour", type="select", choices=["red", "blue"]),
                     CustomField(entity="items", key="weight", label="Weight", type="decimal")])
    session.commit()
    api = api_as("purchasing")
    ids = [catalog.widget, catalog.gadget]
    response = api.post("/products/mass-actions", json={"action": "edit", "ids": ids, "field": "custom.colour",
                                                        "value": "red"})
    assert response.status_code == 200, response.text
    assert {_fresh(session, Item, i).custom.get("colour") for i in ids} == {"red"}
    assert _mass_entries(session, "mass_edit")[0].changes["fields"] == ["custom.colour"]
    for value, field in (("green", "custom.colour"), ("heavy", "custom.weight"), ([1], "custom.weight")):
        response = api.post("/products/mass-actions", json={"action": "edit", "ids": ids,
                                                            "field": field, "value": value})
        assert response.status_code == 422, (value, response.text)
        assert field in response.json()["error"]["fields"]
    response = api.post("/products/mass-actions", json={"action": "edit", "ids": ids, "field": "custom.weight",
                                                        "value": "2.50"})
    assert response.status_code == 200, response.text
    assert {_fresh(session, Item, i).custom.get("weight") for i in ids} == {"2.5"}
    # null clears it
    response = api.post("/products/mass-actions", json={"action": "edit", "ids": ids, "field": "custom.colour",
                                                        "value": None})
    assert response.status_code == 200
    assert {_fresh(session, Item, i).custom.get("colour") for i in ids} == {None}


def test_api_refuses_a_role_without_the_right_to_change_the_records(api_as, session, catalog):
    made = _accounts(session, "A")
    for path, body in (("/accounts/mass-actions", {"action": "delete", "ids": [made[0].id]}),
                       ("/products/mass-actions", {"action": "edit", "ids": [catalog.widget], "field": "active",
                                                   "value": False})):
        response = api_as("warehouse").post(path, json=body)
        assert response.status_code == 403, response.text
    assert _fresh(session, Account, made[0].id) is not None
    assert _fresh(session, Item, catalog.widget).active is True
    response = api_as("sales").anonymous().post("/accounts/mass-actions", json={"action": "delete", "ids": [1]})
    assert response.status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"action": "edit", "ids": [0], "field": "name", "value": "X"}, "ids.0"),
    ({"action": "edit", "field": "active", "value": True}, "ids"),
    ({"action": "edit", "ids": [1], "filter": {}, "field": "active", "value": True}, "ids"),
    ({"action": "edit", "ids": ["1"], "field": "active", "value": True}, "ids.0"),
    ({"action": "edit", "ids": [99999], "field": "active", "value": True}, "ids"),
    ({"action": "edit", "filter": {}, "field": "name", "value": "X"}, "field"),
    ({"action": "edit", "filter": {}, "field": "unit_price", "value": "abc"}, "unit_price"),
    ({"action": "edit", "filter": {}, "field": "unit_price", "value": True}, "unit_price"),
    ({"action": "edit", "filter": {}, "field": "category", "value": "a\x00b"}, "value"),
    ({"action": "edit", "filter": {}, "field": "category", "value": "x" * 101}, "category"),
    ({"action": "edit", "filter": {}, "field": "cat\x00egory", "value": "x"}, "field"),
    ({"action": "edit", "filter": {}, "field": "custom.nope", "value": "x"}, "field"),
    ({"action": "edit", "filter": {}, "field": "active"}, "value"),
    ({"action": "edit", "filter": {"colour": "red"}, "field": "active", "value": True}, "filter.colour"),
    ({"action": "edit", "filter": {"q": "a\x00"}, "field": "active", "value": True}, "filter.q"),
    ({"action": "edit", "filter": {"vendor_id": "abc"}, "field": "active", "value": True}, "filter.vendor_id"),
    ({"action": "edit", "filter": {"category": ["x"]}, "field": "active", "value": True}, "filter.category"),
    ({"action": "edit", "filter": {"q": "no such product"}, "field": "active", "value": True}, "filter"),
    ({"action": "status", "filter": {}, "status": "Approved"}, "action"),
    ({"action": "assign", "filter": {}, "user_id": None}, "action"),
    ({"action": "explode", "filter": {}}, "action"),
    ({"action": "delete", "filter": "everything"}, "filter"),
])
def test_api_bad_input_is_a_422_naming_the_field_and_changes_nothing(api, session, catalog, body, field):
    response = api.post("/products/mass-actions", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["fields"], response.text
    widget = _fresh(session, Item, catalog.widget)
    assert (widget.name, widget.unit_price, widget.active) == ("Widget", Decimal("19.99"), True)


def test_api_refuses_an_inactive_user_and_a_status_not_of_the_type(api, session, make_user, catalog):
    gone = _user(session, make_user("sales"))
    gone.active = False
    session.commit()
    admin = _user(session, make_user("admin"))
    quotes = _quotes(session, admin, catalog, 1)
    for body, field in (({"action": "assign", "ids": [quotes[0].id], "user_id": gone.id}, "user_id"),
                        ({"action": "status", "ids": [quotes[0].id], "status": "Shipped"}, "status"),
                        ({"action": "status", "ids": [quotes[0].id], "status": "Paid\x00"}, "status")):
        response = api.post("/quotes/mass-actions", json=body)
        assert response.status_code in (409, 422), response.text
        assert field in response.json()["error"]["fields"] or response.json()["error"]["refused"], response.text
    found = _fresh(session, Document, quotes[0].id)
    assert (found.status, found.assigned_user_id) == ("Created", None)


def test_every_collection_has_its_mass_actions_with_the_pages_fields(app):
    from crm.api.mass_actions import LISTS
    from crm.web.master import ACCOUNTS, CONTACTS, CUSTOM_FIELDS, PRICE_BOOKS, PRODUCTS, SERVICES, TAXES, VENDORS
    pages = {"accounts": ACCOUNTS, "contacts": CONTACTS, "vendors": VENDORS, "products": PRODUCTS,
             "services": SERVICES, "price-books": PRICE_BOOKS, "taxes": TAXES, "custom-fields": CUSTOM_FIELDS}
    for path, resource in pages.items():
        api_target, page_target = LISTS[path].target(), resource.mass_target()
        assert api_target.actions() == page_target.actions(), path
        assert api_target.fields == page_target.fields and api_target.custom_entity == page_target.custom_entity, path
        assert api_target.permission == page_target.permission, path
    for path in ("quotes", "sales-orders", "purchase-orders", "invoices"):
        assert LISTS[path].target().actions() == ["edit", "status", "delete", "assign"]
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert {f"/api/v1/{path}/mass-actions" for path in LISTS} <= set(spec["paths"])
    operation = spec["paths"]["/api/v1/quotes/mass-actions"]["post"]
    assert {"200", "409", "422"} <= set(operation["responses"])


# --- the pages -------------------------------------------------------------------------------------

def test_the_quotes_list_edits_a_date_and_refuses_amounts_of_a_quote_that_may_not_change(app, make_user, session,
                                                                                        catalog):
    admin = _user(session, make_user("admin"))
    quotes = _quotes(session, admin, catalog, 2)
    with acting_as(admin):
        documents.change_status(session, quotes[1], "Rejected")
        session.commit()
    ids = [q.id for q in quotes]
    client = sign_in(app, make_user, "sales")
    html = html_of(client.get("/quotes/"))
    assert 'name="value.valid_until"' in html and 'name="value.discount_percent"' in html
    response = client.post("/quotes/mass", data={"scope": "all", "action": "edit", "field": "valid_until",
                                                  "value.valid_until": "2027-05-01"})
    assert response.status_code == 302
    assert {_fresh(session, Document, i).valid_until for i in ids} == {dt.date(2027, 5, 1)}
    response = client.post("/quotes/mass", data={"scope": "all", "action": "edit", "field": "discount_percent",
                                                  "value.discount_percent": "5"}, follow_redirects=True)
    html = html_of(response)
    assert "Nothing was changed: 1 of 2" in html and quotes[1].number in html
    assert {_fresh(session, Document, i).discount_percent for i in ids} == {None}
    response = client.post("/quotes/mass", data={"scope": "selected", "ids": [ids[0]], "action": "edit",
                                                  "field": "discount_percent", "value.discount_percent": "abc"},
                           follow_redirects=True)
    assert "discount_percent" in html_of(response)
    response = client.post("/quotes/mass", data={"scope": "selected", "ids": [ids[0]], "action": "edit",
                                                  "field": "subject", "value.subject": "X"}, follow_redirects=True)
    assert "choose one of the fields offered" in html_of(response)
    assert _fresh(session, Document, ids[0]).subject == "Q0"
    # ids of another list are ignored: the invoices list does not touch a quote
    client.post("/invoices/mass", data={"scope": "selected", "ids": [ids[0]], "action": "edit", "field": "terms",
                                        "value.terms": "Net 30"})
    assert _fresh(session, Document, ids[0]).terms != "Net 30"


def test_the_lists_edit_a_custom_field_as_the_record_form_reads_it(app, make_user, session, catalog):
    session.add_all([CustomField(entity="contacts", key="vip", label="VIP", type="boolean"),
                     CustomField(entity="contacts", key="since", label="Client since", type="date"),
                     CustomField(entity="documents", key="project", label="Project", type="text")])
    session.commit()
    second = Contact(last_name="Ruiz", account_id=catalog.account)
    session.add(second)
    session.commit()
    ids = [catalog.contact, second.id]
    client = sign_in(app, make_user, "sales")
    html = html_of(client.get("/contacts/"))
    assert 'value="custom.vip"' in html and 'name="value.custom.since"' in html
    client.post("/contacts/mass", data={"scope": "all", "action": "edit", "field": "custom.vip",
                                        "value.custom.vip": "1"})
    assert [_fresh(session, Contact, i).custom.get("vip") for i in ids] == [True, True]
    response = client.post("/contacts/mass", data={"scope": "all", "action": "edit", "field": "custom.since",
                                                   "value.custom.since": "31/31/2026"}, follow_redirects=True)
    assert "custom.since" in html_of(response) or "Client since" in html_of(response)
    client.post("/contacts/mass", data={"scope": "all", "action": "edit", "field": "custom.since",
                                        "value.custom.since": "2026-02-01"})
    assert [_fresh(session, Contact, i).custom.get("since") for i in ids] == ["2026-02-01", "2026-02-01"]
    [entry] = [e for e in _mass_entries(session, "mass_edit") if e.changes["fields"] == ["custom.since"]]
    assert entry.entity == "contacts" and entry.changes["ids"] == sorted(ids)
    # documents have custom fields too
    admin = _user(session, make_user("admin"))
    quotes = _quotes(session, admin, catalog, 1)
    assert 'value="custom.project"' in html_of(client.get("/quotes/"))
    client.post("/quotes/mass", data={"scope": "selected", "ids": [quotes[0].id], "action": "edit",
                                      "field": "custom.project", "value.custom.project": "Obra Norte"})
    assert _fresh(session, Document, quotes[0].id).custom == {"project": "Obra Norte"}
