"""The stock hooks: every receipt, shipment, adjustment and batch of stock moves is announced
to the plugins once, with its data, inside the transaction of the action; a plugin that refuses
one (raising a ``crm.errors`` error) refuses the whole action and nothing of it is saved."""
from __future__ import annotations

from decimal import Decimal

import pytest

from crm.docs_reference import hook_groups
from crm.errors import Conflict, ValidationError
from crm.testing import registered_plugin
from tests.plugins.spy_plugin import SpyPlugin

#: the hooks of the group "stock" of crm/hookspecs.py
STOCK_HOOKS = {name for name, group in hook_groups().items() if group == "stock"}


def _move(move) -> tuple:
    return (move.id is not None, move.product_id, move.quantity, move.kind, move.reason, move.document_id)


def _lines(lines) -> list[tuple]:
    assert [tuple(entry) for entry in lines] == [(entry.line, entry.quantity) for entry in lines]
    return [(line.id, quantity) for line, quantity in lines]   # a LineQuantity unpacks as a pair


class Recorder:
    """What each stock hook was given, read while the hook runs (the objects expire after the commit)."""

    def __init__(self):
        self.seen: list[tuple] = []

    def moved(self, session, moves):
        self.seen.append(("moved", [_move(m) for m in moves]))

    def adjusted(self, session, move):
        self.seen.append(("adjusted", _move(move)))

    def received(self, session, order, lines, moves):
        self.seen.append(("received", order.number, _lines(lines), [m.id for m in moves]))

    def shipped(self, session, order, lines, moves):
        self.seen.append(("shipped", order.number, _lines(lines), [m.id for m in moves]))

    def status(self, session, document, old_status, new_status):
        self.seen.append(("status", document.number, new_status))

    def take(self) -> list[tuple]:
        seen, self.seen = self.seen, []
        return seen


def _adjust(api, product_id, quantity, reason="found"):
    r = api.post("/stock/adjustments", json={"product_id": product_id, "quantity": quantity, "reason": reason})
    assert r.status_code == 201, r.text
    return r.json()


def _document(api, path, body, status):
    doc = api.post(f"/{path}", json=body).json()
    r = api.patch(f"/{path}/{doc['id']}", json={"status": status})
    assert r.status_code == 200, r.text
    return r.json()


def _move_ids_of(api, document_id) -> list[int]:
    return [m["id"] for m in api.get("/stock/moves?per_page=200").json()["items"] if m["document_id"] == document_id]


def test_every_stock_event_is_announced_once_with_its_data(app, api, catalog):
    c, recorder, D = catalog, Recorder(), Decimal
    spy = SpyPlugin(crm_stock_moved=recorder.moved, crm_stock_adjusted=recorder.adjusted,
                    crm_receipt_recorded=recorder.received, crm_shipment_recorded=recorder.shipped,
                    crm_document_status_changed=recorder.status)
    with registered_plugin(app, spy, "recorder"):
        move = _adjust(api, c.gadget, "5")
        assert recorder.take() == [("moved", [(True, c.gadget, D("5"), "adjustment", "found", None)]),
                                   ("adjusted", (True, c.gadget, D("5"), "adjustment", "found", None))]
        assert spy.calls_of("crm_stock_adjusted")[0]["move"].id == move["id"]

        po = _document(api, "purchase-orders", {"vendor_id": c.vendor, "lines": [
            {"item_id": c.widget, "quantity": "10"}, {"item_id": c.kit, "quantity": "2"}]}, "Approved")
        recorder.take()
        widget_line, kit_line = (line["id"] for line in po["lines"])
        api.post(f"/purchase-orders/{po['id']}/receipts", json={"lines": [{"line_id": widget_line, "quantity": "6"}]})
        receipt_moves = _move_ids_of(api, po["id"])
        assert recorder.take() == [
            ("moved", [(True, c.widget, D("6"), "receipt", "", po["id"])]),
            ("received", po["number"], [(widget_line, D("6"))], receipt_moves)]

        # the rest, by setting the status: the receipt of what is left, then the status change
        api.patch(f"/purchase-orders/{po['id']}", json={"status": "Received Shipment"})
        seen = recorder.take()
        assert [event[0] for event in seen] == ["moved", "received", "status"]
        assert sorted(seen[0][1]) == sorted([(True, c.widget, D("4"), "receipt", "", po["id"]),
                                             (True, c.widget, D("4"), "receipt", "receipt", po["id"]),
                                             (True, c.gadget, D("2"), "receipt", "receipt", po["id"])])
        assert seen[1][2] == [(widget_line, D("4")), (kit_line, D("2"))]
        assert sorted(seen[1][3]) == sorted(set(_move_ids_of(api, po["id"])) - set(receipt_moves))
        assert seen[2] == ("status", po["number"], "Received Shipment")

        so = _document(api, "sales-orders", {"account_id": c.account, "lines": [
            {"item_id": c.widget, "quantity": "3"}, {"item_id": c.consulting, "quantity": "2"},
            {"item_id": c.kit, "quantity": "1"}]}, "Approved")
        assert recorder.take() == [("status", so["number"], "Approved")]   # a reservation moves nothing
        widget_line, consulting_line, kit_line = (line["id"] for line in so["lines"])
        api.post(f"/sales-orders/{so['id']}/shipments", json={"lines": [
            {"line_id": consulting_line, "quantity": "2"}]})
        assert recorder.take() == [("shipped", so["number"], [(consulting_line, D("2"))], [])]   # a service: no move
        api.post(f"/sales-orders/{so['id']}/shipments")
        seen = recorder.take()
        assert [event[0] for event in seen] == ["moved", "shipped", "status"]
        assert sorted(seen[0][1]) == sorted([(True, c.widget, D("-3"), "shipment", "", so["id"]),
                                             (True, c.widget, D("-2"), "bundle_component", "shipment", so["id"]),
                                             (True, c.gadget, D("-1"), "bundle_component", "shipment", so["id"])])
        assert seen[1][2] == [(widget_line, D("3")), (kit_line, D("1"))]
        assert sorted(seen[1][3]) == sorted(_move_ids_of(api, so["id"]))

        invoice = _document(api, "invoices", {"account_id": c.account, "lines": [
            {"item_id": c.widget, "quantity": "2"}]}, "Approved")
        assert recorder.take() == [("moved", [(True, c.widget, D("-2"), "shipment", "invoice", invoice["id"])]),
                                   ("status", invoice["number"], "Approved")]
        api.patch(f"/invoices/{invoice['id']}", json={"status": "Cancelled"})
        assert recorder.take() == [
            ("moved", [(True, c.widget, D("2"), "return", "invoice cancelled", invoice["id"])]),
            ("status", invoice["number"], "Cancelled")]
    _adjust(api, c.gadget, "1")
    assert recorder.take() == []   # unregistered: not called


