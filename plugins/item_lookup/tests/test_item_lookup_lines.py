"""Adding many items to a document in one transaction: ``POST /api/v1/<documents>/<id>/lines``
and the browser's ``POST /item-lookup/json/<documents>/<id>/lines`` (session + CSRF header)."""
from __future__ import annotations

import re

import pytest

from crm.testing import TEST_PASSWORD


@pytest.fixture
def order(shop, rest, app):
    """A sales order with one line and a section, created through the API."""
    from crm.db import db
    from crm.models import Account
    with app.app_context():
        s = db.new_session(app)
        account = Account(name="Ferretería López")
        s.add(account)
        s.commit()
        account_id = account.id
        s.close()
    body = {"account_id": account_id, "lines": [
        {"display_type": "section", "description": "Tools"},
        {"item_id": shop.ids["Delta hammer"], "quantity": "1", "discount_percent": "10"}]}
    response = rest.post("/sales-orders", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_items_are_appended_in_one_call_with_totals_by_the_core(shop, rest, order):
    response = rest.post(f"/sales-orders/{order['id']}/lines", json={"items": [
        {"item_id": shop.ids["Alpha drill"], "quantity": "2"},
        {"item_id": shop.ids["Drill kit"], "quantity": 1, "unit_price": "140.00"},
        {"item_id": shop.ids["Installation"], "quantity": "1.5", "unit_price": 55}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    document = response.get_json()
    assert document["id"] == order["id"] and document["version"] == order["version"] + 1
    lines = document["lines"]
    assert [(line["display_type"], line["item_name"], line["quantity"], line["unit_price"]) for line in lines] == [
        ("section", None, "0", "0.00"),
        (None, "Delta hammer", "1", "15.00"),
        (None, "Alpha drill", "2", "89.90"),          # the item's price when none is given
        (None, "Drill kit", "1", "140.00"),           # a bundle is one line
        (None, "Installation", "1.5", "55.00")]
    assert lines[0]["id"] == order["lines"][0]["id"] and lines[1]["id"] == order["lines"][1]["id"]
    assert lines[1]["discount_percent"] == "10"       # existing lines keep everything
    assert lines[0]["description"] == "Tools"
    assert all(line["tax_ids"] == [shop.iva21] for line in lines[1:])  # the items' taxes
    # 13.50 + 179.80 + 140.00 + 82.50 = 415.80; 21 % tax rounded per line:
    # 2.84 + 37.76 + 29.40 + 17.33 = 87.33
    assert document["totals"]["subtotal"] == "415.80"
    assert document["totals"]["tax"] == "87.33"
    assert document["totals"]["grand_total"] == "503.13"
    assert rest.get(f"/sales-orders/{order['id']}").get_json()["totals"] == document["totals"]


def test_every_document_type(shop, rest, order):
    vendor_po = rest.post("/purchase-orders", json={"vendor_id": shop.norte}).get_json()
    response = rest.post(f"/purchase-orders/{vendor_po['id']}/lines",
                         json={"items": [{"item_id": shop.ids["Alpha drill"], "quantity": "3"}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["lines"][0]["unit_price"] == "44.95"   # purchase cost on a purchase order
    account_id = order["account_id"]
    for path in ("quotes", "invoices"):
        created = rest.post(f"/{path}", json={"account_id": account_id}).get_json()
        added = rest.post(f"/{path}/{created['id']}/lines", json={"items": [{"item_id": shop.ids["Training"]}]})
        assert added.status_code == 200 and added.get_json()["lines"][0]["quantity"] == "1"


def test_a_refused_item_names_it_and_changes_nothing(shop, rest, order):
    path = f"/sales-orders/{order['id']}/lines"
    unknown = rest.post(path, json={"items": [{"item_id": shop.ids["Alpha drill"]}, {"item_id": 999999}]})
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["fields"] == {"items.1.item_id": ["unknown item 999999"]}
    inactive = rest.post(path, json={"items": [{"item_id": shop.ids["Old drill"]}]})
    assert inactive.status_code == 422 and "items.0.item_id" in inactive.get_json()["error"]["fields"]
    for bad, field in ((({"items": []}), "items"), ({"items": [{"item_id": 1, "quantity": "0"}]}, "items.0.quantity"),
                       ({"items": [{"item_id": 1, "quantity": "-2"}]}, "items.0.quantity"),
                       ({"items": [{"item_id": 1, "unit_price": "abc"}]}, "items.0.unit_price"),
                       ({"items": [{"quantity": "1"}]}, "items.0.item_id"), ({}, "items")):
        response = rest.post(path, json=bad)
        assert response.status_code == 422, bad
        assert field in response.get_json()["error"]["fields"], response.get_json()
    assert rest.get(f"/sales-orders/{order['id']}").get_json()["lines"] == order["lines"]


def test_a_document_that_cannot_change_answers_409(shop, rest, order):
    approved = rest.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
    assert approved.status_code == 200, approved.get_data(as_text=True)
    response = rest.post(f"/sales-orders/{order['id']}/lines", json={"items": [{"item_id": shop.ids["Training"]}]})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "not_editable"


def test_a_stale_version_answers_409(shop, rest, order):
    rest.patch(f"/sales-orders/{order['id']}", json={"subject": "changed meanwhile"})
    response = rest.post(f"/sales-orders/{order['id']}/lines",
                         json={"items": [{"item_id": shop.ids["Training"]}], "version": order["version"]})
    assert response.status_code == 409


def test_unknown_document_and_roles(shop, rest, rest_as, order):
    assert rest.post("/sales-orders/999999/lines", json={"items": [{"item_id": 1}]}).status_code == 404
    assert rest.post(f"/invoices/{order['id']}/lines", json={"items": [{"item_id": 1}]}).status_code == 404
    for role in ("warehouse", "purchasing"):
        response = rest_as(role).post(f"/sales-orders/{order['id']}/lines", json={"items": [{"item_id": 1}]})
        assert response.status_code == 403
    assert rest_as("sales").post(f"/sales-orders/{order['id']}/lines",
                                 json={"items": [{"item_id": shop.ids["Training"]}]}).status_code == 200


def test_the_endpoint_is_described_in_openapi(rest):
    spec = rest.get("/openapi.json").get_json()
    assert "/api/v1/sales-orders/{doc_id}/lines" in spec["paths"]
    assert "/api/v1/item-lookup/items" in spec["paths"]
    schemas = spec["components"]["schemas"]
    assert {"ItemLookupLinesIn", "ItemLookupResult", "ItemLookupSettings", "ItemLookupItem"} <= set(schemas)
    operation = spec["paths"]["/api/v1/sales-orders/{doc_id}/lines"]["post"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/SalesOrder")


# --- the browser's endpoint: session cookie and CSRF header ---------------------------------------------

def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_the_browser_adds_lines_with_the_session_and_the_csrf_header(shop, app_factory, make_user, rest, order):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    user = make_user("sales")
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                       "csrf_token": token}).status_code == 302
    page = client.get(f"/sales-orders/{order['id']}").get_data(as_text=True)
    assert "data-il-open" in page                                   # the picker is on the order's page
    url = f"/item-lookup/json/sales-orders/{order['id']}/lines"
    body = {"items": [{"item_id": shop.ids["Epsilon bulb"], "quantity": "10"}]}
    assert client.post(url, json=body).status_code == 400            # no CSRF header: refused
    response = client.post(url, json=body, headers={"X-CSRFToken": _csrf(page)})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["lines"][-1]["item_name"] == "Epsilon bulb"
    refused = client.post(url, json={"items": [{"item_id": 999999}]}, headers={"X-CSRFToken": _csrf(page)})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"items.0.item_id": ["unknown item 999999"]}
    searched = client.get("/item-lookup/json/items?kind=product&f1=Electrical&in_stock=true")
    assert searched.status_code == 200 and [i["name"] for i in searched.get_json()["items"]] == ["Epsilon bulb"]
    bad = client.get("/item-lookup/json/items?per_page=201")
    assert bad.status_code == 422 and "per_page" in bad.get_json()["error"]["fields"]
