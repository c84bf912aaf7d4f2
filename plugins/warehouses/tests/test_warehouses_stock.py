"""Stock per warehouse: receipts into a purchase order's warehouse, reservations and shipments
from a sales order's, a direct invoice's stock out of its own, adjustments per warehouse; the
figures per warehouse in the API and on the product page, checked at each step."""
from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

from sqlalchemy import select

from crm.models import StockLocation
from warehouses_helpers import add_warehouse, choose, purchase_order, sales_order, signed_in


def at(api, warehouse, product_id):
    """(on hand, reserved, available, incoming) of a product at a warehouse, through the API."""
    rows = api.get(f"/warehouses/{warehouse['id']}/stock", params={"product_id": product_id}).json()["items"]
    if not rows:
        return ("0", "0", "0", "0")
    row, = rows
    return (row["on_hand"], row["reserved"], row["available"], row["incoming"])


def totals(api, product_id):
    figures = api.get(f"/products/{product_id}/stock").json()
    return (figures["on_hand"], figures["reserved"], figures["available"], figures["incoming"])


def test_each_warehouse_owns_a_stock_location(api, look):
    made = add_warehouse(api, "MAD", "Madrid")
    location = look(lambda s: s.get(StockLocation, made["location_id"]))
    assert (location.plugin, location.code, location.name) == ("warehouses", "MAD", "Madrid")
    api.patch(f"/warehouses/{made['id']}", json={"code": "MAD1", "name": "Madrid 1"})
    location = look(lambda s: s.get(StockLocation, made["location_id"]))
    assert (location.code, location.name) == ("MAD1", "Madrid 1")
    assert api.delete(f"/warehouses/{made['id']}").status_code == 204
    assert look(lambda s: s.scalars(select(StockLocation.code).where(StockLocation.plugin == "warehouses")).all()) == []


