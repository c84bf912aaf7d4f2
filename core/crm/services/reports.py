"""Reports: stock levels, low stock, stock valuation, stock moves of a product, open sales
and purchase orders, sales by product and by account, invoice aging.

Each report is one function taking the session first and returning a :class:`Report`:
a title, typed columns, rows (dicts keyed by column), totals, optional sections (for
example ``by_month``) and a chart hint for the web UI. The API serves it as JSON or CSV
(``crm.api.reports``); the rules are written down in ``docs/reports.md``.

How the figures are computed
----------------------------
* Quantities and stored amounts (line ``net``, invoice ``taxable``, ``balance``...) are
  summed by SQL aggregates; long lists are paginated in SQL (:class:`Page`), so a report
  reads a handful of queries whatever the size of the catalogue.
* An amount that needs a multiplication and rounding (a product's stock value, the value
  left on an order line) is rounded per row by :mod:`crm.money` (ROUND_HALF_UP) over
  rows read in one streamed query, then summed: SQL ``ROUND`` is not exact on SQLite,
  whose numbers are binary floats, and the report must show the same cents on both
  databases.
* Money reports over documents sum one currency at a time (``currency``, default: the
  ``default_currency`` setting): adding euros to dollars means nothing.
"""
from __future__ import annotations

import datetime as dt
import inspect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Date, Select, and_, case, distinct, extract, func, or_, select
from sqlalchemy.orm import Session

from crm import money
from crm.errors import NotFound, ValidationError
from crm.models import Account, Document, DocumentLine, Item, StockMove, Vendor
from crm.services import stock
from crm.services.receivables import OPEN_INVOICE_STATUSES, due_day, open_invoices
from crm.services.settings import get_setting

ZERO = Decimal("0")
STREAM = {"yield_per": 5000}
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)

OPEN_SALES_ORDER_STATUSES = ("Created", "Approved")
OPEN_PURCHASE_ORDER_STATUSES = ("Created", "Approved", "Delivered")
#: invoices that do not count as sales
NOT_SALES_STATUSES = ("Cancelled", "Credit Invoice")
#: aging buckets: key, label, and the most days past due that fall in it (None: no limit)
AGING_BUCKETS = (("current", "Current", 0), ("days_1_30", "1-30", 30), ("days_31_60", "31-60", 60),
                 ("days_61_90", "61-90", 90), ("days_90_plus", "90+", None))


# --- the shape of a report ------------------------------------------------------------------------

class Column(NamedTuple):
    """A column: ``type`` is text, integer, quantity, money, date or datetime, or a stored code
    shown in the reader's language: status, item_kind, move_kind or reason (CSV keeps the code)."""

    key: str
    label: str
    type: str = "text"


@dataclass
class Section:
    """A second table of a report, small and never paginated (``by_month``, ``by_category``)."""

    title: str
    columns: list[Column]
    rows: list[dict]


@dataclass(frozen=True)
class Page:
    """Which rows of a long report to return; ``size=None`` returns all of them (CSV exports)."""

    number: int = 1
    size: int | None = None

    def apply(self, stmt: Select) -> Select:
        return stmt if self.size is None else stmt.limit(self.size).offset((self.number - 1) * self.size)

    def info(self, total: int) -> dict:
        return {"page": self.number if self.size else 1, "per_page": self.size or total, "total": total}


ALL = Page()


@dataclass
class Report:
    """A computed report. Rows may carry ids that are not columns (``product_id``...), for
    links; exports show the columns only. ``totals`` is keyed like ``total_columns``."""

    name: str
    title: str
    columns: list[Column]
    rows: list[dict]
    totals: dict
    total_columns: list[Column]
    pagination: dict
    parameters: dict = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)
    chart: dict | None = None
    notes: str = ""


@dataclass(frozen=True)
class ReportSpec:
    """A report of the catalogue: its function and the parameters it takes (besides the page)."""

    name: str
    title: str
    function: Callable[..., Report]
    parameters: tuple[str, ...]

    @property
    def description(self) -> str:
        return (inspect.getdoc(self.function) or "").split("\n\n")[0].replace("\n", " ")


# --- parameters -----------------------------------------------------------------------------------

def _check_day(name: str, value: dt.date | None) -> None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValidationError.for_field(name, _("must be between %(first)s and %(last)s", first=FIRST_DAY,
                                                last=LAST_DAY))


