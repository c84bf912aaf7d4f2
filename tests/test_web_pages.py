"""The web UI through Flask's test client: every page reachable from the menu for every
role, the record forms with their field-level messages, the document editor whose totals
the server computes (the same engine as the API), order processing from the pages,
stock adjustments, reports and their CSV, users, settings and the profile."""
from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import select

from crm.context import acting_as
from crm.models import ROLES, Account, Document, Item, StockMove, User
from crm.services import documents, stock
from crm.testing import TEST_PASSWORD

#: the core's pages with the example plugin; tests/test_web_plugins.py crawls with every installed plugin
pytestmark = pytest.mark.crm_plugins("hello")
SKIP_LINKS = ("/static/", "/api/", "/logout")


def sign_in(app, make_user, role="admin", **kwargs):
    user = make_user(role, **kwargs)
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    client.user = user
    return client


def html_of(response) -> str:
    return response.get_data(as_text=True)


def links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="(/[^"#]*)"', html) if not h.startswith(SKIP_LINKS)]


def menu_links(html: str) -> list[str]:
    nav = re.search(r'<nav id="sidebar".*?</nav>', html, re.S).group(0)
    return links(nav)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(autouse=True)
def _nobody_acting():
    from crm.context import set_actor
    set_actor(None)


@pytest.fixture
def business(app, session, catalog):
    """The catalogue plus stock and one document of each kind."""
    admin = session.scalar(select(User).where(User.role == "admin")) or None
    with app.app_context(), acting_as(admin):
        stock.adjust(session, catalog.widget, quantity=Decimal("50"), reason="found")
        stock.adjust(session, catalog.gadget, quantity=Decimal("40"), reason="found")
        lines = [{"item_id": catalog.widget, "quantity": Decimal("2")},
                 {"item_id": catalog.consulting, "quantity": Decimal("1")}]
        quote = documents.create_document(session, "quote", {"account_id": catalog.account, "lines": lines,
                                                             "subject": "Shop fitting"})
        order = documents.create_document(session, "sales_order", {"account_id": catalog.account, "lines": lines})
        documents.create_document(session, "purchase_order", {"vendor_id": catalog.vendor, "lines": [
            {"item_id": catalog.gadget, "quantity": Decimal("10")}]})
        documents.create_document(session, "invoice", {"account_id": catalog.account, "lines": lines})
        session.commit()
    catalog.quote, catalog.order = quote.id, order.id
    return catalog


# --- every page, every role -----------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_every_page_reachable_from_the_menu_works_for_each_role(app, make_user, business, role):
    """Menu pages and the pages they link to (records, documents, forms): no server error, no
    broken link; a page the role may not use answers 403 and is never linked."""
    client = sign_in(app, make_user, role)
    home = client.get("/")
    assert home.status_code == 200
    start = menu_links(html_of(home))
    assert "/quotes/" in start and "/reports/" in start
    assert ("/users/" in start) == (role == "admin")
    seen, failures = set(), []
    queue = [(url, 0) for url in start]
    while queue:
        url, depth = queue.pop(0)
        if url in seen or "/pdf" in url or url.endswith("/csv") or "/csv?" in url:
            continue
        seen.add(url)
        response = client.get(url, follow_redirects=True)
        if response.status_code != 200 or response.request.path == "/login":
            failures.append(f"{url} -> {response.status_code} {response.request.path}")
            continue
        if depth < 2 and response.mimetype == "text/html":
            queue.extend((link, depth + 1) for link in links(html_of(response)) if link not in seen)
    assert len(seen) > 40
    assert failures == []


def test_a_role_without_write_access_sees_no_buttons_that_would_be_refused(app, make_user, business):
    warehouse = sign_in(app, make_user, "warehouse")
    page = html_of(warehouse.get(f"/quotes/{business.quote}"))
    assert "Mark as Accepted" not in page and f"/quotes/{business.quote}/edit" not in page
    assert warehouse.get("/quotes/new").status_code == 403
    assert warehouse.get("/accounts/new").status_code == 403
    assert "/accounts/new" not in html_of(warehouse.get("/accounts/"))


