"""Recording, changing and deleting a payment, each under the invoice's row lock."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import money
from crm.context import current_actor_id
from crm.errors import Conflict, NotFound
from crm.models import Document
from crm.services import hooks
from crm.services.records import check_version
from crm_payments.models import Credit, Payment
from crm_payments.services.amounts import parse_amount
from crm_payments.services.balance import after_change, check_amount, new_credit, release_credits
from crm_payments.services.invoices import check_payable, get_invoice, received_on
from crm_payments.services.payments import today
from crm_payments.services.statuses import (
    default_status,
    find_method,
    find_status,
    status_sign,
    usable_method,
    usable_status,
)


def record_payment(session: Session, invoice_id: int, data: dict) -> Payment:
    """A new payment on an issued invoice. ``excess_as_credit``: an amount above the
    balance pays the balance and the rest becomes credit of the invoice's account."""
    invoice = get_invoice(session, invoice_id, lock=True)
    check_payable(invoice)
    status = (usable_status(session, data["status"]) if data.get("status") not in (None, "")
              else default_status(session))
    method = usable_method(session, data.get("method"))
    amount = parse_amount(data.get("amount"), invoice.currency)
    payment = Payment(invoice_id=invoice.id, amount=amount, date=data.get("date") or today(), status=status,
                      method=method, reference=(data.get("reference") or "")[:100], note=data.get("note") or "",
                      created_by_id=current_actor_id())
    outcome = check_amount(session, invoice, payment, status, amount,
                            excess_as_credit=bool(data.get("excess_as_credit")))
    payment.amount = outcome.applied
    session.add(payment)
    session.flush()
    if outcome.excess > 0:
        new_credit(session, invoice, payment, outcome.excess)
    after_change(session, invoice, payment, "recorded")
    if status.is_failure:
        announce_failure(session, invoice, payment)
    return payment


def announce_failure(session: Session, invoice: Document, payment: Payment) -> None:
    """``crm_payment_event(event="failed")``: the payment was recorded with, or changed to, a
    status that is a failure (after its ``recorded`` or ``changed`` event). The workflow
    trigger ``payment_failed`` runs a rule once per payment, however often this happens."""
    hooks.call("crm_payment_event", session=session, event="failed", payment=payment, invoice=invoice)


def _locked_payment(session: Session, payment_id: int) -> tuple[Document, Payment]:
    invoice_id = session.scalar(select(Payment.invoice_id).where(Payment.id == payment_id))
    if invoice_id is None:
        raise NotFound(_("payment %(id)s not found", id=payment_id))
    invoice = get_invoice(session, invoice_id, lock=True)
    payment = session.get(Payment, payment_id, populate_existing=True, with_for_update=True)
    if payment is None:  # deleted while we waited for the lock
        raise NotFound(_("payment %(id)s not found", id=payment_id))
    return invoice, payment


def update_payment(session: Session, payment_id: int, data: dict) -> Payment:
    """Change amount, date, method, status, reference or note; the balance follows."""
    data = dict(data)
    invoice, payment = _locked_payment(session, payment_id)
    check_version(payment, data.pop("version", None))
    check_payable(invoice)
    if payment.applications and any(k in data and data[k] not in (None, "") for k in ("amount", "status", "method")):
        new = {k: data[k] for k in ("amount", "status", "method") if k in data}
        if _changes_credit_payment(session, payment, new):
            raise Conflict(_("this payment applied customer credit: only its date, reference and note can change; "
                             "delete it to give the credit back"), code="credit_payment")
    old_status, old_date = payment.status, payment.date
    status = usable_status(session, data["status"], payment.status) if data.get("status") not in (None, "") \
        else payment.status
    method = payment.method
    if "method" in data:
        method = usable_method(session, data["method"], payment.method)
    amount = parse_amount(data["amount"], invoice.currency) if data.get("amount") not in (None, "") else payment.amount
    outcome = check_amount(session, invoice, payment, status, amount,
                            excess_as_credit=bool(data.get("excess_as_credit")))
    if status_sign(old_status) > 0 and status_sign(status) <= 0:
        release_credits(session, payment)
    payment.status, payment.method, payment.amount = status, method, outcome.applied
    if data.get("date"):
        payment.date = data["date"]
    for key in ("reference", "note"):
        if key in data and data[key] is not None:
            setattr(payment, key, data[key][:100] if key == "reference" else data[key])
    if payment.status.id != old_status.id or payment.date != old_date:
        payment.overdue_since = None  # the overdue job looks at it again
    session.flush()
    if outcome.excess > 0:
        new_credit(session, invoice, payment, outcome.excess)
    after_change(session, invoice, payment, "changed")
    if payment.status.is_failure and not old_status.is_failure:
        announce_failure(session, invoice, payment)
    return payment


def _changes_credit_payment(session: Session, payment: Payment, new: dict) -> bool:
    if "amount" in new and money.to_decimal(new["amount"]) != payment.amount:
        return True
    if new.get("status") not in (None, "") and find_status(session, new["status"]).id != payment.status_id:
        return True
    if new.get("method") not in (None, "") and find_method(session, new["method"]).id != payment.method_id:
        return True
    return False


def delete_payment(session: Session, payment_id: int) -> Payment:
    """Delete a payment; credit it used goes back to its credit, unused credit it created
    goes away. On an invoice that takes no more payments (cancelled, credited), only
    payments that do not count (scheduled, pending, failed) can be deleted."""
    invoice, payment = _locked_payment(session, payment_id)
    if status_sign(payment.status) != 0:
        check_payable(invoice)
    others = received_on(session, invoice.id, excluding=payment.id)
    if others < 0:
        raise Conflict(_("deleting this payment would leave refunds larger than what was received on %(number)s; "
                         "delete the refund first", number=invoice.number), code="refund_exceeds_received")
    for application in payment.applications:
        credit = session.get_one(Credit, application.credit_id, populate_existing=True, with_for_update=True)
        credit.remaining = money.add(credit.remaining, application.amount)
    release_credits(session, payment)
    session.delete(payment)
    after_change(session, invoice, payment, "deleted")
    return payment
