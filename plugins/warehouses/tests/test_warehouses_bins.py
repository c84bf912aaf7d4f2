"""Locations inside a warehouse: the tree of zones, aisles, shelves and bins; receipts put away
into a line's bin or the product's default bin; a sales order's picking list in bin order and
its shipment taking from the bins in that order; moves between bins and putting away; counting a
bin; bad input refused with nothing changed. Every figure checked per bin and per warehouse."""
from __future__ import annotations

from warehouses_helpers import add_warehouse, choose, purchase_order, sales_order


def add_bin(api, warehouse, kind, code, parent=None, **extra):
    made = api.post(f"/warehouses/{warehouse['id']}/bins",
                    json={"kind": kind, "code": code, "parent_id": parent["id"] if parent else None, **extra})
    assert made.status_code == 201, made.text
    return made.json()


def shelf_of_bins(api, warehouse, *codes):
    """Zone A, aisle 03, shelf 2 and the bins ``codes`` on it (by code)."""
    zone = add_bin(api, warehouse, "zone", "A", name="Picking zone")
    aisle = add_bin(api, warehouse, "aisle", "03", zone)
    shelf = add_bin(api, warehouse, "shelf", "2", aisle)
    return {"zone": zone, "aisle": aisle, "shelf": shelf, **{code: add_bin(api, warehouse, "bin", code, shelf)
                                                             for code in codes}}


def held(api, warehouse, product_id=None):
    """``{path or None: quantity}`` of a product (or ``(path, product_id)`` for all) in a warehouse."""
    params = {"product_id": product_id} if product_id else {}
    answer = api.get(f"/warehouses/{warehouse['id']}/bins/stock", params=params)
    assert answer.status_code == 200, answer.text
    if product_id:
        return {row["path"]: row["quantity"] for row in answer.json()["items"]}
    return {(row["path"], row["product_id"]): row["quantity"] for row in answer.json()["items"]}


def on_hand(api, warehouse, product_id):
    rows = api.get(f"/warehouses/{warehouse['id']}/stock", params={"product_id": product_id}).json()["items"]
    return rows[0]["on_hand"] if rows else "0"


def receive_all(api, po):
    received = api.post(f"/purchase-orders/{po['id']}/receipts")
    assert received.status_code == 200, received.text
    return received.json()


def adjust(api, warehouse, product_id, quantity):
    made = api.post(f"/warehouses/{warehouse['id']}/adjustments",
                    json={"product_id": product_id, "quantity": quantity, "reason": "found"})
    assert made.status_code == 201, made.text


def test_the_tree_of_a_warehouse(api):
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    tree = shelf_of_bins(api, mad, "B1", "B2")
    assert tree["B1"]["path"] == "A / 03 / 2 / B1" and tree["zone"]["name"] == "Picking zone"
    listed = api.get(f"/warehouses/{mad['id']}/bins").json()["items"]
    assert [n["path"] for n in listed] == ["A", "A / 03", "A / 03 / 2", "A / 03 / 2 / B1", "A / 03 / 2 / B2"]
    assert api.get(f"/warehouses/{bcn['id']}/bins").json()["items"] == []

    def refused(body, field):
        answer = api.post(f"/warehouses/{mad['id']}/bins", json=body)
        assert answer.status_code == 422 and field in answer.json()["error"]["fields"], answer.text
    refused({"kind": "bin", "code": "X", "parent_id": tree["B1"]["id"]}, "parent_id")      # nothing inside a bin
    refused({"kind": "zone", "code": "Z", "parent_id": tree["aisle"]["id"]}, "parent_id")  # a zone in an aisle
    refused({"kind": "bin", "code": "B1", "parent_id": tree["shelf"]["id"]}, "code")       # taken on that shelf
    refused({"kind": "cupboard", "code": "C"}, "kind")
    refused({"kind": "bin", "code": "a/b"}, "code")
    other = add_bin(api, bcn, "zone", "A")
    refused({"kind": "aisle", "code": "01", "parent_id": other["id"]}, "parent_id")        # BCN's zone
    assert api.get(f"/warehouses/{bcn['id']}/bins/{tree['B1']['id']}").status_code == 404
    assert [n["path"] for n in api.get(f"/warehouses/{mad['id']}/bins").json()["items"]][-1] == "A / 03 / 2 / B2"

    # a new code: the paths under it follow
    renamed = api.patch(f"/warehouses/{mad['id']}/bins/{tree['aisle']['id']}", json={"code": "04"})
    assert renamed.status_code == 200 and renamed.json()["path"] == "A / 04"
    assert api.get(f"/warehouses/{mad['id']}/bins/{tree['B2']['id']}").json()["path"] == "A / 04 / 2 / B2"

    # deleting: not with locations inside, yes when empty
    assert api.delete(f"/warehouses/{mad['id']}/bins/{tree['shelf']['id']}").json()["error"]["code"] == \
        "bin_has_children"
    assert api.delete(f"/warehouses/{mad['id']}/bins/{tree['B2']['id']}").status_code == 204
    assert len(api.get(f"/warehouses/{mad['id']}/bins").json()["items"]) == 4


