"""The document PDF shows the layout: custom columns with their values, custom totals with
their labels, built-in columns and totals hidden, relabelled and moved (text read back with pypdf)."""
from __future__ import annotations

import pytest

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


# --- the lines table fits the page however many columns -------------------------------------------

MARGIN_MM = 14                     # the left and right margins of the template's @page
POINTS_PER_MM = 72 / 25.4
LONG_WORD = "Desoxirribonucleico" * 2


def many_columns(count: int) -> list[dict]:
    """``count`` custom columns: money, percent and number formulas giving long figures, and
    editable text columns holding a long word without spaces."""
    columns = []
    for n in range(count):
        kind = n % 4
        if kind == 3:
            columns.append({"key": f"t{n}", "label": f"Long text column {n}", "type": "text", "editable": True})
        else:
            columns.append({"key": f"c{n}", "label": f"Column number {n}", "type": ("money", "percent", "number")[kind],
                            "formula": "net * 123456.789"})
    return columns


def text_positions(content: bytes) -> list[tuple[float, float, float, str]]:
    """(page width, x where a piece of text starts, an estimate of where it ends, text) of
    every piece of text of every page, in points. The end is a lower bound (0.45 em a character,
    0.25 em a space: DejaVu Sans' figures are 0.64 em wide), so a right-aligned figure ending on
    the margin passes and a text running past the margin is caught."""
    import io

    import pypdf
    found = []
    for page in pypdf.PdfReader(io.BytesIO(content)).pages:
        width = float(page.mediabox.width)

        def visit(text, cm, tm, _font, size, width=width):
            if text.strip():
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                scale = (tm[0] * cm[0]) or 1
                text = text.strip()
                ems = 0.45 * (len(text) - text.count(" ")) + 0.25 * text.count(" ")
                found.append((width, x, x + ems * size * scale, text))
        page.extract_text(visitor_text=visit)
    return found


@pytest.mark.parametrize("count", [5, 20, 40])
def test_the_lines_table_fits_between_the_margins_whatever_the_number_of_columns(api, catalog, put_layout, count):
    put_layout("sales-orders", many_columns(count))
    custom = {f"t{n}": LONG_WORD for n in range(3, count, 4)}
    body = order_body(catalog, lines=[{"item_id": catalog.widget, "quantity": "123456", "discount_percent": "10",
                                       "description": LONG_WORD, "custom": custom}] * 3)
    order = api.post("/sales-orders", json=body)
    assert order.status_code == 201, order.text
    response = api.get(f"/sales-orders/{order.json()['id']}/pdf")
    assert response.status_code == 200, response.text
    positions = text_positions(response.content)
    assert len(positions) > 4 * count     # every column printed its header and its cells
    margin = MARGIN_MM * POINTS_PER_MM
    for page_width, start, end, text in positions:
        assert margin - 1 <= start and end <= page_width - margin + 1, \
            f"{text!r} at {start:.0f}-{end:.0f} pt is outside the margins of a page {page_width:.0f} pt wide"
