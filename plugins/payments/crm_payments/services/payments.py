"""Reading payments: one by id, an invoice's, whether a scheduled one is overdue."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import NotFound
from crm_payments.models import Payment


def today() -> dt.date:
    return dt.date.today()


def get_payment(session: Session, payment_id: int) -> Payment:
    found = session.get(Payment, payment_id)
    if found is None:
        raise NotFound(_("payment %(id)s not found", id=payment_id))
    return found


def payments_of(session: Session, invoice_id: int) -> list[Payment]:
    return list(session.scalars(select(Payment).where(Payment.invoice_id == invoice_id)
                                .order_by(Payment.date, Payment.id)))


def is_overdue(payment: Payment, on: dt.date | None = None) -> bool:
    """A scheduled payment whose date has passed (it was due on its date)."""
    return payment.status.is_scheduled and payment.date < (on or today())
