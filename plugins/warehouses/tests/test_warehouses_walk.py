"""A user's script through two warehouses, over real HTTP and the command line: a purchase
received into the second warehouse, a transfer shipped and received in two parts, a sales order
reserving and shipping from each warehouse, an adjustment per warehouse, a receipt put away into
two bins and the order's picking list in bin order, replenishment drafting purchase orders (the
company's totals, then one warehouse's own levels), the plugin disabled and enabled again.

After every step every stock figure is read back: per warehouse and product on hand, reserved,
available and incoming (``GET /warehouses/<id>/stock``), what each bin holds, what is in transit,
the products' totals, and ``crm stock verify``; the whole picture is compared with what the step
should leave, so a figure that moves where it should not fails the step."""
from __future__ import annotations

from decimal import Decimal

from warehouses_helpers import add_warehouse, choose

W, G = "W-1", "G-1"
AGREES = "stock quantities agree with the ledger"


def qty(value) -> str:
    return f"{Decimal(value).normalize():f}"


def four(row: dict) -> str:
    """``on hand/reserved/available/incoming``."""
    return "/".join(qty(row[name]) for name in ("on_hand", "reserved", "available", "incoming"))


def state(*, total, MAD=None, BCN=None, transit=None, MAD_bins=None, BCN_bins=None, enabled=True) -> dict:
    """What :meth:`Walk.figures` should read: each warehouse's products (``{sku: four}``, a product
    it neither holds, has reserved nor expects left out), its bins (``{(bin code or None, sku):
    quantity}``, None: on hand, not put away), what is in transit, the products' totals; disabled,
    only the totals."""
    seen = {"total": total, "ledger": AGREES}
    if enabled:
        seen |= {"MAD": MAD or {}, "BCN": BCN or {}, "in transit": transit or {},
                 "MAD bins": MAD_bins or {}, "BCN bins": BCN_bins or {}}
    return seen


class Walk:
    def __init__(self, api, runner, catalog):
        self.api, self.runner, self.c = api, runner, catalog
        self.products = {W: catalog.widget, G: catalog.gadget}
        self.warehouses: dict[str, dict] = {}

    def ok(self, response, status=200) -> dict:
        assert response.status_code == status, response.text
        return response.json()

    def cli(self, *args) -> str:
        done = self.runner.invoke(list(args))
        assert done.exit_code == 0, done.output
        return done.output

    def figures(self, *, enabled=True) -> dict:
        """Every stock figure of both warehouses and the products' totals, read through the API
        (and the ledger's check through the command line), in the shape of :func:`state`."""
        api = self.api
        seen = {"total": {sku: four(self.ok(api.get(f"/products/{pid}/stock"))) for sku, pid in self.products.items()},
                "ledger": self.runner.invoke(["stock", "verify"]).output.strip()}
        if not enabled:
            assert api.get("/warehouses").status_code == 404
            return seen
        for code in ("MAD", "BCN"):
            seen[code], seen[f"{code} bins"] = {}, {}
            warehouse = self.warehouses.get(code)
            if warehouse is None:      # not made yet
                continue
            rows = {}
            for sku, pid in self.products.items():
                items = self.ok(api.get(f"/warehouses/{warehouse['id']}/stock", params={"product_id": pid}))["items"]
                assert len(items) <= 1 and all(item["sku"] == sku for item in items), items
                if items:
                    rows[sku] = four(items[0])
            listed = self.ok(api.get(f"/warehouses/{warehouse['id']}/stock"))["items"]
            assert {item["sku"]: four(item) for item in listed} == rows     # and no other product
            seen[code] = rows
            held = self.ok(api.get(f"/warehouses/{warehouse['id']}/bins/stock"))["items"]
            seen[f"{code} bins"] = {(row["path"].rsplit(" / ", 1)[-1] if row["path"] else None, row["sku"]):
                                    qty(row["quantity"]) for row in held}
        skus = {pid: sku for sku, pid in self.products.items()}
        seen["in transit"] = {skus[row["product_id"]]: qty(row["quantity"])
                              for row in self.ok(api.get("/warehouses/transfers/in-transit"))["items"]}
        return seen

    def status(self, path: str, document_id: int, status: str) -> dict:
        return self.ok(self.api.patch(f"/{path}/{document_id}", json={"status": status}))


