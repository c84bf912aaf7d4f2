"""The pages: the layout settings (admins only) with its live preview, and what the plugin adds
to the core's document editor and document page."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from werkzeug.datastructures import MultiDict

from crm.testing import TEST_PASSWORD
from idca_helpers import MARGIN_COLUMNS, MARGIN_TOTALS, order_body


@pytest.fixture
def web_as(app, make_user):
    def make(role="admin", language="en"):
        client = app.test_client()
        user = make_user(role, language=language)
        response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
        assert response.status_code == 302
        return client
    return make


def settings_form(columns=(), totals=(), version=0, builtin_rows=True):
    """The settings page's form: the built-in column rows, then ``columns`` (dicts of form values)."""
    form = MultiDict([("version", str(version))])
    builtins = ["item", "description", "quantity", "unit_price", "discount", "net", "tax", "total"]
    for index, key in enumerate(builtins if builtin_rows else []):
        row = f"c{index}"
        form.add("column_row", row)
        form.add(f"columns.{row}.key", key)
        form.add(f"columns.{row}.builtin", "1")
        form.add(f"columns.{row}.label", "")
        form.add(f"columns.{row}.visible", "1")
    for index, values in enumerate(columns):
        row = f"n{index}"
        form.add("column_row", row)
        for name, value in {"visible": "1", "type": "money", **values}.items():
            form.add(f"columns.{row}.{name}", value)
    for index, values in enumerate(totals):
        row = f"t{index}"
        form.add("total_row", row)
        for name, value in {"visible": "1", "type": "money", **values}.items():
            form.add(f"totals.{row}.{name}", value)
    return form


MARGIN_FORM = settings_form([{"key": "margin", "label": "Margin", "formula": "net - quantity * item.purchase_cost"}],
                            [{"key": "margin_total", "label": "Total margin", "formula": "sum(margin)"}])


def test_settings_page_is_listed_and_for_admins_only(web_as):
    admin = web_as("admin")
    assert "/idca/layouts/" in admin.get("/settings/").get_data(as_text=True)
    page = admin.get("/idca/layouts/sales-orders")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Add column" in html and "Add total" in html and 'name="columns.c5.key" value="net"' in html
    assert "Formula reference" in html and "item.purchase_cost" in html
    assert admin.get("/idca/layouts/").status_code == 302
    assert admin.get("/idca/layouts/contacts").status_code == 404
    sales = web_as("sales")
    assert sales.get("/idca/layouts/sales-orders").status_code == 403
    assert sales.post("/idca/layouts/sales-orders", data=MARGIN_FORM).status_code == 403


def test_the_settings_page_in_spanish(web_as):
    html = web_as("admin", language="es").get("/idca/layouts/sales-orders").get_data(as_text=True)
    assert "Columnas de línea y totales" in html and "Añadir columna" in html and "Guardar diseño" in html
    assert "Add column" not in html


def test_saving_the_form_stores_a_new_version(web_as, api):
    admin = web_as("admin")
    response = admin.post("/idca/layouts/sales-orders", data=MARGIN_FORM)
    assert response.status_code == 302, response.get_data(as_text=True)
    layout = api.get("/idca/layouts/sales-orders").json()
    assert layout["version"] == 1
    assert [c["key"] for c in layout["columns"]][-1] == "margin"
    assert layout["totals"][0]["formula"] == "sum(margin)"
    page = admin.get("/idca/layouts/sales-orders").get_data(as_text=True)
    assert "net - quantity * item.purchase_cost" in page and "Version 1." in page


def test_builtin_rows_hide_relabel_and_replace(web_as, api):
    admin = web_as("admin")
    form = settings_form()
    form.setlist("columns.c1.visible", [])                 # description hidden
    form["columns.c7.label"] = "Importe"
    form.add("total_row", "bgrand_total")
    form.add("totals.bgrand_total.key", "grand_total")
    form.add("totals.bgrand_total.label", "Total to pay")
    form.add("totals.bgrand_total.visible", "1")
    form.add("totals.bgrand_total.formula", "grand_total - round(taxable * 0.15, 2)")
    assert admin.post("/idca/layouts/invoices", data=form).status_code == 302
    layout = api.get("/idca/layouts/invoices").json()
    columns = {c["key"]: c for c in layout["columns"]}
    assert columns["description"]["visible"] is False and columns["total"]["label"] == "Importe"
    assert layout["totals"] == [{"key": "grand_total", "builtin": True, "label": "Total to pay", "type": "money",
                                 "visible": True, "formula": "grand_total - round(taxable * 0.15, 2)",
                                 "decimals": None}]


