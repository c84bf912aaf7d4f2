"""The stock ledger and order processing through the API, figures checked at each step."""
from __future__ import annotations


def stock_of(api, product_id):
    return api.get(f"/products/{product_id}/stock").json()


def approved_po(api, c, lines):
    po = api.post("/purchase-orders", json={"vendor_id": c.vendor, "lines": lines}).json()
    return api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"}).json()


def so(api, c, lines, **extra):
    return api.post("/sales-orders", json={"account_id": c.account, "lines": lines, **extra}).json()


def test_buy_receive_in_parts_then_sell_reserve_ship_invoice(api, catalog):
    c = catalog
    po = approved_po(api, c, [{"item_id": c.widget, "quantity": "10"}, {"item_id": c.gadget, "quantity": "4"}])
    assert stock_of(api, c.widget) == {"on_hand": "0", "reserved": "0", "available": "0", "incoming": "10"}
    wl = po["lines"][0]["id"]
    r = api.post(f"/purchase-orders/{po['id']}/receipts", json={"lines": [{"line_id": wl, "quantity": "6"}]})
    assert r.status_code == 200, r.text
    assert [line["received"] for line in r.json()["lines"]] == ["6", "0"] and r.json()["status"] == "Approved"
    assert stock_of(api, c.widget)["on_hand"] == "6" and stock_of(api, c.widget)["incoming"] == "4"
    too_much = api.post(f"/purchase-orders/{po['id']}/receipts", json={"lines": [{"line_id": wl, "quantity": "5"}]})
    assert too_much.status_code == 409 and "lines.0.quantity" in too_much.json()["error"]["fields"]
    assert api.patch(f"/purchase-orders/{po['id']}", json={"status": "Cancelled"}).status_code == 409
    rest = api.post(f"/purchase-orders/{po['id']}/receipts").json()
    assert rest["status"] == "Received Shipment" and [line["received"] for line in rest["lines"]] == ["10", "4"]
    assert stock_of(api, c.widget) == {"on_hand": "10", "reserved": "0", "available": "10", "incoming": "0"}

    order = so(api, c, [{"item_id": c.widget, "quantity": "7"}, {"item_id": c.consulting, "quantity": "2"},
                        {"item_id": c.kit, "quantity": "1"}])
    approved = api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
    assert approved.status_code == 200, approved.text
    # 7 widgets + the kit's 2 widgets and 1 gadget; the service reserves nothing
    assert stock_of(api, c.widget) == {"on_hand": "10", "reserved": "9", "available": "1", "incoming": "0"}
    assert stock_of(api, c.gadget)["reserved"] == "1"
    lines = approved.json()["lines"]
    assert [line["reserved"] for line in lines] == ["7", "0", "1"]

    first = api.post(f"/sales-orders/{order['id']}/shipments",
                     json={"lines": [{"line_id": lines[0]["id"], "quantity": "3"}]}).json()
    assert first["status"] == "Approved" and first["lines"][0]["shipped"] == "3"
    assert stock_of(api, c.widget) == {"on_hand": "7", "reserved": "6", "available": "1", "incoming": "0"}
    rest = api.post(f"/sales-orders/{order['id']}/shipments").json()
    assert rest["status"] == "Delivered"
    assert stock_of(api, c.widget) == {"on_hand": "1", "reserved": "0", "available": "1", "incoming": "0"}
    assert stock_of(api, c.gadget) == {"on_hand": "3", "reserved": "0", "available": "3", "incoming": "0"}

    inv1 = api.post(f"/sales-orders/{order['id']}/invoices",
                    json={"lines": [{"line_id": lines[0]["id"], "quantity": "5"}]})
    assert inv1.status_code == 201, inv1.text
    assert inv1.json()["totals"]["subtotal"] == "99.95" and inv1.json()["source"]["id"] == order["id"]
    over = api.post(f"/sales-orders/{order['id']}/invoices",
                    json={"lines": [{"line_id": lines[0]["id"], "quantity": "3"}]})
    assert over.status_code == 409 and "only 2 left" in over.json()["error"]["message"]
    inv2 = api.post(f"/sales-orders/{order['id']}/invoices").json()
    assert [line["quantity"] for line in inv2["lines"]] == ["2", "2", "1"]
    invoiced = api.get(f"/sales-orders/{order['id']}").json()["lines"]
    assert [line["invoiced"] for line in invoiced] == ["7", "2", "1"]
    # invoices from a sales order never move stock
    api.patch(f"/invoices/{inv2['id']}", json={"status": "Sent"})
    assert stock_of(api, c.widget)["on_hand"] == "1"
    # cancelling an invoice gives its quantities back to the order
    api.patch(f"/invoices/{inv2['id']}", json={"status": "Cancelled"})
    assert [line["invoiced"] for line in api.get(f"/sales-orders/{order['id']}").json()["lines"]] == ["5", "0", "0"]

    moves = api.get(f"/stock/moves?product_id={c.widget}").json()
    assert [m["quantity"] for m in moves["items"]] == ["-2", "-4", "-3", "4", "6"]
    assert [m["kind"] for m in moves["items"]][:2] == ["bundle_component", "shipment"]