# --- master data forms ----------------------------------------------------------------------------------

def test_account_form_shows_each_refusal_beside_its_input_then_saves(app, make_user, look):
    client = sign_in(app, make_user, "sales")
    refused = client.post("/accounts/new", data={"name": "  ", "email": "not-an-email",
                                                 "billing_address.city": "x" * 300})
    assert refused.status_code == 422
    page = html_of(refused)
    assert re.search(r'id="f-name"[^>]*aria-invalid="true"', page)
    assert re.search(r'id="f-email"[^>]*aria-invalid="true"', page)
    assert 'id="err-email"' in page and 'id="err-billing_address-city"' in page
    assert "not-an-email" in page  # what was typed is kept
    assert look(lambda s: s.scalar(select(Account.id).where(Account.email == "not-an-email"))) is None

    saved = client.post("/accounts/new", data={"name": "Talleres Ruiz", "email": "info@ruiz.example",
                                               "billing_address.city": "Zaragoza", "active": "1"})
    assert saved.status_code == 302
    account = look(lambda s: s.scalar(select(Account).where(Account.name == "Talleres Ruiz")))
    assert account.billing_address["city"] == "Zaragoza" and account.active
    detail = html_of(client.get(saved.headers["Location"]))
    assert "Talleres Ruiz" in detail and "Zaragoza" in detail

    edited = client.post(f"/accounts/{account.id}/edit", data={"name": "Talleres Ruiz S.L.", "version": "1",
                                                               "email": "", "active": "1"})
    assert edited.status_code == 302
    assert 'data-kind="changed"' in html_of(client.get(f"/accounts/{account.id}"))  # the audit trail of the change
    stale = client.post(f"/accounts/{account.id}/edit", data={"name": "Lost update", "version": "1"})
    assert stale.status_code == 422 and "changed by someone else" in html_of(stale)
    assert client.post(f"/accounts/{account.id}/delete").status_code == 302
    assert client.get(f"/accounts/{account.id}").status_code == 404


def test_product_form_reads_decimals_typed_either_way_and_refuses_words(app, make_user, look, catalog):
    client = sign_in(app, make_user, "purchasing")
    refused = client.post("/products/new", data={"name": "Hammer", "unit_price": "twelve", "sku": "W-1"})
    assert refused.status_code == 422
    assert re.search(r'id="f-unit_price"[^>]*aria-invalid="true"', html_of(refused))
    saved = client.post("/products/new", data={"name": "Hammer", "unit_price": "1.234,50", "purchase_cost": "7,25",
                                               "sku": "H-1", "tax_ids": [str(catalog.iva21)], "active": "1",
                                               "reorder_level": "3"})
    assert saved.status_code == 302, html_of(saved)
    hammer = look(lambda s: s.scalar(select(Item).where(Item.sku == "H-1")))
    assert hammer.unit_price == Decimal("1234.50") and hammer.purchase_cost == Decimal("7.25")
    assert look(lambda s: [t.id for t in s.get(Item, hammer.id).taxes]) == [catalog.iva21]
    duplicate = client.post("/products/new", data={"name": "Other", "unit_price": "1", "sku": "H-1"})
    assert duplicate.status_code == 422 and re.search(r'id="f-sku"[^>]*aria-invalid="true"', html_of(duplicate))


