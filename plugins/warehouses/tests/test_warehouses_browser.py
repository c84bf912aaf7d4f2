"""A transfer in a real browser (Playwright driving Debian's chromium against the ``live_server``):
a warehouse user with stock in MAD drafts a transfer to BCN on the new-transfer page, ships it,
receives part of it and then the rest on the transfer's page; at each step the transfer's lines,
the stock of both warehouses' pages, the stock in transit on the transfers page and the product's
stock per warehouse are checked on the screen, and the same figures through the API."""
from __future__ import annotations

import pytest

from crm.db import db
from crm.services import stock
from crm.testing import sign_in
from warehouses_helpers import add_warehouse

pytestmark = pytest.mark.browser

T = "/warehouses/transfers"


@pytest.fixture
def page(new_page):
    return new_page(width=1400, height=1000)


def cells(row) -> list[str]:
    return [text.strip() for text in row.locator("td").all_inner_texts()]


def screen_lines(page) -> dict[str, tuple[str, str, str]]:
    """The transfer page's lines: ``{product name: (quantity, received, in transit)}``."""
    found = {}
    for row in page.locator("table.warehouses-transfer-lines tbody tr").all():
        texts = cells(row)
        found[texts[1]] = (texts[2], texts[3], texts[4])
    return found


def screen_stock(page, warehouse) -> dict[str, tuple[str, str, str, str]]:
    """A warehouse's page: ``{product name: (on hand, reserved, available, incoming)}``."""
    page.goto(f"/warehouses/{warehouse['id']}")
    found = {}
    for row in page.locator("table.warehouses-stock-list tbody tr[data-product]").all():
        texts = cells(row)
        found[texts[1]] = (texts[2], texts[3], texts[4], texts[5])
    return found


def screen_transit(page) -> dict[str, str]:
    """The transfers page's stock in transit: ``{product name: quantity}``."""
    page.goto(T)
    return {cells(row)[1]: cells(row)[2]
            for row in page.locator("table.warehouses-in-transit tbody tr[data-product]").all()}


def api_stock(api, warehouse) -> dict[int, tuple[str, str, str, str]]:
    rows = api.get(f"/warehouses/{warehouse['id']}/stock").json()["items"]
    return {row["product_id"]: (row["on_hand"], row["reserved"], row["available"], row["incoming"]) for row in rows}


def api_transit(api) -> dict[int, str]:
    return {row["product_id"]: row["quantity"] for row in api.get(f"{T}/in-transit").json()["items"]}


def api_lines(api, transfer_id) -> tuple[str, dict[int, tuple[str, str, str]]]:
    transfer = api.get(f"{T}/{transfer_id}").json()
    return transfer["status"], {line["product_id"]: (line["quantity"], line["qty_received"], line["in_transit"])
                                for line in transfer["lines"]}


