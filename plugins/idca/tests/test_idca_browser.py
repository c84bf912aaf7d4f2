"""In a real browser (Playwright, Chromium): an admin adds a formula column in the settings, sees
the preview, saves; a user opens a quote and sees the column, and the server fills it in again
as a line is edited; custom totals are shown by their labels."""
from __future__ import annotations

import re

from crm.testing import sign_in
from idca_helpers import MARGIN_COLUMNS, MARGIN_TOTALS, order_body


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


def test_editor_with_hidden_discount_and_taxes_keeps_them_and_gives_new_lines_their_item_taxes(
        new_page, live_server, make_user, api, put_layout, catalog):
    """The layout hides discount and taxes: the editor shows neither, a new line chosen with the
    keyboard still gets its item's taxes (hidden inputs filled by crm.js), and saving keeps the
    existing lines' discounts and taxes."""
    from playwright.sync_api import expect
    quote = api.post("/quotes", json=order_body(catalog)).json()
    put_layout("quotes", [{"key": "unit_price", "label": "Precio neto"}, {"key": "discount", "visible": False},
                          {"key": "tax", "visible": False}])
    page = new_page()
    sign_in(page, make_user("sales"))
    page.goto(f"{live_server}/quotes/{quote['id']}/edit")
    head = page.locator("table.line-editor thead")
    expect(head).to_contain_text("Precio neto")
    expect(head).not_to_contain_text("Discount")
    expect(head).not_to_contain_text("Taxes")
    page.click("button.add-line[data-kind='']")
    row = page.locator("#lines tr.line").last
    search = row.locator(".item-search")
    search.fill("Gadget")
    listbox = page.locator("#" + search.get_attribute("aria-controls"))
    listbox.locator("[role=option][data-id]", has_text="Gadget").first.wait_for()
    page.wait_for_function("(id) => { const o = document.querySelector('#' + id + ' [aria-selected=true]');"
                           " return o && o.textContent.includes('Gadget'); }", arg=listbox.get_attribute("id"))
    search.press("Enter")
    expect(row.locator(".hidden-taxes input")).to_have_count(1)
    page.click("#doc-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/quotes/{quote['id']}$"))
    saved = api.get(f"/quotes/{quote['id']}").json()
    assert [line["tax_ids"] for line in saved["lines"]] == [line["tax_ids"] for line in quote["lines"]] + [
        quote["lines"][1]["tax_ids"]]
    assert [(line["discount_percent"], line["discount_amount"]) for line in saved["lines"][:3]] == [
        (line["discount_percent"], line["discount_amount"]) for line in quote["lines"]]


def test_custom_totals_show_their_labels_on_the_document_page_and_in_the_editor(
        new_page, live_server, make_user, api, put_layout, catalog):
    """A layout's totals are shown by their labels (never their keys), formatted by their type,
    hidden ones not at all: on the order's page, in the editor, and in the editor's totals as the
    server recomputes them while a quantity is typed."""
    from playwright.sync_api import expect
    put_layout("sales-orders", MARGIN_COLUMNS, MARGIN_TOTALS + [
        {"key": "margin_rate", "label": "Margin rate", "type": "percent",
         "formula": "round(sum(margin) / subtotal * 100, 2)"},
        {"key": "secret", "label": "Hidden figure", "visible": False, "formula": "sum(margin) * 2"}])
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    page = new_page()
    sign_in(page, make_user("sales"))

    def expect_totals(margin: str, rate: str) -> None:
        totals = page.locator("#doc-totals")
        expect(totals.locator("tr.extra th")).to_have_text(["Total margin", "Margin rate"])
        expect(totals.locator('[data-total="margin_total"]')).to_have_text(margin)
        expect(totals.locator('[data-total="margin_rate"]')).to_have_text(rate)
        expect(totals).not_to_contain_text("margin_total")
        expect(totals).not_to_contain_text("Hidden figure")
        expect(totals.locator('[data-total="secret"]')).to_have_count(0)

    # 17.97 + 8.91 + 55.00 = 81.88 of a subtotal of 123.88: 66.1 %
    page.goto(f"{live_server}/sales-orders/{order['id']}")
    expect_totals("€81.88", "66.1 %")
    page.goto(f"{live_server}/sales-orders/{order['id']}/edit")
    expect_totals("€81.88", "66.1 %")
    page.locator("input[name$='.quantity']").first.fill("5")
    # widget 5 x 19.99 - 10 % = 89.95 - 60.00 = 29.95; 93.86 of a subtotal of 159.86: 58.71 %
    expect(page.locator('#doc-totals [data-total="margin_total"]')).to_have_text("€93.86")
    expect_totals("€93.86", "58.71 %")
