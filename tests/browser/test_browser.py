"""The CRM in a real browser: a quote with three lines whose totals the server computes as
the user types, converted into a sales order, approved, shipped by the warehouse and invoiced,
the stock moving, the language switched; every page reachable from the menu for every role; the
roles page; the
layout on a phone; screenshots for the README (``CRM_SCREENSHOTS=1`` writes them to
``docs/screenshots/``)."""
from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from crm.context import set_actor
from crm.db import db
from crm.models import ROLES, Document, Item
from crm.services import stock
from crm.testing import TEST_PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: every core page of the menu (plugins add theirs; their own tests cover them)
pytestmark = pytest.mark.crm_plugins("hello")


@pytest.fixture(autouse=True)
def _nobody_acting():
    set_actor(None)


@pytest.fixture
def shop(app, session, catalog):
    """The test catalogue with stock: 20 widgets and 30 gadgets."""
    stock.adjust(session, catalog.widget, quantity=Decimal("20"), reason="found")
    stock.adjust(session, catalog.gadget, quantity=Decimal("30"), reason="found")
    session.commit()
    return catalog


def read(app, fn):
    with app.app_context():
        s = db.new_session(app)
        try:
            return fn(s)
        finally:
            s.rollback()
            s.close()


def sign_in(page, base: str, username: str, password: str = TEST_PASSWORD) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def choose_item(page, row, text: str) -> None:
    """Type in the row's item box and pick the option with the keyboard."""
    search = row.locator(".item-search")
    search.click()
    search.fill(text)
    listbox = page.locator("#" + search.get_attribute("aria-controls"))
    listbox.locator("[role=option][data-id]", has_text=text).first.wait_for()
    page.wait_for_function("(id) => { const o = document.querySelector('#' + id + ' [aria-selected=true]');"
                           " return o && o.textContent.includes(%r); }" % text, arg=listbox.get_attribute("id"))
    search.press("Enter")


def screen_total(page, name: str) -> str:
    return page.locator(f'#doc-totals [data-total="{name}"]').inner_text().strip()


def euros(amount: Decimal) -> str:
    return "€" + format(amount, ",.2f")