def test_stock_follows_the_documents_warehouses(api, catalog, runner):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD", "Madrid"), add_warehouse(api, "BCN", "Barcelona")

    # a purchase received into the second warehouse, in part
    po = purchase_order(api, c, [{"item_id": c.widget, "quantity": "10"}], status="Created")
    choose(api, po["id"], bcn["id"])
    po = api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"}).json()
    assert at(api, bcn, c.widget) == ("0", "0", "0", "10") and at(api, mad, c.widget) == ("0", "0", "0", "0")
    received = api.post(f"/purchase-orders/{po['id']}/receipts",
                        json={"lines": [{"line_id": po["lines"][0]["id"], "quantity": "6"}]})
    assert received.status_code == 200, received.text
    assert at(api, bcn, c.widget) == ("6", "0", "6", "4") and at(api, mad, c.widget) == ("0", "0", "0", "0")
    assert totals(api, c.widget) == ("6", "0", "6", "4")

    # a sales order of the first warehouse finds nothing there; of the second it reserves and ships
    from_mad = sales_order(api, c, [{"item_id": c.widget, "quantity": "2"}])
    choose(api, from_mad["id"], mad["id"])
    refused = api.patch(f"/sales-orders/{from_mad['id']}", json={"status": "Approved"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "insufficient_stock"
    assert at(api, bcn, c.widget) == ("6", "0", "6", "4")
    from_bcn = sales_order(api, c, [{"item_id": c.widget, "quantity": "2"}])
    choose(api, from_bcn["id"], bcn["id"])
    assert api.patch(f"/sales-orders/{from_bcn['id']}", json={"status": "Approved"}).status_code == 200
    assert at(api, bcn, c.widget) == ("6", "2", "4", "4") and totals(api, c.widget) == ("6", "2", "4", "4")
    assert choose(api, from_bcn["id"], mad["id"]).status_code == 409   # it reserved: its warehouse stays
    shipped = api.post(f"/sales-orders/{from_bcn['id']}/shipments")
    assert shipped.status_code == 200, shipped.text
    assert at(api, bcn, c.widget) == ("4", "0", "4", "4")

    # adjustments per warehouse: a signed one and a count, each of its warehouse only
    added = api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "5",
                                                                   "reason": "found"})
    assert added.status_code == 201 and added.json()["location_id"] == mad["location_id"]
    assert at(api, mad, c.widget) == ("5", "0", "5", "0")
    counted = api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "counted_quantity": "3",
                                                                     "reason": "count_correction"})
    assert counted.status_code == 201 and counted.json()["quantity"] == "-2"
    assert at(api, mad, c.widget) == ("3", "0", "3", "0") and at(api, bcn, c.widget) == ("4", "0", "4", "4")
    too_many = api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "-4",
                                                                      "reason": "lost"})
    assert too_many.status_code == 409 and at(api, mad, c.widget) == ("3", "0", "3", "0")

    # the core's adjustments go to the warehouse the user works in
    api.put("/warehouses/default", json={"warehouse_id": bcn["id"]})
    assert api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "-1",
                                                "reason": "damaged"}).status_code == 201
    assert at(api, bcn, c.widget) == ("3", "0", "3", "4") and at(api, mad, c.widget) == ("3", "0", "3", "0")

    # now the first warehouse's order reserves and ships from there
    assert api.patch(f"/sales-orders/{from_mad['id']}", json={"status": "Approved"}).status_code == 200
    assert at(api, mad, c.widget) == ("3", "2", "1", "0")
    assert api.post(f"/sales-orders/{from_mad['id']}/shipments").status_code == 200
    assert at(api, mad, c.widget) == ("1", "0", "1", "0")

    # a direct invoice takes its stock out of its warehouse
    invoice = api.post("/invoices", json={"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "2"}]})
    assert invoice.json()["warehouses_warehouse_code"] == "BCN"   # the user's warehouse
    assert api.patch(f"/invoices/{invoice.json()['id']}", json={"status": "Approved"}).status_code == 200
    assert at(api, bcn, c.widget) == ("1", "0", "1", "4") and at(api, mad, c.widget) == ("1", "0", "1", "0")
    assert totals(api, c.widget) == ("2", "0", "2", "4")

    verified = runner.invoke(["stock", "verify"])
    assert verified.exit_code == 0, verified.output

    # a warehouse with stock is not deleted
    refused = api.delete(f"/warehouses/{mad['id']}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "warehouse_has_stock"


def test_an_inactive_warehouse_takes_no_new_commitments(api, catalog):
    c = catalog
    mad = add_warehouse(api, "MAD")
    assert api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "5",
                                                                  "reason": "found"}).status_code == 201
    order = sales_order(api, c, [{"item_id": c.widget, "quantity": "1"}])
    choose(api, order["id"], mad["id"])
    api.patch(f"/warehouses/{mad['id']}", json={"active": False})
    refused = api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "warehouse_inactive"
    refused = api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "1",
                                                                     "reason": "found"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "warehouse_inactive"
    assert at(api, mad, c.widget) == ("5", "0", "5", "0")
    # moved stock: not deleted even when emptied
    api.patch(f"/warehouses/{mad['id']}", json={"active": True})
    api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "-5", "reason": "lost"})
    refused = api.delete(f"/warehouses/{mad['id']}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "warehouse_has_moves"


def test_who_sees_and_adjusts_a_warehouses_stock(api, api_as, catalog):
    mad = add_warehouse(api, "MAD")
    for role in ("warehouse", "purchasing", "sales"):
        assert api_as(role).get(f"/warehouses/{mad['id']}/stock").status_code == 200
    assert api_as("accounting").get(f"/warehouses/{mad['id']}/stock").status_code == 403
    body = {"product_id": catalog.widget, "quantity": "1", "reason": "found"}
    assert api_as("sales").post(f"/warehouses/{mad['id']}/adjustments", json=body).status_code == 403
    assert api_as("warehouse").post(f"/warehouses/{mad['id']}/adjustments", json=body).status_code == 201
    assert api.get("/warehouses/999/stock").status_code == 404
    for bad, field in [({**body, "product_id": 999}, "product_id"), ({**body, "reason": "whim"}, "reason"),
                       ({**body, "quantity": "1.0001"}, "quantity")]:
        refused = api.post(f"/warehouses/{mad['id']}/adjustments", json=bad)
        assert refused.status_code == 422 and field in refused.json()["error"]["fields"], refused.text


def test_available_is_the_users_warehouses(app, api, catalog, make_user, look):
    from crm.context import acting_as
    from crm.services import stock
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "5", "reason": "found"})
    api.post(f"/warehouses/{bcn['id']}/adjustments", json={"product_id": c.widget, "quantity": "2", "reason": "found"})
    user = make_user("sales")

    def available(session):
        with acting_as(session.merge(user)):
            return stock.available(session, [c.widget, c.gadget])
    assert look(available) == {c.widget: Decimal("7"), c.gadget: Decimal("0")}   # no warehouse: the totals
    from warehouses_helpers import set_default
    set_default(look, user.id, bcn["id"])
    assert look(available) == {c.widget: Decimal("2"), c.gadget: Decimal("0")}