def test_receipts_are_put_away_and_the_picking_list_follows_the_bins(api, catalog, runner):
    c = catalog
    mad = add_warehouse(api, "MAD")
    tree = shelf_of_bins(api, mad, "B1", "B2", "B3")
    assert api.put(f"/warehouses/{mad['id']}/default-bins/{c.gadget}",
                   json={"bin_id": tree["B3"]["id"]}).json()["path"] == "A / 03 / 2 / B3"
    defaults = api.get(f"/warehouses/{mad['id']}/default-bins").json()["items"]
    assert [(d["product_id"], d["path"]) for d in defaults] == [(c.gadget, "A / 03 / 2 / B3")]

    # a receipt into two bins: the first line names B2, the second the same product's B1, the
    # gadget goes to its default bin, and a third widget line without a bin is not put away
    po = purchase_order(api, c, [{"item_id": c.widget, "quantity": "6", "custom": {"warehouses_bin": tree["B2"]["id"]}},
                                 {"item_id": c.widget, "quantity": "4", "custom": {"warehouses_bin": tree["B1"]["id"]}},
                                 {"item_id": c.gadget, "quantity": "5"},
                                 {"item_id": c.widget, "quantity": "3"}], status="Created")
    choose(api, po["id"], mad["id"])
    assert api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"}).status_code == 200
    receive_all(api, po)
    assert on_hand(api, mad, c.widget) == "13" and on_hand(api, mad, c.gadget) == "5"
    assert held(api, mad) == {("A / 03 / 2 / B1", c.widget): "4", ("A / 03 / 2 / B2", c.widget): "6",
                              ("A / 03 / 2 / B3", c.gadget): "5", (None, c.widget): "3"}

    # the picking list of an order of 12 widgets and 2 gadgets: B1, B2 (the rest of the widgets),
    # B3, then what is not put away
    order = sales_order(api, c, [{"item_id": c.gadget, "quantity": "2"}, {"item_id": c.widget, "quantity": "8"},
                                 {"item_id": c.widget, "quantity": "4"}])
    choose(api, order["id"], mad["id"])
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    picking = api.get(f"/warehouses/picking-lists/{order['id']}")
    assert picking.status_code == 200, picking.text
    assert [(p["path"], p["line_number"], p["sku"], p["quantity"]) for p in picking.json()["items"]] == [
        ("A / 03 / 2 / B1", 2, "W-1", "4"), ("A / 03 / 2 / B2", 2, "W-1", "4"), ("A / 03 / 2 / B2", 3, "W-1", "2"),
        ("A / 03 / 2 / B3", 1, "G-1", "2"), (None, 3, "W-1", "2")]
    assert {p["warehouse_code"] for p in picking.json()["items"]} == {"MAD"}

    # shipping takes from the bins as the list says
    part = api.post(f"/sales-orders/{order['id']}/shipments",
                    json={"lines": [{"line_id": order["lines"][1]["id"], "quantity": "5"}]})
    assert part.status_code == 200, part.text
    assert held(api, mad, c.widget) == {"A / 03 / 2 / B2": "5", None: "3"}
    assert [(p["path"], p["line_number"], p["quantity"]) for p in
            api.get(f"/warehouses/picking-lists/{order['id']}").json()["items"]] == [
        ("A / 03 / 2 / B2", 2, "3"), ("A / 03 / 2 / B2", 3, "2"), ("A / 03 / 2 / B3", 1, "2"), (None, 3, "2")]
    assert api.post(f"/sales-orders/{order['id']}/shipments").status_code == 200
    assert held(api, mad) == {("A / 03 / 2 / B3", c.gadget): "3", (None, c.widget): "1"}
    assert on_hand(api, mad, c.widget) == "1" and on_hand(api, mad, c.gadget) == "3"
    assert api.get(f"/warehouses/picking-lists/{order['id']}").json()["items"] == []
    assert runner.invoke(["stock", "verify"]).exit_code == 0

    # a purchase order has no picking list
    assert api.get(f"/warehouses/picking-lists/{po['id']}").status_code == 404