def test_quote_to_invoice_in_the_browser(app, live_server, make_user, shop, new_page):
    sales = make_user("sales", full_name="Sara Sales")
    warehouse = make_user("warehouse", full_name="Walter Warehouse")
    admin = make_user("admin")
    page = new_page()
    sign_in(page, live_server, sales.username)

    # a quote with three lines, typed with the keyboard; totals come from the server
    page.goto(live_server + f"/quotes/new?account_id={shop.account}")
    page.fill("#f-subject", "Workshop refit")
    rows = page.locator("#lines tr.line")
    choose_item(page, rows.nth(0), "Widget")
    page.keyboard.type("3")  # the quantity has the focus after choosing
    page.click("button.add-line[data-kind='']")
    choose_item(page, rows.nth(1), "Gadget")
    page.keyboard.type("4")
    page.click("button.add-line[data-kind='']")
    choose_item(page, rows.nth(2), "Consulting")
    rows.nth(2).locator(".qty").fill("2")
    rows.nth(2).locator("[name$='.discount']").fill("10")
    # Alt+↑ moves the consulting line above the gadget line
    rows.nth(2).locator(".qty").press("Alt+ArrowUp")
    assert "Consulting" in rows.nth(1).locator(".item-search").input_value()

    expected = read(app, lambda s: _engine_totals(s, shop))
    page.wait_for_function("(t) => document.querySelector('#doc-totals [data-total=grand_total]') &&"
                           " document.querySelector('#doc-totals [data-total=grand_total]').textContent.trim() === t",
                           arg=euros(expected["grand_total"]))
    assert screen_total(page, "subtotal") == euros(expected["subtotal"])
    assert screen_total(page, "tax") == euros(expected["tax"])
    assert page.locator("#lines tr.line").nth(0).locator("output[id$='-total']").inner_text() == \
        euros(expected["lines"][0])

    page.click("form#doc-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/quotes/\d+$"))
    quote_id = int(page.url.rsplit("/", 1)[1])
    stored = read(app, lambda s: s.get(Document, quote_id).grand_total)
    assert stored == expected["grand_total"]
    assert euros(stored) in page.locator("#doc-totals").inner_text()

    # accept, convert, approve
    page.click("button:has-text('Mark as Accepted')")
    page.click("button:has-text('Create sales order')")
    page.wait_for_url(re.compile(r".*/sales-orders/\d+$"))
    order_url = page.url
    assert "Created" in page.locator("h1").inner_text()
    page.click("button:has-text('Mark as Approved')")
    page.wait_for_selector("h1 .status-approved")
    assert read(app, lambda s: s.get(Item, shop.widget).reserved) == 3

    # the warehouse ships (sales may not: no "Ship…" for them), then sales invoices
    expect(page.locator("a:has-text('Ship…')")).to_have_count(0)
    warehouse_page = new_page()
    sign_in(warehouse_page, live_server, warehouse.username)
    warehouse_page.goto(order_url)
    warehouse_page.click("a:has-text('Ship…')")
    widget_input = warehouse_page.locator("tr", has_text="Widget").locator("input.qty")
    widget_input.fill("2")
    warehouse_page.locator("tr", has_text="Gadget").locator("input.qty").fill("0")
    warehouse_page.locator("tr", has_text="Consulting").locator("input.qty").fill("0")
    warehouse_page.click("button:has-text('Ship')")
    warehouse_page.wait_for_url(order_url)
    assert "Shipment recorded" in warehouse_page.inner_text("main")
    expect(warehouse_page.locator("a:has-text('Invoice…')")).to_have_count(0)

    page.reload()
    page.click("a:has-text('Invoice…')")
    page.click("button:has-text('Create invoice')")
    page.wait_for_url(re.compile(r".*/invoices/\d+$"))
    assert "INV-" in page.locator("h1").inner_text()

    # the stock moved: 20 - 2 shipped on hand, 1 still reserved
    page.goto(live_server + "/stock/?q=Widget")
    row = page.locator("tr", has_text="Widget")
    assert row.locator('[data-stock="on_hand"]').inner_text() == "18"
    assert row.locator('[data-stock="reserved"]').inner_text() == "1"

    # another role sees the same order; the admin switches to Spanish
    admin_page = new_page()
    sign_in(admin_page, live_server, admin.username)
    admin_page.goto(live_server + "/profile/")
    admin_page.select_option("#f-language", "es")
    admin_page.click("button:has-text('Save')")
    admin_page.wait_for_selector("html[lang=es]")
    assert "Pedidos de venta" in admin_page.locator("#sidebar").inner_text()
    admin_page.goto(order_url)
    assert "Pedido de venta" in admin_page.locator("h1").inner_text()
    grand = admin_page.locator('#doc-totals [data-total="grand_total"]').inner_text()
    assert re.fullmatch(r"[\d.]+,\d\d\s€", grand.strip()), grand  # 1.234,56 €
    page.reload()
    assert "Sales orders" in page.locator("#sidebar").inner_text()  # the sales user still reads English


def _engine_totals(session, shop) -> dict:
    """What the totals engine makes of the three lines (computed on a transient document)."""
    from crm.services.document_queries import preview
    document = preview(session, "quote", {"account_id": shop.account, "lines": [
        {"item_id": shop.widget, "quantity": Decimal("3")},
        {"item_id": shop.consulting, "quantity": Decimal("2"), "discount_percent": Decimal("10")},
        {"item_id": shop.gadget, "quantity": Decimal("4")}]})
    return {"subtotal": document.subtotal, "tax": document.tax_total, "grand_total": document.grand_total,
            "lines": [line.total for line in document.lines]}


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_the_menu_works_for_each_role(app, live_server, make_user, shop, new_page, role):
    """Each menu page in the browser (no server error, no JavaScript error), and every link on
    it answers (no 404 nor 5xx) for this role."""
    user = make_user(role)
    page = new_page()
    sign_in(page, live_server, user.username)
    menu = page.eval_on_selector_all("#sidebar a", "links => links.map(a => a.getAttribute('href'))")
    assert "/" in menu and "/reports/" in menu
    checked, broken = set(), []
    for path in menu:
        response = page.goto(live_server + path)
        if response.status >= 400:
            broken.append(f"{path} -> {response.status}")
            continue
        hrefs = page.eval_on_selector_all("main a[href^='/']", "links => links.map(a => a.getAttribute('href'))")
        for href in hrefs:
            if href in checked or href.startswith("/static/"):
                continue
            checked.add(href)
            answer = page.request.get(live_server + href)
            if answer.status == 404 or answer.status >= 500:
                broken.append(f"{path} links {href} -> {answer.status}")
    assert len(checked) > 10
    assert broken == []