def test_the_product_page_shows_the_stock_per_warehouse(app, api, catalog, make_user):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD", "Madrid"), add_warehouse(api, "BCN", "Barcelona")
    add_warehouse(api, "OLD", "Closed", active=False)
    api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "1234.5",
                                                           "reason": "found"})
    po = purchase_order(api, c, [{"item_id": c.widget, "quantity": "3"}], status="Created")
    choose(api, po["id"], bcn["id"])
    api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"})
    client = signed_in(app.test_client(), make_user("sales", language="es"))
    html = client.get(f"/products/{c.widget}").get_data(as_text=True)
    assert "Existencias por almacén" in html
    assert ('<tr data-warehouse="MAD"><td><strong>MAD</strong> Madrid</td>\n        <td class="num">1.234,5</td>'
            in html), html[html.find("warehouses-stock"):][:1500]
    bcn_row = html[html.index('<tr data-warehouse="BCN">'):]
    assert bcn_row[:bcn_row.index("</tr>")].count('<td class="num">3</td>') == 1     # incoming
    assert 'data-warehouse="OLD"' not in html and 'data-warehouse=""' not in html
    accounting = signed_in(app.test_client(), make_user("accounting"))
    assert "Stock per warehouse" not in accounting.get(f"/products/{c.widget}").get_data(as_text=True)


def test_a_line_may_name_its_own_warehouse(app, api, catalog, make_user):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    add_warehouse(api, "OLD", active=False)
    lines = [{"item_id": c.widget, "quantity": "4"}, {"item_id": c.widget, "quantity": "6", "custom": {"warehouses_warehouse": "MAD"}}]
    for code, reason in (("NOPE", "no warehouse has the code NOPE"), ("OLD", "warehouse OLD is inactive")):
        refused = api.post("/purchase-orders", json={"vendor_id": c.vendor, "lines": [
            lines[0], {**lines[1], "custom": {"warehouses_warehouse": code}}]})
        assert refused.status_code == 422
        assert refused.json()["error"]["fields"] == {"lines.1.custom.warehouses_warehouse": [reason]}
    refused = api.post("/purchase-orders", json={"vendor_id": c.vendor, "lines": [{**lines[0], "custom": {"warehouses_warehouse": 7}}]})
    assert refused.status_code == 422 and "lines.0.custom.warehouses_warehouse" in refused.json()["error"]["fields"]

    po = purchase_order(api, c, lines, status="Created")
    assert po["lines"][1]["custom"] == {"warehouses_warehouse": "MAD"}
    choose(api, po["id"], bcn["id"])
    po = api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"}).json()
    assert at(api, bcn, c.widget) == ("0", "0", "0", "4") and at(api, mad, c.widget) == ("0", "0", "0", "6")
    assert api.post(f"/purchase-orders/{po['id']}/receipts").status_code == 200
    assert at(api, bcn, c.widget) == ("4", "0", "4", "0") and at(api, mad, c.widget) == ("6", "0", "6", "0")

    order = api.post("/sales-orders", json={"account_id": c.account, "lines": [
        {"item_id": c.widget, "quantity": "5", "custom": {"warehouses_warehouse": "MAD"}},
        {"item_id": c.widget, "quantity": "1"}]}).json()
    choose(api, order["id"], bcn["id"])
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    assert at(api, mad, c.widget) == ("6", "5", "1", "0") and at(api, bcn, c.widget) == ("4", "1", "3", "0")
    client = signed_in(app.test_client(), make_user("sales"))
    html = client.get(f"/sales-orders/{order['id']}").get_data(as_text=True)
    assert "Line 1 (Widget): <strong>MAD</strong>" in html
    assert api.post(f"/sales-orders/{order['id']}/shipments").status_code == 200
    assert at(api, mad, c.widget) == ("1", "0", "1", "0") and at(api, bcn, c.widget) == ("3", "0", "3", "0")