def test_short_stock_refuses_approval_listing_the_items(api, catalog):
    c = catalog
    api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "2", "reason": "found"})
    order = so(api, c, [{"item_id": c.widget, "quantity": "3"}, {"item_id": c.gadget, "quantity": "1"}])
    r = api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "insufficient_stock"
    assert "Widget (short by 1)" in error["message"] and "Gadget (short by 1)" in error["message"]
    assert stock_of(api, c.widget)["reserved"] == "0"
    assert api.get(f"/sales-orders/{order['id']}").json()["status"] == "Created"


def test_backorders_setting_reserves_what_there_is(api, catalog, session):
    from crm.services.settings import set_setting
    set_setting(session, "allow_backorders", True)
    session.commit()
    c = catalog
    api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "2", "reason": "found"})
    order = so(api, c, [{"item_id": c.widget, "quantity": "5"}])
    approved = api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).json()
    assert approved["status"] == "Approved"
    assert approved["lines"][0]["reserved"] == "2" and approved["lines"][0]["backorder"] == "3"
    assert stock_of(api, c.widget)["available"] == "0"


def test_cancelling_releases_reservations(api, catalog):
    c = catalog
    api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "5", "reason": "found"})
    order = so(api, c, [{"item_id": c.widget, "quantity": "4"}])
    api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
    assert stock_of(api, c.widget)["reserved"] == "4"
    api.patch(f"/sales-orders/{order['id']}", json={"status": "Cancelled"})
    assert stock_of(api, c.widget) == {"on_hand": "5", "reserved": "0", "available": "5", "incoming": "0"}


def test_direct_invoice_moves_stock_out_and_back(api, catalog):
    c = catalog
    api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "5", "reason": "found"})
    inv = api.post("/invoices", json={"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "2"}]}).json()
    assert stock_of(api, c.widget)["on_hand"] == "5"
    api.patch(f"/invoices/{inv['id']}", json={"status": "Approved"})
    assert stock_of(api, c.widget)["on_hand"] == "3"
    api.patch(f"/invoices/{inv['id']}", json={"status": "Sent"})
    assert stock_of(api, c.widget)["on_hand"] == "3"
    api.patch(f"/invoices/{inv['id']}", json={"status": "Cancelled"})
    assert stock_of(api, c.widget)["on_hand"] == "5"


def test_adjustments(api, catalog):
    c = catalog
    r = api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "-1", "reason": "damaged"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_stock"
    assert api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "8", "reason": "found",
                                                "note": "back room"}).status_code == 201
    counted = api.post("/stock/adjustments", json={"product_id": c.widget, "counted_quantity": "6",
                                                   "reason": "count_correction"}).json()
    assert counted["quantity"] == "-2" and counted["kind"] == "adjustment"
    assert stock_of(api, c.widget)["on_hand"] == "6"
    for body, field in [({"product_id": c.widget, "reason": "found"}, "quantity"),
                        ({"product_id": c.widget, "quantity": "1", "counted_quantity": "1", "reason": "found"}, "quantity"),
                        ({"product_id": c.consulting, "quantity": "1", "reason": "found"}, "product_id"),
                        ({"product_id": c.kit, "quantity": "1", "reason": "found"}, "product_id"),
                        ({"product_id": c.widget, "quantity": "1", "reason": "stolen"}, "reason"),
                        ({"product_id": c.widget, "quantity": "x", "reason": "found"}, "quantity")]:
        r = api.post("/stock/adjustments", json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)
    assert stock_of(api, c.widget)["on_hand"] == "6"


def test_bundle_stock_is_made_of_its_components(api, catalog):
    c = catalog
    api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "5", "reason": "found"})
    api.post("/stock/adjustments", json={"product_id": c.gadget, "quantity": "4", "reason": "found"})
    assert stock_of(api, c.kit)["available"] == "2"  # min(5 // 2, 4 // 1)


