"""Conversions in a real browser: a quote's "Create sales order" and "Create invoice" become
"Make another ..." once done, asking for confirmation and naming what exists; a sales order
orders from a vendor once, then offers "Order again from <vendor>"."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from crm.testing import TEST_PASSWORD


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_a_quote_converts_once_then_offers_another_copy(new_page, live_server, api, make_user, catalog):
    quote = api.post("/quotes", json={"account_id": catalog.account,
                                      "lines": [{"item_id": catalog.consulting, "quantity": "2"}]}).json()
    api.patch(f"/quotes/{quote['id']}", json={"status": "Accepted"})
    page = new_page()
    confirmations = []
    page.on("dialog", lambda dialog: confirmations.append(dialog.message))
    sign_in(page, live_server, make_user("admin").username)
    for target, path, label in [("sales order", "sales-orders", "Make another sales order"),
                                ("invoice", "invoices", "Make another invoice")]:
        page.goto(f"{live_server}/quotes/{quote['id']}")
        page.get_by_role("button", name=f"Create {target}").click()
        page.wait_for_url(re.compile(rf"/{path}/\d+$"))
        first = page.locator("h1").inner_text()
        page.goto(f"{live_server}/quotes/{quote['id']}")
        expect(page.get_by_role("button", name=f"Create {target}")).to_have_count(0)
        page.get_by_role("button", name=label).click()
        page.wait_for_url(re.compile(rf"/{path}/\d+$"))
        second = page.locator("h1").inner_text()
        assert second != first
        number = re.search(r"[A-Z]+-\d+", first).group(0)
        assert confirmations[-1] == f"{number} was already created from {quote['number']}. Make another copy?"
    related = api.get(f"/quotes/{quote['id']}/related").json()["items"]
    assert sorted(d["type"] for d in related) == ["invoice", "invoice", "sales_order", "sales_order"]


def test_a_sales_order_orders_from_a_vendor_once_then_offers_to_order_again(new_page, live_server, api,
                                                                            make_user, catalog):
    order = api.post("/sales-orders", json={"account_id": catalog.account,
                                            "lines": [{"item_id": catalog.widget, "quantity": "3"}]}).json()
    page = new_page()
    sign_in(page, live_server, make_user("admin").username)
    page.goto(f"{live_server}/sales-orders/{order['id']}")
    page.select_option("#po-vendor", str(catalog.vendor))
    page.get_by_role("button", name="Create purchase order").click()
    page.wait_for_url(re.compile(r"/purchase-orders/\d+$"))
    number = re.search(r"PO-\d+", page.locator("h1").inner_text()).group(0)
    page.goto(f"{live_server}/sales-orders/{order['id']}")
    page.select_option("#po-vendor", str(catalog.vendor))
    page.get_by_role("button", name="Create purchase order").click()
    page.wait_for_url(re.compile(rf"/sales-orders/{order['id']}$"))
    assert f"already ordered from Suministros Norte: {number}" in page.inner_text("body")
    page.get_by_role("button", name="Order again from Suministros Norte").click()
    page.wait_for_url(re.compile(r"/purchase-orders/\d+$"))
    assert number not in page.locator("h1").inner_text()
    related = api.get(f"/sales-orders/{order['id']}/related").json()["items"]
    assert [d["type"] for d in related] == ["purchase_order", "purchase_order"]
