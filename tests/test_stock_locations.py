"""Stock at locations: every move is at a location, the core keeps a balance per product and
location, and a plugin chooses the location of receipts, reservations, shipments, direct
invoices and adjustments (``crm_stock_location``). Without such a plugin everything is at the
one default location, which no page or API answer shows."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from crm import hookimpl
from crm.db import db
from crm.models import DocumentLine, StockMove
from crm.models.stock import DEFAULT_LOCATION_ID
from crm.money import decimal_text
from crm.services import stock
from crm.testing import registered_plugin
from tests.test_concurrency import all_at_once

D = Decimal


class Warehouses:
    """A test plugin with a second location, "B": receipts, reservations, direct invoices and
    adjustments go there while ``active``; it records each question it was asked."""

    def __init__(self, app):
        with app.app_context():
            session = db.new_session(app)
            self.b = stock.location(session, "tester", "B", "Warehouse B").id
            session.commit()
            session.close()
        self.active = True
        self.asked: list[tuple] = []
        self.answer_for: dict[str, object] = {}

    @hookimpl
    def crm_stock_location(self, session, purpose, document, line, product_id, quantity):
        self.asked.append((purpose, document.number if document is not None else None,
                           line.id if line is not None else None, product_id, quantity))
        if not self.active:
            return None
        return self.answer_for.get(purpose, self.b)

    @hookimpl
    def crm_stock_available(self, session, product_ids):
        if not self.active:
            return None
        return {pid: figures.available for (pid, _), figures in stock.balances(session, product_ids, [self.b]).items()}


def _balances(app, product_id) -> dict[int, tuple[str, str]]:
    """``{location_id: (on_hand, reserved)}`` of a product, read from the core's service."""
    with app.app_context():
        session = db.new_session(app)
        try:
            return {lid: (decimal_text(f.on_hand), decimal_text(f.reserved))
                    for (_, lid), f in stock.balances(session, [product_id]).items() if f.on_hand or f.reserved}
        finally:
            session.close()


def _verify(app) -> list[str]:
    with app.app_context():
        session = db.new_session(app)
        try:
            return stock.verify(session)
        finally:
            session.close()


def _stock(api, product_id) -> dict:
    return api.get(f"/products/{product_id}/stock").json()


def _approved(api, path, body):
    doc = api.post(f"/{path}", json=body).json()
    r = api.patch(f"/{path}/{doc['id']}", json={"status": "Approved"})
    assert r.status_code == 200, r.text
    return r.json()