@pytest.mark.parametrize("language, typed, expected", [
    ("en", "1,234.50", "1234.50"), ("en", "1,234", "1234"), ("en", "-1,234,567.5", "-1234567.5"),
    ("en", "12,50", "12.50"), ("en", "1.234,50", "1234.50"),    # not English: read as Spanish writes it
    ("es", "1.234,50", "1234.50"), ("es", "1,234", "1.234"), ("es", "-12,5", "-12.5"),
    ("es", "1,234.50", "1234.50"),                                 # not Spanish: read as English writes it
    ("en", "1234.5", "1234.5"), ("es", "1.234", "1.234"), ("es", ".5", "0.5"),  # as forms show numbers
    ("es", " 1 234,50 ", "1234.50"), ("en", "1\u00a0234.50", "1234.50"),
])
def test_a_number_typed_in_a_form_is_read_in_the_user_s_language_first(app, language, typed, expected):
    from flask_babel import force_locale

    from crm.web.common import parse_decimal
    with app.test_request_context("/"), force_locale(language):
        assert parse_decimal(typed, "amount") == Decimal(expected)


@pytest.mark.parametrize("typed", ["twelve", "1e3", "1_000", "NaN", "Infinity", "\u0661\u0662", "\uff11\uff12",
                                   "1,2,3", "12,5.3.1", "1.2.3,4,5", "--1", "1" * 50, ",", "."])
def test_a_form_refuses_what_is_not_a_number_in_either_language(app, typed):
    from flask_babel import force_locale

    from crm.errors import ValidationError
    from crm.web.common import parse_decimal
    for language in ("en", "es"):
        with app.test_request_context("/"), force_locale(language), pytest.raises(ValidationError) as refused:
            parse_decimal(typed, "amount")
        assert list(refused.value.fields) == ["amount"]


def test_bundle_price_book_and_custom_field_forms(app, make_user, look, catalog):
    client = sign_in(app, make_user, "admin")
    bundle = client.post("/bundles/new", data={"name": "Duo", "unit_price": "30", "active": "1",
                                               "components.0.product_id": str(catalog.widget),
                                               "components.0.quantity": "2",
                                               "components.1.product_id": str(catalog.gadget),
                                               "components.1.quantity": "0"})
    assert bundle.status_code == 422 and "components.1.quantity" in html_of(bundle).replace("-", ".")
    bundle = client.post("/bundles/new", data={"name": "Duo", "unit_price": "30", "active": "1",
                                               "components.0.product_id": str(catalog.widget),
                                               "components.0.quantity": "2"})
    assert bundle.status_code == 302
    assert look(lambda s: [(c.component_id, c.quantity) for c in
                           s.scalar(select(Item).where(Item.name == "Duo", Item.is_bundle.is_(True))).components]) \
        == [(catalog.widget, 2)]

    book = client.post("/price-books/new", data={"name": "Retail", "currency": "eur", "active": "1",
                                                 "prices.0.item_id": str(catalog.widget),
                                                 "prices.0.list_price": "18,50"})
    assert book.status_code == 302
    assert "18.50" in html_of(client.get(book.headers["Location"]))

    field = client.post("/custom-fields/new", data={"entity": "accounts", "key": "segment", "label": "Segment",
                                                    "type": "select", "choices": "Retail\nWholesale",
                                                    "required": "1", "active": "1"})
    assert field.status_code == 302
    form = html_of(client.get("/accounts/new"))
    assert 'name="custom.segment"' in form and "Wholesale" in form
    refused = client.post("/accounts/new", data={"name": "No segment"})
    assert refused.status_code == 422 and re.search(r'id="f-custom-segment"[^>]*aria-invalid', html_of(refused))
    saved = client.post("/accounts/new", data={"name": "With segment", "custom.segment": "Retail"})
    assert saved.status_code == 302
    assert look(lambda s: s.scalar(select(Account.custom).where(Account.name == "With segment"))) == {"segment": "Retail"}


