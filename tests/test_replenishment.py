"""Replenishment: the low products are ordered up to their reorder quantity (at least their
reorder level), counting what is incoming and what draft orders hold, in one draft purchase
order per vendor, never approved; a second run orders nothing more, and neither do two at once.
The same from the API, the command line and the low-stock page."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from crm.db import db
from crm.services.replenishment import replenish
from tests.test_web_pages import sign_in


@pytest.fixture
def shelf(api):
    """Vendors Acme and Bolt; products:
    - anvil (Acme): level 10, order up to 50, 5 on hand -> 45;
    - bolt (Acme): level 5, no reorder quantity, 2 on hand -> 3;
    - cog (Bolt): level 3, 3 on hand, 10 incoming on an approved order -> covered;
    - drum (no vendor): level 4, 1 on hand -> not ordered;
    - easel (Acme): level 2, 9 on hand -> not low."""
    acme = api.post("/vendors", json={"name": "Acme"}).json()["id"]
    bolt = api.post("/vendors", json={"name": "Bolt"}).json()["id"]

    def product(sku, vendor, level, quantity, on_hand, cost="2.50"):
        body = {"name": sku.title(), "sku": sku, "unit_price": "9.00", "purchase_cost": cost, "vendor_id": vendor,
                "reorder_level": str(level), "reorder_quantity": str(quantity)}
        created = api.post("/products", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["reorder_quantity"] == created.json()["reorder_level"].replace(str(level), str(quantity), 1), created.text
        pid = created.json()["id"]
        moved = api.post("/stock/adjustments", json={"product_id": pid, "quantity": str(on_hand), "reason": "found"})
        assert moved.status_code == 201, moved.text
        return pid

    ids = {"acme": acme, "bolt": bolt,
           "anvil": product("anvil", acme, 10, 50, 5, cost="12.00"), "bolt-m8": product("bolt-m8", acme, 5, 0, 2),
           "cog": product("cog", bolt, 3, 0, 3), "drum": product("drum", None, 4, 0, 1),
           "easel": product("easel", acme, 2, 0, 9)}
    order = api.post("/purchase-orders", json={"vendor_id": bolt, "lines": [{"item_id": ids["cog"], "quantity": "10"}]})
    assert api.patch(f"/purchase-orders/{order.json()['id']}", json={"status": "Approved"}).status_code == 200
    return ids


def drafts(api) -> list[dict]:
    found = api.get("/purchase-orders", params={"status": "Created"}).json()["items"]
    return sorted((api.get(f"/purchase-orders/{d['id']}").json() for d in found), key=lambda d: d["number"])


def lines_of(order) -> list[tuple]:
    return [(line["item_id"], line["quantity"], line["unit_price"]) for line in order["lines"]]


def test_the_shortfall_is_drafted_once_per_vendor_counting_what_is_on_its_way(api, shelf):
    answer = api.post("/stock/replenish", json={})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dry_run"] is False
    [order] = body["purchase_orders"]
    assert order["vendor_id"] == shelf["acme"] and order["number"]
    assert [(n["name"], n["quantity"], n["target"]) for n in order["lines"]] == [
        ("Anvil", "45", "50"), ("Bolt-M8", "3", "5")]
    assert [(n["name"], n["incoming"]) for n in body["covered"]] == [("Cog", "10")]
    assert [n["name"] for n in body["without_vendor"]] == ["Drum"]

    [draft] = drafts(api)
    assert draft["id"] == order["purchase_order_id"] and draft["status"] == "Created"
    assert draft["vendor_id"] == shelf["acme"]
    assert lines_of(draft) == [(shelf["anvil"], "45", "12.00"), (shelf["bolt-m8"], "3", "2.50")]

    again = api.post("/stock/replenish", json={}).json()
    assert again["purchase_orders"] == [] and len(drafts(api)) == 1
    assert {n["name"]: n["in_drafts"] for n in again["covered"]} == {"Anvil": "45", "Bolt-M8": "3",
                                                                    "Cog": "0"}


def test_a_dry_run_drafts_nothing_and_a_choice_of_products_orders_only_them(api, shelf):
    dry = api.post("/stock/replenish", json={"dry_run": True}).json()
    assert [o["purchase_order_id"] for o in dry["purchase_orders"]] == [None] and drafts(api) == []
    assert [n["quantity"] for n in dry["purchase_orders"][0]["lines"]] == ["45", "3"]

    chosen = api.post("/stock/replenish", json={"product_ids": [shelf["bolt-m8"], shelf["easel"]]}).json()
    assert [[n["name"] for n in o["lines"]] for o in chosen["purchase_orders"]] == [["Bolt-M8"]]
    assert len(drafts(api)) == 1


@pytest.mark.parametrize("body, field", [({"product_ids": []}, "product_ids"), ({"product_ids": ["x"]}, "product_ids.0"),
                                         ({"dry_run": "maybe"}, "dry_run"), ({"other": 1}, "other")])
def test_bad_requests_are_refused_naming_the_field(api, shelf, body, field):
    answer = api.post("/stock/replenish", json=body)
    assert answer.status_code == 422 and field in answer.json()["error"]["fields"]
    assert drafts(api) == []


def test_two_replenishments_at_once_order_once(app, api, shelf):
    errors = []

    def run():
        with app.app_context():
            session = db.new_session(app)
            try:
                replenish(session)
                session.commit()
            except Exception as exc:  # noqa: BLE001  the test says what went wrong
                errors.append(exc)
            finally:
                session.close()
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    [draft] = drafts(api)
    assert lines_of(draft)[0][:2] == (shelf["anvil"], "45")


def test_the_command_line_says_what_it_drafts(runner, api, shelf):
    dry = runner.invoke(["stock", "replenish", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would draft\tvendor" in dry.output and "45 x anvil, 3 x bolt-m8" in dry.output
    assert "not ordered\tdrum: no vendor" in dry.output and drafts(api) == []
    done = runner.invoke(["stock", "replenish"])
    assert done.exit_code == 0 and "PO-" in done.output
    assert "nothing to order: what is on its way covers" in runner.invoke(["stock", "replenish"]).output
    refused = runner.invoke(["stock", "replenish", "--product", "0"])
    assert refused.exit_code == 2 and "--product" in refused.output


def test_the_low_stock_page_orders_the_shortfall_for_purchasing_only(app, make_user, api, shelf):
    purchasing = sign_in(app, make_user, "purchasing")
    page = purchasing.get("/reports/low-stock").get_data(as_text=True)
    assert "Order the shortfall" in page
    warehouse = sign_in(app, make_user, "warehouse")
    assert "Order the shortfall" not in warehouse.get("/reports/low-stock").get_data(as_text=True)
    assert warehouse.post("/stock/replenish").status_code == 403 and drafts(api) == []

    done = purchasing.post("/stock/replenish", follow_redirects=True)
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "Drafted for approval: PO-" in text
    assert "Not ordered, for lack of a vendor: Drum" in text
    assert len(drafts(api)) == 1
    assert "Nothing to order" in purchasing.post("/stock/replenish", follow_redirects=True).get_data(as_text=True)
    assert Decimal("0") == Decimal(api.get(f"/products/{shelf['anvil']}/stock").json()["incoming"])
