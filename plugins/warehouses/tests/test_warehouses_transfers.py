"""Transfers between warehouses: a draft moves nothing, shipping puts the stock in transit,
receiving (in part, then the rest) brings it into the destination, cancelling a shipped one
returns what is in transit; the stock per warehouse and in transit checked at each step, and the
ledger always agrees (``crm stock verify``). Bad input refused with nothing moved."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from crm.db import db
from crm.services import stock
from warehouses_helpers import add_warehouse, signed_in

T = "/warehouses/transfers"


def on_hand(api, warehouse, product_id):
    rows = api.get(f"/warehouses/{warehouse['id']}/stock", params={"product_id": product_id}).json()["items"]
    return rows[0]["on_hand"] if rows else "0"


def in_transit(api, product_id):
    rows = {row["product_id"]: row["quantity"] for row in api.get(f"{T}/in-transit").json()["items"]}
    return rows.get(product_id, "0")


def total(api, product_id):
    return api.get(f"/products/{product_id}/stock").json()["on_hand"]


def verified(app):
    with app.app_context():
        session = db.new_session(app)
        try:
            return stock.verify(session)
        finally:
            session.close()


def stocked(api, warehouse, product_id, quantity):
    made = api.post(f"/warehouses/{warehouse['id']}/adjustments",
                    json={"product_id": product_id, "quantity": quantity, "reason": "found"})
    assert made.status_code == 201, made.text


def error(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_a_transfer_shipped_then_received_in_two_parts(app, api, catalog, runner):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    stocked(api, mad, c.widget, "10")
    stocked(api, mad, c.gadget, "4")

    made = api.post(T, json={"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"], "note": "for the fair",
                             "lines": [{"product_id": c.widget, "quantity": "6"},
                                       {"product_id": c.gadget, "quantity": "1.5"}]})
    assert made.status_code == 201, made.text
    transfer = made.json()
    assert transfer["number"].startswith("TR-") and transfer["status"] == "draft"
    assert (transfer["from_warehouse_code"], transfer["to_warehouse_code"]) == ("MAD", "BCN")
    # a draft moves nothing, and may still change
    assert (on_hand(api, mad, c.widget), on_hand(api, bcn, c.widget), in_transit(api, c.widget)) == ("10", "0", "0")
    changed = api.patch(f"{T}/{transfer['id']}", json={"lines": [{"product_id": c.widget, "quantity": "8"},
                                                                 {"product_id": c.gadget, "quantity": "2"}]})
    assert changed.status_code == 200 and [line["quantity"] for line in changed.json()["lines"]] == ["8", "2"]

    shipped = api.post(f"{T}/{transfer['id']}/ship")
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped" and shipped.json()["shipped_at"]
    assert [line["in_transit"] for line in shipped.json()["lines"]] == ["8", "2"]
    assert (on_hand(api, mad, c.widget), on_hand(api, bcn, c.widget), in_transit(api, c.widget)) == ("2", "0", "8")
    assert (on_hand(api, mad, c.gadget), in_transit(api, c.gadget)) == ("2", "2")
    assert total(api, c.widget) == "10" and verified(app) == []
    refused = error(api.patch(f"{T}/{transfer['id']}", json={"note": "late"}), 409)
    assert refused["code"] == "transfer_status"

    # half the widgets arrive
    widget_line, gadget_line = (line["id"] for line in shipped.json()["lines"])
    half = api.post(f"{T}/{transfer['id']}/receive", json={"lines": [{"line_id": widget_line, "quantity": "4"}]})
    assert half.status_code == 200, half.text
    assert half.json()["status"] == "shipped" and [line["qty_received"] for line in half.json()["lines"]] == ["4", "0"]
    assert (on_hand(api, mad, c.widget), on_hand(api, bcn, c.widget), in_transit(api, c.widget)) == ("2", "4", "4")
    assert total(api, c.widget) == "10" and verified(app) == []
    # more than is still in transit: refused, nothing moves
    too_many = error(api.post(f"{T}/{transfer['id']}/receive",
                              json={"lines": [{"line_id": widget_line, "quantity": "5"}]}), 422)
    assert "lines.0.quantity" in too_many["fields"]
    assert (on_hand(api, bcn, c.widget), in_transit(api, c.widget)) == ("4", "4")

    # the rest
    rest = api.post(f"{T}/{transfer['id']}/receive")
    assert rest.status_code == 200, rest.text
    assert rest.json()["status"] == "received" and rest.json()["received_at"]
    assert [line["qty_received"] for line in rest.json()["lines"]] == ["8", "2"]
    assert (on_hand(api, mad, c.widget), on_hand(api, bcn, c.widget), in_transit(api, c.widget)) == ("2", "8", "0")
    assert (on_hand(api, mad, c.gadget), on_hand(api, bcn, c.gadget), in_transit(api, c.gadget)) == ("2", "2", "0")
    assert total(api, c.widget) == "10" and total(api, c.gadget) == "4"
    assert error(api.post(f"{T}/{transfer['id']}/cancel"), 409)["code"] == "transfer_status"
    assert error(api.post(f"{T}/{transfer['id']}/receive"), 409)["code"] == "transfer_status"

    moves = api.get("/stock/moves", params={"kind": "transfer", "product_id": c.widget}).json()["items"]
    assert sorted(m["quantity"] for m in moves) == ["-4", "-4", "-8", "4", "4", "8"]
    assert [t["number"] for t in api.get(T, params={"status": "received"}).json()["items"]] == [transfer["number"]]
    assert verified(app) == []
    assert runner.invoke(["stock", "verify"]).exit_code == 0


def test_cancelling_a_shipped_transfer_returns_what_is_in_transit(app, api, catalog):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    stocked(api, mad, c.widget, "5")
    transfer = api.post(T, json={"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"],
                                 "lines": [{"product_id": c.widget, "quantity": "5"}]}).json()
    line = api.post(f"{T}/{transfer['id']}/ship").json()["lines"][0]
    api.post(f"{T}/{transfer['id']}/receive", json={"lines": [{"line_id": line["id"], "quantity": "2"}]})
    cancelled = api.post(f"{T}/{transfer['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (on_hand(api, mad, c.widget), on_hand(api, bcn, c.widget), in_transit(api, c.widget)) == ("3", "2", "0")
    # a draft cancelled moves nothing
    draft = api.post(T, json={"from_warehouse_id": bcn["id"], "to_warehouse_id": mad["id"],
                              "lines": [{"product_id": c.widget, "quantity": "1"}]}).json()
    assert api.post(f"{T}/{draft['id']}/cancel").json()["status"] == "cancelled"
    assert error(api.post(f"{T}/{draft['id']}/ship"), 409)["code"] == "transfer_status"
    assert (on_hand(api, mad, c.widget), on_hand(api, bcn, c.widget)) == ("3", "2")
    assert verified(app) == []


def test_bad_transfers_are_refused_and_nothing_moves(app, api, api_as, catalog):
    c = catalog
    mad, bcn, old = add_warehouse(api, "MAD"), add_warehouse(api, "BCN"), add_warehouse(api, "OLD")
    stocked(api, mad, c.widget, "3")
    api.patch(f"/warehouses/{old['id']}", json={"active": False})
    line = [{"product_id": c.widget, "quantity": "1"}]
    for body, field in (({"from_warehouse_id": mad["id"], "to_warehouse_id": mad["id"], "lines": line}, "to_warehouse_id"),
                        ({"from_warehouse_id": mad["id"], "to_warehouse_id": old["id"], "lines": line}, "to_warehouse_id"),
                        ({"from_warehouse_id": old["id"], "to_warehouse_id": mad["id"], "lines": line}, "from_warehouse_id"),
                        ({"from_warehouse_id": mad["id"], "to_warehouse_id": 99999, "lines": line}, "to_warehouse_id"),
                        ({"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"], "lines": []}, "lines"),
                        ({"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"],
                          "lines": [{"product_id": c.widget, "quantity": "0"}]}, "lines.0.quantity"),
                        ({"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"],
                          "lines": [{"product_id": c.kit, "quantity": "1"}]}, "lines.0.product_id"),
                        ({"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"],
                          "lines": [{"product_id": c.consulting, "quantity": "1"}]}, "lines.0.product_id"),
                        ({"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"],
                          "lines": line + line}, "lines.1.product_id")):
        refused = error(api.post(T, json=body), 422)
        assert field in refused.get("fields", {}), (body, refused)
    assert api.get(T).json()["total"] == 0

    # more than available at the source: 409 naming the line, nothing moved, still a draft
    transfer = api.post(T, json={"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"],
                                 "lines": [{"product_id": c.gadget, "quantity": "1"},
                                           {"product_id": c.widget, "quantity": "4"}]}).json()
    stocked(api, mad, c.gadget, "1")
    short = error(api.post(f"{T}/{transfer['id']}/ship"), 409)
    assert short["code"] == "insufficient_stock" and "lines.1.quantity" in short["fields"], short
    assert api.get(f"{T}/{transfer['id']}").json()["status"] == "draft"
    assert (on_hand(api, mad, c.widget), on_hand(api, mad, c.gadget), in_transit(api, c.gadget)) == ("3", "1", "0")

    # a warehouse made inactive after the draft: shipping refused
    api.patch(f"{T}/{transfer['id']}", json={"lines": [{"product_id": c.widget, "quantity": "2"}]})
    api.patch(f"/warehouses/{bcn['id']}", json={"active": False})
    inactive = error(api.post(f"{T}/{transfer['id']}/ship"), 409)
    assert inactive["code"] == "warehouse_inactive" and "to_warehouse_id" in inactive["fields"]
    assert on_hand(api, mad, c.widget) == "3" and verified(app) == []

    # who may: the sales team reads, only the warehouse team and the admin write
    sales = api_as("sales")
    assert sales.get(f"{T}/{transfer['id']}").status_code == 200
    assert sales.post(f"{T}/{transfer['id']}/cancel").status_code == 403
    assert api_as("warehouse").post(f"{T}/{transfer['id']}/cancel").status_code == 200


@pytest.mark.postgres_only
def test_two_transfers_racing_for_the_last_units_one_is_refused(live_api, live_api_as, catalog):
    c = catalog
    mad, bcn, sev = add_warehouse(live_api, "MAD"), add_warehouse(live_api, "BCN"), add_warehouse(live_api, "SEV")
    stocked(live_api, mad, c.widget, "3")
    clients = [live_api_as("warehouse") for _ in range(2)]
    drafts = [clients[i].post(T, json={"from_warehouse_id": mad["id"], "to_warehouse_id": target["id"],
                                       "lines": [{"product_id": c.widget, "quantity": "2"}]}).json()
              for i, target in enumerate((bcn, sev))]
    barrier = threading.Barrier(2)

    def ship(i):
        barrier.wait()
        return clients[i].post(f"{T}/{drafts[i]['id']}/ship")
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(ship, range(2)))
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    assert (on_hand(live_api, mad, c.widget), in_transit(live_api, c.widget)) == ("1", "2")


def test_the_pages_make_ship_receive_and_cancel_a_transfer(app, api, catalog, make_user):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD", "Madrid"), add_warehouse(api, "BCN", "Barcelona")
    stocked(api, mad, c.widget, "10")
    client = signed_in(app.test_client(), make_user("warehouse", language="es"))
    form = client.get("/warehouses/transfers/new")
    assert form.status_code == 200 and 'name="csrf_token"' in form.get_data(as_text=True)
    assert "<h1>Nuevo traspaso</h1>" in form.get_data(as_text=True)
    same = client.post("/warehouses/transfers/new", data={
        "from_warehouse_id": str(mad["id"]), "to_warehouse_id": str(mad["id"]),
        "lines.0.product_id": str(c.widget), "lines.0.quantity": "4"})
    assert same.status_code == 422 and "el destino debe ser un almacén distinto" in same.get_data(as_text=True)
    made = client.post("/warehouses/transfers/new", data={
        "from_warehouse_id": str(mad["id"]), "to_warehouse_id": str(bcn["id"]),
        "lines.0.product_id": str(c.widget), "lines.0.quantity": "4"})
    assert made.status_code == 302
    page_url = made.headers["Location"]
    html = client.get(page_url).get_data(as_text=True)
    assert "Borrador" in html and "Enviar" in html and "Madrid" in html
    transfer = api.get(T).json()["items"][0]

    assert client.post(f"/warehouses/transfers/{transfer['id']}/ship").status_code == 302
    assert (on_hand(api, mad, c.widget), in_transit(api, c.widget)) == ("6", "4")
    html = client.get(page_url).get_data(as_text=True)
    assert "Enviado" in html and f'name="line.{transfer["lines"][0]["id"]}"' in html
    listing = client.get("/warehouses/transfers").get_data(as_text=True)
    assert transfer["number"] in listing and "En tránsito" in listing

    line_id = transfer["lines"][0]["id"]
    client.post(f"/warehouses/transfers/{transfer['id']}/receive", data={f"line.{line_id}": "1"})
    assert (on_hand(api, bcn, c.widget), in_transit(api, c.widget)) == ("1", "3")
    refused = client.post(f"/warehouses/transfers/{transfer['id']}/receive", data={f"line.{line_id}": "9"},
                          follow_redirects=True)
    assert "como máximo 3 aún en tránsito" in refused.get_data(as_text=True)
    client.post(f"/warehouses/transfers/{transfer['id']}/cancel")
    assert (on_hand(api, mad, c.widget), on_hand(api, bcn, c.widget), in_transit(api, c.widget)) == ("9", "1", "0")
    assert "Cancelado" in client.get(page_url).get_data(as_text=True)

    # the sales team sees the pages, without the buttons, and may not act
    sales = signed_in(app.test_client(), make_user("sales"))
    assert "Cancel transfer" not in sales.get(page_url).get_data(as_text=True)
    assert sales.get("/warehouses/transfers/new").status_code == 403
    assert sales.post(f"/warehouses/transfers/{transfer['id']}/ship").status_code == 403
    assert verified(app) == []


def test_the_transfer_forms_need_the_csrf_token(app_factory, make_user):
    import re

    from crm.testing import TEST_PASSWORD
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    user = make_user("warehouse")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": token})
    assert client.post("/warehouses/transfers/new", data={}).status_code == 400
    assert client.post("/warehouses/transfers/1/ship").status_code == 400


def test_stock_in_transit_is_incoming_to_its_destination_and_not_ordered_again(api, api_as, catalog):
    from test_warehouses_reorder import put_level
    from test_warehouses_stock import at
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    stocked(api, mad, c.widget, "10")
    assert put_level(api, bcn, c.widget, "5").status_code == 200
    transfer = api.post(T, json={"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"],
                                 "lines": [{"product_id": c.widget, "quantity": "4"}]}).json()
    assert at(api, bcn, c.widget) == ("0", "0", "0", "0")            # a draft is not on its way

    line = api.post(f"{T}/{transfer['id']}/ship").json()["lines"][0]
    assert at(api, bcn, c.widget) == ("0", "0", "0", "4")
    assert at(api, mad, c.widget)[3] == "0"                          # nor incoming where it left
    dry = api_as("purchasing").post(f"/warehouses/{bcn['id']}/replenish", json={"dry_run": True}).json()
    assert [(n["available"], n["incoming"], n["target"], n["quantity"])
            for n in dry["purchase_orders"][0]["lines"]] == [("0", "4", "5", "1")]   # 1 more, not 5

    api.post(f"{T}/{transfer['id']}/receive", json={"lines": [{"line_id": line["id"], "quantity": "2.5"}]})
    assert at(api, bcn, c.widget) == ("2.5", "0", "2.5", "1.5")
    api.post(f"{T}/{transfer['id']}/receive")
    assert at(api, bcn, c.widget) == ("4", "0", "4", "0")
