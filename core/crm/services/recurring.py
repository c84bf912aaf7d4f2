"""Recurring invoices: a sales order's schedule, and the job that invoices every due period.

Period n starts at the start date plus n steps (never the previous period plus
one step), so month ends are clamped without drifting: Jan 31 -> Feb 28 (29)
-> Mar 31. The job invoices every period after the last one invoiced up to
today, however many there are. Each period is invoiced exactly once: the job
locks the schedule's row before reading its last period (a second job waits,
then finds nothing due), and a row per (order, period) with a unique key is
written with the invoice.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.dates import MAX_DATE, MIN_DATE, in_range
from crm.errors import ValidationError
from crm.models import Document, RecurringRun, RecurringSchedule
from crm.models.stock import FREQUENCIES
from crm.services.doctypes import INVOICE

#: months between periods (daily and weekly count days)
MONTHS = {"monthly": 1, "quarterly": 3, "every_4_months": 4, "half_yearly": 6, "yearly": 12}
DAYS = {"daily": 1, "weekly": 7}
INVOICEABLE_ORDERS = ("Approved", "Delivered")
INVOICE_STATUSES = ("AutoCreated", "Created", "Approved", "Sent")  # what a schedule's invoices start as


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` plus ``months``, the day clamped to the month's last day."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def period_start(schedule: RecurringSchedule, n: int) -> dt.date | None:
    """The start of the schedule's period ``n`` (0 is the start date); None past year 9999."""
    try:
        if schedule.frequency in DAYS:
            return schedule.start_date + dt.timedelta(days=DAYS[schedule.frequency] * n)
        return add_months(schedule.start_date, MONTHS[schedule.frequency] * n)
    except (ValueError, OverflowError):
        return None


def _first_period_after(schedule: RecurringSchedule, day: dt.date | None) -> int:
    """The number of the first period that starts after ``day`` (0 without a day)."""
    start = schedule.start_date
    if day is None or day < start:
        return 0
    if schedule.frequency in DAYS:
        return (day - start).days // DAYS[schedule.frequency] + 1
    n = ((day.year - start.year) * 12 + day.month - start.month) // MONTHS[schedule.frequency]
    while (found := period_start(schedule, n)) is not None and found <= day:
        n += 1
    return n


def period_dates(schedule: RecurringSchedule, until: dt.date, *, after: dt.date | None = None) -> Iterator[dt.date]:
    """Every period start after ``after`` (from the start date without it) up to ``until``
    and the schedule's end date."""
    last = min(until, schedule.end_date) if schedule.end_date else until
    n = _first_period_after(schedule, after)
    while (day := period_start(schedule, n)) is not None and day <= last:
        yield day
        n += 1


def _check_date(field: str, value: dt.date | None) -> None:
    if value is not None and not in_range(value):
        raise ValidationError.for_field(field, _("must be between %(first)s and %(last)s",
                                                 first=MIN_DATE.isoformat(), last=MAX_DATE.isoformat()))


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
    _check_date("recurring.start_date", start)
    end = data.get("end_date", schedule.end_date if schedule else None)
    _check_date("recurring.end_date", end)
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
    ids = session.scalars(select(RecurringSchedule.sales_order_id)
                          .join(Document, Document.id == RecurringSchedule.sales_order_id)
                          .where(RecurringSchedule.active.is_(True), Document.status.in_(INVOICEABLE_ORDERS))
                          .order_by(RecurringSchedule.sales_order_id)).all()
    return {"created": sum(_invoice_due(session, order_id, today) for order_id in ids)}


def _invoice_due(session: Session, order_id: int, today: dt.date) -> int:
    """Invoice the order's periods after its last invoiced one, up to ``today``; how many.
    The schedule's row stays locked until the commit: a job running at the same
    moment waits here, then reads the periods this one invoiced."""
    from crm.services import documents
    schedule = session.scalar(select(RecurringSchedule).where(RecurringSchedule.sales_order_id == order_id)
                              .with_for_update().execution_options(populate_existing=True))
    if schedule is None or not schedule.active:
        return 0
    last = session.scalar(select(func.max(RecurringRun.period_date)).where(RecurringRun.sales_order_id == order_id))
    periods = list(period_dates(schedule, today, after=last))
    if not periods:
        return 0
    order = documents.get_document(session, "sales_order", order_id)
    if order.status not in INVOICEABLE_ORDERS:
        return 0
    for period in periods:
        invoice = _invoice_period(session, order, schedule, period)
        session.add(RecurringRun(sales_order_id=order_id, period_date=period, invoice_id=invoice.id))
    session.flush()
    return len(periods)


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
