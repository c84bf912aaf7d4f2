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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency
from flask import current_app, render_template
from flask_babel import format_date, format_decimal, get_locale, gettext as _
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from crm import money
from crm.models import Document, DocumentLine
from crm.services import documents, hooks
from crm.services.doctypes import DOC_TYPES
from crm.services.settings import get_setting
from crm.ui import LineColumn

#: where plugins may put HTML blocks (``context["blocks"][place]``, a list of Markup)
BLOCK_PLACES = ("after_header", "after_lines", "after_totals")
#: types of columns whose cells are right-aligned figures
FIGURE_TYPES = ("number", "money", "percent")
#: a column width the PDF accepts, as a percentage of the page's width (anything else, which could smuggle CSS, is ignored)
CSS_WIDTH = re.compile(r"\d{1,3}(\.\d{1,2})?(mm|cm|pt|em|%)")
def print_context(session: Session, document: Document) -> dict:
    """The template's context once the plugins have changed it (``crm_pdf_context``)."""
    context = document_context(session, document)
    hooks.call("crm_pdf_context", session=session, document=document, context=context)
    return context


def cell_count(context: dict) -> int:
    """The cells of the lines table: item lines x printed columns."""
    return sum(1 for row in context["lines"] if row["type"] == "item") * len(context["columns"])


def document_html(context: dict) -> str:
    """The HTML WeasyPrint turns into the PDF, from :func:`print_context`. The lines table's
    cells are written here, not by Jinja (a PDF may have tens of thousands of them), and its
    layout (orientation, font size, column widths) is chosen from its columns and their text."""
    texts = cell_texts(context)
    layout = table_layout(context["columns"], texts)
    return render_template("pdf/document.html", cell_text=cell_text, table=layout, zip=zip,
                           rows=table_rows(context, texts, layout), **context)


def html_to_pdf(html: str) -> bytes:
    """WeasyPrint's PDF of ``html`` (static files resolved in the app's static folder)."""
    from weasyprint import HTML  # slow to import: only when a PDF is asked for
    return HTML(string=html, base_url=current_app.static_folder).write_pdf()