def test_refused_form_shows_each_message_beside_its_input(web_as, api):
    admin = web_as("admin")
    form = settings_form([{"key": "margin", "label": "Margin", "formula": "net - cost"},
                          {"key": "cost", "label": "Cost", "formula": "margin * 2"},
                          {"key": "bad", "label": "Bad", "formula": "().__class__"}])
    response = admin.post("/idca/layouts/sales-orders", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "circular reference: margin -&gt; cost -&gt; margin" in html
    assert "access to internal attributes (&#39;__class__&#39;) is not allowed" in html
    assert 'value="().__class__"' in html                       # what was typed is shown again
    assert api.get("/idca/layouts/sales-orders").json()["version"] == 0


def test_live_preview_on_the_newest_document(web_as, api, catalog):
    admin = web_as("admin")
    empty = admin.post("/idca/layouts/sales-orders/preview", data=MARGIN_FORM).get_data(as_text=True)
    assert "made-up lines" in empty and "Widget" in empty                 # no order yet: the catalogue
    api.post("/sales-orders", json=order_body(catalog))
    html = admin.post("/idca/layouts/sales-orders/preview", data=MARGIN_FORM).get_data(as_text=True)
    assert "Computed on SO-0001" in html
    assert "€17.97" in html and "€8.91" in html and "€55.00" in html and "€81.88" in html
    bad = settings_form([{"key": "m", "label": "M", "formula": "net / (quantity - quantity)"}])
    html = admin.post("/idca/layouts/sales-orders/preview", data=bad).get_data(as_text=True)
    assert "error: division by zero" in html
    wrong = settings_form([{"key": "m", "label": "M", "formula": "nett"}])
    html = admin.post("/idca/layouts/sales-orders/preview", data=wrong).get_data(as_text=True)
    assert "cannot be saved yet" in html and "Column m · formula: unknown name" in html
    assert api.get("/sales-orders/1").json()["lines"][0]["custom"] == {}     # the preview saved nothing


def editor_form(catalog, lines, **extra):
    form = MultiDict({"account_id": str(catalog.account), "currency": "EUR", "tax_mode": "individual", **extra})
    for index, line in enumerate(lines):
        key = f"k{index}"
        form.add("line_key", key)
        for name, value in line.items():
            form.add(f"lines.{key}.{name}", value)
    return form


def test_editor_shows_the_columns_and_the_server_fills_them_in(web_as, put_layout, catalog):
    put_layout("sales-orders", MARGIN_COLUMNS, MARGIN_TOTALS)
    admin = web_as("admin")
    page = admin.get("/sales-orders/new").get_data(as_text=True)
    assert ">Margin</th>" in page and ">Margin %</th>" in page
    assert 'data-kind="subtotal"' in page and 'id="subtotal-template"' in page
    assert "idca-subtotals" in page
    form = editor_form(catalog, [
        {"item_id": str(catalog.widget), "quantity": "3", "discount": "10", "discount_kind": "percent"},
        {"item_id": str(catalog.gadget), "quantity": "2"},
        {"display_type": "subtotal", "description": "Tools"}])
    preview = admin.post("/sales-orders/preview", data=form).get_data(as_text=True)
    assert 'id="line-k0-c-margin"' in preview and "€17.97" in preview and "€8.91" in preview
    assert "€26.88" in preview                                      # the margin total, computed as you type
    subtotals = admin.post("/idca/editor/sales_order/subtotals", data=form).get_data(as_text=True)
    assert "Tools" in subtotals and "€68.88" in subtotals and "Margin €26.88" in subtotals


def test_editor_of_an_issued_document_shows_the_columns_of_its_layout_version(web_as, api, put_layout, catalog):
    put_layout("quotes", MARGIN_COLUMNS, MARGIN_TOTALS)
    quote = api.post("/quotes", json=order_body(catalog)).json()
    assert api.patch(f"/quotes/{quote['id']}", json={"status": "Accepted"}).status_code == 200
    put_layout("quotes", [{"key": "extra", "label": "Extra", "type": "number", "formula": "quantity + 1"}])
    admin = web_as("admin")
    for url in (f"/quotes/{quote['id']}/edit", f"/quotes/{quote['id']}"):
        page = admin.get(url).get_data(as_text=True)
        assert ">Margin</th>" in page and ">Margin %</th>" in page and ">Extra</th>" not in page, url
    new = admin.get("/quotes/new").get_data(as_text=True)
    assert ">Extra</th>" in new and ">Margin</th>" not in new


def test_document_page_shows_the_subtotals_and_total_errors(web_as, api, put_layout, catalog):
    put_layout("sales-orders", MARGIN_COLUMNS, MARGIN_TOTALS + [
        {"key": "avg", "label": "Average", "formula": "sum(margin) / sum(quantity)"}])
    order = api.post("/sales-orders", json=order_body(catalog, lines=[
        {"item_id": catalog.widget, "quantity": "0"},
        {"display_type": "subtotal", "description": "Everything"}])).json()
    html = web_as("sales").get(f"/sales-orders/{order['id']}").get_data(as_text=True)
    assert "Sections and custom totals" in html and "Everything" in html
    assert "These totals could not be computed" in html and "Average: division by zero" in html
    assert "Computed with layout version 1." in html


def test_pages_and_htmx_posts_need_the_csrf_token(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    user = make_user("admin")
    login = client.get("/login").get_data(as_text=True)
    token = login.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                       "csrf_token": token}).status_code == 302
    page = client.get("/idca/layouts/quotes").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    assert 'name="csrf_token"' in page
    assert client.post("/idca/layouts/quotes", data=MARGIN_FORM).status_code == 400
    assert client.post("/idca/layouts/quotes/preview", data=MARGIN_FORM).status_code == 400
    assert client.post("/idca/layouts/quotes/preview", data=MARGIN_FORM,
                       headers={"X-CSRFToken": token}).status_code == 200
    form = MultiDict(MARGIN_FORM)
    form["csrf_token"] = token
    assert client.post("/idca/layouts/quotes", data=form).status_code == 302


