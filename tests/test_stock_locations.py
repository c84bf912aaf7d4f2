"""Stock at locations: every move is at a location, the core keeps a balance per product and
location, and a plugin chooses the location of receipts, reservations, shipments, direct
invoices and adjustments (``crm_stock_location``). Without such a plugin everything is at the
one default location, which no page or API answer shows."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm import hookimpl
from crm.db import db
from crm.models import DocumentLine, StockMove
from crm.models.stock import DEFAULT_LOCATION_ID
from crm.money import decimal_text
from crm.services import stock
from crm.services.settings import set_setting
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


# --- a location-owning plugin disabled: its locations are orphaned --------------------------------

def _found(api, product_id, quantity):
    r = api.post("/stock/adjustments", json={"product_id": product_id, "quantity": quantity, "reason": "found"})
    assert r.status_code == 201, r.text


def _at_b_and_c(app, api, product_id, at_b, at_c="0"):
    """``at_b`` and ``at_c`` found at the tester's locations B and C (the tester enabled meanwhile)."""
    plugin = Warehouses(app)
    with app.app_context():
        session = db.new_session(app)
        plugin.c = stock.location(session, "tester", "C", "Warehouse C").id
        session.commit()
        session.close()
    with registered_plugin(app, plugin, "tester"):
        for location, quantity in ((plugin.b, at_b), (plugin.c, at_c)):
            if D(quantity):
                plugin.answer_for["adjustment"] = location
                _found(api, product_id, quantity)
    return plugin