def test_a_transfer_drafted_shipped_and_received_in_two_parts_on_its_pages(
        app, page, live_server, api, api_as, make_user, catalog):
    from playwright.sync_api import expect
    c = catalog
    mad, bcn = add_warehouse(api, "MAD", "Madrid"), add_warehouse(api, "BCN", "Barcelona")
    user = make_user("warehouse")
    wapi = api_as(user=user)
    for product, quantity in ((c.widget, "10"), (c.gadget, "4.5")):
        made = wapi.post(f"/warehouses/{mad['id']}/adjustments",
                         json={"product_id": product, "quantity": quantity, "reason": "found"})
        assert made.status_code == 201, made.text

    sign_in(page, user)
    assert screen_stock(page, mad) == {"Gadget": ("4.5", "0", "4.5", "0"), "Widget": ("10", "0", "10", "0")}
    assert screen_stock(page, bcn) == {}
    expect(page.locator("table.warehouses-stock-list tbody")).to_contain_text("No stock here")

    # the new transfer page: from MAD to BCN, 6 widgets and 1.5 gadgets, saved as a draft
    page.goto(T)
    page.click("text=New transfer")
    page.select_option("#f-from_warehouse_id", label="MAD · Madrid")
    page.select_option("#f-to_warehouse_id", label="BCN · Barcelona")
    page.select_option("#f-p0", label="Widget (W-1)")
    page.fill("#f-q0", "6")
    page.select_option("#f-p1", label="Gadget (G-1)")
    page.fill("#f-q1", "1.5")
    page.fill("#f-note", "For the Barcelona fair")
    page.click("button:has-text('Save as draft')")
    expect(page.locator(".flash").first).to_contain_text("saved as a draft")
    expect(page.locator("h1 .transfer-status")).to_have_text("Draft")
    transfer_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    number = api.get(f"{T}/{transfer_id}").json()["number"]
    expect(page.locator("h1")).to_contain_text(f"Transfer {number}")
    expect(page.locator(".record-fields")).to_contain_text("For the Barcelona fair")
    assert screen_lines(page) == {"Widget": ("6", "0", "0"), "Gadget": ("1.5", "0", "0")}
    assert api_lines(wapi, transfer_id) == ("draft", {c.widget: ("6", "0", "0"), c.gadget: ("1.5", "0", "0")})
    # a draft moves nothing
    assert screen_stock(page, mad) == {"Gadget": ("4.5", "0", "4.5", "0"), "Widget": ("10", "0", "10", "0")}
    assert screen_transit(page) == {}
    expect(page.locator("table.warehouses-in-transit tbody")).to_contain_text("Nothing in transit.")
    assert api_transit(wapi) == {}

    # ship it: the stock leaves MAD and is in transit
    page.goto(f"{T}/{transfer_id}")
    page.click("button:has-text('Ship')")
    expect(page.locator(".flash").first).to_contain_text(f"Transfer {number} shipped: its stock is in transit.")
    expect(page.locator("h1 .transfer-status")).to_have_text("Shipped")
    assert screen_lines(page) == {"Widget": ("6", "0", "6"), "Gadget": ("1.5", "0", "1.5")}
    assert api_lines(wapi, transfer_id) == ("shipped", {c.widget: ("6", "0", "6"), c.gadget: ("1.5", "0", "1.5")})
    assert screen_stock(page, mad) == {"Gadget": ("3", "0", "3", "0"), "Widget": ("4", "0", "4", "0")}
    assert api_stock(wapi, mad) == {c.gadget: ("3", "0", "3", "0"), c.widget: ("4", "0", "4", "0")}
    assert screen_stock(page, bcn) == {"Gadget": ("0", "0", "0", "1.5"), "Widget": ("0", "0", "0", "6")}  # incoming
    assert api_stock(wapi, bcn) == {c.gadget: ("0", "0", "0", "1.5"), c.widget: ("0", "0", "0", "6")}
    assert screen_transit(page) == {"Widget": "6", "Gadget": "1.5"}
    assert api_transit(wapi) == {c.widget: "6", c.gadget: "1.5"}

    # part arrives: 4 widgets and 0.5 gadgets, typed per line
    page.goto(f"{T}/{transfer_id}")
    page.locator("tr[data-line]", has_text="Widget").locator("input").fill("4")
    page.locator("tr[data-line]", has_text="Gadget").locator("input").fill("0.5")
    page.click("button:has-text('Receive these quantities')")
    expect(page.locator(".flash").first).to_contain_text(f"Transfer {number}: the goods received are in the "
                                                        "destination warehouse.")
    expect(page.locator("h1 .transfer-status")).to_have_text("Shipped")
    assert screen_lines(page) == {"Widget": ("6", "4", "2"), "Gadget": ("1.5", "0.5", "1")}
    assert api_lines(wapi, transfer_id) == ("shipped", {c.widget: ("6", "4", "2"), c.gadget: ("1.5", "0.5", "1")})
    assert screen_stock(page, mad) == {"Gadget": ("3", "0", "3", "0"), "Widget": ("4", "0", "4", "0")}
    assert screen_stock(page, bcn) == {"Gadget": ("0.5", "0", "0.5", "1"), "Widget": ("4", "0", "4", "2")}
    assert api_stock(wapi, bcn) == {c.gadget: ("0.5", "0", "0.5", "1"), c.widget: ("4", "0", "4", "2")}
    assert screen_transit(page) == {"Widget": "2", "Gadget": "1"}
    assert api_transit(wapi) == {c.widget: "2", c.gadget: "1"}

    # more than is still in transit is refused, naming the line, and nothing moves
    page.goto(f"{T}/{transfer_id}")
    page.locator("tr[data-line]", has_text="Widget").locator("input").fill("3")
    page.click("button:has-text('Receive these quantities')")
    expect(page.locator(".flash.error")).to_be_visible()
    assert screen_lines(page) == {"Widget": ("6", "4", "2"), "Gadget": ("1.5", "0.5", "1")}
    assert api_transit(wapi) == {c.widget: "2", c.gadget: "1"}

    # the rest arrives: the transfer is received, nothing is left in transit
    page.click("button:has-text('Receive everything in transit')")
    expect(page.locator(".flash").first).to_contain_text(f"Transfer {number}: the goods received are in the "
                                                        "destination warehouse.")
    expect(page.locator("h1 .transfer-status")).to_have_text("Received")
    expect(page.locator("button:has-text('Ship'), button:has-text('Receive'), button:has-text('Cancel transfer')")
           ).to_have_count(0)
    assert screen_lines(page) == {"Widget": ("6", "6", "0"), "Gadget": ("1.5", "1.5", "0")}
    assert api_lines(wapi, transfer_id) == ("received", {c.widget: ("6", "6", "0"), c.gadget: ("1.5", "1.5", "0")})
    assert screen_stock(page, mad) == {"Gadget": ("3", "0", "3", "0"), "Widget": ("4", "0", "4", "0")}
    assert screen_stock(page, bcn) == {"Gadget": ("1.5", "0", "1.5", "0"), "Widget": ("6", "0", "6", "0")}
    assert api_stock(wapi, mad) == {c.gadget: ("3", "0", "3", "0"), c.widget: ("4", "0", "4", "0")}
    assert api_stock(wapi, bcn) == {c.gadget: ("1.5", "0", "1.5", "0"), c.widget: ("6", "0", "6", "0")}
    assert screen_transit(page) == {} and api_transit(wapi) == {}
    page.goto(f"{T}?status=received")
    expect(page.locator("table.warehouses-transfers tbody tr[data-transfer]")).to_have_count(1)
    expect(page.locator(f"tr[data-transfer='{transfer_id}']")).to_contain_text("Received")

    # the product's page: its stock per warehouse; its total never changed, and the ledger agrees
    page.goto(f"/products/{c.widget}")
    panel = page.locator("section.warehouses-stock")
    assert cells(panel.locator("tr[data-warehouse='MAD']"))[1:4] == ["4", "0", "4"]
    assert cells(panel.locator("tr[data-warehouse='BCN']"))[1:4] == ["6", "0", "6"]
    assert wapi.get(f"/products/{c.widget}/stock").json()["on_hand"] == "10"
    assert wapi.get(f"/products/{c.gadget}/stock").json()["on_hand"] == "4.5"
    with app.app_context():
        session = db.new_session(app)
        try:
            assert stock.verify(session) == []
        finally:
            session.close()


def test_the_picking_list_prints_from_its_button(page, live_server, api, make_user, catalog):
    """The Print button works under the Content-Security-Policy (crm.js's ``data-print``)."""
    from playwright.sync_api import expect
    c = catalog
    mad = add_warehouse(api, "MAD")
    api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "5", "reason": "found"})
    order = api.post("/sales-orders", json={"account_id": c.account,
                                            "lines": [{"item_id": c.widget, "quantity": "2"}]}).json()
    assert api.put(f"/warehouses/documents/{order['id']}", json={"warehouse_id": mad["id"]}).status_code == 200
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    sign_in(page, make_user("warehouse"))
    page.goto(f"/warehouses/picking/{order['id']}")
    page.evaluate("() => { window.print = () => { document.body.dataset.printed = 'yes'; }; }")
    page.get_by_role("button", name="Print").click()
    expect(page.locator("body")).to_have_attribute("data-printed", "yes")
