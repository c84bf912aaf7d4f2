"""Reorder levels per warehouse: set through the API and the product's panel, marking a product
low in a warehouse's stock report by the warehouse's own level (else the product's), and
ordering a warehouse's shortfall: draft purchase orders for that warehouse."""
from __future__ import annotations

import re
from html import unescape

from test_warehouses_report import rows, stocked
from warehouses_helpers import add_warehouse, choose, purchase_order, signed_in


def put_level(api, warehouse, product_id, level, quantity=None):
    body = {"reorder_level": level} if quantity is None else {"reorder_level": level, "reorder_quantity": quantity}
    return api.put(f"/warehouses/{warehouse['id']}/reorder-levels/{product_id}", json=body)


def test_reorder_levels_per_warehouse_through_the_api(api_as, api, catalog):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD", "Madrid"), add_warehouse(api, "BCN", "Barcelona")
    assert api.patch(f"/products/{c.gadget}", json={"reorder_level": "4", "reorder_quantity": "9"}).status_code == 200
    # without its own, a warehouse follows the product's levels
    assert api.get(f"/warehouses/{mad['id']}/reorder-levels/{c.gadget}").json() == {
        "warehouse_id": mad["id"], "product_id": c.gadget, "sku": "G-1", "name": "Gadget", "reorder_level": "4",
        "reorder_quantity": "9", "own": False}
    warehouse = api_as("warehouse")
    saved = put_level(warehouse, mad, c.gadget, "10.5", "30")
    assert saved.status_code == 200, saved.text
    assert (saved.json()["reorder_level"], saved.json()["reorder_quantity"], saved.json()["own"]) == ("10.5", "30", True)
    assert put_level(warehouse, mad, c.widget, "2").json()["reorder_quantity"] == "0"
    assert put_level(warehouse, mad, c.gadget, "11", "31").status_code == 200   # changed in place
    listed = api.get(f"/warehouses/{mad['id']}/reorder-levels").json()
    assert [(i["sku"], i["reorder_level"], i["reorder_quantity"]) for i in listed["items"]] == [
        ("G-1", "11", "31"), ("W-1", "2", "0")]
    assert api.get(f"/warehouses/{bcn['id']}/reorder-levels").json()["items"] == []
    assert api.get(f"/warehouses/{bcn['id']}/reorder-levels/{c.gadget}").json()["reorder_level"] == "4"

    # bad input: 422 naming the field, nothing changed
    for body, field in (({"reorder_level": "-1"}, "reorder_level"), ({"reorder_level": "x"}, "reorder_level"),
                        ({}, "reorder_level"), ({"reorder_level": "1", "reorder_quantity": "-2"}, "reorder_quantity"),
                        ({"reorder_level": "1.0001"}, "reorder_level")):
        refused = warehouse.put(f"/warehouses/{mad['id']}/reorder-levels/{c.gadget}", json=body)
        assert refused.status_code == 422 and field in refused.json()["error"]["fields"], (body, refused.text)
    for product_id in (c.kit, c.consulting, 999999):
        refused = put_level(warehouse, mad, product_id, "1")
        assert refused.status_code == 422 and "product_id" in refused.json()["error"]["fields"], refused.text
    assert put_level(warehouse, {"id": 999999}, c.gadget, "1").status_code == 404
    assert api.get(f"/warehouses/{mad['id']}/reorder-levels/{c.gadget}").json()["reorder_level"] == "11"
    # who may: the warehouse team and the admin set them; purchasing and sales read them
    assert put_level(api_as("purchasing"), mad, c.gadget, "1").status_code == 403
    assert api_as("sales").get(f"/warehouses/{mad['id']}/reorder-levels").status_code == 200

    # forgetting them: the product's apply again
    forgotten = warehouse.delete(f"/warehouses/{mad['id']}/reorder-levels/{c.gadget}")
    assert forgotten.status_code == 200 and (forgotten.json()["reorder_level"], forgotten.json()["own"]) == ("4", False)
    assert [i["sku"] for i in api.get(f"/warehouses/{mad['id']}/reorder-levels").json()["items"]] == ["W-1"]