def test_without_a_plugin_everything_is_at_the_default_location_and_none_is_shown(app, api, catalog, runner):
    c = catalog
    api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "10", "reason": "found"})
    po = _approved(api, "purchase-orders", {"vendor_id": c.vendor, "lines": [{"item_id": c.kit, "quantity": "2"}]})
    api.post(f"/purchase-orders/{po['id']}/receipts")
    so = _approved(api, "sales-orders", {"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "3"}]})
    api.post(f"/sales-orders/{so['id']}/shipments", json={"lines": [{"line_id": so["lines"][0]["id"], "quantity": "1"}]})
    # widget: 10 found + 4 (two kits) received - 1 shipped; 2 still reserved
    assert _stock(api, c.widget) == {"on_hand": "13", "reserved": "2", "available": "11", "incoming": "0"}
    assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("13", "2")}
    assert _balances(app, c.gadget) == {DEFAULT_LOCATION_ID: ("2", "0")}
    moves = api.get("/stock/moves?per_page=200").json()["items"]
    assert moves and all("location" not in key for move in moves for key in move)
    with app.app_context():
        session = db.new_session(app)
        assert [(loc.id, loc.plugin, loc.code) for loc in stock.locations(session)] == [(1, "", "default")]
        assert {m.location_id for m in session.scalars(select(StockMove))} == {DEFAULT_LOCATION_ID}
        assert stock.available(session, [c.widget]) == {c.widget: D("11")}
        session.close()
    assert runner.invoke(["stock", "verify"]).exit_code == 0


def test_a_plugin_sends_receipts_reservations_shipments_and_adjustments_to_its_location(app, api, catalog, runner):
    c = catalog
    plugin = Warehouses(app)
    b = plugin.b
    api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "5", "reason": "found"})  # no plugin yet
    with registered_plugin(app, plugin, "tester"):
        po = _approved(api, "purchase-orders", {"vendor_id": c.vendor, "lines": [
            {"item_id": c.widget, "quantity": "10"}, {"item_id": c.kit, "quantity": "1"}]})
        assert api.post(f"/purchase-orders/{po['id']}/receipts").status_code == 200
        kit_line = po["lines"][1]["id"]
        # one question per product received: a bundle's components each (product, quantity)
        assert sorted(plugin.asked) == sorted([("receipt", po["number"], po["lines"][0]["id"], c.widget, D("10")),
                                               ("receipt", po["number"], kit_line, c.widget, D("2")),
                                               ("receipt", po["number"], kit_line, c.gadget, D("1"))])
        assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("5", "0"), b: ("12", "0")}
        assert _stock(api, c.widget) == {"on_hand": "17", "reserved": "0", "available": "17", "incoming": "0"}

        # 17 in all, but only 12 at B, where the order reserves: refused, nothing reserved
        so = api.post("/sales-orders", json={"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "13"}]}).json()
        refused = api.patch(f"/sales-orders/{so['id']}", json={"status": "Approved"})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "insufficient_stock"
        assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("5", "0"), b: ("12", "0")}
        assert _stock(api, c.widget)["reserved"] == "0"

        # an order of two lines (a widget line and a kit: one statement reserves them all) at B
        plugin.asked.clear()
        so = _approved(api, "sales-orders", {"account_id": c.account, "lines": [
            {"item_id": c.widget, "quantity": "8"}, {"item_id": c.kit, "quantity": "1"}]})
        assert [(purpose, product) for purpose, _, _, product, _ in plugin.asked] == [
            ("reservation", c.widget), ("reservation", c.kit)]   # once per line, the line's item
        assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("5", "0"), b: ("12", "10")}
        assert _balances(app, c.gadget) == {b: ("1", "1")}
        with app.app_context():
            session = db.new_session(app)
            assert stock.level(session, c.widget, b) == stock.StockLevel(D("12"), D("10"), D("2"), D("0"))
            assert stock.level(session, c.widget, DEFAULT_LOCATION_ID).available == D("5")
            assert stock.level(session, c.kit, b).available == D("0")   # 2 widgets, 0 gadgets left at B
            assert stock.level(session, c.widget).available == D("7")   # in all, as the product shows
            assert stock.available(session, [c.widget, c.gadget]) == {c.widget: D("2"), c.gadget: D("0")}
            session.close()

    # the plugin gone, the order still ships from where it reserved
    assert api.post(f"/sales-orders/{so['id']}/shipments").status_code == 200
    assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("5", "0"), b: ("2", "0")}
    assert _balances(app, c.gadget) == {}
    assert _stock(api, c.widget) == {"on_hand": "7", "reserved": "0", "available": "7", "incoming": "0"}

    with registered_plugin(app, plugin, "tester"):
        plugin.asked.clear()
        # counting B: 1 widget found there (not 7, the total): the difference -1 is written at B
        counted = api.post("/stock/adjustments", json={"product_id": c.widget, "counted_quantity": "1",
                                                       "reason": "count_correction"})
        assert counted.status_code == 201, counted.text
        assert D(counted.json()["quantity"]) == D("-1")
        assert plugin.asked == [("adjustment", None, None, c.widget, D("1"))]
        # taking more than B holds is refused, though the default location has 5
        short = api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "-2", "reason": "lost"})
        assert short.status_code == 409
        assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("5", "0"), b: ("1", "0")}

        # a direct invoice takes from B, and its cancellation puts back at B even when the plugin
        # would now answer the default
        invoice = _approved(api, "invoices", {"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "1"}]})
        assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("5", "0")}
        plugin.answer_for["invoice"] = None
        assert api.patch(f"/invoices/{invoice['id']}", json={"status": "Cancelled"}).status_code == 200
        assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("5", "0"), b: ("1", "0")}

        # a location that does not exist: 422 naming location_id, nothing moved
        plugin.answer_for["adjustment"] = 999999
        bad = api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "1", "reason": "found"})
        assert bad.status_code == 422 and "location_id" in bad.json()["error"]["fields"], bad.text
    assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("5", "0"), b: ("1", "0")}
    assert _stock(api, c.widget)["on_hand"] == "6"
    assert _verify(app) == []
    assert runner.invoke(["stock", "verify"]).exit_code == 0


def test_verify_names_a_location_whose_balance_differs_from_its_moves(app, api, catalog, runner):
    plugin = Warehouses(app)
    with registered_plugin(app, plugin, "tester"):
        api.post("/stock/adjustments", json={"product_id": catalog.gadget, "quantity": "4", "reason": "found"})
    with app.app_context():
        session = db.new_session(app)
        move = session.scalars(select(StockMove).where(StockMove.product_id == catalog.gadget)).one()
        move.location_id = DEFAULT_LOCATION_ID   # the ledger says default; the balance says B
        session.commit()
        session.close()
    problems = _verify(app)
    assert any("Warehouse B" in p and "on hand 4, ledger says 0" in p for p in problems), problems
    assert any("Default" in p and "on hand 0, ledger says 4" in p for p in problems), problems
    assert runner.invoke(["stock", "verify"]).exit_code == 1