# --- a plugin refusing a stock event refuses the action ------------------------------------------------

def _approved_purchase_order(api, c):
    return _document(api, "purchase-orders", {"vendor_id": c.vendor, "lines": [
        {"item_id": c.widget, "quantity": "4"}, {"item_id": c.kit, "quantity": "1"}]}, "Approved")


def _approved_sales_order(api, c):
    _adjust(api, c.widget, "10")
    _adjust(api, c.gadget, "10")
    return _document(api, "sales-orders", {"account_id": c.account, "lines": [
        {"item_id": c.widget, "quantity": "3"}, {"item_id": c.kit, "quantity": "1"}]}, "Approved")


def _direct_invoice(api, c):
    _adjust(api, c.widget, "10")
    return api.post("/invoices", json={"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "2"}]}).json()


#: each action that records stock: (name, what to prepare, the request, the hooks it fires)
ACTIONS = [
    ("adjustment", lambda api, c: None,
     lambda api, c, _: api.post("/stock/adjustments", json={"product_id": c.widget, "quantity": "3", "reason": "found"}),
     {"crm_stock_moved", "crm_stock_adjusted"}),
    ("receipt", _approved_purchase_order,
     lambda api, c, po: api.post(f"/purchase-orders/{po['id']}/receipts",
                                 json={"lines": [{"line_id": po["lines"][0]["id"], "quantity": "1"}]}),
     {"crm_stock_moved", "crm_receipt_recorded"}),
    ("received shipment status", _approved_purchase_order,
     lambda api, c, po: api.patch(f"/purchase-orders/{po['id']}", json={"status": "Received Shipment"}),
     {"crm_stock_moved", "crm_receipt_recorded"}),
    ("shipment", _approved_sales_order,
     lambda api, c, so: api.post(f"/sales-orders/{so['id']}/shipments"),
     {"crm_stock_moved", "crm_shipment_recorded"}),
    ("delivered status", _approved_sales_order,
     lambda api, c, so: api.patch(f"/sales-orders/{so['id']}", json={"status": "Delivered"}),
     {"crm_stock_moved", "crm_shipment_recorded"}),
    ("direct invoice", _direct_invoice,
     lambda api, c, invoice: api.patch(f"/invoices/{invoice['id']}", json={"status": "Approved"}),
     {"crm_stock_moved"}),
]


def _state(api, c, prepared) -> dict:
    state = {"moves": api.get("/stock/moves?per_page=200").json(),
             "stock": [api.get(f"/products/{p}/stock").json() for p in (c.widget, c.gadget)]}
    if prepared is not None:
        path = {"PO": "purchase-orders", "SO": "sales-orders", "IN": "invoices"}[prepared["number"][:2]]
        state["document"] = api.get(f"/{path}/{prepared['id']}").json()
    return state


@pytest.mark.parametrize("action", ACTIONS, ids=[a[0] for a in ACTIONS])
@pytest.mark.parametrize("error", [ValidationError.for_field("note", "refused by the plugin"),
                                   Conflict("the warehouse is closed")], ids=["422", "409"])
def test_a_plugin_refusing_a_stock_event_refuses_the_whole_action(app, api, catalog, action, error):
    name, prepare, request, fired = action
    c = catalog
    prepared = prepare(api, c)
    before = _state(api, c, prepared)
    for hook in fired:
        def refuse(**kwargs):
            raise error
        with registered_plugin(app, SpyPlugin(**{hook: refuse}), "refuser"):
            answer = request(api, c, prepared)
        assert answer.status_code == (422 if isinstance(error, ValidationError) else 409), (hook, answer.text)
        assert answer.json()["error"]["message"] == error.message
        assert _state(api, c, prepared) == before, f"{hook} refused {name} but something was saved"
    assert request(api, c, prepared).status_code in (200, 201)   # nobody refuses: it goes through
    assert _state(api, c, prepared) != before


def test_the_refusals_above_cover_every_stock_hook():
    assert STOCK_HOOKS and set().union(*(fired for *_, fired in ACTIONS)) == STOCK_HOOKS
