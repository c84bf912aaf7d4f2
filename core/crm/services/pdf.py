"""A document (quote, order, invoice) printed as PDF: company header, parties and
addresses, lines, tax breakdown, totals and terms.

The renderer builds a template context, lets the plugins change it in place
(``crm_pdf_context``: add, hide or relabel columns, add totals rows, put HTML
blocks at ``after_header``, ``after_lines`` and ``after_totals``), renders
``templates/pdf/document.html`` with Jinja2 (autoescaped) and turns the HTML
into PDF with WeasyPrint. Amounts are the ones the totals engine computed; the
template only formats them (Babel, in the user's language).
"""
from __future__ import annotations

import datetime as dt
import re

from babel.numbers import format_currency
from flask import current_app, render_template
from flask_babel import format_date, format_decimal, get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from crm import money
from crm.models import Document
from crm.services import documents, hooks
from crm.services.doctypes import DOC_TYPES
from crm.services.settings import get_setting
from crm.ui import LineColumn

#: where plugins may put HTML blocks (``context["blocks"][place]``, a list of Markup)
BLOCK_PLACES = ("after_header", "after_lines", "after_totals")
#: types of columns whose cells are right-aligned figures
FIGURE_TYPES = ("number", "money", "percent")
#: a column width the PDF accepts (anything else, which could smuggle CSS, is ignored)
CSS_WIDTH = re.compile(r"\d{1,3}(\.\d{1,2})?(mm|cm|pt|em|%)")


def render_document_pdf(session: Session, document: Document) -> bytes:
    """The PDF of ``document`` (needs an app context; the language is the request's)."""
    context = document_context(session, document)
    hooks.call_in_order("crm_pdf_context", session=session, document=document, context=context)
    html = render_template("pdf/document.html", cell_text=cell_text, column_width=column_width,
                           figure_types=FIGURE_TYPES, **context)
    from weasyprint import HTML  # slow to import: only when a PDF is asked for
    return HTML(string=html, base_url=current_app.static_folder).write_pdf()


def document_context(session: Session, document: Document) -> dict:
    """What the template receives before the plugins change it."""
    kind = DOC_TYPES[document.doc_type]
    result = documents.computation(session, document)
    columns = builtin_columns(document) + plugin_columns(session, document.doc_type, document)
    party = document.vendor if kind.party == "vendor" else document.account
    return {
        "company": {"name": get_setting(session, "company_name") or "",
                    "address": get_setting(session, "company_address") or ""},
        "document": document,
        "title": _(kind.label),
        "currency": document.currency,
        "dates": _dates(document),
        "party": {"label": _("Vendor") if kind.party == "vendor" else _("Customer"),
                  "name": party.name if party is not None else "",
                  "tax_id": getattr(party, "tax_id", "") if party is not None else "",
                  "email": party.email if party is not None else "",
                  "contact": document.contact.full_name if document.contact is not None else ""},
        "addresses": _addresses(document),
        "columns": columns,
        "lines": line_rows(document),
        "tax_breakdown": list(result.totals.tax_breakdown),
        "shipping_tax_breakdown": list(result.totals.shipping_tax_breakdown),
        "totals": total_rows(document),
        "extra_totals": extra_total_rows(document),
        "terms": document.terms or "",
        "description": document.description or "",
        "blocks": {place: [] for place in BLOCK_PLACES},
    }


# --- columns and lines ----------------------------------------------------------------------------

def builtin_columns(document: Document) -> list[LineColumn]:
    """The core's line columns; discount only when a line has one, tax only in individual mode."""
    item_lines = [line for line in document.lines if line.display_type is None]
    columns = [LineColumn("item", _("Item")), LineColumn("description", _("Description")),
               LineColumn("quantity", _("Quantity"), type="number"),
               LineColumn("unit_price", _("Unit price"), type="money")]
    if any(line.discount for line in item_lines):
        columns.append(LineColumn("discount", _("Discount"), type="money"))
    columns.append(LineColumn("net", _("Net"), type="money"))
    if document.tax_mode == "individual":
        columns.append(LineColumn("tax", _("Tax"), type="money"))
    columns.append(LineColumn("total", _("Total"), type="money"))
    return columns


def plugin_columns(session: Session, doc_type: str, document: Document | None = None) -> list[LineColumn]:
    """Extra columns of the enabled plugins, in plugin order, for ``document``; values come
    from ``line.custom``."""
    columns = []
    for batch in hooks.call_in_order("crm_line_columns", doc_type=doc_type, session=session, document=document):
        columns.extend(batch or [])
    return columns