def test_a_location_is_made_once_per_plugin_and_code(app):
    with app.app_context():
        session = db.new_session(app)
        first = stock.location(session, "tester", "BIN-1", "Bin 1")
        again = stock.location(session, "tester", "BIN-1")
        other = stock.location(session, "other", "BIN-1")
        session.commit()
        assert first.id == again.id != other.id and DEFAULT_LOCATION_ID not in (first.id, other.id)
        assert [loc.code for loc in stock.locations(session, "tester")] == ["BIN-1"]
        assert stock.default_location(session).code == "default"
        session.close()


@pytest.mark.postgres_only
def test_clients_reserving_the_last_units_of_one_location_never_oversell_it(app, live_api, live_api_as, catalog,
                                                                           runner):
    """16 clients at once want 1 widget each at B, which holds 3 (the default location holds 50:
    enough in all, so only the location's balance can refuse)."""
    c = catalog
    plugin = Warehouses(app)
    live_api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "50", "reason": "found"})
    with registered_plugin(app, plugin, "tester"):
        live_api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "3", "reason": "found"})
        clients = [live_api_as("sales") for _ in range(16)]
        orders = [clients[i].post("/sales-orders", json={"account_id": c.account, "lines": [
            {"item_id": c.widget, "quantity": "1"}] + ([{"item_id": c.gadget, "quantity": "0.5"}] if i % 2 else [])
        }).json() for i in range(16)]
        live_api.post("/stock/adjustments", json={"product_id": c.gadget, "quantity": "20", "reason": "found"})
        responses = all_at_once(16, lambda i: clients[i].patch(f"/sales-orders/{orders[i]['id']}",
                                                               json={"status": "Approved"}))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 3 + [409] * 13, [r.text for r in responses if r.status_code not in (200, 409)]
    assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("50", "0"), plugin.b: ("3", "3")}
    assert _stock(live_api, c.widget) == {"on_hand": "53", "reserved": "3", "available": "50", "incoming": "0"}
    with app.app_context():
        session = db.new_session(app)
        held = session.scalars(select(DocumentLine.stock_location_id).where(DocumentLine.qty_reserved > 0)).all()
        session.close()
    assert held and set(held) == {plugin.b}
    assert runner.invoke(["stock", "verify"]).exit_code == 0


def _move_between(app, *args, **kwargs):
    """``stock.move_between`` in a transaction of its own: the moves as (quantity, location), or the error."""
    with app.app_context():
        session = db.new_session(app)
        try:
            moves = stock.move_between(session, *args, **kwargs)
            session.commit()
            return [(decimal_text(m.quantity), m.location_id, m.kind) for m in moves]
        except Exception as error:   # noqa: BLE001  (the test looks at it)
            session.rollback()
            return error
        finally:
            session.close()


