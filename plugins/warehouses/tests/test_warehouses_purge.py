"""Disabling keeps the warehouses' stock where it is; purging is refused while stock moves,
balances or reservations are at the warehouses' stock locations, until ``crm stock
merge-locations --plugin warehouses`` (or the purge page's button) brings them to the default
location: each product's totals unchanged, ``crm stock verify`` clean, then the purge drops the
plugin's tables and its locations."""
from __future__ import annotations

from sqlalchemy import inspect, select

from crm.db import db
from crm.models import StockLocation
from crm.services import stock
from test_warehouses_stock import at, totals
from warehouses_helpers import add_warehouse, choose, sales_order, signed_in

MESSAGE = "merge them into the default location first (crm stock merge-locations --plugin warehouses)"


def located(app):
    """{product_id: (on hand, reserved)} at the default location, and the plugin's locations."""
    with app.app_context():
        session = db.new_session(app)
        try:
            default = stock.default_location(session).id
            figures = {pid: (level.on_hand, level.reserved)
                       for (pid, lid), level in stock.balances(session).items() if lid == default}
            own = list(session.scalars(select(StockLocation.code).where(StockLocation.plugin == "warehouses")
                                       .order_by(StockLocation.code)))
            return figures, own
        finally:
            session.close()


def test_purge_waits_for_the_warehouses_stock_to_be_merged_into_the_default_location(app, api, catalog, runner,
                                                                                   make_user):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD", "Madrid"), add_warehouse(api, "BCN", "Barcelona")
    for warehouse, product, quantity in ((mad, c.widget, "10"), (bcn, c.gadget, "4")):
        made = api.post(f"/warehouses/{warehouse['id']}/adjustments",
                        json={"product_id": product, "quantity": quantity, "reason": "found"})
        assert made.status_code == 201, made.text
    transfer = api.post("/warehouses/transfers", json={"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"],
                                                       "lines": [{"product_id": c.widget, "quantity": "3"}]}).json()
    assert api.post(f"/warehouses/transfers/{transfer['id']}/ship").status_code == 200     # 3 in transit
    order = sales_order(api, c, [{"item_id": c.widget, "quantity": "2"}])
    choose(api, order["id"], mad["id"])
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    before = {c.widget: totals(api, c.widget), c.gadget: totals(api, c.gadget)}
    assert before == {c.widget: ("10", "2", "8", "0"), c.gadget: ("4", "0", "4", "0")}

    # disabled and enabled again: every figure per warehouse is back
    assert runner.invoke(["plugins", "disable", "warehouses"]).exit_code == 0
    assert runner.invoke(["plugins", "enable", "warehouses"]).exit_code == 0
    assert at(api, mad, c.widget) == ("7", "2", "5", "0") and at(api, bcn, c.gadget) == ("4", "0", "4", "0")

    # purging is refused, by the command line and the page, while stock is at its locations
    assert runner.invoke(["plugins", "disable", "warehouses"]).exit_code == 0
    refused = runner.invoke(["plugins", "purge", "warehouses", "--confirm", "warehouses"])
    assert refused.exit_code == 1 and MESSAGE in refused.output, refused.output
    assert "4 stock move(s), the stock of 2 product(s) and 1 sales order line(s) are at its 3 stock location(s)" \
        in refused.output
    admin = signed_in(app.test_client(), make_user("admin"))
    page = admin.get("/admin/plugins/warehouses/purge").get_data(as_text=True)
    assert MESSAGE in page and 'action="/admin/plugins/warehouses/merge-locations"' in page and 'name="confirm"' not in page
    assert admin.post("/admin/plugins/warehouses/purge", data={"confirm": "warehouses"}).status_code == 422

    # merging is refused while the plugin is enabled (it would keep putting stock there)
    assert runner.invoke(["plugins", "enable", "warehouses"]).exit_code == 0
    enabled = runner.invoke(["stock", "merge-locations", "--plugin", "warehouses"])
    assert enabled.exit_code == 1 and "disable it first" in enabled.output
    assert at(api, mad, c.widget) == ("7", "2", "5", "0")
    assert runner.invoke(["plugins", "disable", "warehouses"]).exit_code == 0

    merged = runner.invoke(["stock", "merge-locations", "--plugin", "warehouses"])
    assert merged.exit_code == 0, merged.output
    assert ("merged 3 stock location(s) of warehouses into the default location: 4 move(s), the stock of 2 "
            "product(s), 1 sales order line(s)") in merged.output
    assert {c.widget: totals(api, c.widget), c.gadget: totals(api, c.gadget)} == before
    figures, own = located(app)
    assert (figures[c.widget], figures[c.gadget]) == ((10, 2), (4, 0))
    assert own == ["BCN", "MAD", "~transit"]      # empty, until the purge
    assert runner.invoke(["stock", "verify"]).exit_code == 0
    again = runner.invoke(["stock", "merge-locations", "--plugin", "warehouses"])
    assert again.exit_code == 0 and "0 move(s), the stock of 0 product(s)" in again.output

    page = admin.get("/admin/plugins/warehouses/purge").get_data(as_text=True)
    assert MESSAGE not in page and 'name="confirm"' in page
    assert admin.post("/admin/plugins/warehouses/purge", data={"confirm": "warehouses"}).status_code == 302
    with db.engine(app).connect() as connection:
        assert not [t for t in inspect(connection).get_table_names() if t.startswith("warehouses_")]
    assert located(app)[1] == []
    assert {c.widget: totals(api, c.widget), c.gadget: totals(api, c.gadget)} == before
    assert runner.invoke(["stock", "verify"]).exit_code == 0
    # the order reserved at MAD ships from the default location now
    assert api.post(f"/sales-orders/{order['id']}/shipments").status_code == 200
    assert totals(api, c.widget) == ("8", "0", "8", "0")
    assert runner.invoke(["stock", "verify"]).exit_code == 0


def test_the_purge_page_merges_and_a_plugin_without_locations_has_nothing_to_merge(app, api, catalog, runner,
                                                                                  make_user):
    c = catalog
    mad = add_warehouse(api, "MAD")
    api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "6", "reason": "found"})
    admin = signed_in(app.test_client(), make_user("admin"))
    # enabled: the page's button is refused, nothing moves
    refused = admin.post("/admin/plugins/warehouses/merge-locations", follow_redirects=True).get_data(as_text=True)
    assert "disable it first" in refused and at(api, mad, c.widget) == ("6", "0", "6", "0")
    assert runner.invoke(["plugins", "disable", "warehouses"]).exit_code == 0
    done = admin.post("/admin/plugins/warehouses/merge-locations", follow_redirects=True).get_data(as_text=True)
    assert "The stock of 1 product(s) and 1 stock move(s) at the locations of warehouses are now at the default" in done
    assert 'name="confirm"' in done
    assert totals(api, c.widget) == ("6", "0", "6", "0")
    verified = runner.invoke(["stock", "verify"])
    assert verified.exit_code == 0, verified.output
    nothing = runner.invoke(["stock", "merge-locations", "--plugin", "payments"])
    assert nothing.exit_code == 0 and "has no stock locations" in nothing.output
    assert signed_in(app.test_client(), make_user("warehouse")).post(
        "/admin/plugins/warehouses/merge-locations").status_code == 403
