"""The payments list's query: its filters and search."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from crm.models import Document
from crm_payments.models import Payment, PaymentStatus
from crm_payments.services.overdue import overdue_condition
from crm_payments.services.payments import today


def payments_query(filters: dict, on: dt.date | None = None) -> Select[Payment]:
    """The payments matching ``filters`` (invoice_id, account_id, status, method, overdue,
    scheduled, date_from, date_to)."""
    on = on or today()
    stmt = (select(Payment).join(PaymentStatus, Payment.status_id == PaymentStatus.id)
            .join(Document, Document.id == Payment.invoice_id)
            .options(selectinload(Payment.invoice).selectinload(Document.account),
                     selectinload(Payment.created_by)))
    if filters.get("invoice_id") is not None:
        stmt = stmt.where(Payment.invoice_id == filters["invoice_id"])
    if filters.get("account_id") is not None:
        stmt = stmt.where(Document.account_id == filters["account_id"])
    if filters.get("status_id") is not None:
        stmt = stmt.where(Payment.status_id == filters["status_id"])
    if filters.get("method_id") is not None:
        stmt = stmt.where(Payment.method_id == filters["method_id"])
    if filters.get("overdue") is True:
        stmt = stmt.where(overdue_condition(on))
    elif filters.get("overdue") is False:
        stmt = stmt.where(~overdue_condition(on))
    if filters.get("scheduled") is not None:
        stmt = stmt.where(PaymentStatus.is_scheduled.is_(bool(filters["scheduled"])))
    if filters.get("counted") is not None:
        stmt = stmt.where(PaymentStatus.counts_as_received.is_(bool(filters["counted"])))
    if filters.get("date_from"):
        stmt = stmt.where(Payment.date >= filters["date_from"])
    if filters.get("date_to"):
        stmt = stmt.where(Payment.date <= filters["date_to"])
    q = (filters.get("q") or "").strip().lower()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(func.lower(Payment.reference).like(pattern, escape="\\"),
                              func.lower(Payment.note).like(pattern, escape="\\"),
                              func.lower(Document.number).like(pattern, escape="\\")))
    return stmt
