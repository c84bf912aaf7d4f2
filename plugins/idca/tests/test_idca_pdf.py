"""The document PDF shows the layout: custom columns with their values, custom totals with
their labels, built-in columns and totals hidden, relabelled and moved (text read back with pypdf)."""
from __future__ import annotations

from idca_helpers import MARGIN_COLUMNS, MARGIN_TOTALS, order_body


def test_pdf_prints_the_margin_columns_and_total(api, catalog, margin_layout, read_pdf):
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    text = read_pdf(api.get(f"/sales-orders/{order['id']}/pdf"))
    assert "Margin Margin %" in text                       # the headers, after the built-in ones
    for value in ("€17.97", "33.3 %", "€8.91", "59.76 %", "€55.00", "100 %"):
        assert value in text, f"{value!r} missing:\n{text}"
    assert "Total margin €81.88" in text                   # the layout's label, printed as money
    assert "€148.25" in text


def test_pdf_applies_hidden_relabelled_and_moved_builtin_columns_and_totals(api, catalog, put_layout, read_pdf):
    put_layout("quotes", [
        {"key": "item", "label": "Artículo"},
        {"key": "margin", "label": "Margen", "type": "money", "formula": "net - quantity * item.purchase_cost"},
        {"key": "quantity", "label": "Cant."},
        {"key": "unit_price", "label": "Precio", "width": "25mm"},
        {"key": "description", "visible": False},
        {"key": "tax", "visible": False},
        {"key": "helper", "label": "Helper", "type": "number", "formula": "quantity * 2", "visible": False},
    ], [{"key": "tax", "label": "IVA"}, {"key": "subtotal", "visible": False},
        {"key": "margin_total", "label": "Margen total", "formula": "sum(margin)"},
        {"key": "secret", "label": "Secret", "formula": "sum(helper)", "visible": False}])
    quote = api.post("/quotes", json=order_body(catalog)).json()
    text = read_pdf(api.get(f"/quotes/{quote['id']}/pdf"))
    header = next(line for line in text.splitlines() if line.startswith("Artículo"))
    assert header.startswith("Artículo Margen Cant. Precio Discount Net Total")
    assert "Description" not in header and " Tax " not in f" {header} " and "Helper" not in header
    assert "IVA €24.37" in text and "Subtotal" not in text and "Margen total €81.88" in text
    assert "Secret" not in text


def test_pdf_prints_errors_as_such_never_as_zero(api, catalog, put_layout, read_pdf):
    put_layout("sales-orders", MARGIN_COLUMNS + [
        {"key": "per_unit", "label": "Per unit", "type": "money", "formula": "margin / quantity"}],
        MARGIN_TOTALS + [{"key": "avg", "label": "Average", "formula": "sum(per_unit)"}])
    order = api.post("/sales-orders", json=order_body(catalog, lines=[{"item_id": catalog.widget,
                                                                       "quantity": "0"}])).json()
    text = read_pdf(api.get(f"/sales-orders/{order['id']}/pdf"))
    assert "#ERR" in text and "Average #ERR" in text


def test_pdf_shows_subtotal_rows_and_other_plugins_columns_stay(api, catalog, margin_layout, read_pdf):
    order = api.post("/sales-orders", json=order_body(catalog, lines=[
        {"display_type": "section", "description": "Herramientas"},
        {"item_id": catalog.widget, "quantity": "3", "discount_percent": "10"},
        {"item_id": catalog.gadget, "quantity": "2"},
        {"display_type": "subtotal", "description": "Total herramientas"}])).json()
    text = read_pdf(api.get(f"/sales-orders/{order['id']}/pdf"))
    assert "Herramientas" in text and "Total herramientas: €68.88" in text