def test_lists_search_filter_sort_and_paginate(app, make_user, session):
    for number in range(30):
        session.add(Account(name=f"Client {number:02d}", active=number % 2 == 0))
    session.commit()
    client = sign_in(app, make_user, "sales")
    first = text(html_of(client.get("/accounts/?sort=-name&per_page=10")))
    assert first.index("Client 29") < first.index("Client 28") and "Client 19" not in first
    assert "1–10 of 30" in first
    second = text(html_of(client.get("/accounts/?sort=-name&per_page=10&page=2")))
    assert "Client 19" in second and "Client 29" not in second
    found = text(html_of(client.get("/accounts/?q=client 1&active=0")))
    assert "Client 11" in found and "Client 12" not in found and "Client 21" not in found
    assert client.get("/accounts/?sort=password&page=x").status_code == 200  # nonsense is ignored


# --- the document editor -----------------------------------------------------------------------------

def editor_form(party_field, party_id, lines, **header):
    form = {party_field: str(party_id), "currency": "EUR", "tax_mode": "individual", **header}
    keys = []
    for index, line in enumerate(lines):
        key = f"n{index}"
        keys.append(key)
        for name, value in line.items():
            form[f"lines.{key}.{name}"] = value
    form["line_key"] = keys
    return form


def test_new_quote_from_the_editor_gets_the_totals_of_the_engine(app, make_user, session, look, catalog):
    client = sign_in(app, make_user, "sales")
    page = html_of(client.get(f"/quotes/new?account_id={catalog.account}"))
    assert 'id="doc-form"' in page and 'hx-post="/quotes/preview"' in page and 'name="csrf_token"' in page
    lines = [{"item_id": str(catalog.widget), "quantity": "3", "unit_price": "19.99", "discount": "10",
              "discount_kind": "percent", "tax_ids": str(catalog.iva21)},
             {"item_id": str(catalog.gadget), "quantity": "2,5", "unit_price": "7.455", "tax_ids": str(catalog.iva10)},
             {"item_id": str(catalog.consulting), "quantity": "1", "unit_price": "40", "discount": "5",
              "discount_kind": "amount", "tax_ids": str(catalog.iva21)}]
    form = editor_form("account_id", catalog.account, lines, subject="Three lines", shipping_amount="10",
                       shipping_tax_ids=str(catalog.ship21), adjustment="-0,01")

    preview = client.post("/quotes/preview", data=form)
    assert preview.status_code == 200
    fragment = html_of(preview)
    assert 'id="doc-totals"' in fragment and 'id="line-n0-total" hx-swap-oob="true"' in fragment

    saved = client.post("/quotes/new", data=form)
    assert saved.status_code == 302, html_of(saved)
    quote_totals = look(lambda s: (lambda d: (d.grand_total, d.tax_total, [line.total for line in d.lines]))(
        s.scalar(select(Document).where(Document.subject == "Three lines"))))
    reference = documents.create_document(session, "quote", {
        "account_id": catalog.account, "shipping_amount": Decimal("10"), "shipping_tax_ids": [catalog.ship21],
        "adjustment": Decimal("-0.01"), "lines": [
            {"item_id": catalog.widget, "quantity": Decimal("3"), "unit_price": Decimal("19.99"),
             "discount_percent": Decimal("10"), "tax_ids": [catalog.iva21]},
            {"item_id": catalog.gadget, "quantity": Decimal("2.5"), "unit_price": Decimal("7.455"),
             "tax_ids": [catalog.iva10]},
            {"item_id": catalog.consulting, "quantity": Decimal("1"), "unit_price": Decimal("40"),
             "discount_amount": Decimal("5"), "tax_ids": [catalog.iva21]}]})
    expected = (reference.grand_total, reference.tax_total, [line.total for line in reference.lines])
    session.rollback()
    assert quote_totals == expected
    assert "€" + format(expected[0], ",.2f") in fragment  # the preview showed the same total
    detail = html_of(client.get(saved.headers["Location"]))
    assert "€" + format(expected[0], ",.2f") in detail


