"""The figures of the start page: sales this month, open orders, low stock,
overdue invoices, and sales per month for its chart. Read only; session first.

Invoices count as sales from their invoice date (or creation date) unless
cancelled or credited.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from crm.models import Document, Item
from crm.services.receivables import due_day, overdue_invoices

NOT_SALES = ("Cancelled", "Credit Invoice")
OPEN_ORDERS = ("Created", "Approved")
ZERO = Decimal("0")


@dataclass
class Dashboard:
    currency: str
    sales_this_month: Decimal
    invoices_this_month: int
    open_orders: int
    open_orders_total: Decimal
    low_stock: list
    low_stock_count: int
    overdue: list
    overdue_count: int
    overdue_total: Decimal
    sales_by_month: list  # [(first day of month, total)]
    recent: list


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    month = day.month - 1 - back
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def dashboard(session: Session, *, today: dt.date | None = None, currency: str = "EUR", months: int = 12) -> Dashboard:
    today = today or dt.date.today()
    first = _month_start(today)
    since = _month_start(today, months - 1)
    day = func.coalesce(Document.invoice_date, func.date(Document.created_at))
    rows = session.execute(select(Document.invoice_date, Document.created_at, Document.grand_total)
                           .where(Document.doc_type == "invoice", Document.status.notin_(NOT_SALES),
                                  Document.currency == currency, day >= since)).all()
    per_month: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    this_month, count = ZERO, 0
    for invoice_date, created_at, total in rows:
        when = invoice_date or created_at.date()
        if when < since:
            continue
        per_month[_month_start(when)] += total
        if when >= first:
            this_month += total
            count += 1
    series = [(_month_start(today, back), per_month[_month_start(today, back)]) for back in range(months - 1, -1, -1)]

    open_count, open_total = session.execute(
        select(func.count(), func.coalesce(func.sum(Document.grand_total), 0))
        .where(Document.doc_type == "sales_order", Document.status.in_(OPEN_ORDERS))).one()

    low_filter = (Item.kind == "product", Item.is_bundle.is_(False), Item.active.is_(True),
                  Item.on_hand - Item.reserved <= Item.reorder_level)
    low = list(session.scalars(select(Item).where(*low_filter).order_by(Item.on_hand - Item.reserved, Item.name)
                               .limit(8)))
    low_count = session.execute(select(func.count()).select_from(Item).where(*low_filter)).scalar_one()

    overdue_filter = (*overdue_invoices(today), Document.currency == currency)
    overdue = list(session.scalars(select(Document).where(*overdue_filter).options(joinedload(Document.account))
                                   .order_by(due_day(), Document.id).limit(8)))
    overdue_count, overdue_total = session.execute(
        select(func.count(), func.coalesce(func.sum(Document.balance), 0)).where(*overdue_filter)).one()

    recent = list(session.scalars(select(Document).options(joinedload(Document.account), joinedload(Document.vendor))
                                  .order_by(Document.id.desc()).limit(8)))
    return Dashboard(currency, this_month, count, open_count, Decimal(open_total), low, low_count, overdue,
                     overdue_count, Decimal(overdue_total), series, recent)