def test_disabled_plugin_document_pages_open_with_the_builtin_columns(web_as, api, put_layout, catalog, runner):
    put_layout("sales-orders", MARGIN_COLUMNS, MARGIN_TOTALS)
    order = api.post("/sales-orders", json=order_body(catalog, lines=[
        {"item_id": catalog.widget, "quantity": "1"}, {"display_type": "subtotal", "description": "S"}])).json()
    assert runner.invoke(["plugins", "disable", "idca"]).exit_code == 0
    admin = web_as("admin")
    for url in (f"/sales-orders/{order['id']}", f"/sales-orders/{order['id']}/edit", "/sales-orders/new"):
        response = admin.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert ">Margin</th>" not in html and "Add subtotal" not in html
        assert "Widget" in html or url.endswith("/new")
    assert admin.get("/idca/layouts/sales-orders").status_code == 404


def test_preview_without_any_item_uses_made_up_ones(web_as):
    form = settings_form([{"key": "stock", "label": "Stock", "type": "number", "formula": "item.available"},
                          {"key": "margin", "label": "Margin", "formula": "net - quantity * item.purchase_cost"}])
    html = web_as("admin").post("/idca/layouts/invoices/preview", data=form).get_data(as_text=True)
    assert "Sample product" in html and "Sample section" in html and "€8.00" in html   # 2 x 10.00 - 2 x 6.00


# --- the built-in columns' arrangement on the document page and in the editor ---------------

ARRANGED = [{"key": "unit_price", "label": "Precio neto", "width": "90px"}, {"key": "discount", "visible": False},
            {"key": "item"}, {"key": "description"}, {"key": "quantity"}, {"key": "unit_price"}]


def arranged_columns(label="Precio neto", extra=()):
    """item, description, quantity, unit_price (relabelled), discount (hidden), total, net, tax."""
    return [{"key": "item"}, {"key": "description"}, {"key": "quantity"},
            {"key": "unit_price", "label": label, "width": "90px"}, {"key": "discount", "visible": False},
            {"key": "total"}, {"key": "net"}, {"key": "tax"}, *extra]


def table_header(page: str, table_class: str = "list lines") -> list[str]:
    """The texts of the header cells of the first ``<table class="...">`` of ``page``."""
    import html as html_lib
    import re
    table = page.split(f'<table class="{table_class}"', 1)[1].split("</thead>", 1)[0]
    cells = re.findall(r"<th\b[^>]*>(.*?)</th>", table, re.S)
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


class _EditorForm(HTMLParser):
    """The fields of the document editor's form as a browser posts them (``<template>`` rows left out)."""

    def __init__(self):
        super().__init__()
        self.fields, self.in_form, self.template, self.select, self.textarea = MultiDict(), False, 0, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "doc-form":
            self.in_form = True
        if not self.in_form:
            return
        if tag == "template":
            self.template += 1
        if self.template:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.add(a["name"], a.get("value") or "")
        elif tag == "select":
            self.select = [a.get("name"), None, None]   # name, first option, selected option
        elif tag == "option" and self.select is not None:
            value = a.get("value") or ""
            self.select[1] = value if self.select[1] is None else self.select[1]
            if "selected" in a:
                self.select[2] = value
        elif tag == "textarea" and a.get("name"):
            self.textarea = [a["name"], ""]

    def handle_endtag(self, tag):
        if tag == "template" and self.template:
            self.template -= 1
        elif tag == "select" and self.select is not None:
            name, first, chosen = self.select
            if name and not self.template:
                self.fields.add(name, chosen if chosen is not None else (first or ""))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.fields.add(*self.textarea)
            self.textarea = None
        elif tag == "form" and self.in_form:
            self.in_form = False

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data


