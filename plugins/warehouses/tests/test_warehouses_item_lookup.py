"""The item lookup per warehouse: its in-stock filter, the availability it shows and sorting by it
follow the warehouse chosen in it (the warehouses come through the core's hook
``crm_stock_location_choices``, the figures from the core's balances: neither plugin imports the
other); bad choices are refused with 422 naming ``location_id``."""
from __future__ import annotations

import json
import re

import pytest

from crm.testing import TEST_PASSWORD
from warehouses_helpers import add_warehouse, choose, sales_order

pytestmark = pytest.mark.crm_plugins("warehouses", "item_lookup")


def lookup(api, **params):
    """``{name: available}`` of the item lookup's answer, and its total (asserting a 200)."""
    answer = api.get("/item-lookup/items", params={"per_page": "200", **params})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {item["name"]: item["available"] for item in body["items"]}, body["total"]


def adjust(api, warehouse, product_id, quantity):
    made = api.post(f"/warehouses/{warehouse['id']}/adjustments",
                    json={"product_id": product_id, "quantity": quantity, "reason": "found"})
    assert made.status_code == 201, made.text


def test_in_stock_and_available_follow_the_warehouse_chosen(api, catalog):
    c = catalog
    a, b = add_warehouse(api, "A", "Alcalá"), add_warehouse(api, "B", "Burgos")
    adjust(api, b, c.widget, "5")     # the widget only in B
    adjust(api, a, c.gadget, "1")     # the gadget only in A

    # the totals, as without warehouses: both in stock; the kit (2 widgets + 1 gadget) makes 1
    found, total = lookup(api, kind="product", in_stock="true")
    assert found == {"Widget": "5", "Gadget": "1", "Starter kit": "1"} and total == 3

    # in B: the widget; the kit needs a gadget there too
    found, total = lookup(api, kind="product", in_stock="true", location_id=str(b["location_id"]))
    assert found == {"Widget": "5"} and total == 1
    # in A: the gadget only
    found, total = lookup(api, kind="product", in_stock="true", location_id=str(a["location_id"]))
    assert found == {"Gadget": "1"} and total == 1
    # without the filter every product is listed, with what is available in the warehouse chosen
    found, _ = lookup(api, kind="product", location_id=str(a["location_id"]))
    assert found == {"Widget": "0", "Gadget": "1", "Starter kit": "0"}
    # services always pass the filter; sorting by available sorts by the warehouse's figures
    found, total = lookup(api, in_stock="true", location_id=str(b["location_id"]))
    assert set(found) == {"Widget", "Consulting hour"} and total == 2
    ordered = api.get("/item-lookup/items", params={"kind": "product", "sort": "-available",
                                                    "location_id": str(a["location_id"])}).json()["items"]
    assert [i["name"] for i in ordered] == ["Gadget", "Widget", "Starter kit"]   # a bundle's sort value is empty

    # a gadget into B: the kit is in stock there now
    adjust(api, b, c.gadget, "3")
    found, total = lookup(api, kind="product", in_stock="true", location_id=str(b["location_id"]))
    assert found == {"Widget": "5", "Gadget": "3", "Starter kit": "2"} and total == 3
    # the facet counts follow the filter too (not the totals' cached counts)
    body = api.get("/item-lookup/items", params={"kind": "product", "in_stock": "true",
                                                 "location_id": str(a["location_id"])}).json()
    assert body["total"] == 1

    # a sales order of B reserves all its widgets: out of stock in B, not in all (A has none either)
    order = sales_order(api, c, [{"item_id": c.widget, "quantity": "5"}])
    assert choose(api, order["id"], b["id"]).status_code == 200
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    found, total = lookup(api, kind="product", in_stock="true", location_id=str(b["location_id"]))
    assert found == {"Gadget": "3"} and total == 1
    found, _ = lookup(api, kind="product", in_stock="true")
    assert found == {"Gadget": "4"}


def test_the_text_search_follows_the_warehouse_too(api, catalog):
    c = catalog
    a, b = add_warehouse(api, "A"), add_warehouse(api, "B")
    adjust(api, b, c.widget, "2")
    assert lookup(api, q="widget", in_stock="true", location_id=str(b["location_id"])) == ({"Widget": "2"}, 1)
    assert lookup(api, q="widget", in_stock="true", location_id=str(a["location_id"])) == ({}, 0)
    assert lookup(api, q="widget", in_stock="true") == ({"Widget": "2"}, 1)


@pytest.mark.parametrize("value", ["abc", "1.5", "0", "7\x00", "999999"])
def test_a_bad_warehouse_is_refused_naming_location_id(api, catalog, value):
    add_warehouse(api, "A")
    answer = api.get("/item-lookup/items", params={"location_id": value, "in_stock": "true"})
    assert answer.status_code == 422, answer.text
    assert "location_id" in answer.json()["error"]["fields"]


def test_an_inactive_warehouse_and_the_default_location_are_not_choices(api, catalog):
    a, b = add_warehouse(api, "A"), add_warehouse(api, "B")
    api.patch(f"/warehouses/{b['id']}", json={"active": False})
    for refused in (b["location_id"], 1):
        answer = api.get("/item-lookup/items", params={"location_id": str(refused)})
        assert answer.status_code == 422 and "location_id" in answer.json()["error"]["fields"]
    assert api.get("/item-lookup/items", params={"location_id": str(a["location_id"])}).status_code == 200


def _picker_locations(html: str) -> list[tuple[str, str]]:
    select = re.search(r'<select id="[^"]+-location" class="il-location"[^>]*>(.*?)</select>', html, re.S)
    return re.findall(r'<option value="([^"]*)">([^<]*)</option>', select.group(1)) if select else []


def test_the_picker_offers_the_active_warehouses(api, app, client, make_user, catalog):
    user = make_user("sales", username="picker-sales")
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    assert _picker_locations(client.get("/sales-orders/new").get_data(as_text=True)) == []   # no warehouse yet
    a, b = add_warehouse(api, "A", "Alcalá"), add_warehouse(api, "B", "Burgos")
    add_warehouse(api, "C", "Cuenca", active=False)
    html = client.get("/sales-orders/new").get_data(as_text=True)
    assert _picker_locations(html) == [("", "All warehouses"), (str(a["location_id"]), "Alcalá (A)"),
                                       (str(b["location_id"]), "Burgos (B)")]
    config = json.loads(re.search(r'<script type="application/json" id="[^"]+-config">(.*?)</script>', html,
                                  re.S).group(1))
    assert config["searchUrl"] == "/item-lookup/json/items"
    adjust(api, b, catalog.widget, "4")
    answer = client.get("/item-lookup/json/items", query_string={"kind": "product", "in_stock": "true",
                                                                 "location_id": str(b["location_id"])})
    assert answer.status_code == 200 and [i["name"] for i in answer.get_json()["items"]] == ["Widget"]
    refused = client.get("/item-lookup/json/items", query_string={"location_id": "x"})
    assert refused.status_code == 422 and "location_id" in refused.get_json()["error"]["fields"]


def test_spanish_picker_names_the_warehouse_filter(api, client, make_user):
    add_warehouse(api, "A", "Alcalá")
    user = make_user("sales", username="picker-es", language="es")
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    html = client.get("/sales-orders/new").get_data(as_text=True)
    assert _picker_locations(html)[0] == ("", "Todos los almacenes") and ">Almacén</label>" in html
