"""Contacts through the API: CRUD, the account link, listing, bad input, references, roles."""
from __future__ import annotations

from crm.models import Document


def _account(api, name="López S.L."):
    r = api.post("/accounts", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


def test_create_get_list_patch_delete_contact(api):
    account = _account(api)
    r = api.post("/contacts", json={"last_name": "López", "first_name": "Ana", "email": "ana@lopez.example",
                                    "phone": "+34 600", "title": "Buyer", "account_id": account["id"]})
    assert r.status_code == 201, r.text
    contact = r.json()
    assert contact["account_name"] == "López S.L." and contact["full_name"] == "Ana López"
    assert contact["version"] == 1 and contact["active"] is True and contact["custom"] == {}
    assert api.get(f"/contacts/{contact['id']}").json() == contact
    assert api.get("/contacts").json()["items"] == [contact]

    other = _account(api, "Otra S.A.")
    r = api.patch(f"/contacts/{contact['id']}", json={"account_id": other["id"], "version": 1})
    assert r.status_code == 200 and r.json()["account_name"] == "Otra S.A." and r.json()["version"] == 2
    r = api.patch(f"/contacts/{contact['id']}", json={"account_id": None})
    assert r.json()["account_id"] is None and r.json()["account_name"] is None
    stale = api.patch(f"/contacts/{contact['id']}", json={"title": "CEO", "version": 2})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"

    assert api.delete(f"/contacts/{contact['id']}").status_code == 204
    assert api.get(f"/contacts/{contact['id']}").status_code == 404


def test_list_search_sort_and_filters(api):
    lopez, perez = _account(api, "López"), _account(api, "Pérez")
    for last, first, account, active in [("Zamora", "Bea", lopez, True), ("alonso", "Carla", lopez, True),
                                         ("Martín", "Ana", perez, False), ("Nieto", "Dani", None, True)]:
        body = {"last_name": last, "first_name": first, "active": active,
                "account_id": account["id"] if account else None}
        assert api.post("/contacts", json=body).status_code == 201
    listed = api.get(f"/contacts?account_id={lopez['id']}&sort=last_name").json()
    assert [c["last_name"] for c in listed["items"]] == ["alonso", "Zamora"]
    assert {c["account_name"] for c in listed["items"]} == {"López"}
    assert [c["last_name"] for c in api.get("/contacts?q=carla").json()["items"]] == ["alonso"]
    assert [c["last_name"] for c in api.get("/contacts?active=false").json()["items"]] == ["Martín"]
    page = api.get("/contacts?sort=-first_name&per_page=1&page=2").json()
    assert page["total"] == 4 and [c["first_name"] for c in page["items"]] == ["Carla"]
    for query in ("account_id=abc", "account_id=99999999999", "account_id=", "sort=account", "per_page=0"):
        r = api.get(f"/contacts?{query}")
        assert r.status_code == 422, (query, r.text)


def test_bad_input_names_the_field_and_changes_nothing(api):
    account = _account(api)
    cases = [
        ({}, "last_name"),
        ({"last_name": ""}, "last_name"),
        ({"last_name": "x" * 101}, "last_name"),
        ({"last_name": "X", "first_name": ["Ana"]}, "first_name"),
        ({"last_name": "X", "email": "ana@"}, "email"),
        ({"last_name": "X", "account_id": 999}, "account_id"),
        ({"last_name": "X", "account_id": 99999999999}, "account_id"),
        ({"last_name": "X", "account_id": "1"}, "account_id"),
        ({"last_name": "X", "account_id": 1.5}, "account_id"),
        ({"last_name": "X", "account_id": True}, "account_id"),
        ({"last_name": "X", "account_id": -1}, "account_id"),
        ({"last_name": "X", "account_name": "Other"}, "account_name"),
        ({"last_name": "X", "custom": {"nope": "1"}}, "custom.nope"),
        ({"last_name": "X", "nickname": "Y"}, "nickname"),
    ]
    for body, field in cases:
        r = api.post("/contacts", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["error"]["fields"], (body, r.json())
    assert api.get("/contacts").json()["total"] == 0

    contact = api.post("/contacts", json={"last_name": "Kept", "account_id": account["id"]}).json()
    for body, _field in cases[2:]:
        assert api.patch(f"/contacts/{contact['id']}", json=body).status_code == 422, body
    assert api.get(f"/contacts/{contact['id']}").json() == contact


def test_unknown_ids_are_a_404(api):
    for contact_id in ("999", "99999999999"):
        assert api.get(f"/contacts/{contact_id}").status_code == 404
        assert api.patch(f"/contacts/{contact_id}", json={"last_name": "X"}).status_code == 404
        assert api.delete(f"/contacts/{contact_id}").status_code == 404


def test_delete_is_refused_while_documents_refer_to_it(api, session):
    account = _account(api)
    contact = api.post("/contacts", json={"last_name": "Used", "account_id": account["id"]}).json()
    session.add(Document(doc_type="quote", number="QUO-0001", status="Created", account_id=account["id"],
                         contact_id=contact["id"]))
    session.commit()
    r = api.delete(f"/contacts/{contact['id']}")
    assert r.status_code == 409 and "deactivate" in r.json()["error"]["message"]
    assert api.get(f"/contacts/{contact['id']}").status_code == 200


def test_contact_roles(api_as):
    sales = api_as("sales")
    contact = sales.post("/contacts", json={"last_name": "Ok"}).json()
    warehouse = api_as("warehouse")
    assert warehouse.get(f"/contacts/{contact['id']}").status_code == 200
    assert warehouse.post("/contacts", json={"last_name": "No"}).status_code == 403
    assert warehouse.patch(f"/contacts/{contact['id']}", json={"last_name": "No"}).status_code == 403
    assert api_as("purchasing").delete(f"/contacts/{contact['id']}").status_code == 403
    assert sales.delete(f"/contacts/{contact['id']}").status_code == 204