def test_a_line_naming_a_bin_elsewhere_refuses_the_receipt(api, catalog):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    theirs = shelf_of_bins(api, bcn, "B1")["B1"]
    shelf_of_bins(api, mad, "B1")
    po = purchase_order(api, c, [{"item_id": c.gadget, "quantity": "1"},
                                 {"item_id": c.widget, "quantity": "2", "custom": {"warehouses_bin": theirs["id"]}}],
                        status="Created")
    choose(api, po["id"], mad["id"])
    po = api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"}).json()
    refused = api.post(f"/purchase-orders/{po['id']}/receipts")
    assert refused.status_code == 409, refused.text
    assert "lines.1.custom.warehouses_bin" in refused.json()["error"]["fields"]
    assert on_hand(api, mad, c.widget) == "0" and held(api, mad) == {}
    assert api.get(f"/purchase-orders/{po['id']}").json()["lines"][1]["received"] == "0"

    # an unknown bin, or a shelf, is refused when the order is saved
    for value, where in ((999999, "lines.0.custom.warehouses_bin"),):
        bad = api.post("/purchase-orders", json={"vendor_id": c.vendor, "lines": [
            {"item_id": c.widget, "quantity": "1", "custom": {"warehouses_bin": value}}]})
        assert bad.status_code == 422 and where in bad.json()["error"]["fields"], bad.text
    sales = api.post("/sales-orders", json={"account_id": c.account, "lines": [
        {"item_id": c.widget, "quantity": "1", "custom": {"warehouses_bin": theirs["id"]}}]})
    assert sales.status_code == 422 and "lines.0.custom.warehouses_bin" in sales.json()["error"]["fields"]


def test_moves_between_bins_and_putting_away(api, catalog, runner):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    tree = shelf_of_bins(api, mad, "B1", "B2")
    elsewhere = shelf_of_bins(api, bcn, "B1")["B1"]
    adjust(api, mad, c.widget, "10")
    assert held(api, mad, c.widget) == {None: "10"}   # an adjustment of the warehouse is not put away

    def move(**body):
        return api.post(f"/warehouses/{mad['id']}/bins/moves", json={"product_id": c.widget, **body})

    put = move(to_bin_id=tree["B1"]["id"], quantity="7")
    assert put.status_code == 201, put.text
    assert held(api, mad, c.widget) == {"A / 03 / 2 / B1": "7", None: "3"}
    assert move(from_bin_id=tree["B1"]["id"], to_bin_id=tree["B2"]["id"], quantity="2").status_code == 201
    assert held(api, mad, c.widget) == {"A / 03 / 2 / B1": "5", "A / 03 / 2 / B2": "2", None: "3"}

    def refused(answer, status, field):
        assert answer.status_code == status and field in answer.json()["error"]["fields"], answer.text
        assert held(api, mad, c.widget) == {"A / 03 / 2 / B1": "5", "A / 03 / 2 / B2": "2", None: "3"}
    refused(move(from_bin_id=tree["B1"]["id"], to_bin_id=tree["B2"]["id"], quantity="6"), 409, "quantity")
    refused(move(to_bin_id=tree["B2"]["id"], quantity="4"), 409, "quantity")              # 3 not put away
    refused(move(from_bin_id=tree["B1"]["id"], to_bin_id=elsewhere["id"], quantity="1"), 422, "to_bin_id")
    refused(move(from_bin_id=999999, to_bin_id=tree["B2"]["id"], quantity="1"), 422, "from_bin_id")
    refused(move(from_bin_id=tree["B1"]["id"], to_bin_id=tree["shelf"]["id"], quantity="1"), 422, "to_bin_id")
    refused(move(from_bin_id=tree["B1"]["id"], to_bin_id=tree["B1"]["id"], quantity="1"), 422, "to_bin_id")
    refused(move(from_bin_id=tree["B1"]["id"], to_bin_id=tree["B2"]["id"], quantity="0"), 422, "quantity")
    refused(move(from_bin_id=tree["B1"]["id"], quantity="-1"), 422, "quantity")
    spare = add_bin(api, mad, "bin", "B9", tree["shelf"], active=False)
    refused(move(from_bin_id=tree["B1"]["id"], to_bin_id=spare["id"], quantity="1"), 422, "to_bin_id")
    assert on_hand(api, mad, c.widget) == "10"

    # a bin holding stock is neither deleted nor deactivated, nor is the zone above it
    assert api.delete(f"/warehouses/{mad['id']}/bins/{tree['B2']['id']}").json()["error"]["code"] == "bin_has_stock"
    off = api.patch(f"/warehouses/{mad['id']}/bins/{tree['zone']['id']}", json={"active": False})
    assert off.status_code == 409 and off.json()["error"]["code"] == "bin_has_stock", off.text
    # back to not put away, then B2 can go
    assert move(from_bin_id=tree["B2"]["id"], quantity="2").status_code == 201
    assert api.delete(f"/warehouses/{mad['id']}/bins/{tree['B2']['id']}").status_code == 204
    assert held(api, mad, c.widget) == {"A / 03 / 2 / B1": "5", None: "5"}
    assert runner.invoke(["stock", "verify"]).exit_code == 0


