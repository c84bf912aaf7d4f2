"""Reports in a real browser: a Spanish user finds the sales by product among the reports, asks
for a year, and reads the kinds of the items sold in Spanish."""
from __future__ import annotations

from playwright.sync_api import expect

from crm.testing import TEST_PASSWORD


def test_sales_by_product_in_spanish_shows_the_kinds_in_spanish(new_page, live_server, make_user, api, catalog):
    invoice = api.post("/invoices", json={"account_id": catalog.account, "invoice_date": "2027-03-10", "lines": [
        {"item_id": catalog.widget, "quantity": "2"}, {"item_id": catalog.consulting, "quantity": "1"}]})
    assert invoice.status_code == 201, invoice.text
    user = make_user("sales", language="es")
    page = new_page(locale="en-GB")                         # the user's language wins over the browser's
    page.goto(f"{live_server}/login")
    page.fill("#username", user.username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")

    page.goto(f"{live_server}/reports/")
    page.get_by_role("link", name="Ventas por producto").click()
    page.fill("#p-date_from", "2027-01-01")
    page.fill("#p-date_to", "2027-12-31")
    page.get_by_role("button", name="Mostrar").click()
    expect(page.locator("h1")).to_have_text("Ventas por producto")
    table = page.locator("table.list").last
    expect(table.locator("thead th")).to_contain_text(["Referencia", "Artículo", "Tipo"])
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    # columns: reference, item, kind, ...; the service earns most (40.00 against 2 x 19.99)
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("Consulting hour")
    expect(rows.nth(0).locator("td").nth(2)).to_have_text("Servicio")
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("Widget")
    expect(rows.nth(1).locator("td").nth(2)).to_have_text("Producto")