def test_the_report_marks_low_by_the_warehouses_own_level(app, api, catalog, make_user):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD", "Madrid"), add_warehouse(api, "BCN", "Barcelona")
    stocked(api, mad, c.widget, "3")
    stocked(api, bcn, c.widget, "3")
    stocked(api, bcn, c.gadget, "1")
    assert api.patch(f"/products/{c.gadget}", json={"reorder_level": "5"}).status_code == 200
    # the widget (no level of its own) is low in MAD by MAD's level; the gadget no longer in BCN
    assert put_level(api, mad, c.widget, "3").status_code == 200
    assert put_level(api, bcn, c.gadget, "0").status_code == 200
    client = signed_in(app.test_client(), make_user("purchasing"))
    mad_html = client.get(f"/warehouses/{mad['id']}/report").get_data(as_text=True)
    assert rows(mad_html) == {
        str(c.gadget): ["G-1", "Gadget low", "0", "0", "0", "0", "5", "€3.00", "€0.00", "LOW"],
        str(c.widget): ["W-1", "Widget low", "3", "0", "3", "0", "3 own", "€12.00", "€36.00", "LOW"]}
    assert '<dd data-total="low">2</dd>' in mad_html
    bcn_html = client.get(f"/warehouses/{bcn['id']}/report").get_data(as_text=True)
    assert rows(bcn_html) == {
        str(c.gadget): ["G-1", "Gadget", "1", "0", "1", "0", "0 own", "€3.00", "€3.00"],
        str(c.widget): ["W-1", "Widget", "3", "0", "3", "0", "0", "€12.00", "€36.00"]}
    assert '<dd data-total="low">0</dd>' in bcn_html
    assert list(rows(client.get(f"/warehouses/{mad['id']}/report?low=1").get_data(as_text=True))) == [
        str(c.gadget), str(c.widget)]
    # one more widget in MAD: no longer at or below its level there
    stocked(api, mad, c.widget, "1")
    assert "LOW" not in rows(client.get(f"/warehouses/{mad['id']}/report").get_data(as_text=True))[str(c.widget)]


def test_ordering_a_warehouses_shortfall_drafts_purchase_orders_for_it(app, api_as, api, catalog, make_user):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD", "Madrid"), add_warehouse(api, "BCN", "Barcelona")
    stocked(api, mad, c.widget, "3")
    assert put_level(api, mad, c.widget, "5", "20").status_code == 200
    # 4 widgets on their way to MAD; a draft of 50 for BCN is not MAD's
    po = purchase_order(api, c, [{"item_id": c.widget, "quantity": "4"}], status="Created")
    choose(api, po["id"], mad["id"])
    assert api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"}).status_code == 200
    other = purchase_order(api, c, [{"item_id": c.widget, "quantity": "50"}], status="Created")
    choose(api, other["id"], bcn["id"])
    # the gadget, low in MAD by its own level, has no vendor
    assert put_level(api, mad, c.gadget, "1").status_code == 200

    purchasing = api_as("purchasing")
    dry = purchasing.post(f"/warehouses/{mad['id']}/replenish", json={"dry_run": True})
    assert dry.status_code == 200, dry.text
    planned = dry.json()["purchase_orders"]
    assert [(o["vendor_id"], o["purchase_order_id"]) for o in planned] == [(c.vendor, None)]
    assert [(n["product_id"], n["available"], n["incoming"], n["in_drafts"], n["target"], n["quantity"])
            for n in planned[0]["lines"]] == [(c.widget, "3", "4", "0", "20", "13")]
    assert [n["product_id"] for n in dry.json()["without_vendor"]] == [c.gadget]
    drafts = api.get("/purchase-orders", params={"status": "Created"}).json()["total"]
    assert drafts == 1    # only BCN's

    made = purchasing.post(f"/warehouses/{mad['id']}/replenish", json={})
    assert made.status_code == 200, made.text
    order_id = made.json()["purchase_orders"][0]["purchase_order_id"]
    order = api.get(f"/purchase-orders/{order_id}").json()
    assert order["status"] == "Created" and order["warehouses_warehouse_code"] == "MAD"
    assert [(line["item_id"], line["quantity"]) for line in order["lines"]] == [(c.widget, "13")]
    # again: the draft covers it
    again = purchasing.post(f"/warehouses/{mad['id']}/replenish", json={}).json()
    assert again["purchase_orders"] == [] and [n["in_drafts"] for n in again["covered"]] == ["13"]
    # the core's replenishment still orders by the product's own levels (the widget has none)
    core = purchasing.post("/stock/replenish", json={"dry_run": True}).json()
    assert core["purchase_orders"] == []

    # BCN follows the product's levels: nothing low there
    assert purchasing.post(f"/warehouses/{bcn['id']}/replenish", json={}).json()["purchase_orders"] == []
    # an inactive warehouse takes no new orders; unknown ids; who may
    assert api.patch(f"/warehouses/{bcn['id']}", json={"active": False}).status_code == 200
    refused = purchasing.post(f"/warehouses/{bcn['id']}/replenish", json={})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "warehouse_inactive"
    assert purchasing.post("/warehouses/999999/replenish", json={}).status_code == 404
    bad = purchasing.post(f"/warehouses/{mad['id']}/replenish", json={"product_ids": ["x"]})
    assert bad.status_code == 422 and "product_ids.0" in bad.json()["error"]["fields"]
    assert api_as("warehouse").post(f"/warehouses/{mad['id']}/replenish", json={}).status_code == 403


