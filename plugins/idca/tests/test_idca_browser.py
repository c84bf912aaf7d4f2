"""In a real browser (Playwright, Chromium): an admin adds a formula column in the settings, sees
the preview, saves; a user opens a quote and sees the column, and the server fills it in again
as a line is edited."""
from __future__ import annotations

import re

import pytest

from idca_helpers import order_body
from crm.testing import sign_in

def test_admin_adds_a_formula_column_and_a_user_sees_it_on_a_quote(new_page, live_server, make_user, api, catalog):
    from playwright.sync_api import expect
    quote = api.post("/quotes", json=order_body(catalog)).json()

    admin_page = new_page()
    sign_in(admin_page, make_user("admin"))
    admin_page.goto(f"{live_server}/idca/layouts/quotes")
    expect(admin_page.locator("#idca-preview")).to_contain_text("Computed on QUO-0001")
    admin_page.click("text=Add column")
    row = admin_page.locator("#idca-columns tr").last
    row.locator("input[name$='.key']").fill("margin")
    row.locator("input[name$='.label']").fill("Margin")
    row.locator("select[name$='.type']").select_option("money")
    row.locator("input[name$='.formula']").fill("net - quantity * item.purchase_cost")
    expect(admin_page.locator("#idca-preview")).to_contain_text("€17.97")      # the live preview
    admin_page.click("text=Save layout")
    expect(admin_page.locator(".flash")).to_contain_text("The layout was saved (version 1)")

    page = new_page()
    sign_in(page, make_user("sales"))
    page.goto(f"{live_server}/quotes/{quote['id']}/edit")
    expect(page.locator("table.line-editor thead")).to_contain_text("Margin")
    margin = page.locator("output[id$='-c-margin']").first
    quantity = page.locator("input[name$='.quantity']").first
    quantity.fill("3.0")                              # the quote predates the column: an edit fills it in
    expect(margin).to_have_text("€17.97")            # 53.97 - 3 x 12.00, computed by the server
    quantity.fill("5")                                # 5 x 19.99 = 99.95; 10 % = 9.995 -> 10.00; net 89.95
    expect(margin).to_have_text("€29.95")            # 89.95 - 5 x 12.00, recomputed on the server as you type
    page.click("#doc-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/quotes/{quote['id']}$"))
    expect(page.locator("table.lines")).to_contain_text("€29.95")
    stored = api.get(f"/quotes/{quote['id']}").json()
    assert stored["lines"][0]["custom"]["margin"] == "29.95"
