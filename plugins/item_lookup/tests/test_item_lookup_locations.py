"""Without a plugin that offers stock locations (a warehouses plugin, through the core's hook
``crm_stock_location_choices``) the picker shows no warehouse filter and the search takes none;
with one, see the warehouses plugin's ``test_warehouses_item_lookup.py``."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.crm_plugins("item_lookup")


def test_no_warehouse_filter_without_a_plugin_offering_locations(shop, rest, client, browser_user):
    browser_user(client, "sales")
    html = client.get("/sales-orders/new").get_data(as_text=True)
    assert 'class="il-dialog"' in html and "il-location" not in html
    for value in ("1", "abc"):   # not even the core's default location is a choice
        answer = rest.get("/item-lookup/items", location_id=value)
        assert answer.status_code == 422 and "location_id" in answer.get_json()["error"]["fields"]
    body = rest.get("/item-lookup/items", kind="product", in_stock="true").get_json()   # the totals, as always
    assert {i["name"]: i["available"] for i in body["items"]} == {
        "Alpha drill": "5", "Delta hammer": "10", "Epsilon bulb": "100", "50% off_cut \\ gloves": "1", "Drill kit": "2"}
