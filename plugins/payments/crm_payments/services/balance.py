"""The balance check every change of a payment passes (never more received than the grand total,
never less than zero), the customer credit an excess becomes, and what follows a change: the
invoice's balance, the ``crm_payment_event`` hook and a schedule's open installments."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import money
from crm.context import current_actor_id
from crm.errors import Conflict, ValidationError
from crm.models import Document
from crm.services import documents, hooks
from crm_payments.models import Credit, Payment, PaymentStatus
from crm_payments.services.amounts import format_amount
from crm_payments.services.invoices import received_on
from crm_payments.services.schedules import open_scheduled
from crm_payments.services.statuses import status_sign


@dataclass
class Outcome:
    applied: Decimal
    excess: Decimal = money.ZERO


def check_amount(session: Session, invoice: Document, payment: Payment, status: PaymentStatus, amount: Decimal,
                  *, excess_as_credit: bool) -> Outcome:
    """Whether ``payment`` may have ``status`` and ``amount`` (other payments unchanged):
    never more received than the grand total (unless the excess becomes credit),
    never less than zero."""
    others = received_on(session, invoice.id, excluding=payment.id)
    sign = status_sign(status)
    after = money.add(others, amount) if sign > 0 else money.subtract(others, amount) if sign < 0 else others
    if after > invoice.grand_total:
        available = money.subtract(invoice.grand_total, others)
        if not excess_as_credit:
            raise ValidationError(
                _("amount %(amount)s is more than the balance of %(balance)s of invoice %(number)s; lower it, or "
                  "record the excess as customer credit", amount=format_amount(amount, invoice.currency),
                  balance=format_amount(available, invoice.currency), number=invoice.number),
                {"amount": [_("more than the balance of %(balance)s", balance=format_amount(available, invoice.currency))]},
                code="overpayment")
        if available <= 0:
            raise Conflict(_("invoice %(number)s has no balance left to pay", number=invoice.number),
                           {"amount": [_("nothing left to pay")]}, code="nothing_to_pay")
        return Outcome(applied=available, excess=money.subtract(amount, available))
    if after < 0:
        raise ValidationError(
            _("a refund of %(amount)s is more than the %(received)s received on invoice %(number)s",
              amount=format_amount(amount, invoice.currency), received=format_amount(others, invoice.currency), number=invoice.number),
            {"amount": [_("more than the %(received)s received", received=format_amount(others, invoice.currency))]},
            code="refund_exceeds_received")
    return Outcome(applied=amount)


def after_change(session: Session, invoice: Document, payment: Payment, event: str) -> None:
    session.flush()
    if event != "deleted":
        session.expire(payment, ["credits_created", "applications"])
    documents.refresh_balance(session, invoice)
    session.flush()
    hooks.call("crm_payment_event", session=session, event=event, payment=payment, invoice=invoice)
    if not payment.status.is_scheduled:  # money came in or went out: the installments follow
        _fit_installments(session, invoice)


def _fit_installments(session: Session, invoice: Document) -> None:
    """The open installments of a schedule add up to what is still owed again after a payment,
    an applied credit or a refund: the last ones shrink (and go when nothing is left for them),
    or the last one grows. Scheduled payments recorded one by one, outside a schedule, and
    changes to an installment itself are left as they are."""
    installments = [p for p in open_scheduled(session, invoice.id) if p.schedule_id is not None]
    if not installments or invoice.status in ("Cancelled", "Credit Invoice"):
        return
    owed = max(money.subtract(invoice.grand_total, received_on(session, invoice.id)), money.ZERO)
    excess = money.subtract(money.total(p.amount for p in installments), owed)
    if excess < 0:
        last = installments[-1]
        last.amount = money.subtract(last.amount, excess)
        changed, gone = [last], list[Payment]()
    else:
        changed, gone = [], []
        for installment in reversed(installments):
            if excess <= 0:
                break
            cut = min(installment.amount, excess)
            excess = money.subtract(excess, cut)
            installment.amount = money.subtract(installment.amount, cut)
            (gone if installment.amount == 0 else changed).append(installment)
    for installment in gone:
        session.delete(installment)
    session.flush()
    for installment in changed:
        hooks.call("crm_payment_event", session=session, event="changed", payment=installment, invoice=invoice)
    for installment in gone:
        hooks.call("crm_payment_event", session=session, event="deleted", payment=installment, invoice=invoice)


def new_credit(session: Session, invoice: Document, payment: Payment, amount: Decimal) -> Credit:
    credit = Credit(account_id=invoice.account_id, currency=invoice.currency, amount=amount, remaining=amount,
                    source_payment_id=payment.id, source_invoice_id=invoice.id,
                    note=f"excess of a payment on {invoice.number}"[:200], created_by_id=current_actor_id())
    session.add(credit)
    session.flush()
    return credit


def release_credits(session: Session, payment: Payment) -> None:
    """Drop the unused credit made from ``payment``'s excess; refuse when some was applied."""
    for credit in session.scalars(select(Credit).where(Credit.source_payment_id == payment.id)
                                  .with_for_update()).all():
        session.refresh(credit)
        if credit.remaining != credit.amount:
            raise Conflict(_("%(used)s of the credit made from this payment (credit %(credit)s) was already applied; "
                             "delete those credit payments first", used=format_amount(credit.amount - credit.remaining,
                                                                             credit.currency), credit=credit.id),
                           code="credit_in_use")
        session.delete(credit)
    session.flush()