def test_the_report_orders_the_shortfall_and_the_product_panel_sets_levels(app, api, catalog, make_user):
    c = catalog
    mad = add_warehouse(api, "MAD", "Madrid")
    stocked(api, mad, c.widget, "1")
    # the product's panel: the warehouse team sets MAD's level
    warehouse = signed_in(app.test_client(), make_user("warehouse"))
    panel = warehouse.get(f"/products/{c.widget}").get_data(as_text=True)
    assert 'action="/warehouses/reorder-levels"' in panel
    saved = warehouse.post("/warehouses/reorder-levels", data={
        "product_id": str(c.widget), "warehouse_id": str(mad["id"]), "reorder_level": "2", "reorder_quantity": "6"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/products/{c.widget}")
    assert api.get(f"/warehouses/{mad['id']}/reorder-levels/{c.widget}").json()["reorder_quantity"] == "6"
    page = warehouse.get(f"/products/{c.widget}").get_data(as_text=True)
    assert "Reorder level in MAD saved." in page
    row = re.search(r'<tr data-warehouse="MAD">(.*?)</tr>', page, re.S).group(1)
    assert [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)][5:] \
        == ["2", "6"]
    # bad input: refused naming the field, nothing changed
    refused = warehouse.post("/warehouses/reorder-levels", data={
        "product_id": str(c.widget), "warehouse_id": str(mad["id"]), "reorder_level": "-3"}, follow_redirects=True)
    assert "reorder_level" in refused.get_data(as_text=True)
    assert api.get(f"/warehouses/{mad['id']}/reorder-levels/{c.widget}").json()["reorder_level"] == "2"
    # purchasing sees the levels but has no form, and may not post it
    purchasing = signed_in(app.test_client(), make_user("purchasing"))
    assert 'action="/warehouses/reorder-levels"' not in purchasing.get(f"/products/{c.widget}").get_data(as_text=True)
    assert purchasing.post("/warehouses/reorder-levels", data={}).status_code == 403

    # the report's "Order the shortfall", for purchasing only
    report = purchasing.get(f"/warehouses/{mad['id']}/report").get_data(as_text=True)
    assert f'action="/warehouses/{mad["id"]}/replenish"' in report
    assert f'action="/warehouses/{mad["id"]}/replenish"' not in \
        warehouse.get(f"/warehouses/{mad['id']}/report").get_data(as_text=True)
    ordered = purchasing.post(f"/warehouses/{mad['id']}/replenish", follow_redirects=True)
    assert "Drafted for approval: PO-" in ordered.get_data(as_text=True)
    drafts = api.get("/purchase-orders", params={"status": "Created"}).json()["items"]
    assert len(drafts) == 1 and drafts[0]["warehouses_warehouse_code"] == "MAD"
    assert api.get(f"/purchase-orders/{drafts[0]['id']}").json()["lines"][0]["quantity"] == "5"

    # a blank level: MAD follows the product's again
    warehouse.post("/warehouses/reorder-levels", data={"product_id": str(c.widget), "warehouse_id": str(mad["id"]),
                                                       "reorder_level": ""})
    assert api.get(f"/warehouses/{mad['id']}/reorder-levels/{c.widget}").json()["own"] is False


def test_spanish_words(app, api, catalog, make_user):
    c = catalog
    mad = add_warehouse(api, "MAD", "Madrid")
    assert put_level(api, mad, c.widget, "2").status_code == 200
    client = signed_in(app.test_client(), make_user("admin", language="es"))
    panel = client.get(f"/products/{c.widget}").get_data(as_text=True)
    assert "Fijar nivel de pedido" in panel
    report = client.get(f"/warehouses/{mad['id']}/report").get_data(as_text=True)
    assert "Pedir lo que falta" in report and "propio" in report