def document_context(session: Session, document: Document) -> dict:
    """What the template receives before the plugins change it."""
    kind = DOC_TYPES[document.doc_type]
    result = documents.computation(session, document)
    assert result.totals is not None  # the engine computed them
    columns = builtin_columns(document) + plugin_columns(session, document.doc_type, document)
    party = document.vendor if kind.party == "vendor" else document.account
    return {
        "company": {"name": get_setting(session, "company_name") or "",
                    "address": get_setting(session, "company_address") or ""},
        "document": document,
        "title": _(kind.label),
        "currency": document.currency,
        "dates": _dates(document),
        "references": _references(document),
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
    columns: list[LineColumn] = []
    for batch in hooks.call("crm_line_columns", doc_type=doc_type, session=session, document=document):
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


def _line_values(line: DocumentLine) -> dict:
    return {**(line.custom or {}),
            "item": line.item.name if line.item is not None else "", "description": line.description or "",
            "quantity": line.quantity, "unit_price": line.unit_price, "discount": line.discount or None,
            "net": line.net, "tax": line.tax, "total": line.total}


@dataclass(frozen=True)
class TableLayout:
    """How the lines table is printed: every column fits the page whatever their number."""

    landscape: bool
    font_pt: float
    padding_mm: float
    widths: tuple[str, ...]       # one CSS percentage per column, adding up to 100 %
    figures: tuple[bool, ...]     # right-aligned columns


#: (most columns, landscape, font size in pt, cell padding in mm), the first that fits is used
TABLE_SIZES = ((8, False, 9, 1.5), (11, False, 8, 1.2), (16, True, 8, 1.2), (24, True, 7, 0.8),
               (36, True, 6, 0.5), (None, True, 5, 0.4))
#: the width of the text between the margins of an A4 page (see ``@page`` in the template), in mm
PAGE_WIDTH_MM = {False: 210 - 28, True: 297 - 28}
#: the characters a column needs at most, by type, when sharing out the page's width:
#: longer texts wrap
LONGEST = {"text": 40, "figure": 18}
MM_PER_UNIT = {"mm": 1.0, "cm": 10.0, "pt": 25.4 / 72}
#: the average width of a character of the PDF's font, in em (DejaVu Sans' figures are 0.64 em)
CHARACTER_EM = 0.6
#: the fewest characters a text column keeps when the page is too narrow for every column
SHORTEST_TEXT = 8


def table_layout(columns: list[LineColumn], texts: list[list[str]]) -> TableLayout:
    """Orientation, font and column widths for ``columns`` holding ``texts`` (one list per
    item row): landscape and a smaller font as columns are added; a column's own width
    (``"25mm"``, ``"12%"``) where it has one, else what its header's longest word and its
    longest cell need. When the page is too narrow for them all, text columns (which wrap
    between words) give way first, down to a few characters, then every column shrinks alike."""
    count = len(columns)
    landscape, font_pt, padding_mm = next(size[1:] for size in TABLE_SIZES if size[0] is None or count <= size[0])
    page_mm = PAGE_WIDTH_MM[landscape]
    char_mm = CHARACTER_EM * font_pt * MM_PER_UNIT["pt"]
    figures = tuple(column.type in FIGURE_TYPES for column in columns)
    own = [width_percent(column.width, page_mm, font_pt) for column in columns]
    wanted = [page_mm * percent / 100 if percent is not None else
              _characters(column, [row[index] for row in texts]) * char_mm + 2 * padding_mm
              for index, (column, percent) in enumerate(zip(columns, own))]
    widths = _fit(wanted, [own_ is None and not figure for own_, figure in zip(own, figures)],
                  page_mm, SHORTEST_TEXT * char_mm + 2 * padding_mm)
    total = sum(widths) or 1
    return TableLayout(landscape, font_pt, padding_mm, tuple(f"{100 * w / total:.3f}%" for w in widths), figures)


def _fit(wanted: list[float], yielding: list[bool], page_mm: float, shortest_mm: float) -> list[float]:
    """Widths for columns that want ``wanted`` mm on a page ``page_mm`` wide: as wanted (then
    scaled up to the page) when they fit, else the ``yielding`` ones share what the others
    leave, each at least ``shortest_mm`` (or what it wanted, if less)."""
    if sum(wanted) <= page_mm:
        return wanted
    firm = sum(w for w, y in zip(wanted, yielding) if not y)
    least = [min(w, shortest_mm) for w, y in zip(wanted, yielding) if y]
    room = page_mm - firm
    if room <= sum(least):
        return [min(w, shortest_mm) if y else w for w, y in zip(wanted, yielding)]  # everything shrinks alike
    share = sum(w for w, y in zip(wanted, yielding) if y)
    return [max(min(w, shortest_mm), w * room / share) if y else w for w, y in zip(wanted, yielding)]


def _characters(column: LineColumn, texts: list[str]) -> int:
    """How many characters wide ``column`` would like to be (plus one for its padding)."""
    longest = LONGEST["figure" if column.type in FIGURE_TYPES else "text"]
    header = max((len(word) for word in str(column.label).split()), default=1)
    return min(max([header, *map(len, texts)]), longest) + 1


def width_percent(width: str | None, page_mm: float, font_pt: float) -> float | None:
    """A column's own width (a plain CSS length: ``"18mm"``, ``"12%"``; anything else, which
    could smuggle CSS, is ignored) as a percentage of the page's width."""
    match = CSS_WIDTH.fullmatch(width) if width else None
    if match is None:
        return None
    unit = match.group(2)
    number = float(match.group(0)[:-len(unit)])
    if unit == "%":
        return min(number, 100.0)
    mm = number * font_pt * MM_PER_UNIT["pt"] if unit == "em" else number * MM_PER_UNIT[unit]
    return min(100 * mm / page_mm, 100.0)


def cell_texts(context: dict) -> list[list[str]]:
    """The text of every cell of the item rows, column by column (an item's SKU after its name)."""
    columns, currency = context["columns"], context["currency"]
    texts = []
    for row in context["lines"]:
        if row["type"] == "item":
            values = row["values"]
            texts.append([cell_text(values.get(column.key), column.type, currency) for column in columns])
    return texts


def table_rows(context: dict, texts: list[list[str]], layout: TableLayout) -> list[dict]:
    """The lines as the template prints them: ``{"type", "cells"}`` for item rows (the row's
    cells as escaped HTML, from ``texts``) and ``{"type", "text"}`` for sections, notes and
    subtotals (a subtotal's text carries its amount); a line's comment is a row of its own."""
    opening = ['<td class="fig">' if figure else "<td>" for figure in layout.figures]
    sku_at = next((index for index, column in enumerate(context["columns"]) if column.key == "item"), None)
    item_texts = iter(texts)
    rows = []
    for row in context["lines"]:
        if row["type"] == "item":
            cells = [f"{tag}{escape(text)}</td>" for tag, text in zip(opening, next(item_texts))]
            if sku_at is not None and row.get("sku"):
                sku = str(Markup('<span class="sku">%s</span></td>') % row["sku"])
                cells[sku_at] = cells[sku_at].removesuffix("</td>") + sku
            rows.append({"type": "item", "cells": Markup("".join(cells)), "commented": bool(row.get("comment"))})
            if row.get("comment"):
                rows.append({"type": "comment", "text": row["comment"]})
        elif row["type"] == "subtotal":
            rows.append({"type": "subtotal", "text": f"{row['text']}: {cell_text(row['amount'], 'money', context['currency'])}"})
        else:
            rows.append({"type": row["type"], "text": row.get("text", "")})
    return rows


def cell_text(value: Any, value_type: str, currency: str) -> str:
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


def money_text(amount: Decimal, currency: str) -> str:
    """``amount`` in the user's language with every decimal it has: amounts are already at the
    currency's precision, and a unit price of 7.455 prints as 7.455, not 7.46."""
    return format_currency(amount, currency, locale=get_locale(), decimal_quantization=False)


# --- header and totals ----------------------------------------------------------------------------

def _dates(document: Document) -> list[tuple[str, dt.date]]:
    issued = document.invoice_date or (document.created_at.date() if document.created_at else None)
    rows = [(_("Date"), issued), (_("Valid until"), document.valid_until), (_("Due date"), document.due_date)]
    return [(label, value) for label, value in rows if value is not None]


def _references(document: Document) -> list[tuple[str, str]]:
    """``(label, text)`` rows printed under the dates: the customer's own order reference."""
    return [(_("Your reference"), document.customer_reference)] if document.customer_reference else []


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