def _optional_period(date_from: dt.date | None, date_to: dt.date | None) -> None:
    _check_day("from", date_from)
    _check_day("to", date_to)
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationError.for_field("to", _("must be on or after from (%(date)s)", date=date_from))


def _period(date_from: dt.date | None, date_to: dt.date | None) -> tuple[dt.date, dt.date]:
    """The period asked for. Without ``from`` and ``to`` it is the current year; with one of
    them only, the other end is the first or last day of that one's year."""
    _optional_period(date_from, date_to)
    this_year = dt.date.today().year
    date_from = date_from or dt.date(this_year if date_to is None else date_to.year, 1, 1)
    date_to = date_to or dt.date(date_from.year, 12, 31)
    _optional_period(date_from, date_to)
    return date_from, date_to


def _as_of(value: dt.date | None) -> dt.date:
    value = value or dt.date.today()
    _check_day("as_of", value)
    return value


def _currency(session: Session, code: str | None) -> str:
    code = code or get_setting(session, "default_currency") or "EUR"
    try:
        money.currency_precision(code)
    except ValueError:
        raise ValidationError.for_field("currency", _("unknown currency code %(code)s", code=repr(code))) from None
    return code


# --- SQL building blocks --------------------------------------------------------------------------

def _count(session: Session, stmt: Select) -> int:
    return session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()


def _paged(session: Session, stmt: Select, page: Page) -> tuple[list, int]:
    """The rows of ``stmt`` on ``page`` and the number of rows of all pages, read in one
    query (a window count) unless the page is past the last one."""
    rows = session.execute(page.apply(stmt.add_columns(func.count().over()))).all()
    if rows:
        return [tuple(row[:-1]) for row in rows], rows[0][-1]
    return [], _count(session, stmt) if page.size and page.number > 1 else 0


def _stocked_products(category: str | None = None, q: str | None = None) -> list:
    """Products that hold stock (not bundles, not services), optionally of one category
    (blank: any) or matching ``q`` in name or SKU."""
    where = [Item.kind == "product", Item.is_bundle.is_(False)]
    if category:
        where.append(Item.category == category)
    if q:
        where.append(or_(Item.name.icontains(q.strip(), autoescape=True),
                         Item.sku.icontains(q.strip(), autoescape=True)))
    return where


def _invoice_day() -> ColumnElement[dt.date]:
    """An invoice's date: its ``invoice_date``, or the day it was created when it has none."""
    return func.coalesce(Document.invoice_date, func.date(Document.created_at), type_=Date)


def _invoice_dated(first: dt.date | None, last: dt.date) -> ColumnElement[bool]:
    """Invoices dated from ``first`` (None: any day) to ``last``, both included, by
    :func:`_invoice_day`; written on the plain columns so that PostgreSQL estimates it well."""
    def within(day: Any) -> ColumnElement[bool]:
        return day <= last if first is None else day.between(first, last)
    return or_(within(Document.invoice_date),
               and_(Document.invoice_date.is_(None), within(func.date(Document.created_at))))


def _sales_invoices(date_from: dt.date, date_to: dt.date, currency: str) -> list:
    return [Document.doc_type == "invoice", Document.status.not_in(NOT_SALES_STATUSES),
            Document.currency == currency, _invoice_dated(date_from, date_to)]