def test_editor_errors_land_on_the_line_that_caused_them(app, make_user, catalog):
    client = sign_in(app, make_user, "sales")
    lines = [{"item_id": str(catalog.widget), "quantity": "1"},
             {"item_id": str(catalog.gadget), "quantity": "lots"},
             {"item_id": str(catalog.widget), "quantity": "1", "discount": "150", "discount_kind": "percent"}]
    refused = client.post("/quotes/new", data=editor_form("account_id", catalog.account, lines))
    assert refused.status_code == 422
    page = html_of(refused)
    assert re.search(r'id="lines\.n1\.quantity"[^>]*aria-invalid="true"', page)
    assert "lots" in page  # the typed state is kept
    refused = client.post("/quotes/new", data=editor_form("account_id", catalog.account, [lines[0], lines[2]]))
    assert re.search(r'id="lines\.n1\.discount"[^>]*aria-invalid="true"', html_of(refused))
    preview = html_of(client.post("/quotes/preview", data=editor_form("account_id", catalog.account, lines)))
    assert 'role="alert"' in preview and "Line 2" in preview


def test_editing_keeps_line_ids_and_reorders(app, make_user, look, business):
    client = sign_in(app, make_user, "sales")
    version, first, second = look(lambda s: (lambda d: (d.version, *[(line.id, line.item_id) for line in d.lines]))(
        s.get(Document, business.quote)))
    page = html_of(client.get(f"/quotes/{business.quote}/edit"))
    assert f'name="lines.e0.id" value="{first[0]}"' in page
    form = editor_form("account_id", business.account, [
        {"id": str(second[0]), "item_id": str(second[1]), "quantity": "4", "unit_price": "40"},
        {"id": str(first[0]), "item_id": str(first[1]), "quantity": "1", "unit_price": "19.99"},
        {"display_type": "note", "description": "Delivery on Monday"}])
    form["version"] = str(version)
    assert client.post(f"/quotes/{business.quote}/edit", data=form).status_code == 302
    lines = look(lambda s: [(line.id, line.quantity, line.display_type) for line in s.get(Document, business.quote).lines])
    assert [line[0] for line in lines[:2]] == [second[0], first[0]]
    assert lines[0][1] == 4 and lines[2][2] == "note"


# --- actions and order processing ----------------------------------------------------------------------

def test_quote_to_invoice_from_the_pages_moves_stock_and_keeps_links(app, make_user, look, business):
    client = sign_in(app, make_user, "admin")
    quote_id = business.quote
    assert client.post(f"/quotes/{quote_id}/status", data={"status": "Accepted"}).status_code == 302
    converted = client.post(f"/quotes/{quote_id}/to-sales-order")
    assert converted.status_code == 302 and "/sales-orders/" in converted.headers["Location"]
    order_id = int(converted.headers["Location"].rstrip("/").split("/")[-1])
    refused = client.post(f"/sales-orders/{order_id}/status", data={"status": "Delivered"})
    assert refused.status_code == 302  # flashed, nothing changed
    assert client.post(f"/sales-orders/{order_id}/status", data={"status": "Approved"}).status_code == 302
    assert look(lambda s: s.get(Item, business.widget).reserved) == 2
    widget_line = look(lambda s: next(line for line in s.get(Document, order_id).lines
                                      if line.item_id == business.widget))
    form = html_of(client.get(f"/sales-orders/{order_id}/ship"))
    assert f'name="qty.{widget_line.id}"' in form
    too_many = client.post(f"/sales-orders/{order_id}/ship", data={f"qty.{widget_line.id}": "5"})
    assert too_many.status_code == 422
    assert re.search(rf'id="qty\.{widget_line.id}"[^>]*aria-invalid="true"', html_of(too_many))
    shipped = client.post(f"/sales-orders/{order_id}/ship", data={f"qty.{widget_line.id}": "1"})
    assert shipped.status_code == 302
    assert look(lambda s: s.get(Item, business.widget).on_hand) == 49
    invoiced = client.post(f"/sales-orders/{order_id}/invoice", data={f"qty.{widget_line.id}": "1"})
    assert invoiced.status_code == 302 and "/invoices/" in invoiced.headers["Location"]
    order_page = text(html_of(client.get(f"/sales-orders/{order_id}")))
    assert "QUO-" in order_page and "INV-" in order_page  # related documents, both ways
    assert "Status history" in order_page and "Approved" in order_page
    assert look(lambda s: list(s.scalars(select(StockMove.quantity).where(StockMove.document_id == order_id)))) == [-1]