def test_stock_verify_agrees_with_the_ledger(api, catalog, runner, session):
    c = catalog
    api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "5", "reason": "found"})
    order = so(api, c, [{"item_id": c.widget, "quantity": "2"}])
    api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
    result = runner.invoke(["stock", "verify"])
    assert result.exit_code == 0 and "agree" in result.output
    from sqlalchemy import update

    from crm.models import Item
    session.execute(update(Item).where(Item.id == c.widget).values(on_hand=9))
    session.commit()
    result = runner.invoke(["stock", "verify"])
    assert result.exit_code == 1 and "Widget" in result.output and "ledger says 5" in result.output


def test_whole_flow_walk_with_adjustment_and_three_months_of_recurring_invoices(api, catalog, runner):
    """The issue's walk: buy, receive in two parts, sell, reserve, ship in two parts,
    invoice in two parts, adjust, and a recurring invoice over three months."""
    c = catalog
    po = approved_po(api, c, [{"item_id": c.widget, "quantity": "8"}])
    line = po["lines"][0]["id"]
    api.post(f"/purchase-orders/{po['id']}/receipts", json={"lines": [{"line_id": line, "quantity": "5"}]})
    assert stock_of(api, c.widget) == {"on_hand": "5", "reserved": "0", "available": "5", "incoming": "3"}
    assert api.post(f"/purchase-orders/{po['id']}/receipts").json()["status"] == "Received Shipment"
    assert stock_of(api, c.widget) == {"on_hand": "8", "reserved": "0", "available": "8", "incoming": "0"}

    order = so(api, c, [{"item_id": c.widget, "quantity": "6"}, {"item_id": c.consulting, "quantity": "1"}],
               recurring={"frequency": "monthly", "start_date": "2027-01-31"})
    approved = api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).json()
    widget_line = approved["lines"][0]["id"]
    assert stock_of(api, c.widget) == {"on_hand": "8", "reserved": "6", "available": "2", "incoming": "0"}
    api.post(f"/sales-orders/{order['id']}/shipments", json={"lines": [{"line_id": widget_line, "quantity": "2"}]})
    assert stock_of(api, c.widget) == {"on_hand": "6", "reserved": "4", "available": "2", "incoming": "0"}
    assert api.post(f"/sales-orders/{order['id']}/shipments").json()["status"] == "Delivered"
    assert stock_of(api, c.widget) == {"on_hand": "2", "reserved": "0", "available": "2", "incoming": "0"}

    # 4 x 19.99 = 79.96 + IVA 21 % 16.79 (16.7916) = 96.75
    first = api.post(f"/sales-orders/{order['id']}/invoices",
                     json={"lines": [{"line_id": widget_line, "quantity": "4"}]}).json()
    assert first["totals"]["grand_total"] == "96.75"
    # the rest: 2 x 19.99 = 39.98 + 8.40 (8.3958); 1 h x 40.00 + 8.40 = 48.40; total 96.78
    rest = api.post(f"/sales-orders/{order['id']}/invoices").json()
    assert rest["totals"]["grand_total"] == "96.78"
    assert [line["invoiced"] for line in api.get(f"/sales-orders/{order['id']}").json()["lines"]] == ["6", "1"]

    api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "-1", "reason": "damaged"})
    assert stock_of(api, c.widget) == {"on_hand": "1", "reserved": "0", "available": "1", "incoming": "0"}

    result = runner.invoke(["jobs", "run-due", "--today", "2027-03-31"])
    assert result.exit_code == 0, result.output
    related = api.get(f"/sales-orders/{order['id']}/related").json()["items"]
    recurring = sorted(api.get(f"/invoices/{d['id']}").json()["invoice_date"] for d in related
                       if d["type"] == "invoice" and d["id"] not in (first["id"], rest["id"]))
    assert recurring == ["2027-01-31", "2027-02-28", "2027-03-31"]
    # the whole order each month: 6 x 19.99 = 119.94 + IVA 25.19 (25.1874) + 40.00 + IVA 8.40 = 193.53
    assert {api.get(f"/invoices/{d['id']}").json()["totals"]["grand_total"] for d in related
            if d["type"] == "invoice" and d["id"] not in (first["id"], rest["id"])} == {"193.53"}
    assert stock_of(api, c.widget)["on_hand"] == "1"  # invoices from an order never move stock
    assert runner.invoke(["stock", "verify"]).exit_code == 0
