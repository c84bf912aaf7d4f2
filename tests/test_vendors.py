"""Vendors through the API: CRUD, listing, bad input, references, roles."""
from __future__ import annotations

from crm.models import Document

ADDRESS = {"street": "Gran Vía 2", "city": "Bilbao", "state": "Bizkaia", "postal_code": "48001", "country": "ES"}


def test_create_get_list_patch_delete_vendor(api):
    r = api.post("/vendors", json={"name": "Suministros Norte", "email": "ventas@norte.example", "phone": "944",
                                   "website": "norte.example", "address": ADDRESS, "description": "bolts"})
    assert r.status_code == 201, r.text
    vendor = r.json()
    assert vendor["address"] == ADDRESS and vendor["version"] == 1 and vendor["active"] is True
    assert api.get(f"/vendors/{vendor['id']}").json() == vendor
    assert api.get("/vendors").json()["items"] == [vendor]
    r = api.patch(f"/vendors/{vendor['id']}", json={"address": {"city": "Vitoria"}, "version": 1})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert r.json()["address"] == {"street": "", "city": "Vitoria", "state": "", "postal_code": "", "country": ""}
    assert api.patch(f"/vendors/{vendor['id']}", json={"name": "X", "version": 1}).status_code == 409
    assert api.delete(f"/vendors/{vendor['id']}").status_code == 204
    assert api.get(f"/vendors/{vendor['id']}").status_code == 404


def test_list_search_sort_and_filters(api):
    for name, active in [("Norte", True), ("acme", False), ("Sur", True)]:
        assert api.post("/vendors", json={"name": name, "email": f"{name.lower()}@v.example",
                                          "active": active}).status_code == 201
    assert [v["name"] for v in api.get("/vendors?sort=name").json()["items"]] == ["acme", "Norte", "Sur"]
    assert [v["name"] for v in api.get("/vendors?sort=-name&active=true").json()["items"]] == ["Sur", "Norte"]
    assert [v["name"] for v in api.get("/vendors?q=SUR@").json()["items"]] == ["Sur"]
    page = api.get("/vendors?per_page=2&page=2&sort=name").json()
    assert page["total"] == 3 and [v["name"] for v in page["items"]] == ["Sur"]
    for query in ("active=2", "sort=website", "per_page=500", "q=%00"):
        assert api.get(f"/vendors?{query}").status_code == 422, query


def test_bad_input_names_the_field_and_changes_nothing(api):
    cases = [
        ({}, "name"),
        ({"name": " "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "V", "email": "norte.example"}, "email"),
        ({"name": "V", "website": "w" * 201}, "website"),
        ({"name": "V", "address": {"town": "Bilbao"}}, "address.town"),
        ({"name": "V", "address": {"country": None}}, "address.country"),
        ({"name": "V", "address": ["Bilbao"]}, "address"),
        ({"name": "V", "billing_address": {}}, "billing_address"),
        ({"name": "V", "custom": {"rating": 5}}, "custom.rating"),
    ]
    for body, field in cases:
        r = api.post("/vendors", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["error"]["fields"], (body, r.json())
    assert api.get("/vendors").json()["total"] == 0
    vendor = api.post("/vendors", json={"name": "Kept"}).json()
    for body, _field in cases[1:]:
        assert api.patch(f"/vendors/{vendor['id']}", json=body).status_code == 422, body
    assert api.get(f"/vendors/{vendor['id']}").json() == vendor


def test_unknown_ids_are_a_404(api):
    for vendor_id in ("5", "99999999999"):
        assert api.get(f"/vendors/{vendor_id}").status_code == 404
        assert api.patch(f"/vendors/{vendor_id}", json={"name": "X"}).status_code == 404
        assert api.delete(f"/vendors/{vendor_id}").status_code == 404


def test_delete_is_refused_while_items_or_documents_refer_to_it(api, session):
    vendor = api.post("/vendors", json={"name": "Used"}).json()
    product = api.post("/products", json={"name": "Bolt", "unit_price": "1", "vendor_id": vendor["id"]}).json()
    r = api.delete(f"/vendors/{vendor['id']}")
    assert r.status_code == 409 and "items" in r.json()["error"]["message"]
    assert "deactivate" in r.json()["error"]["message"]
    assert api.delete(f"/products/{product['id']}").status_code == 204

    session.add(Document(doc_type="purchase_order", number="PO-0001", status="Created", vendor_id=vendor["id"]))
    session.commit()
    r = api.delete(f"/vendors/{vendor['id']}")
    assert r.status_code == 409 and "documents" in r.json()["error"]["message"]
    assert api.get(f"/vendors/{vendor['id']}").status_code == 200


def test_vendor_roles(api_as):
    purchasing = api_as("purchasing")
    vendor = purchasing.post("/vendors", json={"name": "Ok"}).json()
    assert api_as("accounting").patch(f"/vendors/{vendor['id']}", json={"phone": "1"}).status_code == 200
    sales = api_as("sales")
    assert sales.get("/vendors").json()["total"] == 1
    assert sales.post("/vendors", json={"name": "No"}).status_code == 403
    assert sales.patch(f"/vendors/{vendor['id']}", json={"name": "No"}).status_code == 403
    assert api_as("warehouse").delete(f"/vendors/{vendor['id']}").status_code == 403
    assert purchasing.delete(f"/vendors/{vendor['id']}").status_code == 204