def test_purchase_order_receipt_and_adjustment_pages(app, make_user, look, catalog):
    client = sign_in(app, make_user, "admin")
    form = editor_form("vendor_id", catalog.vendor, [{"item_id": str(catalog.gadget), "quantity": "6"}])
    created = client.post("/purchase-orders/new", data=form)
    assert created.status_code == 302
    po_id = int(created.headers["Location"].rstrip("/").split("/")[-1])
    line_id, price = look(lambda s: (lambda line: (line.id, line.unit_price))(s.get(Document, po_id).lines[0]))
    assert price == Decimal("3.00")  # purchase cost by default
    client.post(f"/purchase-orders/{po_id}/status", data={"status": "Approved"})
    assert client.post(f"/purchase-orders/{po_id}/receive", data={f"qty.{line_id}": "4"}).status_code == 302
    assert look(lambda s: s.get(Item, catalog.gadget).on_hand) == 4
    levels = html_of(client.get("/stock/"))
    assert "Gadget" in levels

    refused = client.post("/stock/adjust", data={"product_id": str(catalog.gadget), "mode": "change",
                                                 "quantity": "-9", "reason": "lost"})
    assert refused.status_code == 422 and re.search(r'id="f-quantity"[^>]*aria-invalid', html_of(refused))
    counted = client.post("/stock/adjust", data={"product_id": str(catalog.gadget), "mode": "counted",
                                                 "quantity": "10", "reason": "count_correction", "note": "cycle count"})
    assert counted.status_code == 302
    assert look(lambda s: s.get(Item, catalog.gadget).on_hand) == 10
    assert "cycle count" in html_of(client.get(f"/stock/moves?product_id={catalog.gadget}"))


