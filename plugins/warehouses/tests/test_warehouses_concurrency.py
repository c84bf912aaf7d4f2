"""Reservations stay safe per warehouse: clients racing for the last units of one warehouse never
take them twice (PostgreSQL, where requests really run at once)."""
from __future__ import annotations

import pytest

from crm.testing import all_at_once
from warehouses_helpers import add_warehouse


@pytest.mark.postgres_only
def test_sixteen_clients_never_oversell_a_warehouse(live_api, live_api_as, catalog, runner):
    """MAD holds 3 widgets and BCN 40: enough in all, so only MAD's stock can refuse the 8
    orders from MAD; the 8 from BCN all get theirs."""
    c = catalog
    mad, bcn = add_warehouse(live_api, "MAD"), add_warehouse(live_api, "BCN")
    for warehouse, quantity in ((mad, "3"), (bcn, "40")):
        assert live_api.post(f"/warehouses/{warehouse['id']}/adjustments", json={
            "product_id": c.widget, "quantity": quantity, "reason": "found"}).status_code == 201
    clients = [live_api_as("sales") for _ in range(16)]
    orders = []
    for i, client in enumerate(clients):
        order = client.post("/sales-orders", json={"account_id": c.account,
                                                   "lines": [{"item_id": c.widget, "quantity": "1"}]}).json()
        where = mad if i % 2 == 0 else bcn
        assert client.put(f"/warehouses/documents/{order['id']}", json={"warehouse_id": where["id"]}).status_code == 200
        orders.append(order)
    responses = all_at_once(16, lambda i: clients[i].patch(f"/sales-orders/{orders[i]['id']}",
                                                           json={"status": "Approved"}))
    from_mad = sorted(r.status_code for r in responses[0::2])
    from_bcn = sorted(r.status_code for r in responses[1::2])
    assert from_mad == [200] * 3 + [409] * 5, [r.text for r in responses if r.status_code not in (200, 409)]
    assert from_bcn == [200] * 8
    rows = {w["id"]: live_api.get(f"/warehouses/{w['id']}/stock").json()["items"][0] for w in (mad, bcn)}
    assert (rows[mad["id"]]["on_hand"], rows[mad["id"]]["reserved"], rows[mad["id"]]["available"]) == ("3", "3", "0")
    assert (rows[bcn["id"]]["on_hand"], rows[bcn["id"]]["reserved"], rows[bcn["id"]]["available"]) == ("40", "8", "32")
    assert runner.invoke(["stock", "verify"]).exit_code == 0


@pytest.mark.postgres_only
def test_moves_racing_for_a_bins_last_units_never_both_get_them(live_api, live_api_as, catalog):
    """B1 holds 3 widgets; 8 clients each move 1 to B2 at once and 4 more try to put 2 away from
    what is not put away (1 left): exactly 3 moves and none of the put-aways get through."""
    from test_warehouses_bins import shelf_of_bins
    product_id = catalog.widget
    mad = add_warehouse(live_api, "MAD")
    tree = shelf_of_bins(live_api, mad, "B1", "B2")
    assert live_api.post(f"/warehouses/{mad['id']}/adjustments", json={
        "product_id": product_id, "quantity": "4", "reason": "found"}).status_code == 201
    assert live_api.post(f"/warehouses/{mad['id']}/bins/moves", json={
        "product_id": product_id, "to_bin_id": tree["B1"]["id"], "quantity": "3"}).status_code == 201
    clients = [live_api_as("warehouse") for _ in range(12)]

    def call(i):
        body = ({"from_bin_id": tree["B1"]["id"], "to_bin_id": tree["B2"]["id"], "quantity": "1"} if i < 8 else
                {"to_bin_id": tree["B2"]["id"], "quantity": "2"})
        return clients[i].post(f"/warehouses/{mad['id']}/bins/moves", json={"product_id": product_id, **body})
    responses = all_at_once(12, call)
    assert sorted(r.status_code for r in responses[:8]) == [201] * 3 + [409] * 5, [r.text for r in responses]
    assert [r.status_code for r in responses[8:]] == [409] * 4
    rows = {row["path"]: row["quantity"] for row in
            live_api.get(f"/warehouses/{mad['id']}/bins/stock").json()["items"]}
    assert rows == {"A / 03 / 2 / B2": "3", None: "1"}


@pytest.mark.postgres_only
def test_racing_first_reorder_levels_of_a_product_in_a_warehouse_all_succeed(live_api, live_api_as, catalog):
    """Eight clients setting a product's first level in a warehouse at once: each answers 200 and
    one row remains (no duplicate key for the ones that found none when they started)."""
    mad = add_warehouse(live_api, "MAD")
    clients = [live_api_as("warehouse") for _ in range(8)]
    responses = all_at_once(8, lambda i: clients[i].put(
        f"/warehouses/{mad['id']}/reorder-levels/{catalog.widget}", json={"reorder_level": str(i + 1)}))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    own = live_api.get(f"/warehouses/{mad['id']}/reorder-levels").json()
    rows = own["items"] if isinstance(own, dict) else own
    assert len(rows) == 1 and rows[0]["reorder_level"] in {str(i) for i in range(1, 9)}
