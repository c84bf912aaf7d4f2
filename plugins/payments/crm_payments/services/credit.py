"""Customer credit: listing it, and applying it to an invoice of the same account."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import money
from crm.context import current_actor_id
from crm.errors import Conflict, NotFound, ValidationError
from crm_payments.models import CREDIT, Credit, CreditApplication, Payment, PaymentMethod, PaymentStatus
from crm_payments.services.amounts import format_amount, parse_amount
from crm_payments.services.balance import after_change
from crm_payments.services.invoices import check_payable, get_invoice, received_on
from crm_payments.services.payments import today
from crm_payments.services.statuses import builtin


def list_credits(session: Session, *, account_id: int | None = None, open_only: bool = False) -> list[Credit]:
    stmt = select(Credit).order_by(Credit.id)
    if account_id is not None:
        stmt = stmt.where(Credit.account_id == account_id)
    if open_only:
        stmt = stmt.where(Credit.remaining > 0)
    return list(session.scalars(stmt))


def get_credit(session: Session, credit_id: int, *, lock: bool = False) -> Credit:
    credit = session.get(Credit, credit_id, populate_existing=lock, with_for_update=lock or None)
    if credit is None:
        raise NotFound(_("credit %(id)s not found", id=credit_id))
    return credit


def apply_credit(session: Session, credit_id: int, invoice_id: int, data: dict | None = None) -> Payment:
    """Use credit on an invoice of the same account: a payment of the built-in Credit
    status and method, and the credit's remaining amount goes down by as much, atomically.
    Without ``amount``: as much as both the credit and the balance allow."""
    data = data or {}
    invoice = get_invoice(session, invoice_id, lock=True)  # invoice first, then credit: one lock order
    check_payable(invoice)
    credit = get_credit(session, credit_id, lock=True)
    if credit.account_id != invoice.account_id:
        raise ValidationError.for_field("invoice_id", _("invoice %(number)s belongs to another account than credit "
                                                        "%(credit)s", number=invoice.number, credit=credit.id))
    if credit.currency != invoice.currency:
        raise ValidationError.for_field("invoice_id", _("credit %(credit)s is in %(currency)s, invoice %(number)s "
                                                        "in %(other)s", credit=credit.id, currency=credit.currency,
                                                        number=invoice.number, other=invoice.currency))
    balance = money.subtract(invoice.grand_total, received_on(session, invoice.id))
    if credit.remaining <= 0:
        raise Conflict(_("credit %(credit)s is used up", credit=credit.id), code="credit_used_up")
    if balance <= 0:
        raise Conflict(_("invoice %(number)s has no balance left to pay", number=invoice.number),
                       code="nothing_to_pay")
    if data.get("amount") not in (None, ""):
        amount = parse_amount(data["amount"], invoice.currency)
        if amount > credit.remaining:
            raise ValidationError.for_field("amount", _("only %(amount)s of credit %(credit)s is left",
                                                        amount=format_amount(credit.remaining, credit.currency),
                                                        credit=credit.id))
        if amount > balance:
            raise ValidationError(_("amount %(amount)s is more than the balance of %(balance)s of invoice %(number)s",
                                    amount=format_amount(amount, invoice.currency), balance=format_amount(balance, invoice.currency),
                                    number=invoice.number),
                                  {"amount": [_("more than the balance of %(balance)s",
                                                balance=format_amount(balance, invoice.currency))]},
                                  code="overpayment")
    else:
        amount = min(credit.remaining, balance)
    payment = Payment(invoice_id=invoice.id, amount=amount, date=data.get("date") or today(),
                      status=builtin(session, PaymentStatus, CREDIT), method=builtin(session, PaymentMethod, CREDIT),
                      reference=f"credit {credit.id}", note=data.get("note") or "", created_by_id=current_actor_id())
    session.add(payment)
    session.flush()
    credit.remaining = money.subtract(credit.remaining, amount)
    session.add(CreditApplication(credit_id=credit.id, payment_id=payment.id, amount=amount))
    session.flush()
    session.refresh(payment, ["applications"])
    after_change(session, invoice, payment, "recorded")
    return payment