def test_counting_a_bin_adjusts_that_bin_and_the_warehouse(api, catalog, runner):
    c = catalog
    mad = add_warehouse(api, "MAD")
    tree = shelf_of_bins(api, mad, "B1", "B2")
    adjust(api, mad, c.widget, "10")
    api.post(f"/warehouses/{mad['id']}/bins/moves", json={"product_id": c.widget, "to_bin_id": tree["B1"]["id"],
                                                         "quantity": "4"})
    api.post(f"/warehouses/{mad['id']}/bins/moves", json={"product_id": c.widget, "to_bin_id": tree["B2"]["id"],
                                                         "quantity": "4"})

    def count(bin_id, quantity):
        return api.post(f"/warehouses/{mad['id']}/bins/counts", json={"bin_id": bin_id, "product_id": c.widget,
                                                                      "counted_quantity": quantity})
    more = count(tree["B1"]["id"], "7")
    assert more.status_code == 201, more.text
    assert (more.json()["quantity"], more.json()["difference"]) == ("7", "3")
    assert held(api, mad, c.widget) == {"A / 03 / 2 / B1": "7", "A / 03 / 2 / B2": "4", None: "2"}
    assert on_hand(api, mad, c.widget) == "13"
    fewer = count(tree["B2"]["id"], "1")
    assert fewer.json()["difference"] == "-3"
    assert held(api, mad, c.widget) == {"A / 03 / 2 / B1": "7", "A / 03 / 2 / B2": "1", None: "2"}
    assert on_hand(api, mad, c.widget) == "10"
    moves = api.get("/stock/moves", params={"product_id": c.widget}).json()["items"]
    assert [(m["quantity"], m["reason"]) for m in moves[:2]] == [("-3", "count_correction"), ("3", "count_correction")]

    # nothing to change, a shelf, a negative count: refused, nothing changed
    assert count(tree["B1"]["id"], "7").status_code == 422
    assert count(tree["shelf"]["id"], "7").status_code == 422
    assert count(tree["B1"]["id"], "-1").status_code == 422
    assert on_hand(api, mad, c.widget) == "10"

    # the warehouse counted lower than its bins hold: what is not put away goes first, then the bins
    counted = api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "counted_quantity": "5",
                                                                     "reason": "count_correction"})
    assert counted.status_code == 201, counted.text
    assert held(api, mad, c.widget) == {"A / 03 / 2 / B1": "4", "A / 03 / 2 / B2": "1"}
    assert on_hand(api, mad, c.widget) == "5"
    assert runner.invoke(["stock", "verify"]).exit_code == 0


def test_transfers_leave_and_reach_the_bins(api, catalog):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    here = shelf_of_bins(api, mad, "B1", "B2")
    there = shelf_of_bins(api, bcn, "R1")
    adjust(api, mad, c.widget, "10")
    for code, quantity in (("B1", "3"), ("B2", "5")):
        api.post(f"/warehouses/{mad['id']}/bins/moves", json={"product_id": c.widget, "to_bin_id": here[code]["id"],
                                                             "quantity": quantity})
    api.put(f"/warehouses/{bcn['id']}/default-bins/{c.widget}", json={"bin_id": there["R1"]["id"]})
    transfer = api.post("/warehouses/transfers", json={"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"],
                                                       "lines": [{"product_id": c.widget, "quantity": "4"}]}).json()
    assert api.post(f"/warehouses/transfers/{transfer['id']}/ship").status_code == 200
    assert held(api, mad, c.widget) == {"A / 03 / 2 / B2": "4", None: "2"}
    assert api.post(f"/warehouses/transfers/{transfer['id']}/receive").status_code == 200
    assert held(api, bcn, c.widget) == {"A / 03 / 2 / R1": "4"}


def test_without_bins_a_warehouse_is_one_location(api, catalog):
    c = catalog
    mad = add_warehouse(api, "MAD")
    po = purchase_order(api, c, [{"item_id": c.widget, "quantity": "3"}], status="Created")
    choose(api, po["id"], mad["id"])
    api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"})
    receive_all(api, po)
    assert on_hand(api, mad, c.widget) == "3" and held(api, mad) == {}
    order = sales_order(api, c, [{"item_id": c.widget, "quantity": "2"}])
    choose(api, order["id"], mad["id"])
    api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
    picks = api.get(f"/warehouses/picking-lists/{order['id']}").json()["items"]
    assert [(p["warehouse_code"], p["path"], p["quantity"]) for p in picks] == [("MAD", None, "2")]
    assert api.post(f"/sales-orders/{order['id']}/shipments").status_code == 200
    assert on_hand(api, mad, c.widget) == "1"