def test_document_pdf_and_delete(app, make_user, session, business):
    client = sign_in(app, make_user, "sales")
    pdf = client.get(f"/quotes/{business.quote}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert client.post(f"/quotes/{business.quote}/delete").status_code == 302
    assert client.get(f"/quotes/{business.quote}").status_code == 404


# --- dashboard, reports ---------------------------------------------------------------------------------

def test_dashboard_and_reports_with_csv(app, make_user, business):
    client = sign_in(app, make_user, "accounting")
    home = text(html_of(client.get("/")))
    for heading in ("Sales this month", "Open sales orders", "Low stock", "Overdue invoices", "Sales by month"):
        assert heading in home
    index = html_of(client.get("/reports/"))
    names = re.findall(r'href="/reports/([a-z-]+)"', index)
    assert {"stock-levels", "stock-valuation", "sales-by-product", "invoice-aging"} <= set(names)
    for name in names:
        page = client.get(f"/reports/{name}")
        assert page.status_code == 200, name
    valuation = html_of(client.get("/reports/stock-valuation"))
    assert 'data-chart="report-chart-data"' in valuation and "Download CSV" in valuation
    csv = client.get("/reports/stock-levels/csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines()[0].startswith("SKU,Product")
    assert client.get("/reports/no-such-report").status_code == 404
    assert client.get("/reports/sales-by-product?date_from=2027-13-01").status_code == 422


# --- users, settings, profile, languages --------------------------------------------------------------

def test_users_admin_creates_and_edits_and_keeps_the_last_admin(app, make_user, look):
    client = sign_in(app, make_user, "admin")
    refused = client.post("/users/new", data={"username": "pat", "role": "sales", "password": "short"})
    assert refused.status_code == 422 and re.search(r'id="f-password"[^>]*aria-invalid', html_of(refused))
    created = client.post("/users/new", data={"username": "pat", "role": "sales", "language": "es",
                                              "password": "long enough pw", "active": "1"})
    assert created.status_code == 302
    pat = look(lambda s: s.scalar(select(User.id).where(User.username == "pat")))
    assert client.post(f"/users/{pat}", data={"role": "warehouse", "language": "en", "active": "1"}).status_code == 302
    assert look(lambda s: s.get(User, pat).role) == "warehouse"
    myself = client.post(f"/users/{client.user.id}", data={"role": "sales", "language": "en", "active": "1"})
    assert myself.status_code == 422


def test_settings_page_lists_plugin_settings_and_saves_core_settings(app, make_user):
    from crm.testing import registered_plugin
    from crm.ui import SettingsPage

    class Plugin:
        from crm import hookimpl

        @hookimpl
        def crm_settings_pages(self):
            return [SettingsPage("Widget settings", "/widget/settings")]

    client = sign_in(app, make_user, "admin")
    with registered_plugin(app, Plugin(), "widgetplug"):
        page = html_of(client.get("/settings/"))
    assert 'href="/widget/settings"' in page
    saved = client.post("/settings/", data={"company_name": "Ferretería Nueva", "default_currency": "eur",
                                            "allow_backorders": "1", "numbering.quote.prefix": "Q-",
                                            "numbering.quote.padding": "5", "numbering.quote.next_value": "7"})
    assert saved.status_code == 302
    assert "Ferretería Nueva" in html_of(client.get("/"))
    bad = client.post("/settings/", data={"company_name": "X", "default_currency": "EURO"})
    assert bad.status_code == 422
    assert sign_in(app, make_user, "sales").post("/settings/", data={"company_name": "Y"}).status_code == 403


def test_language_is_chosen_per_user_on_the_profile_page(app, make_user, business):
    client = sign_in(app, make_user, "sales", full_name="Ana")
    assert "Sales orders" in html_of(client.get("/"))
    wrong = client.post("/profile/", data={"language": "es", "new_password": "another password",
                                           "current_password": "wrong"})
    assert wrong.status_code == 422
    assert client.post("/profile/", data={"language": "es", "full_name": "Ana"}).status_code == 302
    page = html_of(client.get(f"/quotes/{business.quote}"))
    assert '<html lang="es">' in page
    assert "Pedidos de venta" in page and "Presupuesto" in page and "Creado" in page
    assert re.search(r"\d+,\d\d\s€", text(page))  # 79,96 € — Spanish money format
    other = sign_in(app, make_user, "sales")
    assert "Sales orders" in html_of(other.get("/"))  # a per-user choice


def test_forms_and_the_live_preview_carry_the_csrf_token(app_factory, make_user, catalog):
    """With CSRF on (as in production): the editor's form has the token, htmx sends the
    page's meta token as ``X-CSRFToken``, and a post without either is refused."""
    app = app_factory(plugins=["hello"], WTF_CSRF_ENABLED=True)
    user = make_user("sales")
    client = app.test_client()
    login_token = re.search(r'name="csrf_token" value="([^"]+)"', html_of(client.get("/login"))).group(1)
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": login_token})
    page = html_of(client.get("/quotes/new"))
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    assert re.search(r'id="doc-form".*?name="csrf_token" value="[^"]+"', page, re.S)
    form = editor_form("account_id", catalog.account, [{"item_id": str(catalog.widget), "quantity": "1"}])
    assert client.post("/quotes/preview", data=form).status_code == 400
    assert client.post("/quotes/preview", data=form, headers={"X-CSRFToken": meta}).status_code == 200
    assert client.post("/quotes/new", data=form).status_code == 400
    assert client.post("/quotes/new", data={**form, "csrf_token": meta}).status_code == 302
