"""Payment schedules: an invoice's balance split into scheduled installments."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import dates, money
from crm.context import current_actor_id
from crm.errors import Conflict, NotFound, ValidationError
from crm.services import documents, hooks
from crm.services.recurring import add_months
from crm_payments.models import INTERVALS, Payment, PaymentSchedule, PaymentStatus
from crm_payments.services.amounts import format_amount
from crm_payments.services.invoices import check_payable, get_invoice, received_on
from crm_payments.services.statuses import scheduled_status, usable_method

MAX_INSTALLMENTS = 120


def installment_dates(first: dt.date, count: int, interval: str) -> list[dt.date]:
    """``count`` dates from ``first``: weekly, or monthly / quarterly with month ends clamped
    and not drifting (Jan 31 -> Feb 28 -> Mar 31), like the core's recurring invoices."""
    if interval == "weekly":
        return [first + dt.timedelta(weeks=n) for n in range(count)]
    months = {"monthly": 1, "quarterly": 3}[interval]
    return [add_months(first, months * n) for n in range(count)]


def open_scheduled(session: Session, invoice_id: int) -> list[Payment]:
    return list(session.scalars(select(Payment).join(PaymentStatus, Payment.status_id == PaymentStatus.id)
                                .where(Payment.invoice_id == invoice_id, PaymentStatus.is_scheduled.is_(True))
                                .order_by(Payment.date, Payment.id)))


def create_schedule(session: Session, invoice_id: int, data: dict) -> PaymentSchedule:
    """Split the invoice's balance into ``installments`` scheduled payments that add up to
    it exactly (the remainder on the last one). Open scheduled payments are refused unless
    ``replace`` (they are deleted first)."""
    invoice = get_invoice(session, invoice_id, lock=True)
    check_payable(invoice)
    count = data.get("installments")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_INSTALLMENTS:
        raise ValidationError.for_field("installments", _("must be a whole number from 1 to %(max)s",
                                                          max=MAX_INSTALLMENTS))
    interval = data.get("interval") or "monthly"
    if interval not in INTERVALS:
        raise ValidationError.for_field("interval", _("must be one of: %(choices)s", choices=", ".join(INTERVALS)))
    first = data.get("first_date")
    if not isinstance(first, dt.date):
        raise ValidationError.for_field("first_date", _("is required (a date)"))
    if not dates.in_range(first):
        raise ValidationError.for_field("first_date", dates.range_message())
    days = installment_dates(first, count, interval)
    if not dates.in_range(days[-1]):
        raise ValidationError.for_field("installments", _("the last one would fall on %(date)s, after %(last)s",
                                                          date=days[-1].isoformat(),
                                                          last=dates.MAX_DATE.isoformat()))
    status = scheduled_status(session)
    method = usable_method(session, data.get("method"))
    existing = open_scheduled(session, invoice.id)
    if existing and not data.get("replace"):
        raise Conflict(_("invoice %(number)s already has %(count)s scheduled payment(s); replace them or delete "
                         "them first", number=invoice.number, count=len(existing)), code="already_scheduled")
    for old in existing:
        session.delete(old)
        session.flush()
        hooks.call("crm_payment_event", session=session, event="deleted", payment=old, invoice=invoice)
    balance = money.round_money(money.subtract(invoice.grand_total, received_on(session, invoice.id)),
                                invoice.currency)
    if balance <= 0:
        raise Conflict(_("invoice %(number)s has no balance left to schedule", number=invoice.number),
                       code="nothing_to_pay")
    amounts = money.split_amount(balance, count, invoice.currency)
    if any(a <= 0 for a in amounts):
        raise ValidationError.for_field("installments", _("too many for a balance of %(balance)s",
                                                          balance=format_amount(balance, invoice.currency)))
    schedule = PaymentSchedule(invoice_id=invoice.id, amount=balance, installments=count, first_date=first,
                               interval=interval, created_by_id=current_actor_id())
    session.add(schedule)
    session.flush()
    note = data.get("note") or ""
    created = []
    for number, (amount, day) in enumerate(zip(amounts, days), start=1):
        payment = Payment(invoice_id=invoice.id, amount=amount, date=day, status=status, method=method,
                          reference=f"{number}/{count}", note=note, schedule_id=schedule.id,
                          created_by_id=current_actor_id())
        session.add(payment)
        created.append(payment)
    session.flush()
    documents.refresh_balance(session, invoice)
    session.flush()
    for payment in created:
        hooks.call("crm_payment_event", session=session, event="recorded", payment=payment, invoice=invoice)
    session.refresh(schedule, ["payments"])
    return schedule


def get_schedule(session: Session, schedule_id: int) -> PaymentSchedule:
    found = session.get(PaymentSchedule, schedule_id)
    if found is None:
        raise NotFound(_("payment schedule %(id)s not found", id=schedule_id))
    return found