def test_a_disabled_plugins_stock_is_sold_reserved_and_shipped_as_the_totals_show(app, api, catalog, runner):
    """All but 2 widgets are at a disabled plugin's locations B and C; 3 of B's are an order's
    (reserved there before). The product says 9 available: an order for 9 (a widget line and a
    kit) reserves them, ships them from the default location first, then B (never its order's
    3), then C; the order reserved at B still ships; every balance equals its moves."""
    c = catalog
    _found(api, c.widget, "2")
    _found(api, c.gadget, "5")
    plugin = _at_b_and_c(app, api, c.widget, "6", "4")
    b, c_loc = plugin.b, plugin.c
    with registered_plugin(app, plugin, "tester"):
        at_b = _approved(api, "sales-orders", {"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "3"}]})
    assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("2", "0"), b: ("6", "3"), c_loc: ("4", "0")}
    assert _stock(api, c.widget) == {"on_hand": "12", "reserved": "3", "available": "9", "incoming": "0"}
    with app.app_context():
        session = db.new_session(app)
        assert stock.orphaned_locations(session) == [b, c_loc]
        assert stock.available(session, [c.widget]) == {c.widget: D("9")}   # the totals, as today
        session.close()

    # 7 widgets and a kit (2 widgets, 1 gadget): the 9 available, in one statement
    order = _approved(api, "sales-orders", {"account_id": c.account, "lines": [
        {"item_id": c.widget, "quantity": "7"}, {"item_id": c.kit, "quantity": "1"}]})
    assert order["status"] == "Approved"
    assert _stock(api, c.widget) == {"on_hand": "12", "reserved": "12", "available": "0", "incoming": "0"}
    assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("2", "9"), b: ("6", "3"), c_loc: ("4", "0")}
    assert _verify(app) == []
    one_more = api.post("/sales-orders", json={"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "1"}]}).json()
    refused = api.patch(f"/sales-orders/{one_more['id']}", json={"status": "Approved"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "insufficient_stock", refused.text

    # shipped: 2 from the default location, 3 from B (the other 3 are B's order's), 4 from C
    shipped = api.post(f"/sales-orders/{order['id']}/shipments")
    assert shipped.status_code == 200, shipped.text
    assert _balances(app, c.widget) == {b: ("3", "3")}
    with app.app_context():
        session = db.new_session(app)
        out = {lid: decimal_text(-total) for lid, total in session.execute(
            select(StockMove.location_id, func.sum(StockMove.quantity))
            .where(StockMove.document_id == order["id"], StockMove.product_id == c.widget)
            .group_by(StockMove.location_id))}
        session.close()
    assert out == {DEFAULT_LOCATION_ID: "2", b: "3", c_loc: "4"}
    assert _stock(api, c.widget) == {"on_hand": "3", "reserved": "3", "available": "0", "incoming": "0"}
    # the order reserved at B before still ships its 3 from there
    assert api.post(f"/sales-orders/{at_b['id']}/shipments").status_code == 200
    assert _balances(app, c.widget) == {}
    assert _verify(app) == []
    assert runner.invoke(["stock", "verify"]).exit_code == 0

    # enabled again: B and C show what left them
    _found(api, c.widget, "1")   # at the default location
    with registered_plugin(app, plugin, "tester"):
        with app.app_context():
            session = db.new_session(app)
            assert stock.orphaned_locations(session) == []
            assert stock.available(session, [c.widget]) == {c.widget: D("0")}   # the plugin's answer: at B
            session.close()
        assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("1", "0")}


def test_a_disabled_plugins_stock_leaves_by_direct_invoice_and_adjustment_where_it_is(app, api, catalog, runner):
    """A direct invoice takes from the default location, then the orphaned B; cancelled, each part
    goes back where it left. A negative adjustment and a count do the same; more than there is
    in all is refused, nothing moved."""
    c = catalog
    _found(api, c.widget, "1")
    plugin = _at_b_and_c(app, api, c.widget, "4")
    b = plugin.b
    invoice = _approved(api, "invoices", {"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "3"}]})
    assert _balances(app, c.widget) == {b: ("2", "0")}
    assert _stock(api, c.widget)["on_hand"] == "2"
    assert api.patch(f"/invoices/{invoice['id']}", json={"status": "Cancelled"}).status_code == 200
    assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("1", "0"), b: ("4", "0")}
    assert _verify(app) == []

    lost = api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "-2", "reason": "lost"})
    assert lost.status_code == 201, lost.text
    assert _balances(app, c.widget) == {b: ("3", "0")}
    too_many = api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "-4", "reason": "lost"})
    assert too_many.status_code == 409 and too_many.json()["error"]["code"] == "insufficient_stock"
    # a count counts every unit the product shows: 1 found where 3 were, 2 written off at B
    counted = api.post("/stock/adjustments", json={"product_id": c.widget, "counted_quantity": "1",
                                                   "reason": "count_correction"})
    assert counted.status_code == 201, counted.text
    assert D(counted.json()["quantity"]) == D("-2")
    assert _balances(app, c.widget) == {b: ("1", "0")}
    assert _stock(api, c.widget) == {"on_hand": "1", "reserved": "0", "available": "1", "incoming": "0"}
    assert _verify(app) == []

    # negative stock allowed: an invoice for 3 takes B's 1 first, the default goes to -2
    with app.app_context():
        session = db.new_session(app)
        set_setting(session, "allow_negative_stock", True)
        session.commit()
        session.close()
    _approved(api, "invoices", {"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "3"}]})
    assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("-2", "0")}
    assert _stock(api, c.widget)["on_hand"] == "-2"
    assert _verify(app) == []
    assert runner.invoke(["stock", "verify"]).exit_code == 0


@pytest.mark.postgres_only
def test_clients_racing_for_the_last_units_at_the_default_and_an_orphaned_location_never_oversell(
        app, live_api, live_api_as, catalog, runner):
    """2 widgets at the default location, 3 at a disabled plugin's B: 16 clients at once approve
    an order for 1 widget each (every other one with a gadget too: several lines in one
    statement), then 16 clients issue a direct invoice for 1 widget; 5 get them in all."""
    c = catalog
    _found(live_api, c.widget, "2")
    _found(live_api, c.gadget, "20")
    plugin = _at_b_and_c(app, live_api, c.widget, "3")
    clients = [live_api_as("sales") for _ in range(16)]
    orders = [clients[i].post("/sales-orders", json={"account_id": c.account, "lines": [
        {"item_id": c.widget, "quantity": "1"}] + ([{"item_id": c.gadget, "quantity": "0.5"}] if i % 2 else [])
    }).json() for i in range(16)]
    responses = all_at_once(16, lambda i: clients[i].patch(f"/sales-orders/{orders[i]['id']}",
                                                           json={"status": "Approved"}))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 5 + [409] * 11, [r.text for r in responses if r.status_code not in (200, 409)]
    assert _stock(live_api, c.widget) == {"on_hand": "5", "reserved": "5", "available": "0", "incoming": "0"}
    assert _balances(app, c.widget) == {DEFAULT_LOCATION_ID: ("2", "5"), plugin.b: ("3", "0")}
    assert _verify(app) == []
    approved = [orders[i] for i, r in enumerate(responses) if r.status_code == 200]
    shipped = all_at_once(5, lambda i: live_api.post(f"/sales-orders/{approved[i]['id']}/shipments"))
    assert [r.status_code for r in shipped] == [200] * 5, [r.text for r in shipped]
    assert _balances(app, c.widget) == {}
    assert _verify(app) == []

    # stock out racing: 16 direct invoices for the last 5 (2 at the default, 3 at B)
    _found(live_api, c.widget, "2")
    _at_b_and_c(app, live_api, c.widget, "3")
    admins = [live_api_as("admin") for _ in range(16)]
    invoices = [admins[i].post("/invoices", json={"account_id": c.account, "lines": [
        {"item_id": c.widget, "quantity": "1"}]}).json() for i in range(16)]
    issued = all_at_once(16, lambda i: admins[i].patch(f"/invoices/{invoices[i]['id']}", json={"status": "Approved"}))
    codes = sorted(r.status_code for r in issued)
    assert codes == [200] * 5 + [409] * 11, [r.text for r in issued if r.status_code not in (200, 409)]
    assert _stock(live_api, c.widget) == {"on_hand": "0", "reserved": "0", "available": "0", "incoming": "0"}
    assert _balances(app, c.widget) == {}
    assert _verify(app) == []
    assert runner.invoke(["stock", "verify"]).exit_code == 0
