"""What the IDCA plugin's tests share besides fixtures: the worked example's layout and order,
and reading a PDF's text. (Imported by name: ``from idca_helpers import order_body``.)"""
from __future__ import annotations

import io

#: the layout of the issue's "done" example: a margin column and a margin total on sales orders
MARGIN_COLUMNS = [
    {"key": "margin", "label": "Margin", "type": "money", "formula": "net - quantity * item.purchase_cost"},
    {"key": "margin_pct", "label": "Margin %", "type": "percent",
     "formula": "if(net == 0, 0, round(margin / net * 100, 2))"},
]
MARGIN_TOTALS = [{"key": "margin_total", "label": "Total margin", "formula": "sum(margin)"}]


def order_body(catalog, lines=None, **extra):
    """The worked example: widget 3 x 19.99 -10 %, gadget 2 x 7.455, consulting 1.5 x 40.00 -5.00."""
    body = {"account_id": catalog.account, "currency": "EUR", "tax_mode": "individual", "lines": lines or [
        {"item_id": catalog.widget, "quantity": "3", "discount_percent": "10"},
        {"item_id": catalog.gadget, "quantity": "2"},
        {"item_id": catalog.consulting, "quantity": "1.5", "discount_amount": "5.00"},
    ]}
    body.update(extra)
    return body


def pdf_text(response) -> str:
    import pypdf
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)