def test_the_admin_reads_the_roles_page_and_other_roles_cannot(app, live_server, make_user, new_page):
    """Users -> "Roles and permissions": the matrix of roles and resources, a plugin's resource
    under its plugin, in the admin's language; another role has no menu entry and is refused."""
    admin = make_user("admin", language="es")
    page = new_page()
    sign_in(page, live_server, admin.username)
    page.click("#sidebar a:has-text('Usuarios')")
    page.click("a:has-text('Roles y permisos')")
    page.wait_for_url(live_server + "/admin/roles")
    assert page.locator("h1").inner_text() == "Roles y permisos"
    shipments = page.locator("tr[data-resource=shipments]")
    assert "Envíos" in shipments.locator("th").inner_text()
    assert shipments.locator("td[data-role=warehouse]").inner_text().strip() == "Lectura y escritura"
    assert shipments.locator("td[data-role=sales]").inner_text().strip() == "Lectura"
    assert page.locator("tr[data-resource=users] td[data-role=warehouse]").inner_text().strip() == "Sin acceso"
    greetings = page.locator("tbody[data-plugin=hello] tr[data-resource=hello_greetings]")  # the example plugin
    assert greetings.locator("td[data-role=sales]").inner_text().strip() == "Lectura y escritura"
    assert greetings.locator("td[data-role=warehouse]").inner_text().strip() == "Lectura"
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the roles page scrolls sideways by {overflow}px"

    warehouse = new_page()
    sign_in(warehouse, live_server, make_user("warehouse").username)
    expect(warehouse.locator("#sidebar a[href='/admin/roles']")).to_have_count(0)
    assert warehouse.goto(live_server + "/admin/roles").status == 403


PAGES = [("dashboard", "/"), ("quotes", "/quotes/"), ("quote", "/quotes/{quote}"),
         ("quote-editor", "/quotes/{quote}/edit"), ("products", "/products/"), ("stock", "/stock/"),
         ("report-stock-valuation", "/reports/stock-valuation"), ("settings", "/settings/")]


def test_main_pages_fit_a_phone_and_a_laptop(app, live_server, make_user, shop, new_page, tmp_path):
    """No page scrolls sideways at 1280 px nor at 390 px (the line editor becomes one card per
    line); screenshots go to docs/screenshots/ with CRM_SCREENSHOTS=1."""
    from crm.services import documents
    with app.app_context():
        s = db.new_session(app)
        quote = documents.create_document(s, "quote", {"account_id": shop.account, "subject": "Spring order",
                                                       "lines": [{"item_id": shop.widget, "quantity": Decimal("2")},
                                                                 {"item_id": shop.kit, "quantity": Decimal("1")},
                                                                 {"item_id": shop.consulting,
                                                                  "quantity": Decimal("3")}]})
        s.commit()
        quote_id = quote.id
        s.close()
    admin = make_user("admin", full_name="Ada Admin")
    target = SCREENSHOTS if os.environ.get("CRM_SCREENSHOTS") else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    for width, height, suffix in ((1280, 900, ""), (390, 844, "-phone")):
        page = new_page(width, height)
        sign_in(page, live_server, admin.username)
        for name, path in PAGES:
            if suffix and name not in ("dashboard", "quote", "quote-editor"):
                continue
            page.goto(live_server + path.format(quote=quote_id))
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at {width}px"
            page.screenshot(path=str(target / f"{name}{suffix}.png"), full_page=not suffix)
    assert (target / "dashboard.png").stat().st_size > 1000