def form_fields(page: str) -> MultiDict:
    """What a browser posts for the document editor of ``page`` (``<template>`` rows left out)."""
    reader = _EditorForm()
    reader.feed(page)
    return reader.fields


def test_document_page_shows_the_layouts_builtin_arrangement(web_as, api, put_layout, catalog):
    put_layout("sales-orders", arranged_columns(extra=[
        {"key": "margin", "label": "Margin", "type": "money", "formula": "net - quantity * item.purchase_cost"}]))
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    page = web_as("sales").get(f"/sales-orders/{order['id']}").get_data(as_text=True)
    assert table_header(page) == ["Item", "Description", "Quantity", "Precio neto", "Total", "Net", "Tax", "Margin",
                                  "Reserved", "Shipped", "Invoiced"]
    assert 'data-column="unit_price" class="num" style="width: 90px">Precio neto</th>' in page
    body = page.split('<table class="list lines"', 1)[1].split("</table>", 1)[0]
    assert "10 %" not in body                                      # the widget's discount is not shown
    first_row = body.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    # total (53.97 + 21 % = 65.30) comes before net (53.97)
    assert first_row.index("€65.30") < first_row.index("€53.97")
    spanish = web_as("sales", language="es").get(f"/sales-orders/{order['id']}").get_data(as_text=True)
    assert table_header(spanish)[:4] == ["Artículo", "Descripción", "Cantidad", "Precio neto"]


def test_relabels_are_user_text_and_escaped(web_as, api, put_layout, catalog):
    put_layout("sales-orders", arranged_columns(label="<b>Net price</b>"))
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    admin = web_as("admin")
    for url in (f"/sales-orders/{order['id']}", f"/sales-orders/{order['id']}/edit"):
        page = admin.get(url).get_data(as_text=True)
        assert "<b>Net price</b>" not in page and "&lt;b&gt;Net price&lt;/b&gt;" in page, url


def test_editor_takes_the_labels_and_keeps_a_hidden_discount_through_a_save(web_as, api, put_layout, catalog):
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    put_layout("sales-orders", arranged_columns())
    admin = web_as("admin")
    page = admin.get(f"/sales-orders/{order['id']}/edit").get_data(as_text=True)
    header = table_header(page, "list line-editor")
    assert header[:4] == ["Order", "Item", "Quantity", "Precio neto"] and "Discount" not in header
    assert header[4:] == ["Taxes", "Net", "Total", "Remove"]
    assert 'data-label="Precio neto"' in page and 'style="width: 90px">Precio neto</th>' in page
    assert 'id="lines.e0.discount"' not in page                     # no discount input shown
    assert '<input type="hidden" name="lines.e0.discount" value="10">' in page
    new = admin.get("/sales-orders/new").get_data(as_text=True)
    assert "Precio neto" in new and 'name="lines.n0.discount"' in new
    fields = form_fields(page)
    assert fields.getlist("lines.e0.discount") == ["10"] and fields.get("lines.e2.discount_kind") == "amount"
    fields["subject"] = "Saved with a hidden discount"
    response = admin.post(f"/sales-orders/{order['id']}/edit", data=fields)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    saved = api.get(f"/sales-orders/{order['id']}").json()
    assert saved["subject"] == "Saved with a hidden discount"
    assert [(line["discount_percent"], line["discount_amount"]) for line in saved["lines"]] == [
        (line["discount_percent"], line["discount_amount"]) for line in order["lines"]]
    assert saved["lines"][0]["discount_percent"] is not None and saved["lines"][2]["discount_amount"] is not None
    assert saved["totals"] == order["totals"]