def line_rows(document: Document) -> list[dict]:
    """One dict per line: ``type`` (item, section, subtotal, note), ``values`` keyed by column
    key (built-in ones and every ``custom`` value), ``text`` for rows without amounts,
    ``amount`` for subtotal rows (the nets since the previous section or subtotal)."""
    rows, since_section = [], []
    for line in document.lines:
        if line.display_type is None:
            since_section.append(line.net)
            rows.append({"type": "item", "line": line, "sku": line.item.sku if line.item else "",
                         "comment": line.comment or "", "values": _line_values(line)})
        elif line.display_type == "subtotal":
            rows.append({"type": "subtotal", "line": line, "text": line.description or _("Subtotal"),
                         "amount": money.total(since_section), "values": {}})
            since_section = []
        else:
            if line.display_type == "section":
                since_section = []
            rows.append({"type": line.display_type, "line": line, "text": line.description or "", "values": {}})
    return rows


def _line_values(line) -> dict:
    return {**(line.custom or {}),
            "item": line.item.name if line.item is not None else "", "description": line.description or "",
            "quantity": line.quantity, "unit_price": line.unit_price, "discount": line.discount or None,
            "net": line.net, "tax": line.tax, "total": line.total}


def column_width(column: LineColumn) -> str:
    """The column's width if it is a plain CSS length (``"18mm"``, ``"12%"``), else ``""``."""
    return column.width if column.width and CSS_WIDTH.fullmatch(column.width) else ""


def cell_text(value, value_type: str, currency: str) -> str:
    """A cell as text in the user's language, by column type (money, number, percent, date,
    text); a value that does not fit its type is printed as it is (a plugin's column never
    breaks the PDF)."""
    if value is None or value == "":
        return ""
    try:
        if value_type == "money":
            return money_text(money.to_decimal(value), currency)
        if value_type == "number":
            return format_decimal(money.to_decimal(value))
        if value_type == "percent":
            return f"{format_decimal(money.to_decimal(value))} %"
        if value_type == "date":
            return format_date(value if isinstance(value, dt.date) else dt.date.fromisoformat(value))
    except (TypeError, ValueError, ArithmeticError):
        pass
    return str(value)


def money_text(amount, currency: str) -> str:
    """``amount`` in the user's language with every decimal it has: amounts are already at the
    currency's precision, and a unit price of 7.455 prints as 7.455, not 7.46."""
    return format_currency(amount, currency, locale=get_locale(), decimal_quantization=False)


# --- header and totals ----------------------------------------------------------------------------

def _dates(document: Document) -> list[tuple[str, dt.date]]:
    issued = document.invoice_date or (document.created_at.date() if document.created_at else None)
    rows = [(_("Date"), issued), (_("Valid until"), document.valid_until), (_("Due date"), document.due_date)]
    return [(label, value) for label, value in rows if value is not None]


def _addresses(document: Document) -> list[dict]:
    """Billing and shipping address blocks, each ``{"label", "lines"}``; empty ones left out."""
    billing_label = _("Vendor address") if document.doc_type == "purchase_order" else _("Bill to")
    blocks = [(billing_label, document.billing_address), (_("Ship to"), document.shipping_address)]
    return [{"label": label, "lines": lines} for label, address in blocks if (lines := address_lines(address))]


def address_lines(address: dict | None) -> list[str]:
    """``{"street", "city", "state", "postal_code", "country"}`` as printed lines."""
    address = address or {}
    town = " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
    return [part for part in (address.get("street"), town, address.get("state"), address.get("country")) if part]


def total_rows(document: Document) -> list[dict]:
    """The totals block: ``{"key", "label", "amount", "strong"}``; zero rows that mean nothing left out."""
    rows = [("subtotal", _("Subtotal"), document.subtotal, True)]
    if document.discount_total:
        rows += [("discount", _("Discount"), document.discount_total, False),
                 ("taxable", _("Taxable"), document.taxable, False)]
    rows.append(("tax", _("Tax"), document.tax_total, False))
    if document.shipping or document.shipping_tax:
        rows += [("shipping", _("Shipping"), document.shipping, False),
                 ("shipping_tax", _("Shipping tax"), document.shipping_tax, False)]
    if document.adjustment:
        rows.append(("adjustment", _("Adjustment"), document.adjustment, False))
    rows.append(("grand_total", _("Grand total"), document.grand_total, True))
    if document.doc_type == "invoice" and document.received:
        rows += [("received", _("Received"), document.received, False),
                 ("balance", _("Balance due"), document.balance, True)]
    return [{"key": key, "label": label, "amount": amount, "strong": strong}
            for key, label, amount, strong in rows]


def extra_total_rows(document: Document) -> list[dict]:
    """The plugins' informative totals (``document.extra_totals``): ``{"key", "label", "value", "type"}``;
    a plugin relabels or retypes its own rows in ``crm_pdf_context``."""
    return [{"key": key, "label": key.replace("_", " ").capitalize(), "value": value, "type": "number"}
            for key, value in (document.extra_totals or {}).items()]
