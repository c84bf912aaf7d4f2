"""Many clients at the same moment on PostgreSQL: nothing oversold, nothing lost, no number twice."""
from __future__ import annotations

from decimal import Decimal

import pytest

from crm.testing import all_at_once

pytestmark = pytest.mark.postgres_only



def test_twenty_clients_creating_documents_never_share_a_number(live_api_as, catalog):
    clients = [live_api_as("sales") for _ in range(20)]
    body = {"account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": "1"}]}
    responses = all_at_once(20, lambda i: clients[i].post("/quotes", json=body))
    assert [r.status_code for r in responses] == [201] * 20
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == [f"QUO-{n:04d}" for n in range(1, 21)]


def test_the_last_unit_is_sold_once(live_api, live_api_as, catalog):
    live_api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": "1", "reason": "found"})
    clients = [live_api_as("sales") for _ in range(16)]
    orders = [clients[i].post("/sales-orders", json={
        "account_id": catalog.account, "lines": [{"item_id": catalog.widget, "quantity": "1"}]}).json()
        for i in range(16)]
    responses = all_at_once(16, lambda i: clients[i].patch(f"/sales-orders/{orders[i]['id']}",
                                                           json={"status": "Approved"}))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 15
    assert all(r.json()["error"]["code"] == "insufficient_stock" for r in responses if r.status_code == 409)
    assert live_api.get(f"/products/{catalog.widget}/stock").json() == {
        "on_hand": "1", "reserved": "1", "available": "0", "incoming": "0"}


def test_concurrent_receipts_and_shipments_lose_no_move(live_api, live_api_as, catalog, runner):
    po = live_api.post("/purchase-orders", json={"vendor_id": catalog.vendor,
                                            "lines": [{"item_id": catalog.widget, "quantity": "100"}]}).json()
    live_api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"})
    live_api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": "40", "reason": "found"})
    orders = []
    for _ in range(8):
        so = live_api.post("/sales-orders", json={"account_id": catalog.account,
                                             "lines": [{"item_id": catalog.widget, "quantity": "5"}]}).json()
        orders.append(live_api.patch(f"/sales-orders/{so['id']}", json={"status": "Approved"}).json())
    line = po["lines"][0]["id"]
    clients = [live_api_as("warehouse") for _ in range(16)]

    def act(i):
        if i < 8:  # 8 receipts of 10 units of the same purchase order line
            return clients[i].post(f"/purchase-orders/{po['id']}/receipts",
                                   json={"lines": [{"line_id": line, "quantity": "10"}]})
        return clients[i].post(f"/sales-orders/{orders[i - 8]['id']}/shipments")
    responses = all_at_once(16, act)
    assert [r.status_code for r in responses] == [200] * 16, [r.text for r in responses if r.status_code != 200]
    # 40 found + 80 received - 40 shipped
    assert live_api.get(f"/products/{catalog.widget}/stock").json() == {
        "on_hand": "80", "reserved": "0", "available": "80", "incoming": "20"}
    moves = live_api.get(f"/stock/moves?product_id={catalog.widget}&per_page=200").json()
    assert moves["total"] == 1 + 8 + 8
    assert live_api.get(f"/purchase-orders/{po['id']}").json()["lines"][0]["received"] == "80"
    assert runner.invoke(["stock", "verify"]).exit_code == 0


def test_receipts_racing_for_the_rest_of_a_line_never_exceed_it(live_api, live_api_as, catalog):
    po = live_api.post("/purchase-orders", json={"vendor_id": catalog.vendor,
                                            "lines": [{"item_id": catalog.gadget, "quantity": "10"}]}).json()
    live_api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"})
    line = po["lines"][0]["id"]
    clients = [live_api_as("warehouse") for _ in range(6)]
    responses = all_at_once(6, lambda i: clients[i].post(f"/purchase-orders/{po['id']}/receipts",
                                                         json={"lines": [{"line_id": line, "quantity": "4"}]}))
    assert sorted(r.status_code for r in responses) == [200, 200, 409, 409, 409, 409]
    assert live_api.get(f"/products/{catalog.gadget}/stock").json()["on_hand"] == "8"


# --- orders of several products and bundles: the path that locks the products' rows ----------------

def mixed_orders(live_api, catalog) -> list[list[dict]]:
    """Lines whose products overlap: several products in either order, a bundle (2 widgets +
    1 gadget), a second bundle sharing its components (1 widget + 2 gadgets), a bundle beside
    one of its own components."""
    other_kit = live_api.post("/products", json={"name": "Pair kit", "unit_price": "20.00", "components": [
        {"product_id": catalog.widget, "quantity": "1"}, {"product_id": catalog.gadget, "quantity": "2"}]})
    assert other_kit.status_code == 201, other_kit.text
    other_kit = other_kit.json()["id"]

    def line(item, quantity):
        return {"item_id": item, "quantity": quantity}
    return [[line(catalog.widget, "2"), line(catalog.gadget, "1")],
            [line(catalog.gadget, "1"), line(catalog.widget, "1")],
            [line(catalog.kit, "1")],
            [line(other_kit, "1")],
            [line(catalog.kit, "1"), line(catalog.widget, "1")],
            [line(other_kit, "1"), line(catalog.gadget, "1"), line(catalog.kit, "1")]]


def race_approvals(live_api, live_api_as, catalog, rounds=3, clients=16):
    """``rounds`` times: stock for about half the demand, then ``clients`` approvals at once of
    orders mixing several products and overlapping bundles. Returns every response."""
    shapes = mixed_orders(live_api, catalog)
    responses = []
    for _ in range(rounds):
        for product in (catalog.widget, catalog.gadget):
            live_api.post("/stock/adjustments", json={"product_id": product, "quantity": "12", "reason": "found"})
        sellers = [live_api_as("sales") for _ in range(clients)]
        orders = [sellers[i].post("/sales-orders", json={"account_id": catalog.account,
                                                         "lines": shapes[i % len(shapes)]}).json()
                  for i in range(clients)]
        responses += all_at_once(clients, lambda i: sellers[i].patch(f"/sales-orders/{orders[i]['id']}",
                                                                     json={"status": "Approved"}))
    return responses


def assert_nothing_oversold(live_api, runner, catalog):
    for product in (catalog.widget, catalog.gadget):
        level = live_api.get(f"/products/{product}/stock").json()
        assert Decimal(level["available"]) >= 0, (product, level)  # reserved never beyond on hand
    verify = runner.invoke(["stock", "verify"])  # reserved = what the approved orders' lines hold
    assert verify.exit_code == 0, verify.output


def test_orders_of_several_products_and_bundles_racing_never_oversell(live_api, live_api_as, catalog, runner):
    responses = race_approvals(live_api, live_api_as, catalog)
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 409}, [r.text for r in responses if r.status_code not in (200, 409)]  # no deadlock
    assert all(r.json()["error"]["code"] == "insufficient_stock" for r in responses if r.status_code == 409)
    assert 200 in codes and 409 in codes
    assert_nothing_oversold(live_api, runner, catalog)


def test_with_backorders_racing_orders_reserve_no_unit_twice(live_api, live_api_as, catalog, runner, session):
    from crm.services.settings import set_setting
    set_setting(session, "allow_backorders", True)
    session.commit()
    responses = race_approvals(live_api, live_api_as, catalog)
    assert [r.status_code for r in responses] == [200] * len(responses), \
        [r.text for r in responses if r.status_code != 200]
    assert any(Decimal(line["backorder"]) > 0 for r in responses for line in r.json()["lines"])
    assert_nothing_oversold(live_api, runner, catalog)
