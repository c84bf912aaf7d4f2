"""Overdue scheduled payments: the condition, and the job that marks and announces them."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from crm.models import Document
from crm.services import hooks
from crm_payments.models import Payment, PaymentStatus


def overdue_condition(on: dt.date) -> ColumnElement[bool]:
    return and_(PaymentStatus.is_scheduled.is_(True), Payment.date < on,
                Document.status.notin_(("Cancelled", "Credit Invoice")))


def mark_overdue(session: Session, on: dt.date) -> str:
    """The job ``payments_overdue``: every scheduled payment past its date that is not marked
    yet gets ``overdue_since = on`` and one ``crm_payment_event(event="overdue")``.
    Running it again finds nothing new (the mark is the memory; rows are locked, so two
    runs at once do not both announce a payment)."""
    stmt = (select(Payment).join(PaymentStatus, Payment.status_id == PaymentStatus.id)
            .join(Document, Document.id == Payment.invoice_id)
            .where(overdue_condition(on), Payment.overdue_since.is_(None))
            .order_by(Payment.id).with_for_update(of=Payment))
    found = list(session.scalars(stmt))
    for payment in found:
        payment.overdue_since = on
    session.flush()
    for payment in found:
        hooks.call("crm_payment_event", session=session, event="overdue", payment=payment, invoice=payment.invoice)
    return f"{len(found)} scheduled payment(s) became overdue"