def _months(date_from: dt.date, date_to: dt.date) -> list[tuple[int, int]]:
    year, month, months = date_from.year, date_from.month, []
    while (year, month) <= (date_to.year, date_to.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _by_month(session: Session, stmt: Select, date_from: dt.date, date_to: dt.date, keys: tuple[str, ...]) -> list[dict]:
    """Every month of the period with the figures ``stmt`` selects (``keys``), grouped here by
    the invoice's year and month; a month without sales shows zeros."""
    day = _invoice_day()
    year, month = extract("year", day), extract("month", day)
    grouped = stmt.with_only_columns(year, month, *stmt.selected_columns, maintain_column_froms=True)
    found = {(int(y), int(m)): figures for y, m, *figures in session.execute(grouped.group_by(year, month))}
    return [{"month": f"{y:04d}-{m:02d}", **dict(zip(keys, found.get((y, m), (ZERO,) * len(keys))))}
            for y, m in _months(date_from, date_to)]


def _or_zero(value: Any) -> Any:
    return ZERO if value is None else value


# --- stock ----------------------------------------------------------------------------------------

def stock_levels(session: Session, *, category: str | None = None, q: str | None = None,
                 page: Page = ALL) -> Report:
    """On hand, reserved, available and incoming quantity of every stocked product.

    Stocked products are products that are not bundles (a bundle's stock is its
    components'); inactive products are listed while they hold stock figures.
    Incoming is what approved and delivered purchase orders still have to bring."""
    where = _stocked_products(category, q)
    count, on_hand, reserved = session.execute(
        select(func.count(Item.id), func.sum(Item.on_hand), func.sum(Item.reserved)).where(*where)).one()
    incoming = _incoming_of(session, where if category or q else None)
    stmt = (select(Item.id, Item.sku, Item.name, Item.category, Item.on_hand, Item.reserved, Item.reorder_level)
            .where(*where).order_by(Item.name, Item.id))
    rows = [{"product_id": pid, "sku": sku, "name": name, "category": cat, "on_hand": held, "reserved": promised,
             "available": held - promised, "incoming": incoming.get(pid, ZERO), "reorder_level": reorder}
            for pid, sku, name, cat, held, promised, reorder in session.execute(page.apply(stmt))]
    on_hand, reserved = _or_zero(on_hand), _or_zero(reserved)
    return Report(
        name="stock-levels", title="Stock levels",
        columns=[Column("sku", "SKU"), Column("name", "Product"), Column("category", "Category"),
                 Column("on_hand", "On hand", "quantity"), Column("reserved", "Reserved", "quantity"),
                 Column("available", "Available", "quantity"), Column("incoming", "Incoming", "quantity"),
                 Column("reorder_level", "Reorder level", "quantity")],
        rows=rows,
        totals={"products": count, "on_hand": on_hand, "reserved": reserved, "available": on_hand - reserved,
                "incoming": sum(incoming.values(), ZERO)},
        total_columns=[Column("products", "Products", "integer"), Column("on_hand", "On hand", "quantity"),
                       Column("reserved", "Reserved", "quantity"), Column("available", "Available", "quantity"),
                       Column("incoming", "Incoming", "quantity")],
        pagination=page.info(count), parameters={"category": category, "q": q},
        notes="available = on hand - reserved; incoming = ordered on approved or delivered purchase orders "
              "and not received yet. Bundles and services are not listed.")


def _incoming_of(session: Session, where: list | None) -> dict[int, Decimal]:
    """Incoming quantities of the stocked products matching ``where`` (None: all of them),
    keyed by the products on open purchase orders only."""
    incoming = {pid: qty for pid, qty in stock.incoming_by_product(session).items() if qty}
    if where is None:
        return incoming
    ids, matching = list(incoming), set[int]()
    for start in range(0, len(ids), 5000):
        matching.update(session.scalars(select(Item.id).where(*where, Item.id.in_(ids[start:start + 5000]))))
    return {pid: incoming[pid] for pid in matching}


def low_stock(session: Session, *, category: str | None = None, q: str | None = None, page: Page = ALL) -> Report:
    """Active stocked products whose available quantity is at or below their reorder level.

    Only products with a reorder level above zero are watched. Shortfall is reorder level
    minus available; incoming (approved and delivered purchase orders) shows what is on
    its way. The largest shortfall comes first."""
    available = Item.on_hand - Item.reserved
    shortfall = Item.reorder_level - available
    where = [*_stocked_products(category, q), Item.active.is_(True), Item.reorder_level > 0,
             available <= Item.reorder_level]
    stmt = (select(Item.id, Item.sku, Item.name, Item.category, Vendor.name, Item.on_hand, Item.reserved,
                   Item.reorder_level)
            .outerjoin(Vendor, Vendor.id == Item.vendor_id).where(*where)
            .order_by(shortfall.desc(), Item.name, Item.id))
    found, count = _paged(session, stmt, page)
    incoming = stock.incoming_by_product(session, [row[0] for row in found])
    rows = [{"product_id": pid, "sku": sku, "name": name, "category": cat, "vendor": vendor or "",
             "on_hand": held, "reserved": promised, "available": held - promised, "reorder_level": reorder,
             "shortfall": reorder - (held - promised), "incoming": incoming[pid]}
            for pid, sku, name, cat, vendor, held, promised, reorder in found]
    return Report(
        name="low-stock", title="Low stock",
        columns=[Column("sku", "SKU"), Column("name", "Product"), Column("category", "Category"),
                 Column("vendor", "Vendor"), Column("on_hand", "On hand", "quantity"),
                 Column("reserved", "Reserved", "quantity"), Column("available", "Available", "quantity"),
                 Column("reorder_level", "Reorder level", "quantity"), Column("shortfall", "Shortfall", "quantity"),
                 Column("incoming", "Incoming", "quantity")],
        rows=rows, totals={"products": count}, total_columns=[Column("products", "Products", "integer")],
        pagination=page.info(count), parameters={"category": category, "q": q},
        notes="Listed when available (on hand - reserved) <= reorder level and the reorder level is above 0; "
              "shortfall = reorder level - available.")


def stock_valuation(session: Session, *, category: str | None = None, page: Page = ALL) -> Report:
    """The value of the stock at purchase cost, per product and per category.

    Value = on hand x purchase cost, rounded to the currency's cents per product
    (ROUND_HALF_UP) and then summed, so the rows add up to the total. Products with
    nothing on hand are left out; negative stock (when allowed) counts negative. The
    most valuable products come first."""
    currency = _currency(session, None)
    where = [*_stocked_products(category), Item.on_hand != 0]

    def value(on_hand: Decimal, cost: Decimal) -> Decimal:
        return money.round_money(money.multiply(on_hand, cost), currency)

    per_category: dict[str, list] = defaultdict(lambda: [0, ZERO])
    for cat, on_hand, cost in session.execute(select(Item.category, Item.on_hand, Item.purchase_cost)
                                              .where(*where).execution_options(**STREAM)):
        per_category[cat][0] += 1
        per_category[cat][1] += value(on_hand, cost)
    stmt = (select(Item.id, Item.sku, Item.name, Item.category, Item.on_hand, Item.purchase_cost).where(*where)
            .order_by((Item.on_hand * Item.purchase_cost).desc(), Item.name, Item.id))
    rows = [{"product_id": pid, "sku": sku, "name": name, "category": cat, "on_hand": on_hand,
             "purchase_cost": cost, "value": value(on_hand, cost)}
            for pid, sku, name, cat, on_hand, cost in session.execute(page.apply(stmt))]
    by_category = sorted(({"category": cat, "products": n, "value": total} for cat, (n, total) in per_category.items()),
                         key=lambda row: (-row["value"], row["category"]))
    count = sum(row["products"] for row in by_category)
    return Report(
        name="stock-valuation", title="Stock valuation",
        columns=[Column("sku", "SKU"), Column("name", "Product"), Column("category", "Category"),
                 Column("on_hand", "On hand", "quantity"), Column("purchase_cost", "Purchase cost", "money"),
                 Column("value", "Value", "money")],
        rows=rows,
        totals={"products": count, "value": sum((row["value"] for row in by_category), ZERO)},
        total_columns=[Column("products", "Products", "integer"), Column("value", "Value", "money")],
        pagination=page.info(count), parameters={"category": category, "currency": currency},
        sections={"by_category": Section("Stock value by category",
                                         [Column("category", "Category"), Column("products", "Products", "integer"),
                                          Column("value", "Value", "money")], by_category)},
        chart={"type": "bar", "section": "by_category", "x": "category", "y": "value"},
        notes=f"value = on hand x purchase cost, rounded to {currency} cents per product, then summed.")


def stock_moves(session: Session, *, product_id: int, date_from: dt.date | None = None,
                date_to: dt.date | None = None, page: Page = ALL) -> Report:
    """The stock moves of one product over a period, oldest first, with the running balance.

    The opening balance is the sum of the product's moves before the period; each row's
    balance adds the move to it. Days are UTC days; both ends are included."""
    product = session.get(Item, product_id)
    if product is None or product.kind != "product":
        raise ValidationError.for_field("product_id", _("unknown product %(id)s", id=product_id))
    if product.is_bundle:
        raise ValidationError.for_field("product_id", _("%(name)s is a bundle: its stock moves are its components'",
                                                        name=product.name))
    _optional_period(date_from, date_to)
    period = [StockMove.product_id == product.id]
    if date_from is not None:
        period.append(StockMove.at >= dt.datetime.combine(date_from, dt.time.min, dt.timezone.utc))
    if date_to is not None:
        period.append(StockMove.at <= dt.datetime.combine(date_to, dt.time.max, dt.timezone.utc))
    opening = ZERO
    if date_from is not None:
        opening = _or_zero(session.scalar(select(func.sum(StockMove.quantity)).where(
            StockMove.product_id == product.id,
            StockMove.at < dt.datetime.combine(date_from, dt.time.min, dt.timezone.utc))))
    running = func.sum(StockMove.quantity).over(order_by=(StockMove.at, StockMove.id))
    stmt = (select(StockMove.id, StockMove.at, StockMove.kind, StockMove.reason, Document.number,
                   StockMove.quantity, running, StockMove.note)
            .outerjoin(Document, Document.id == StockMove.document_id).where(*period)
            .order_by(StockMove.at, StockMove.id))
    rows = [{"move_id": move_id, "at": at, "kind": kind, "reason": reason, "document": number or "",
             "quantity": quantity, "balance": opening + balance, "note": note}
            for move_id, at, kind, reason, number, quantity, balance, note in session.execute(page.apply(stmt))]
    count, stock_in, stock_out = session.execute(select(
        func.count(StockMove.id), func.sum(case((StockMove.quantity > 0, StockMove.quantity), else_=0)),
        func.sum(case((StockMove.quantity < 0, StockMove.quantity), else_=0))).where(*period)).one()
    stock_in, stock_out = _or_zero(stock_in), _or_zero(stock_out)
    return Report(
        name="stock-moves", title=f"Stock moves: {product.name}",
        columns=[Column("at", "Date", "datetime"), Column("kind", "Kind", "move_kind"), Column("reason", "Reason", "reason"),
                 Column("document", "Document"), Column("quantity", "Quantity", "quantity"),
                 Column("balance", "Balance", "quantity"), Column("note", "Note")],
        rows=rows,
        totals={"moves": count, "opening": opening, "in": stock_in, "out": stock_out,
                "closing": opening + stock_in + stock_out},
        total_columns=[Column("moves", "Moves", "integer"), Column("opening", "Opening balance", "quantity"),
                       Column("in", "In", "quantity"), Column("out", "Out", "quantity"),
                       Column("closing", "Closing balance", "quantity")],
        pagination=page.info(count),
        parameters={"product_id": product.id, "product": product.name, "sku": product.sku,
                    "from": date_from, "to": date_to},
        chart={"type": "line", "x": "at", "y": "balance"},
        notes="balance = opening balance + the moves up to and including the row.")


# --- orders ---------------------------------------------------------------------------------------

def _left_per_order(session: Session, where: list, done: dict[str, object], valued: str,
                    currency: str) -> dict[int, dict[str, Decimal]]:
    """Per order matching ``where``: for each ``done`` column (shipped, invoiced, received),
    the quantity left (ordered minus done, summed over lines), and ``value_left``, the line
    net of what is left of ``valued``: net x left / ordered, rounded per line."""
    stmt = (select(DocumentLine.document_id, DocumentLine.quantity, DocumentLine.net, *done.values())
            .join(Document, Document.id == DocumentLine.document_id)
            .where(*where, DocumentLine.display_type.is_(None)))
    left: dict[int, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys([*done, "value_left"], ZERO))
    already: list[Decimal]
    for doc_id, quantity, net, *already in session.execute(stmt.execution_options(**STREAM)):
        figures = left[doc_id]
        for key, quantity_done in zip(done, already):
            remaining = quantity - quantity_done
            if remaining > 0:
                figures[key] += remaining
                if key == valued:
                    figures["value_left"] += money.round_money(money.scale(net, remaining, quantity), currency)
    return left


def _open_orders(session: Session, *, name: str, title: str, doc_type: str, statuses: tuple[str, ...],
                 party: type[Account] | type[Vendor], done: dict[str, tuple[str, object]], valued: str, value_label: str, currency: str | None,
                 page: Page) -> Report:
    currency = _currency(session, currency)
    where = [Document.doc_type == doc_type, Document.status.in_(statuses), Document.currency == currency]
    left = _left_per_order(session, where, {key: column for key, (_label, column) in done.items()}, valued,
                           currency)
    stmt = (select(Document.id, Document.number, party.name, Document.status, Document.due_date,
                   Document.grand_total)
            .join(party, party.id == (Document.vendor_id if party is Vendor else Document.account_id))
            .where(*where).order_by(Document.due_date.is_(None), Document.due_date, Document.id))
    party_key = "vendor" if party is Vendor else "account"
    empty = dict.fromkeys([*done, "value_left"], ZERO)
    rows = [{"document_id": doc_id, "number": number, party_key: party_name, "status": status, "due_date": due,
             "grand_total": grand_total, **left.get(doc_id, empty)}
            for doc_id, number, party_name, status, due, grand_total in session.execute(page.apply(stmt))]
    count, grand_total = session.execute(select(func.count(Document.id), func.sum(Document.grand_total))
                                         .where(*where)).one()
    return Report(
        name=name, title=title,
        columns=[Column("number", "Number"), Column(party_key, party_key.title()), Column("status", "Status", "status"),
                 Column("due_date", "Due date", "date"), Column("grand_total", "Grand total", "money"),
                 *[Column(key, label, "quantity") for key, (label, _column) in done.items()],
                 Column("value_left", value_label, "money")],
        rows=rows,
        totals={"orders": count, "grand_total": _or_zero(grand_total),
                "value_left": sum((figures["value_left"] for figures in left.values()), ZERO)},
        total_columns=[Column("orders", "Orders", "integer"), Column("grand_total", "Grand total", "money"),
                       Column("value_left", value_label, "money")],
        pagination=page.info(count), parameters={"currency": currency},
        notes=f"Orders in {', '.join(statuses)} ({currency}), earliest due date first. Quantities left = ordered "
              "- done, summed over the lines; the value left is the line net (before document discount and "
              "tax) x left / ordered, rounded per line.")


def open_sales_orders(session: Session, *, currency: str | None = None, page: Page = ALL) -> Report:
    """Sales orders still open (Created or Approved): what is left to ship and to invoice.

    Per order: its grand total, the quantity left to ship and to invoice (summed over its
    lines) and the net value left to invoice (line net before document discount and tax,
    in proportion to the quantity left, rounded per line)."""
    return _open_orders(session, name="open-sales-orders", title="Open sales orders", doc_type="sales_order",
                        statuses=OPEN_SALES_ORDER_STATUSES, party=Account,
                        done={"to_ship": ("To ship", DocumentLine.qty_shipped),
                              "to_invoice": ("To invoice", DocumentLine.qty_invoiced)},
                        valued="to_invoice", value_label="Value to invoice", currency=currency, page=page)


def open_purchase_orders(session: Session, *, currency: str | None = None, page: Page = ALL) -> Report:
    """Purchase orders still open (Created, Approved or Delivered): what is left to receive.

    Per order: its grand total, the quantity left to receive (summed over its lines) and
    its net value (line net before document discount and tax, in proportion to the
    quantity left, rounded per line)."""
    return _open_orders(session, name="open-purchase-orders", title="Open purchase orders",
                        doc_type="purchase_order", statuses=OPEN_PURCHASE_ORDER_STATUSES, party=Vendor,
                        done={"to_receive": ("To receive", DocumentLine.qty_received)},
                        valued="to_receive", value_label="Value to receive", currency=currency, page=page)


# --- sales ----------------------------------------------------------------------------------------

SALES_NOTES = ("Invoices dated in the period (invoice date, or creation day when it has none), in {currency}, "
               "in any status but Cancelled and Credit Invoice.")


def sales_by_product(session: Session, *, date_from: dt.date | None = None, date_to: dt.date | None = None,
                     currency: str | None = None, page: Page = ALL) -> Report:
    """Quantity and net amount invoiced per item (products, bundles and services) over a period.

    Net is the sum of the lines' net amounts, before the document discounts: a document
    discount belongs to the invoice, not to a product, so it is not apportioned; the
    totals show it (``document_discount``) and the net after it, which equals the net of
    the sales-by-account report. Largest net first; ``by_month`` is the net per month."""
    date_from, date_to = _period(date_from, date_to)
    currency = _currency(session, currency)
    invoices = _sales_invoices(date_from, date_to, currency)
    lines = [*invoices, DocumentLine.display_type.is_(None), DocumentLine.item_id.is_not(None)]
    net = func.sum(DocumentLine.net)
    sold = (select(DocumentLine.item_id, func.sum(DocumentLine.quantity).label("quantity"),
                   func.count(distinct(DocumentLine.document_id)).label("invoices"), net.label("net"))
            .join(Document, Document.id == DocumentLine.document_id).where(*lines)
            .group_by(DocumentLine.item_id).subquery())
    stmt = (select(Item.id, Item.sku, Item.name, Item.kind, sold.c.quantity, sold.c.invoices, sold.c.net)
            .join(sold, sold.c.item_id == Item.id).order_by(sold.c.net.desc(), Item.name, Item.id))
    found, count = _paged(session, stmt, page)
    rows = [{"item_id": item_id, "sku": sku or "", "name": name, "kind": kind, "quantity": quantity,
             "invoices": invoices, "net": amount}
            for item_id, sku, name, kind, quantity, invoices, amount in found]
    lines_net = session.scalar(select(net).join(Document, Document.id == DocumentLine.document_id).where(*lines))
    invoice_count, discount, taxable = session.execute(
        select(func.count(Document.id), func.sum(Document.discount_total), func.sum(Document.taxable))
        .where(*invoices)).one()
    by_month = _by_month(session, select(net).select_from(DocumentLine)
                         .join(Document, Document.id == DocumentLine.document_id).where(*lines),
                         date_from, date_to, ("net",))
    return Report(
        name="sales-by-product", title="Sales by product",
        columns=[Column("sku", "SKU"), Column("name", "Item"), Column("kind", "Kind", "item_kind"),
                 Column("quantity", "Quantity", "quantity"), Column("invoices", "Invoices", "integer"),
                 Column("net", "Net (before document discounts)", "money")],
        rows=rows,
        totals={"invoices": invoice_count, "net": _or_zero(lines_net), "document_discount": _or_zero(discount),
                "net_after_discount": _or_zero(taxable)},
        total_columns=[Column("invoices", "Invoices", "integer"),
                       Column("net", "Net (before document discounts)", "money"),
                       Column("document_discount", "Document discounts", "money"),
                       Column("net_after_discount", "Net after document discounts", "money")],
        pagination=page.info(count),
        parameters={"from": date_from, "to": date_to, "currency": currency},
        sections={"by_month": Section("Sales by month", [Column("month", "Month"), Column("net", "Net", "money")],
                                      by_month)},
        chart={"type": "bar", "section": "by_month", "x": "month", "y": "net"},
        notes=SALES_NOTES.format(currency=currency) + " Net = sum of line nets before document discounts "
                                                      "(not apportioned to items); see the totals.")


def sales_by_account(session: Session, *, date_from: dt.date | None = None, date_to: dt.date | None = None,
                     currency: str | None = None, page: Page = ALL) -> Report:
    """Invoiced amounts per account over a period.

    Per account: number of invoices, subtotal (the lines' nets), document discounts, net
    (subtotal - document discounts, before tax) and grand total (with tax, shipping and
    adjustment). Largest net first; ``by_month`` is the net per month."""
    date_from, date_to = _period(date_from, date_to)
    currency = _currency(session, currency)
    invoices = _sales_invoices(date_from, date_to, currency)
    figures = (func.count(Document.id), func.sum(Document.subtotal), func.sum(Document.discount_total),
               func.sum(Document.taxable), func.sum(Document.grand_total))
    stmt = (select(Account.id, Account.name, *figures).select_from(Document)
            .join(Account, Account.id == Document.account_id).where(*invoices).group_by(Account.id, Account.name)
            .order_by(figures[3].desc(), Account.name, Account.id))
    keys = ("invoices", "subtotal", "discount", "net", "grand_total")
    found, count = _paged(session, stmt, page)
    rows = [{"account_id": account_id, "account": name, **dict(zip(keys, values))}
            for account_id, name, *values in found]
    totals = dict(zip(keys, session.execute(select(*figures).where(*invoices)).one()))
    by_month = _by_month(session, select(func.count(Document.id), func.sum(Document.taxable)).where(*invoices),
                         date_from, date_to, ("invoices", "net"))
    money_columns = [Column("subtotal", "Subtotal", "money"), Column("discount", "Document discounts", "money"),
                     Column("net", "Net", "money"), Column("grand_total", "Grand total", "money")]
    return Report(
        name="sales-by-account", title="Sales by account",
        columns=[Column("account", "Account"), Column("invoices", "Invoices", "integer"), *money_columns],
        rows=rows, totals={key: _or_zero(value) for key, value in totals.items()},
        total_columns=[Column("invoices", "Invoices", "integer"), *money_columns],
        pagination=page.info(count),
        parameters={"from": date_from, "to": date_to, "currency": currency},
        sections={"by_month": Section("Sales by month", [Column("month", "Month"),
                                                         Column("invoices", "Invoices", "integer"),
                                                         Column("net", "Net", "money")], by_month)},
        chart={"type": "bar", "section": "by_month", "x": "month", "y": "net"},
        notes=SALES_NOTES.format(currency=currency) + " Net = subtotal - document discounts, before tax.")


# --- receivables ----------------------------------------------------------------------------------

def invoice_aging(session: Session, *, as_of: dt.date | None = None, currency: str | None = None,
                  page: Page = ALL) -> Report:
    """Open invoice balances per account, by days past due as of a day (default: today).

    Open invoices are issued ones (Approved, Sent, Partially Paid, AutoCreated) with a
    balance above zero and an invoice date on or before ``as_of``; drafts (Created), Paid,
    Cancelled and Credit Invoice ones are not. Days past due count from the due date, or
    from the invoice date when there is none: 0 or less is current, then 1-30, 31-60,
    61-90 and 90+ (91 days and more). Balances are today's."""
    as_of = _as_of(as_of)
    currency = _currency(session, currency)
    due = due_day()
    where = [*open_invoices(), Document.currency == currency, _invoice_dated(None, as_of)]
    bucket = case(*[(due >= as_of - dt.timedelta(days=last), key) for key, _label, last in AGING_BUCKETS[:-1]],
                  else_=AGING_BUCKETS[-1][0])
    figures = (func.count(Document.id),
               *[func.sum(case((bucket == key, Document.balance), else_=0)) for key, _l, _last in AGING_BUCKETS],
               func.sum(Document.balance))
    keys = ("invoices", *[key for key, _label, _last in AGING_BUCKETS], "total")
    stmt = (select(Account.id, Account.name, *figures).select_from(Document)
            .join(Account, Account.id == Document.account_id)
            .where(*where).group_by(Account.id, Account.name).order_by(Account.name, Account.id))
    found, count = _paged(session, stmt, page)
    rows = [{"account_id": account_id, "account": name, **dict(zip(keys, values))}
            for account_id, name, *values in found]
    totals = {key: _or_zero(value) for key, value in zip(keys, session.execute(select(*figures).where(*where)).one())}
    amount_columns = [*[Column(key, label, "money") for key, label, _last in AGING_BUCKETS],
                      Column("total", "Total", "money")]
    return Report(
        name="invoice-aging", title="Invoice aging",
        columns=[Column("account", "Account"), Column("invoices", "Invoices", "integer"), *amount_columns],
        rows=rows, totals=totals, total_columns=[Column("invoices", "Invoices", "integer"), *amount_columns],
        pagination=page.info(count), parameters={"as_of": as_of, "currency": currency},
        sections={"by_bucket": Section("Balance by days past due",
                                       [Column("bucket", "Days past due"), Column("balance", "Balance", "money")],
                                       [{"bucket": label, "balance": totals[key]}
                                        for key, label, _last in AGING_BUCKETS])},
        chart={"type": "bar", "section": "by_bucket", "x": "bucket", "y": "balance"},
        notes=f"Open invoices ({', '.join(OPEN_INVOICE_STATUSES)}; balance > 0; {currency}) issued on or before "
              f"{as_of}, by days past the due date (or the invoice date without one). Balances are today's.")


# --- the catalogue --------------------------------------------------------------------------------

REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in (
    ReportSpec("stock-levels", "Stock levels", stock_levels, ("category", "q")),
    ReportSpec("low-stock", "Low stock", low_stock, ("category", "q")),
    ReportSpec("stock-valuation", "Stock valuation", stock_valuation, ("category",)),
    ReportSpec("stock-moves", "Stock moves of a product", stock_moves, ("product_id", "date_from", "date_to")),
    ReportSpec("open-sales-orders", "Open sales orders", open_sales_orders, ("currency",)),
    ReportSpec("open-purchase-orders", "Open purchase orders", open_purchase_orders, ("currency",)),
    ReportSpec("sales-by-product", "Sales by product", sales_by_product, ("date_from", "date_to", "currency")),
    ReportSpec("sales-by-account", "Sales by account", sales_by_account, ("date_from", "date_to", "currency")),
    ReportSpec("invoice-aging", "Invoice aging", invoice_aging, ("as_of", "currency")),
)}


def get_spec(name: str) -> ReportSpec:
    spec = REPORTS.get(name)
    if spec is None:
        raise NotFound(_("unknown report %(name)s; the reports are: %(reports)s", name=repr(name),
                         reports=", ".join(REPORTS)))
    return spec


def run(session: Session, name: str, *, page: Page = ALL, **parameters: Any) -> Report:
    """Compute the report called ``name`` (404 for an unknown name)."""
    return get_spec(name).function(session, page=page, **parameters)