def test_a_transfer_is_a_pair_of_moves_and_never_moves_more_than_is_available(app, api, catalog, runner):
    c = catalog
    plugin = Warehouses(app)
    with app.app_context():
        session = db.new_session(app)
        c_loc = stock.location(session, "tester", "C", "Warehouse C").id
        session.commit()
        session.close()
    with registered_plugin(app, plugin, "tester"):
        api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "10", "reason": "found"})
        so = _approved(api, "sales-orders", {"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "3"}]})
    seen = []

    class Listener:
        @hookimpl
        def crm_stock_moved(self, session, moves):
            seen.append([(decimal_text(m.quantity), m.location_id, m.kind) for m in moves])

    with registered_plugin(app, Listener(), "listener"):
        moved = _move_between(app, c.widget, D("4"), plugin.b, c_loc, note="TR-1")
    assert moved == [("-4", plugin.b, "transfer"), ("4", c_loc, "transfer")] and seen == [moved]
    assert _balances(app, c.widget) == {plugin.b: ("6", "3"), c_loc: ("4", "0")}
    assert _stock(api, c.widget) == {"on_hand": "10", "reserved": "3", "available": "7", "incoming": "0"}
    # B holds 6, 3 of them reserved by the order: 3 may leave, not 4
    short = _move_between(app, c.widget, D("4"), plugin.b, c_loc)
    assert isinstance(short, stock.InsufficientStock) and short.fields == {"quantity": ["only 3 available there"]}
    assert _move_between(app, c.widget, D("3"), plugin.b, DEFAULT_LOCATION_ID) == [
        ("-3", plugin.b, "transfer"), ("3", DEFAULT_LOCATION_ID, "transfer")]
    for args, field in (((c.widget, D("1"), c_loc, c_loc), "to_location_id"),
                        ((c.widget, D("0"), c_loc, plugin.b), "quantity"),
                        ((c.widget, D("0.0001"), c_loc, plugin.b), "quantity"),
                        ((c.widget, D("1"), 999999, plugin.b), "from_location_id"),
                        ((c.widget, D("1"), c_loc, 999999), "to_location_id"),
                        ((c.kit, D("1"), c_loc, plugin.b), "product_id"),
                        ((c.consulting, D("1"), c_loc, plugin.b), "product_id")):
        error = _move_between(app, *args)
        assert isinstance(error, stock.ValidationError) and field in error.fields, (args, error)
    assert _balances(app, c.widget) == {plugin.b: ("3", "3"), c_loc: ("4", "0"), DEFAULT_LOCATION_ID: ("3", "0")}
    assert _stock(api, c.widget) == {"on_hand": "10", "reserved": "3", "available": "7", "incoming": "0"}
    kinds = api.get("/stock/moves", params={"kind": "transfer", "product_id": c.widget}).json()["items"]
    assert sorted(m["quantity"] for m in kinds) == ["-3", "-4", "3", "4"]
    # the order still ships its 3 from B
    shipped = api.post(f"/sales-orders/{so['id']}/shipments")
    assert shipped.status_code == 200, shipped.text
    assert _balances(app, c.widget) == {c_loc: ("4", "0"), DEFAULT_LOCATION_ID: ("3", "0")}
    assert _verify(app) == []
    assert runner.invoke(["stock", "verify"]).exit_code == 0


@pytest.mark.postgres_only
def test_two_transfers_racing_for_the_last_units_of_a_location_move_them_once(app, api, catalog):
    c = catalog
    plugin = Warehouses(app)
    with registered_plugin(app, plugin, "tester"):
        api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "5", "reason": "found"})
    results = all_at_once(8, lambda i: _move_between(app, c.widget, D("2"), plugin.b, DEFAULT_LOCATION_ID))
    done = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if isinstance(r, stock.InsufficientStock)]
    assert (len(done), len(refused)) == (2, 6), results
    assert _balances(app, c.widget) == {plugin.b: ("1", "0"), DEFAULT_LOCATION_ID: ("4", "0")}
    assert _verify(app) == []


def test_location_choices_and_availability_at_a_location(app, api, catalog):
    """``crm_stock_location_choices`` lists what a page may offer (every plugin's answers, each
    location once); ``stock.available(..., location_id=)`` answers at that location (a bundle in
    whole bundles its components make there), without asking ``crm_stock_available``."""
    c = catalog
    plugin = Warehouses(app)
    asked = []

    class Choices:
        @hookimpl
        def crm_stock_location_choices(self, session, user):
            asked.append(user.username if user is not None else None)
            return [(plugin.b, "Warehouse B"), (DEFAULT_LOCATION_ID, "Main")]

    class More:
        @hookimpl
        def crm_stock_location_choices(self, session, user):
            return [(plugin.b, "again")]

    with app.app_context():
        session = db.new_session(app)
        assert stock.location_choices(session, None) == []   # nobody offers any
        session.close()
    with registered_plugin(app, plugin, "tester"):
        api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "5", "reason": "found"})  # in B
        api.post("/stock/adjustments", json={"product_id": c.gadget, "quantity": "1", "reason": "found"})
        plugin.active = False
        api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "7", "reason": "found"})  # default
        plugin.active = True
        with registered_plugin(app, Choices(), "choices"), registered_plugin(app, More(), "more"):
            with app.app_context():
                session = db.new_session(app)
                assert sorted(stock.location_choices(session, None)) == sorted(
                    [(plugin.b, "Warehouse B"), (DEFAULT_LOCATION_ID, "Main")])
                assert asked == [None]
                ids = [c.widget, c.gadget, c.kit, c.consulting]
                assert stock.available(session, ids, location_id=plugin.b) == {
                    c.widget: D("5"), c.gadget: D("1"), c.kit: D("1"), c.consulting: D("0")}
                assert stock.available(session, ids, location_id=DEFAULT_LOCATION_ID) == {
                    c.widget: D("7"), c.gadget: D("0"), c.kit: D("0"), c.consulting: D("0")}
                assert stock.available(session, [c.widget]) == {c.widget: D("5")}   # the plugin's answer
                with pytest.raises(stock.ValidationError) as refused:
                    stock.available(session, [c.widget], location_id=999999)
                assert "location_id" in refused.value.fields
                session.close()
