"""Many clients at the same moment on PostgreSQL: nothing oversold, nothing lost, no number twice."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.postgres_only


def all_at_once(count, call):
    """Run ``call(i)`` in ``count`` threads released together; return the results."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait()
        return call(i)
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_twenty_clients_creating_documents_never_share_a_number(api_as, catalog):
    clients = [api_as("sales") for _ in range(20)]
    body = {"account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": "1"}]}
    responses = all_at_once(20, lambda i: clients[i].post("/quotes", json=body))
    assert [r.status_code for r in responses] == [201] * 20
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == [f"QUO-{n:04d}" for n in range(1, 21)]


def test_the_last_unit_is_sold_once(api, api_as, catalog):
    api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": "1", "reason": "found"})
    clients = [api_as("sales") for _ in range(16)]
    orders = [clients[i].post("/sales-orders", json={
        "account_id": catalog.account, "lines": [{"item_id": catalog.widget, "quantity": "1"}]}).json()
        for i in range(16)]
    responses = all_at_once(16, lambda i: clients[i].patch(f"/sales-orders/{orders[i]['id']}",
                                                           json={"status": "Approved"}))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 15
    assert all(r.json()["error"]["code"] == "insufficient_stock" for r in responses if r.status_code == 409)
    assert api.get(f"/products/{catalog.widget}/stock").json() == {
        "on_hand": "1", "reserved": "1", "available": "0", "incoming": "0"}


def test_concurrent_receipts_and_shipments_lose_no_move(api, api_as, catalog, runner):
    po = api.post("/purchase-orders", json={"vendor_id": catalog.vendor,
                                            "lines": [{"item_id": catalog.widget, "quantity": "100"}]}).json()
    api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"})
    api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": "40", "reason": "found"})
    orders = []
    for _ in range(8):
        so = api.post("/sales-orders", json={"account_id": catalog.account,
                                             "lines": [{"item_id": catalog.widget, "quantity": "5"}]}).json()
        orders.append(api.patch(f"/sales-orders/{so['id']}", json={"status": "Approved"}).json())
    line = po["lines"][0]["id"]
    clients = [api_as("warehouse") for _ in range(16)]

    def act(i):
        if i < 8:  # 8 receipts of 10 units of the same purchase order line
            return clients[i].post(f"/purchase-orders/{po['id']}/receipts",
                                   json={"lines": [{"line_id": line, "quantity": "10"}]})
        return clients[i].post(f"/sales-orders/{orders[i - 8]['id']}/shipments")
    responses = all_at_once(16, act)
    assert [r.status_code for r in responses] == [200] * 16, [r.text for r in responses if r.status_code != 200]
    # 40 found + 80 received - 40 shipped
    assert api.get(f"/products/{catalog.widget}/stock").json() == {
        "on_hand": "80", "reserved": "0", "available": "80", "incoming": "20"}
    moves = api.get(f"/stock/moves?product_id={catalog.widget}&per_page=200").json()
    assert moves["total"] == 1 + 8 + 8
    assert api.get(f"/purchase-orders/{po['id']}").json()["lines"][0]["received"] == "80"
    assert runner.invoke(["stock", "verify"]).exit_code == 0


def test_receipts_racing_for_the_rest_of_a_line_never_exceed_it(api, api_as, catalog):
    po = api.post("/purchase-orders", json={"vendor_id": catalog.vendor,
                                            "lines": [{"item_id": catalog.gadget, "quantity": "10"}]}).json()
    api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"})
    line = po["lines"][0]["id"]
    clients = [api_as("warehouse") for _ in range(6)]
    responses = all_at_once(6, lambda i: clients[i].post(f"/purchase-orders/{po['id']}/receipts",
                                                         json={"lines": [{"line_id": line, "quantity": "4"}]}))
    assert sorted(r.status_code for r in responses) == [200, 200, 409, 409, 409, 409]
    assert api.get(f"/products/{catalog.gadget}/stock").json()["on_hand"] == "8"
