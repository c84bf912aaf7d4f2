"""Accounts through the API: CRUD, listing, bad input, references, roles, audit, hooks."""
from __future__ import annotations

from crm import hookimpl
from crm.models import Account, Contact, Document
from crm.services.audit import history
from crm.testing import at_once, registered_plugin

ADDRESS = {"street": "Calle Mayor 1", "city": "Madrid", "state": "", "postal_code": "28013", "country": "ES"}
EMPTY_ADDRESS = dict.fromkeys(ADDRESS, "")


def test_create_get_list_patch_delete_account(api):
    r = api.post("/accounts", json={"name": "Ferretería López", "email": "compras@lopez.example",
                                    "phone": "+34 600", "billing_address": ADDRESS, "website": "lopez.example",
                                    "tax_id": "B123", "description": "good customer"})
    assert r.status_code == 201, r.text
    account = r.json()
    assert account["billing_address"] == ADDRESS and account["shipping_address"] == EMPTY_ADDRESS
    assert account["active"] is True and account["custom"] == {} and account["version"] == 1
    assert api.get(f"/accounts/{account['id']}").json() == account
    assert api.get("/accounts").json()["items"] == [account]

    r = api.patch(f"/accounts/{account['id']}", json={"name": "López S.L.", "version": 1,
                                                      "shipping_address": {"city": "Toledo"}})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["name"] == "López S.L."
    assert r.json()["shipping_address"] == {**EMPTY_ADDRESS, "city": "Toledo"}
    assert r.json()["billing_address"] == ADDRESS
    stale = api.patch(f"/accounts/{account['id']}", json={"name": "Other", "version": 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    assert stale.json()["error"]["message"].startswith("this record was changed by someone else meanwhile")
    assert stale.json()["error"]["fields"] == {"version": ["stale: it is now 2, you sent 1"]}
    assert api.get(f"/accounts/{account['id']}").json()["name"] == "López S.L."

    assert api.delete(f"/accounts/{account['id']}").status_code == 204
    assert api.get(f"/accounts/{account['id']}").status_code == 404


def test_list_pagination_search_sort_and_filters(api):
    for name, email, phone, active in [("Delta", "d@x.example", "1", True), ("alpha", "a@x.example", "2", True),
                                       ("Charlie", "c@y.example", "3", False), ("Bravo", "b@x.example", "999", True),
                                       ("Echo 100%", "e@x.example", "5", True)]:
        assert api.post("/accounts", json={"name": name, "email": email, "phone": phone,
                                           "active": active}).status_code == 201
    page = api.get("/accounts?page=2&per_page=2&sort=name").json()
    assert page["total"] == 5 and page["page"] == 2 and page["per_page"] == 2
    assert [a["name"] for a in page["items"]] == ["Charlie", "Delta"]
    assert [a["name"] for a in api.get("/accounts?sort=-name").json()["items"]][:2] == ["Echo 100%", "Delta"]
    assert [a["name"] for a in api.get("/accounts?q=ALPHA").json()["items"]] == ["alpha"]
    assert [a["name"] for a in api.get("/accounts?q=y.example").json()["items"]] == ["Charlie"]
    assert [a["name"] for a in api.get("/accounts?q=999").json()["items"]] == ["Bravo"]
    assert [a["name"] for a in api.get("/accounts?q=100%").json()["items"]] == ["Echo 100%"]
    assert api.get("/accounts?q=_").json()["total"] == 0
    assert [a["name"] for a in api.get("/accounts?active=false").json()["items"]] == ["Charlie"]
    assert api.get("/accounts?active=true").json()["total"] == 4
    assert api.get("/accounts?page=1000000&per_page=200").json()["items"] == []
    assert api.get("/accounts?sort=").json()["total"] == 5


BAD_QUERIES = [
    ("per_page=0", "per_page"), ("per_page=201", "per_page"), ("page=0", "page"), ("page=-1", "page"),
    ("page=abc", "page"), ("page=99999999999", "page"), ("sort=colour", "sort"), ("sort=-", "sort"),
    ("active=maybe", "active"), ("q=%00", "q"), ("q=" + "x" * 201, "q"), ("sort=%00", "sort"),
]


def test_bad_list_arguments_are_a_422(api):
    for query, field in BAD_QUERIES:
        r = api.get(f"/accounts?{query}")
        assert r.status_code == 422, (query, r.text)
        assert field in r.json()["error"]["fields"], query


BAD_BODIES = [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": 5}, "name"),
    ({"name": None}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "a\u0000b"}, "name"),
    ({"name": "X", "email": "not-an-email"}, "email"),
    ({"name": "X", "email": 5}, "email"),
    ({"name": "X", "phone": "1" * 51}, "phone"),
    ({"name": "X", "description": "x" * 10_001}, "description"),
    ({"name": "X", "billing_address": {"planet": "Mars"}}, "billing_address.planet"),
    ({"name": "X", "billing_address": {"city": "x" * 201}}, "billing_address.city"),
    ({"name": "X", "billing_address": {"city": 7}}, "billing_address.city"),
    ({"name": "X", "billing_address": "Calle Mayor 1"}, "billing_address"),
    ({"name": "X", "shipping_address": None}, "shipping_address"),
    ({"name": "X", "active": "maybe"}, "active"),
    ({"name": "X", "colour": "red"}, "colour"),
    ({"name": "X", "id": 5}, "id"),
    ({"name": "X", "version": 3}, "version"),
    ({"name": "X", "custom": {"nope": 1}}, "custom.nope"),
    ({"name": "X", "custom": []}, "custom"),
]


def test_bad_input_names_the_field_and_changes_nothing(api):
    for body, field in BAD_BODIES:
        r = api.post("/accounts", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["error"]["fields"], (body, r.json())
    for body in ("not an object", [1, 2], None):
        assert api.post("/accounts", json=body).status_code == 422
    assert api.get("/accounts").json()["total"] == 0

    account = api.post("/accounts", json={"name": "Kept"}).json()
    for body, _field in BAD_BODIES[3:]:
        if "version" in body:
            continue  # a PATCH may send version (a stale one is a 409)
        r = api.patch(f"/accounts/{account['id']}", json=body)
        assert r.status_code == 422, (body, r.text)
    assert api.get(f"/accounts/{account['id']}").json() == account


def test_unknown_ids_are_a_404(api):
    for account_id in ("999", "0", "99999999999", "99999999999999999999999"):
        assert api.get(f"/accounts/{account_id}").status_code == 404
        assert api.patch(f"/accounts/{account_id}", json={"name": "X"}).status_code == 404
        assert api.delete(f"/accounts/{account_id}").status_code == 404


def test_delete_is_refused_while_contacts_or_documents_refer_to_it(api, session):
    account = api.post("/accounts", json={"name": "Used"}).json()
    contact = Contact(last_name="Pérez", account_id=account["id"])
    session.add(contact)
    session.commit()
    r = api.delete(f"/accounts/{account['id']}")
    assert r.status_code == 409 and "contacts" in r.json()["error"]["message"]
    assert "deactivate" in r.json()["error"]["message"]

    session.delete(contact)
    session.add(Document(doc_type="quote", number="QUO-0001", status="Created", account_id=account["id"]))
    session.commit()
    r = api.delete(f"/accounts/{account['id']}")
    assert r.status_code == 409 and "documents" in r.json()["error"]["message"]
    assert api.get(f"/accounts/{account['id']}").status_code == 200
    assert api.patch(f"/accounts/{account['id']}", json={"active": False}).json()["active"] is False


def test_account_roles(api_as, live_server):
    import requests
    assert requests.get(live_server + "/api/v1/accounts").status_code == 401
    for role in ("warehouse", "purchasing"):
        client = api_as(role)
        assert client.get("/accounts").status_code == 200
        assert client.post("/accounts", json={"name": "No"}).status_code == 403
    sales = api_as("sales")
    account = sales.post("/accounts", json={"name": "Yes"}).json()
    warehouse = api_as("warehouse")
    assert warehouse.patch(f"/accounts/{account['id']}", json={"name": "No"}).status_code == 403
    assert warehouse.delete(f"/accounts/{account['id']}").status_code == 403
    assert api_as("accounting").patch(f"/accounts/{account['id']}", json={"name": "Ok"}).status_code == 200
    assert sales.delete(f"/accounts/{account['id']}").status_code == 204


def test_patch_leaves_an_audit_entry_with_old_and_new_values(api, session):
    account = api.post("/accounts", json={"name": "Before", "email": "a@b.example"}).json()
    api.patch(f"/accounts/{account['id']}", json={"name": "After"})
    updates = [e for e in history(session, "accounts", account["id"]) if e.action == "update"]
    assert len(updates) == 1
    assert updates[0].changes == {"name": ["Before", "After"]}
    assert updates[0].user_id is not None


def test_the_audit_trail_records_the_columns_really_changed_and_nothing_else(api, session):
    account = api.post("/accounts", json={"name": "Same", "email": "s@b.example", "phone": "1"}).json()
    record = session.get(Account, account["id"])
    record.name = "Same"                                 # set to what it was
    record.phone = "2"
    record.phone = "1"                                   # changed and changed back
    session.commit()
    record.email = "new@b.example"
    record.custom = {"tier": "gold"}
    session.commit()
    updates = [e.changes for e in history(session, "accounts", account["id"]) if e.action == "update"]
    assert updates == [{"email": ["s@b.example", "new@b.example"], "custom": [{}, {"tier": "gold"}]}]


class Spy:
    def __init__(self):
        self.calls = []

    @hookimpl
    def crm_record_saved(self, session, entity, record, created):
        self.calls.append(("saved", entity, record.id, created))

    @hookimpl
    def crm_record_deleted(self, session, entity, record_id):
        self.calls.append(("deleted", entity, record_id))


def test_record_hooks_fire(app, api):
    with registered_plugin(app, Spy(), "spy") as spy:
        account = api.post("/accounts", json={"name": "Hooked"}).json()
        api.patch(f"/accounts/{account['id']}", json={"phone": "1"})
        api.post("/accounts", json={"name": ""})  # refused: no hook
        api.delete(f"/accounts/{account['id']}")
    assert spy.calls == [("saved", "accounts", account["id"], True), ("saved", "accounts", account["id"], False),
                         ("deleted", "accounts", account["id"])]


def test_record_hooks_name_the_entity_of_every_master_data_resource(app, api):
    with registered_plugin(app, Spy(), "spy") as spy:
        created = {
            "contacts": api.post("/contacts", json={"last_name": "C"}).json()["id"],
            "vendors": api.post("/vendors", json={"name": "V"}).json()["id"],
            "items": api.post("/products", json={"name": "P", "unit_price": "1"}).json()["id"],
            "price_books": api.post("/price-books", json={"name": "B"}).json()["id"],
            "custom_fields": api.post("/custom-fields", json={"entity": "accounts", "key": "k", "label": "K",
                                                              "type": "text"}).json()["id"],
        }
        service = api.post("/services", json={"name": "S", "unit_price": "1"}).json()["id"]
        api.patch(f"/services/{service}", json={"name": "S2"})
        for path, entity in (("contacts", "contacts"), ("vendors", "vendors"), ("products", "items"),
                             ("price-books", "price_books"), ("custom-fields", "custom_fields")):
            assert api.delete(f"/{path}/{created[entity]}").status_code == 204
    for entity, record_id in created.items():
        assert ("saved", entity, record_id, True) in spy.calls
        assert ("deleted", entity, record_id) in spy.calls
    assert ("saved", "items", service, True) in spy.calls and ("saved", "items", service, False) in spy.calls



def test_concurrent_patches_apply_one_after_the_other(api, live_api_as):
    account = api.post("/accounts", json={"name": "Busy"}).json()
    clients = [live_api_as("sales") for _ in range(6)]
    path = f"/accounts/{account['id']}"
    same_version = at_once(*[lambda c=c, i=i: c.patch(path, json={"phone": str(i), "version": 1})
                             for i, c in enumerate(clients)])
    assert sorted(r.status_code for r in same_version) == [200, 409, 409, 409, 409, 409]
    no_version = at_once(*[lambda c=c, i=i: c.patch(path, json={"phone": f"x{i}"}) for i, c in enumerate(clients)])
    assert [r.status_code for r in no_version] == [200] * 6, [r.text for r in no_version]
    assert api.get(path).json()["version"] == 8
