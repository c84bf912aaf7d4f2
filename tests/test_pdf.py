"""Document PDFs: ``GET /api/v1/<documents>/<id>/pdf`` rendered by WeasyPrint, read back
with pypdf: header, parties, lines, taxes, totals, terms, the user's language, and the
columns and blocks plugins add through ``crm_line_columns`` and ``crm_pdf_context``."""
from __future__ import annotations

import dataclasses
import io

import pypdf
import pytest
from markupsafe import Markup

from crm import hookimpl
from crm.testing import ApiClient, registered_plugin
from crm.ui import LineColumn
from tests.test_documents import quote_body

TERMS = "Pago a 30 días.\nPortes pagados a partir de 300 €."


def pdf_text(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def company(session):
    from crm.services.settings import set_setting
    set_setting(session, "company_name", "Suministros Levante S.L.")
    set_setting(session, "company_address", "Avenida del Puerto 12\n46021 Valencia")
    session.commit()


def test_quote_pdf_shows_header_parties_lines_taxes_totals_and_terms(api, catalog, company):
    quote = api.post("/quotes", json=quote_body(catalog, terms=TERMS, contact_id=catalog.contact)).json()
    response = api.get(f"/quotes/{quote['id']}/pdf")
    assert response.headers["Content-Disposition"] == 'inline; filename="QUO-0001.pdf"'
    text = pdf_text(response)
    for expected in ("Suministros Levante S.L.", "Avenida del Puerto 12", "Quote", "QUO-0001",
                     "Ferretería López S.L.", "Ana López", "Calle Mayor 1", "Shop fit-out",
                     "Widget", "W-1", "Gadget", "Consulting hour",
                     "€65.30",     # widget line total (see test_documents' worked example)
                     "€7.455",     # a unit price keeps its decimals
                     "IVA 21%", "IVA 10%", "€21.74", "€1.42",  # tax breakdown after the 5 % discount
                     "€123.88", "€6.19", "€117.69", "€152.45",  # subtotal, discount, taxable, grand total
                     "Pago a 30 días.", "Portes pagados a partir de 300 €."):
        assert expected in text, f"{expected!r} missing from the PDF:\n{text}"


def test_sections_notes_and_subtotals_are_printed(api, catalog):
    body = quote_body(catalog, lines=[
        {"display_type": "section", "description": "Herramientas"},
        {"item_id": catalog.widget, "quantity": "2"},
        {"item_id": catalog.gadget, "quantity": "1"},
        {"display_type": "subtotal", "description": "Total herramientas"},
        {"display_type": "note", "description": "Entrega en horario de tienda"},
        {"item_id": catalog.consulting, "quantity": "1", "comment": "Montaje en tienda"},
    ])
    order = api.post("/sales-orders", json=body).json()
    text = pdf_text(api.get(f"/sales-orders/{order['id']}/pdf"))
    # 2 x 19.99 + 7.455 -> 39.98 + 7.46 (rounded per line)
    for expected in ("Sales order", "SO-0001", "Herramientas", "Total herramientas: €47.44",
                     "Entrega en horario de tienda", "Montaje en tienda"):
        assert expected in text, f"{expected!r} missing from the PDF:\n{text}"


@pytest.mark.crm_plugins()  # the core alone: the received amount is kept by hand, not by the payments plugin
@pytest.mark.crm_plugins()  # received by hand: without the payments plugin
def test_every_document_type_has_its_pdf(api, catalog):
    for item in (catalog.widget, catalog.gadget):  # a paid direct invoice takes its products out of stock
        api.post("/stock/adjustments", json={"product_id": item, "quantity": "10", "reason": "found"})
    invoice = api.post("/invoices", json=quote_body(catalog, received="50.00")).json()
    text = pdf_text(api.get(f"/invoices/{invoice['id']}/pdf"))
    assert "INV-0001" in text and "Received" in text and "€50.00" in text and "€102.45" in text  # balance
    order = api.post("/purchase-orders", json={"vendor_id": catalog.vendor,
                                               "lines": [{"item_id": catalog.widget, "quantity": "10"}]}).json()
    text = pdf_text(api.get(f"/purchase-orders/{order['id']}/pdf"))
    assert "PO-0001" in text and "Vendor" in text and "Suministros Norte" in text
    assert "€12.00" in text and "€145.20" in text  # at purchase cost: 10 x 12.00 + IVA 21 %


def test_money_and_dates_follow_the_users_language(api_as, make_user, catalog):
    spanish = api_as(user=make_user("sales", language="es"))
    quote = spanish.post("/quotes", json=quote_body(catalog, valid_until="2027-01-31")).json()
    text = pdf_text(spanish.get(f"/quotes/{quote['id']}/pdf"))
    assert "152,45\xa0€" in text and "€152.45" not in text
    assert "31 ene 2027" in text


class MarginPlugin:
    """Adds a "Margin" column (values from ``line.custom``), relabels Net, hides
    Description and puts a block after the totals."""

    @hookimpl
    def crm_line_columns(self, doc_type, session):
        return [LineColumn("margin", "Margin", type="money", editable=True, width="20mm")] if doc_type == "quote" else []

    @hookimpl
    def crm_pdf_context(self, session, document, context):
        context["columns"] = [dataclasses.replace(c, label="Base") if c.key == "net" else c
                              for c in context["columns"] if c.key != "description"]
        context["blocks"]["after_totals"].append(
            Markup("<p>{}</p>").format(f"Margin report for {document.number} <internal>"))


def test_plugins_add_columns_and_blocks(app, api, catalog):
    body = quote_body(catalog, lines=[
        {"item_id": catalog.widget, "quantity": "3", "description": "Tornillería", "custom": {"margin": "23.97"}},
        {"item_id": catalog.gadget, "quantity": "2", "custom": {"margin": "not a number"}},
    ])
    with registered_plugin(app, MarginPlugin()):  # the plugin declares the line's "margin"
        created = api.post("/quotes", json=body)
        assert created.status_code == 201, created.text
        quote = created.json()
        text = pdf_text(api.get(f"/quotes/{quote['id']}/pdf"))
    without = pdf_text(api.get(f"/quotes/{quote['id']}/pdf"))  # the plugin gone: its column too
    assert "Margin" not in without and "Tornillería" in without
    assert "Margin" in text and "€23.97" in text
    assert "not a number" in text  # printed as it is, never a server error
    assert "Base" in text and "Net" not in text
    assert "Description" not in text and "Tornillería" not in text
    assert "Margin report for QUO-0001 <internal>" in text  # escaped by Markup.format, printed as text


def test_a_column_width_is_used_only_when_it_is_a_plain_length():
    from crm.services.pdf import width_percent
    assert width_percent("20mm", 200, 9) == 10.0
    assert width_percent("12.5%", 200, 9) == 12.5
    assert width_percent("1mm; background: url(http://evil.example/)", 200, 9) is None
    assert width_percent(None, 200, 9) is None


def test_unknown_document_is_404(api, catalog):
    quote = api.post("/quotes", json=quote_body(catalog)).json()
    assert api.get("/quotes/999999/pdf").status_code == 404
    response = api.get(f"/invoices/{quote['id']}/pdf")  # a quote is not an invoice
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_pdf_needs_a_token(api, live_server, catalog):
    quote = api.post("/quotes", json=quote_body(catalog)).json()
    response = ApiClient(live_server, None).get(f"/quotes/{quote['id']}/pdf")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_every_role_may_read_a_pdf(api, api_as, catalog):
    quote = api.post("/quotes", json=quote_body(catalog)).json()
    assert pdf_text(api_as("warehouse").get(f"/quotes/{quote['id']}/pdf"))


def test_openapi_describes_the_pdf_route(api):
    spec = api.get("/openapi.json").json()
    for path in ("quotes", "sales-orders", "purchase-orders", "invoices"):
        operation = spec["paths"][f"/api/v1/{path}/{{doc_id}}/pdf"]["get"]
        assert "application/pdf" in operation["responses"]["200"]["content"]
