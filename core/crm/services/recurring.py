"""Recurring invoices: a sales order's schedule, and the job that invoices every due period.

Periods are counted from the start date (never from the previous period), so
month ends are clamped without drifting: Jan 31 -> Feb 28 (29) -> Mar 31.
Each period is invoiced exactly once: a row per (order, period) with a unique
key is written before the invoice, so a second run, or a second process
running at the same moment, creates nothing new.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.errors import ValidationError
from crm.models import Document, RecurringRun, RecurringSchedule
from crm.models.stock import FREQUENCIES
from crm.services.doctypes import INVOICE

#: months between periods (daily and weekly count days)
MONTHS = {"monthly": 1, "quarterly": 3, "every_4_months": 4, "half_yearly": 6, "yearly": 12}
DAYS = {"daily": 1, "weekly": 7}
INVOICEABLE_ORDERS = ("Approved", "Delivered")
INVOICE_STATUSES = ("AutoCreated", "Created", "Approved", "Sent")  # what a schedule's invoices start as
MAX_CATCH_UP = 1000  # periods per order and run: a guard against absurd schedules


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` plus ``months``, the day clamped to the month's last day."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def period_dates(schedule: RecurringSchedule, until: dt.date) -> Iterator[dt.date]:
    """Every period start from the schedule's start up to ``until`` (and its end date)."""
    last = min(until, schedule.end_date) if schedule.end_date else until
    for n in range(MAX_CATCH_UP):
        if schedule.frequency in DAYS:
            day = schedule.start_date + dt.timedelta(days=DAYS[schedule.frequency] * n)
        else:
            day = add_months(schedule.start_date, MONTHS[schedule.frequency] * n)
        if day > last:
            return
        yield day


def set_schedule(session: Session, order: Document, data: dict | None) -> RecurringSchedule | None:
    """Create, change or (with None) stop a sales order's recurring invoicing."""
    schedule = session.get(RecurringSchedule, order.id) if order.id else None
    if data is None:
        if schedule is not None:
            schedule.active = False
        return schedule
    frequency = data.get("frequency", schedule.frequency if schedule else None)
    if frequency not in FREQUENCIES:
        raise ValidationError.for_field("recurring.frequency", _("must be one of %(choices)s",
                                                                 choices=", ".join(FREQUENCIES)))
    start = data.get("start_date", schedule.start_date if schedule else None)
    if start is None:
        raise ValidationError.for_field("recurring.start_date", _("is required"))
    end = data.get("end_date", schedule.end_date if schedule else None)
    if end is not None and end < start:
        raise ValidationError.for_field("recurring.end_date", _("is before the start date"))
    status = data.get("invoice_status", schedule.invoice_status if schedule else "AutoCreated")
    if status not in INVOICE_STATUSES:
        raise ValidationError.for_field("recurring.invoice_status", _("must be %(choices)s or %(last)s",
                                                                      choices=", ".join(INVOICE_STATUSES[:-1]),
                                                                      last=INVOICE_STATUSES[-1]))
    terms = data.get("payment_terms_days", schedule.payment_terms_days if schedule else 30)
    if schedule is None:
        schedule = RecurringSchedule(sales_order_id=order.id)
        session.add(schedule)
    schedule.frequency, schedule.start_date, schedule.end_date = frequency, start, end
    schedule.invoice_status, schedule.payment_terms_days, schedule.active = status, terms, True
    session.flush()
    return schedule


def run_due(session: Session, today: dt.date) -> dict[str, int]:
    """Invoice every due period of every active schedule, once."""
    from crm.services import documents
    created = skipped = 0
    schedules = session.scalars(select(RecurringSchedule).join(Document, Document.id == RecurringSchedule.sales_order_id)
                                .where(RecurringSchedule.active.is_(True), Document.status.in_(INVOICEABLE_ORDERS))
                                .order_by(RecurringSchedule.sales_order_id))
    for schedule in list(schedules):
        done = set(session.scalars(select(RecurringRun.period_date)
                                   .where(RecurringRun.sales_order_id == schedule.sales_order_id)))
        for period in period_dates(schedule, today):
            if period in done:
                continue
            try:
                with session.begin_nested():
                    session.add(RecurringRun(sales_order_id=schedule.sales_order_id, period_date=period))
                    session.flush()
            except IntegrityError:  # another process took this period
                skipped += 1
                continue
            order = documents.get_document(session, "sales_order", schedule.sales_order_id)
            invoice = _invoice_period(session, order, schedule, period)
            run = session.scalar(select(RecurringRun).where(RecurringRun.sales_order_id == order.id,
                                                            RecurringRun.period_date == period))
            run.invoice_id = invoice.id
            created += 1
    return {"created": created, "skipped": skipped}


def _invoice_period(session: Session, order: Document, schedule: RecurringSchedule, period: dt.date) -> Document:
    from crm.services import documents
    header = documents._copy_header(order)
    header.update(invoice_date=period, due_date=period + dt.timedelta(days=schedule.payment_terms_days),
                  subject=f"{order.subject or order.number} ({period.isoformat()})".strip()[:200])
    invoice = documents._new_from(session, INVOICE.name, order, header, status=schedule.invoice_status)
    for line in invoice.lines:  # a recurring invoice bills the period, not the order's quantities
        line.source_line_id = None
    if schedule.invoice_status not in (INVOICE.initial, "AutoCreated"):
        invoice.history[-1].note = f"recurring {schedule.frequency}"
    return invoice