def test_disabled_the_stock_stays_where_it_is_and_new_moves_go_to_the_default_location(app, api, catalog, runner,
                                                                                      make_user):
    c = catalog
    mad = add_warehouse(api, "MAD")
    api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "5", "reason": "found"})
    po = purchase_order(api, c, [{"item_id": c.widget, "quantity": "2"}], status="Created")
    choose(api, po["id"], mad["id"])
    po = api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"}).json()

    assert runner.invoke(["plugins", "disable", "warehouses"]).exit_code == 0
    assert "warehouses_warehouse_id" not in api.get(f"/purchase-orders/{po['id']}").json()
    assert api.post(f"/purchase-orders/{po['id']}/receipts").status_code == 200   # to the default location
    assert totals(api, c.widget) == ("7", "0", "7", "0")
    assert runner.invoke(["stock", "verify"]).exit_code == 0

    assert runner.invoke(["plugins", "enable", "warehouses"]).exit_code == 0
    assert at(api, mad, c.widget) == ("5", "0", "5", "0")
    assert api.get(f"/purchase-orders/{po['id']}").json()["warehouses_warehouse_code"] == "MAD"
    assert totals(api, c.widget) == ("7", "0", "7", "0")
    html = signed_in(app.test_client(), make_user("warehouse")).get(f"/products/{c.widget}").get_data(as_text=True)
    assert ('<tr data-warehouse=""><td>Default location (no warehouse)</td>\n        <td class="num">2</td>'
            in html), html[html.find("warehouses-stock"):][:1500]


def test_the_warehouse_page_lists_its_stock(app, api, catalog, make_user):
    c = catalog
    mad = add_warehouse(api, "MAD", "Madrid", address="Calle Mayor 1")
    empty = add_warehouse(api, "BCN", "Barcelona")
    api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.gadget, "quantity": "2.5", "reason": "found"})
    po = purchase_order(api, c, [{"item_id": c.widget, "quantity": "3"}], status="Created")
    choose(api, po["id"], mad["id"])
    api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"})
    client = signed_in(app.test_client(), make_user("purchasing", language="es"))
    assert f'href="/warehouses/{mad["id"]}">MAD</a>' in client.get("/warehouses/").get_data(as_text=True)
    html = client.get(f"/warehouses/{mad['id']}").get_data(as_text=True)
    assert "<h1>MAD · Madrid</h1>" in html and "Calle Mayor 1" in html and "Editar" not in html
    assert (f'<tr data-product="{c.gadget}"><td>G-1</td><td><a href="/products/{c.gadget}">Gadget</a></td>\n'
            '      <td class="num">2,5</td><td class="num">0</td>\n      <td class="num">2,5</td><td class="num">0</td></tr>') in html
    assert (f'<tr data-product="{c.widget}"><td>W-1</td>') in html and '<td class="num">3</td></tr>' in html
    assert "No hay existencias" in client.get(f"/warehouses/{empty['id']}").get_data(as_text=True)
    assert client.get("/warehouses/999").status_code == 404


def test_the_warehouse_page_and_its_stock_api_go_a_page_at_a_time(app, api, catalog, make_user):
    mad = add_warehouse(api, "MAD", "Madrid")
    made = []
    for n in range(5):
        product = api.post("/products", json={"name": f"Paged {n}", "sku": f"PG-{n}", "unit_price": "1"}).json()
        api.post(f"/warehouses/{mad['id']}/adjustments",
                 json={"product_id": product["id"], "quantity": str(n + 1), "reason": "found"})
        made.append(str(product["id"]))
    api.post("/products", json={"name": "Not here", "sku": "PG-X", "unit_price": "1"})

    pages = [api.get(f"/warehouses/{mad['id']}/stock", params={"per_page": 2, "page": n}).json() for n in (1, 2, 3, 9)]
    assert [[row["sku"] for row in page["items"]] for page in pages] == [["PG-0", "PG-1"], ["PG-2", "PG-3"], ["PG-4"],
                                                                        ["PG-4"]]   # past the last page: the last
    assert {(page["total"], page["per_page"]) for page in pages} == {(5, 2)} and pages[-1]["page"] == 3
    assert api.get(f"/warehouses/{mad['id']}/stock", params={"per_page": 201}).status_code == 422

    client = signed_in(app.test_client(), make_user("warehouse"))
    html = client.get(f"/warehouses/{mad['id']}?per_page=2").get_data(as_text=True)
    seen = []
    while True:
        seen += re.findall(r'<tr data-product="(\d+)">', html)
        following = re.search(r'<a href="([^"]+)" rel="next">', html)
        if following is None:
            break
        html = client.get(unescape(following.group(1))).get_data(as_text=True)
    assert seen == made and "5–5 of 5" in html
    assert "Next" not in client.get(f"/warehouses/{mad['id']}").get_data(as_text=True)   # one page: no links