def test_a_walk_through_two_warehouses(live_api, runner, catalog):
    api, c = live_api, catalog
    walk = Walk(api, runner, c)
    nothing = {W: "0/0/0/0", G: "0/0/0/0"}
    assert walk.figures() == state(total=nothing)

    # 1. two warehouses; the admin works in Madrid (their new documents get it)
    mad = walk.warehouses["MAD"] = add_warehouse(api, "MAD", "Madrid")
    bcn = walk.warehouses["BCN"] = add_warehouse(api, "BCN", "Barcelona", address="Carrer de Mallorca 1")
    assert [w["code"] for w in walk.ok(api.get("/warehouses"))["items"]] == ["BCN", "MAD"]
    assert walk.ok(api.put("/warehouses/default", json={"warehouse_id": mad["id"]}))["warehouse_id"] == mad["id"]
    assert walk.figures() == state(total=nothing)

    # 2. a purchase order for Barcelona: expected there once approved, received in two parts
    po = walk.ok(api.post("/purchase-orders", json={"vendor_id": c.vendor, "lines": [
        {"item_id": c.widget, "quantity": "20"}, {"item_id": c.gadget, "quantity": "10"}]}), 201)
    assert po["warehouses_warehouse_code"] == "MAD"
    assert walk.ok(choose(api, po["id"], bcn["id"]))["warehouse_id"] == bcn["id"]
    assert walk.figures() == state(total=nothing)                                       # a draft expects nothing
    po = walk.status("purchase-orders", po["id"], "Approved")
    assert po["warehouses_warehouse_code"] == "BCN"
    assert walk.figures() == state(BCN={W: "0/0/0/20", G: "0/0/0/10"}, total={W: "0/0/0/20", G: "0/0/0/10"})
    walk.ok(api.post(f"/purchase-orders/{po['id']}/receipts",
                     json={"lines": [{"line_id": po["lines"][0]["id"], "quantity": "12"}]}))
    assert walk.figures() == state(BCN={W: "12/0/12/8", G: "0/0/0/10"}, total={W: "12/0/12/8", G: "0/0/0/10"})
    walk.ok(api.post(f"/purchase-orders/{po['id']}/receipts"))
    assert walk.figures() == state(BCN={W: "20/0/20/0", G: "10/0/10/0"}, total={W: "20/0/20/0", G: "10/0/10/0"})
    assert choose(api, po["id"], mad["id"]).status_code == 409                          # it moved stock: locked

    # 3. a transfer from Barcelona to Madrid: a draft moves nothing; shipped, it is in transit and
    #    Madrid's incoming; received in part, then the rest
    transfer = walk.ok(api.post("/warehouses/transfers", json={
        "from_warehouse_id": bcn["id"], "to_warehouse_id": mad["id"], "note": "stock for Madrid",
        "lines": [{"product_id": c.widget, "quantity": "8"}, {"product_id": c.gadget, "quantity": "4"}]}), 201)
    assert transfer["status"] == "draft" and transfer["number"].startswith("TR-")
    assert walk.figures() == state(BCN={W: "20/0/20/0", G: "10/0/10/0"}, total={W: "20/0/20/0", G: "10/0/10/0"})
    shipped = walk.ok(api.post(f"/warehouses/transfers/{transfer['id']}/ship"))
    assert shipped["status"] == "shipped" and [line["in_transit"] for line in shipped["lines"]] == ["8", "4"]
    assert walk.figures() == state(MAD={W: "0/0/0/8", G: "0/0/0/4"}, BCN={W: "12/0/12/0", G: "6/0/6/0"},
                                   transit={W: "8", G: "4"}, total={W: "20/0/20/0", G: "10/0/10/0"})
    widget_line = shipped["lines"][0]["id"]
    part = walk.ok(api.post(f"/warehouses/transfers/{transfer['id']}/receive",
                            json={"lines": [{"line_id": widget_line, "quantity": "5"}]}))
    assert part["status"] == "shipped"
    assert [(line["qty_received"], line["in_transit"]) for line in part["lines"]] == [("5", "3"), ("0", "4")]
    assert walk.figures() == state(MAD={W: "5/0/5/3", G: "0/0/0/4"}, BCN={W: "12/0/12/0", G: "6/0/6/0"},
                                   transit={W: "3", G: "4"}, total={W: "20/0/20/0", G: "10/0/10/0"})
    rest = walk.ok(api.post(f"/warehouses/transfers/{transfer['id']}/receive"))
    assert rest["status"] == "received" and [line["in_transit"] for line in rest["lines"]] == ["0", "0"]
    assert walk.figures() == state(MAD={W: "8/0/8/0", G: "4/0/4/0"}, BCN={W: "12/0/12/0", G: "6/0/6/0"},
                                   total={W: "20/0/20/0", G: "10/0/10/0"})

    # 4. a sales order of Madrid whose third line ships from Barcelona: approved, it reserves in
    #    each; a first shipment takes part from Madrid and all of Barcelona's line
    order = walk.ok(api.post("/sales-orders", json={"account_id": c.account, "lines": [
        {"item_id": c.gadget, "quantity": "2"}, {"item_id": c.widget, "quantity": "6"},
        {"item_id": c.gadget, "quantity": "3", "custom": {"warehouses_warehouse": "BCN"}}]}), 201)
    assert order["warehouses_warehouse_code"] == "MAD"
    lines = [line["id"] for line in order["lines"]]
    assert walk.figures() == state(MAD={W: "8/0/8/0", G: "4/0/4/0"}, BCN={W: "12/0/12/0", G: "6/0/6/0"},
                                   total={W: "20/0/20/0", G: "10/0/10/0"})
    walk.status("sales-orders", order["id"], "Approved")
    assert walk.figures() == state(MAD={W: "8/6/2/0", G: "4/2/2/0"}, BCN={W: "12/0/12/0", G: "6/3/3/0"},
                                   total={W: "20/6/14/0", G: "10/5/5/0"})
    walk.ok(api.post(f"/sales-orders/{order['id']}/shipments", json={"lines": [
        {"line_id": lines[1], "quantity": "2"}, {"line_id": lines[2], "quantity": "3"}]}))
    assert walk.figures() == state(MAD={W: "6/4/2/0", G: "4/2/2/0"}, BCN={W: "12/0/12/0", G: "3/0/3/0"},
                                   total={W: "18/4/14/0", G: "7/2/5/0"})

    # 5. an adjustment per warehouse: 3 widgets found in Madrid, Barcelona's gadgets counted (2)
    found = walk.ok(api.post(f"/warehouses/{mad['id']}/adjustments",
                             json={"product_id": c.widget, "quantity": "3", "reason": "found"}), 201)
    assert found["location_id"] == mad["location_id"]
    assert walk.figures() == state(MAD={W: "9/4/5/0", G: "4/2/2/0"}, BCN={W: "12/0/12/0", G: "3/0/3/0"},
                                   total={W: "21/4/17/0", G: "7/2/5/0"})
    counted = walk.ok(api.post(f"/warehouses/{bcn['id']}/adjustments", json={
        "product_id": c.gadget, "counted_quantity": "2", "reason": "count_correction"}), 201)
    assert (counted["quantity"], counted["location_id"]) == ("-1", bcn["location_id"])
    assert walk.figures() == state(MAD={W: "9/4/5/0", G: "4/2/2/0"}, BCN={W: "12/0/12/0", G: "2/0/2/0"},
                                   total={W: "21/4/17/0", G: "6/2/4/0"})

    # 6. bins in Madrid (zone A, aisle 01, shelf 1, bins B1-B3; the gadget's default bin B3): the
    #    stock already there is not put away; a receipt puts two widget lines into the bins they
    #    name and the gadgets into their default bin; the order's picking list follows the bins
    def node(kind, code, parent=None):
        return walk.ok(api.post(f"/warehouses/{mad['id']}/bins", json={
            "kind": kind, "code": code, "parent_id": parent["id"] if parent else None}), 201)
    shelf = node("shelf", "1", node("aisle", "01", node("zone", "A")))
    b1, b2, b3 = (node("bin", code, shelf) for code in ("B1", "B2", "B3"))
    assert b2["path"] == "A / 01 / 1 / B2"
    assert walk.ok(api.put(f"/warehouses/{mad['id']}/default-bins/{c.gadget}", json={"bin_id": b3["id"]}))["path"] \
        == "A / 01 / 1 / B3"
    assert walk.figures() == state(MAD={W: "9/4/5/0", G: "4/2/2/0"}, BCN={W: "12/0/12/0", G: "2/0/2/0"},
                                   MAD_bins={(None, W): "9", (None, G): "4"}, total={W: "21/4/17/0", G: "6/2/4/0"})
    put_away = walk.ok(api.post("/purchase-orders", json={"vendor_id": c.vendor, "lines": [
        {"item_id": c.widget, "quantity": "5", "custom": {"warehouses_bin": b2["id"]}},
        {"item_id": c.widget, "quantity": "3", "custom": {"warehouses_bin": b1["id"]}},
        {"item_id": c.gadget, "quantity": "4"}]}), 201)
    assert put_away["warehouses_warehouse_code"] == "MAD"
    walk.status("purchase-orders", put_away["id"], "Approved")
    assert walk.figures() == state(MAD={W: "9/4/5/8", G: "4/2/2/4"}, BCN={W: "12/0/12/0", G: "2/0/2/0"},
                                   MAD_bins={(None, W): "9", (None, G): "4"}, total={W: "21/4/17/8", G: "6/2/4/4"})
    walk.ok(api.post(f"/purchase-orders/{put_away['id']}/receipts"))
    mad_bins = {("B1", W): "3", ("B2", W): "5", ("B3", G): "4", (None, W): "9", (None, G): "4"}
    assert walk.figures() == state(MAD={W: "17/4/13/0", G: "8/2/6/0"}, BCN={W: "12/0/12/0", G: "2/0/2/0"},
                                   MAD_bins=mad_bins, total={W: "29/4/25/0", G: "10/2/8/0"})
    picking = walk.ok(api.get(f"/warehouses/picking-lists/{order['id']}"))
    assert [(p["warehouse_code"], p["path"], p["line_number"], p["sku"], p["quantity"]) for p in picking["items"]] == [
        ("MAD", "A / 01 / 1 / B1", 2, W, "3"), ("MAD", "A / 01 / 1 / B2", 2, W, "1"),
        ("MAD", "A / 01 / 1 / B3", 1, G, "2")]
    walk.ok(api.post(f"/sales-orders/{order['id']}/shipments"))     # the rest, as the list says
    mad_bins = {("B2", W): "4", ("B3", G): "2", (None, W): "9", (None, G): "4"}
    assert walk.figures() == state(MAD={W: "13/0/13/0", G: "6/0/6/0"}, BCN={W: "12/0/12/0", G: "2/0/2/0"},
                                   MAD_bins=mad_bins, total={W: "25/0/25/0", G: "8/0/8/0"})
    assert walk.ok(api.get(f"/warehouses/picking-lists/{order['id']}"))["items"] == []
    after_the_order = state(MAD={W: "13/0/13/0", G: "6/0/6/0"}, BCN={W: "12/0/12/0", G: "2/0/2/0"},
                            MAD_bins=mad_bins, total={W: "25/0/25/0", G: "8/0/8/0"})

    # 7. replenishment. The company's: the widget's level 30 and quantity 40 (25 available:
    #    40 - 25 = 15 drafted for its vendor), the gadget low without a vendor. A draft expects nothing.
    walk.ok(api.patch(f"/products/{c.widget}", json={"reorder_level": "30", "reorder_quantity": "40"}))
    walk.ok(api.patch(f"/products/{c.gadget}", json={"reorder_level": "10"}))
    dry = walk.cli("stock", "replenish", "--dry-run")
    assert f"would draft\tvendor {c.vendor}\t15 x W-1" in dry and "not ordered\tG-1: no vendor" in dry
    drafted = walk.cli("stock", "replenish")
    number = drafted.split("\t", 1)[0]
    assert number.startswith("PO-") and f"\tvendor {c.vendor}\t15 x W-1" in drafted
    company_draft, = [d for d in walk.ok(api.get("/purchase-orders", params={"status": "Created"}))["items"]
                      if d["number"] == number]
    company_draft = walk.ok(api.get(f"/purchase-orders/{company_draft['id']}"))
    assert [(line["item_id"], line["quantity"]) for line in company_draft["lines"]] == [(c.widget, "15")]
    assert company_draft["warehouses_warehouse_code"] is None     # the command line works in no warehouse
    assert "nothing to order" in walk.cli("stock", "replenish")
    assert walk.figures() == after_the_order

    #    Barcelona's own: the widget's level there 15 and quantity 30 (12 available there: 18
    #    drafted for Barcelona; the company's draft, for no warehouse, is not Barcelona's)
    own = walk.ok(api.put(f"/warehouses/{bcn['id']}/reorder-levels/{c.widget}",
                          json={"reorder_level": "15", "reorder_quantity": "30"}))
    assert (own["reorder_level"], own["reorder_quantity"], own["own"]) == ("15", "30", True)
    assert walk.ok(api.get(f"/warehouses/{mad['id']}/reorder-levels/{c.widget}"))["own"] is False
    plan = walk.ok(api.post(f"/warehouses/{bcn['id']}/replenish", json={"dry_run": True}))
    assert [(o["vendor_id"], o["purchase_order_id"]) for o in plan["purchase_orders"]] == [(c.vendor, None)]
    assert [(n["product_id"], n["available"], n["incoming"], n["in_drafts"], n["target"], n["quantity"])
            for n in plan["purchase_orders"][0]["lines"]] == [(c.widget, "12", "0", "0", "30", "18")]
    assert [n["product_id"] for n in plan["without_vendor"]] == [c.gadget]     # 2 there, the product's level 10
    made = walk.ok(api.post(f"/warehouses/{bcn['id']}/replenish", json={}))
    bcn_draft = walk.ok(api.get(f"/purchase-orders/{made['purchase_orders'][0]['purchase_order_id']}"))
    assert (bcn_draft["status"], bcn_draft["warehouses_warehouse_code"]) == ("Created", "BCN")
    assert [(line["item_id"], line["quantity"]) for line in bcn_draft["lines"]] == [(c.widget, "18")]
    assert walk.figures() == after_the_order
    walk.status("purchase-orders", bcn_draft["id"], "Approved")
    assert walk.figures() == state(MAD={W: "13/0/13/0", G: "6/0/6/0"}, BCN={W: "12/0/12/18", G: "2/0/2/0"},
                                   MAD_bins=mad_bins, total={W: "25/0/25/18", G: "8/0/8/0"})
    again = walk.ok(api.post(f"/warehouses/{bcn['id']}/replenish", json={}))
    assert again["purchase_orders"] == [] and [n["incoming"] for n in again["covered"]] == ["18"]
    assert "nothing to order" in walk.cli("stock", "replenish")    # 25 + 18 incoming + 15 drafted >= 40

    # 8. a second order reserves 4 widgets in Barcelona; then the plugin is disabled: the totals
    #    stay, the order ships from where it reserved, a new adjustment goes to the default location
    second = walk.ok(api.post("/sales-orders", json={"account_id": c.account, "lines": [
        {"item_id": c.widget, "quantity": "4"}]}), 201)
    walk.ok(choose(api, second["id"], bcn["id"]))
    walk.status("sales-orders", second["id"], "Approved")
    assert walk.figures() == state(MAD={W: "13/0/13/0", G: "6/0/6/0"}, BCN={W: "12/4/8/18", G: "2/0/2/0"},
                                   MAD_bins=mad_bins, total={W: "25/4/21/18", G: "8/0/8/0"})
    assert walk.cli("plugins", "disable", "warehouses").strip() == "warehouses: disabled"
    plugins = {p["name"]: p["enabled"] for p in walk.ok(api.get("/plugins"))["items"]}
    assert plugins["warehouses"] is False
    assert walk.figures(enabled=False) == state(total={W: "25/4/21/18", G: "8/0/8/0"}, enabled=False)
    assert "warehouses_warehouse_code" not in walk.ok(api.get(f"/sales-orders/{second['id']}"))
    walk.ok(api.post(f"/sales-orders/{second['id']}/shipments"))
    assert walk.figures(enabled=False) == state(total={W: "21/0/21/18", G: "8/0/8/0"}, enabled=False)
    walk.ok(api.post("/stock/adjustments", json={"product_id": c.gadget, "quantity": "1", "reason": "found"}), 201)
    assert walk.figures(enabled=False) == state(total={W: "21/0/21/18", G: "9/0/9/0"}, enabled=False)
    #    a new order sells what the totals show, though nearly all of it is at the warehouses'
    #    locations: it reserves, and ships from the default location first (the gadget found),
    #    then the warehouses' in the order they were made (Madrid: 9 widgets, 2 gadgets)
    third = walk.ok(api.post("/sales-orders", json={"account_id": c.account, "lines": [
        {"item_id": c.widget, "quantity": "9"}, {"item_id": c.gadget, "quantity": "3"}]}), 201)
    walk.status("sales-orders", third["id"], "Approved")
    assert walk.figures(enabled=False) == state(total={W: "21/9/12/18", G: "9/3/6/0"}, enabled=False)
    walk.ok(api.post(f"/sales-orders/{third['id']}/shipments"))
    assert walk.figures(enabled=False) == state(total={W: "12/0/12/18", G: "6/0/6/0"}, enabled=False)

    # 9. enabled again: every warehouse's figures are back, with what happened meanwhile
    #    (Barcelona shipped 4 widgets, Madrid 9 widgets and 2 gadgets; the gadget found at the
    #    default location, in no warehouse, left with the third order)
    assert walk.cli("plugins", "enable", "warehouses").strip() == "warehouses: enabled"
    assert walk.figures() == state(MAD={W: "4/0/4/0", G: "4/0/4/0"}, BCN={W: "8/0/8/18", G: "2/0/2/0"},
                                   MAD_bins={("B2", W): "4", ("B3", G): "2", (None, G): "2"},
                                   total={W: "12/0/12/18", G: "6/0/6/0"})
    assert walk.ok(api.get(f"/sales-orders/{second['id']}"))["warehouses_warehouse_code"] == "BCN"
    assert walk.ok(api.get(f"/warehouses/{bcn['id']}/reorder-levels/{c.widget}"))["reorder_level"] == "15"
    assert walk.cli("stock", "verify").strip() == AGREES