def test_hidden_taxes_stay_as_hidden_inputs_in_the_editor(web_as, api, put_layout, catalog):
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    put_layout("sales-orders", [{"key": "tax", "visible": False}, {"key": "net", "label": "Neto"}])
    admin = web_as("admin")
    page = admin.get(f"/sales-orders/{order['id']}/edit").get_data(as_text=True)
    header = table_header(page, "list line-editor")
    assert "Taxes" not in header and "Neto" in header and "Discount" in header
    tax_id = order["lines"][0]["tax_ids"][0]
    assert f'<input type="hidden" name="lines.e0.tax_ids" value="{tax_id}">' in page
    fields = form_fields(page)
    assert admin.post(f"/sales-orders/{order['id']}/edit", data=fields).status_code == 302
    saved = api.get(f"/sales-orders/{order['id']}").json()
    assert saved["totals"] == order["totals"] and [line["tax_ids"] for line in saved["lines"]] == [
        line["tax_ids"] for line in order["lines"]]


def test_an_issued_document_keeps_the_arrangement_of_its_layout_version(web_as, api, put_layout, catalog):
    put_layout("quotes", arranged_columns())
    quote = api.post("/quotes", json=order_body(catalog)).json()
    assert api.patch(f"/quotes/{quote['id']}", json={"status": "Accepted"}).status_code == 200
    put_layout("quotes", [{"key": "quantity", "label": "Cant."}])
    admin = web_as("admin")
    issued = admin.get(f"/quotes/{quote['id']}").get_data(as_text=True)
    assert table_header(issued) == ["Item", "Description", "Quantity", "Precio neto", "Total", "Net", "Tax"]
    editor = admin.get(f"/quotes/{quote['id']}/edit").get_data(as_text=True)
    assert "Precio neto" in table_header(editor, "list line-editor")
    draft = api.post("/quotes", json=order_body(catalog)).json()
    live = admin.get(f"/quotes/{draft['id']}").get_data(as_text=True)
    assert table_header(live) == ["Item", "Description", "Cant.", "Unit price", "Discount", "Net", "Tax", "Total"]


def test_without_an_arrangement_or_with_the_plugin_disabled_the_core_columns_come_back(
        web_as, api, put_layout, catalog, runner):
    default = ["Item", "Quantity", "Unit price", "Discount", "Taxes", "Reserved", "Shipped", "Invoiced",
               "Net", "Tax", "Total"]
    put_layout("sales-orders", MARGIN_COLUMNS)         # custom columns only: the built-in ones as they are
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    admin = web_as("admin")
    assert table_header(admin.get(f"/sales-orders/{order['id']}").get_data(as_text=True)) == (
        default[:5] + ["Margin", "Margin %"] + default[5:])
    put_layout("sales-orders", arranged_columns())
    assert "Precio neto" in table_header(admin.get(f"/sales-orders/{order['id']}").get_data(as_text=True))
    assert runner.invoke(["plugins", "disable", "idca"]).exit_code == 0
    admin = web_as("admin")
    assert table_header(admin.get(f"/sales-orders/{order['id']}").get_data(as_text=True)) == default
    editor = admin.get(f"/sales-orders/{order['id']}/edit").get_data(as_text=True)
    assert table_header(editor, "list line-editor") == ["Order", "Item", "Quantity", "Unit price", "Discount",
                                                        "Taxes", "Net", "Total", "Remove"]
    assert 'id="lines.e0.discount"' in editor


def test_custom_totals_show_their_labels_types_and_visibility_on_the_page_and_in_the_editor(
        web_as, api, put_layout, catalog):
    put_layout("sales-orders", MARGIN_COLUMNS, MARGIN_TOTALS + [
        {"key": "margin_rate", "label": "Margin rate", "type": "percent",
         "formula": "round(sum(margin) / subtotal * 100, 2)"},
        {"key": "secret", "label": "Hidden figure", "visible": False, "formula": "sum(margin) * 2"}])
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    assert set(order["extra_totals"]) == {"margin_total", "margin_rate", "secret"}
    admin = web_as("sales")
    form = editor_form(catalog, [{"item_id": str(catalog.widget), "quantity": "3", "discount": "10",
                                  "discount_kind": "percent"}])
    shown = {"page": admin.get(f"/sales-orders/{order['id']}").get_data(as_text=True),
             "editor": admin.get(f"/sales-orders/{order['id']}/edit").get_data(as_text=True),
             "preview": admin.post("/sales-orders/preview", data=form).get_data(as_text=True)}
    for where, html in shown.items():
        totals = html[html.index('id="doc-totals"'):]
        rows = re.findall(r'<tr class="extra"><th scope="row">([^<]*)</th><td class="num" data-total="(\w+)">([^<]*)<',
                          totals)
        assert [(label, key) for label, key, _value in rows] == [("Total margin", "margin_total"),
                                                                 ("Margin rate", "margin_rate")], where
        assert rows[0][2].startswith("€") and rows[1][2].endswith(" %"), (where, rows)
        assert "Hidden figure" not in totals and ">margin_total<" not in totals, where
