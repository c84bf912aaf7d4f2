"""The rules of payments. Every function takes the session first, never commits,
and raises :mod:`crm.errors`.

Invariants kept by every change, in the transaction of the change:

* ``invoice.received`` = sum of the invoice's payments whose status counts as
  received, minus those whose status is a refund (:func:`received_on`);
  ``invoice.balance = grand_total - received``; Paid / Partially Paid / the status
  before payments follow (the core's :func:`crm.services.documents.refresh_balance`).
* ``0 <= received <= grand_total``: an overpayment is refused (422, with the balance
  in the message) unless the excess becomes customer credit; a refund never takes
  more than was received.
* Every change first locks the invoice's row (``SELECT ... FOR UPDATE`` on
  PostgreSQL; SQLite serialises writers), so two payments racing for the last
  balance cannot both pass the check.
* Customer credit never goes below zero (checked here under a row lock, and by a
  CHECK constraint).

Money is Decimal and goes through :mod:`crm.money`; it is never a float.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from crm import money
from crm.context import current_actor_id
from crm.errors import Conflict, NotFound, ValidationError
from crm.labels import status_label
from crm.models import Document
from crm.services import documents, hooks
from crm.services.recurring import add_months
from crm.services.records import check_version
from crm_payments.models import (CREDIT, INTERVALS, Credit, CreditApplication, Payment, PaymentMethod,
                                 PaymentSchedule, PaymentStatus)

#: invoice statuses that take payments: issued, not cancelled or credited. Created and
#: AutoCreated are drafts whose amounts may still change: no payments until issued.
PAYABLE = ("Approved", "Sent", "Partially Paid", "Paid")
MAX_INSTALLMENTS = 120
PRESETS = (Decimal("25"), Decimal("33"), Decimal("50"), Decimal("100"))
ZERO = money.ZERO


def _(text: str, **values) -> str:
    """The message in the user's language in a request; as written elsewhere (jobs, CLI,
    tests), where no language is chosen."""
    if has_request_context():
        return gettext(text, **values)
    return text % values if values else text


def today() -> dt.date:
    return dt.date.today()


# --- statuses and methods --------------------------------------------------------------------------

def _ordered(model):
    return select(model).order_by(model.position, model.id)


def list_statuses(session: Session, *, active_only: bool = False) -> list[PaymentStatus]:
    stmt = _ordered(PaymentStatus)
    if active_only:
        stmt = stmt.where(PaymentStatus.active.is_(True))
    return list(session.scalars(stmt))


def list_methods(session: Session, *, active_only: bool = False) -> list[PaymentMethod]:
    stmt = _ordered(PaymentMethod)
    if active_only:
        stmt = stmt.where(PaymentMethod.active.is_(True))
    return list(session.scalars(stmt))


def _lookup(session: Session, model, value, field: str):
    """A status or method by id (int) or name (str, case-insensitive)."""
    if isinstance(value, bool):
        raise ValidationError.for_field(field, _("give a name or an id"))
    if isinstance(value, int):
        found = session.get(model, value)
    elif isinstance(value, str) and value.strip():
        found = session.scalar(select(model).where(func.lower(model.name) == value.strip().lower()))
    else:
        raise ValidationError.for_field(field, _("give a name or an id"))
    if found is None:
        names = ", ".join(r.name for r in session.scalars(_ordered(model).where(model.active.is_(True)))
                          if r.code is None)
        if field == "status":
            reason = _("unknown status %(value)s; use one of: %(names)s", value=repr(value), names=names)
        else:
            reason = _("unknown method %(value)s; use one of: %(names)s", value=repr(value), names=names)
        raise ValidationError.for_field(field, reason)
    return found


def find_status(session: Session, value) -> PaymentStatus:
    return _lookup(session, PaymentStatus, value, "status")


def find_method(session: Session, value) -> PaymentMethod:
    return _lookup(session, PaymentMethod, value, "method")


def default_status(session: Session) -> PaymentStatus:
    """The first active status that counts as received (not a refund, not built in): "Paid"."""
    found = session.scalar(_ordered(PaymentStatus).where(
        PaymentStatus.active.is_(True), PaymentStatus.counts_as_received.is_(True),
        PaymentStatus.is_refund.is_(False), PaymentStatus.is_scheduled.is_(False), PaymentStatus.code.is_(None)))
    if found is None:
        raise ValidationError.for_field("status", _("required: no active status counts as received"))
    return found


def scheduled_status(session: Session) -> PaymentStatus:
    found = session.scalar(_ordered(PaymentStatus).where(PaymentStatus.active.is_(True),
                                                         PaymentStatus.is_scheduled.is_(True)))
    if found is None:
        raise Conflict(_("no active payment status is marked as scheduled; add one in the payment settings"),
                       code="no_scheduled_status")
    return found


def _builtin(session: Session, model, code: str):
    found = session.scalar(select(model).where(model.code == code))
    if found is None:  # the migration seeds them; only a hand-edited database lacks them
        raise Conflict(_("the built-in %(model)s %(code)s is missing; run `crm db upgrade`",
                         model=model.__name__, code=repr(code)))
    return found


def _usable_status(session: Session, value, current: PaymentStatus | None = None) -> PaymentStatus:
    status = find_status(session, value)
    if status.code == CREDIT and (current is None or current.id != status.id):
        raise ValidationError.for_field("status", _("%(name)s is set only when customer credit is applied",
                                                    name=status.name))
    if not status.active and (current is None or current.id != status.id):
        raise ValidationError.for_field("status", _("%(name)s is inactive", name=status.name))
    return status


def _usable_method(session: Session, value, current: PaymentMethod | None = None) -> PaymentMethod | None:
    if value is None or value == "":
        return None
    method = find_method(session, value)
    if method.code == CREDIT and (current is None or current.id != method.id):
        raise ValidationError.for_field("method", _("%(name)s is set only when customer credit is applied",
                                                    name=method.name))
    if not method.active and (current is None or current.id != method.id):
        raise ValidationError.for_field("method", _("%(name)s is inactive", name=method.name))
    return method


def _check_flags(data: dict) -> None:
    counts, refund, scheduled = (data.get("counts_as_received"), data.get("is_refund"), data.get("is_scheduled"))
    if refund and not counts:
        raise ValidationError.for_field("is_refund", _("a refund status must also count as received "
                                                       "(it is subtracted from what was received)"))
    if scheduled and counts:
        raise ValidationError.for_field("is_scheduled", _("a scheduled status cannot count as received"))


def _unique_name(session: Session, model, name: str, own_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError.for_field("name", _("is required"))
    clash = session.scalar(select(model.id).where(func.lower(model.name) == name.lower()))
    if clash is not None and clash != own_id:
        raise Conflict(_("%(name)s already exists", name=name), {"name": [_("already exists")]}, code="duplicate")
    return name


def _next_position(session: Session, model) -> int:
    return (session.scalar(select(func.max(model.position))) or 0) + 1


def _uses(session: Session, column, value) -> int:
    return session.scalar(select(func.count()).select_from(Payment).where(column == value)) or 0


def create_status(session: Session, data: dict) -> PaymentStatus:
    data = dict(data)
    _check_flags(data)
    status = PaymentStatus(name=_unique_name(session, PaymentStatus, data.get("name")),
                           counts_as_received=bool(data.get("counts_as_received")),
                           is_refund=bool(data.get("is_refund")), is_scheduled=bool(data.get("is_scheduled")),
                           active=data.get("active", True),
                           position=data.get("position") if data.get("position") is not None
                           else _next_position(session, PaymentStatus))
    session.add(status)
    session.flush()
    return status


FLAGS = ("counts_as_received", "is_refund", "is_scheduled")


def update_status(session: Session, status: PaymentStatus, data: dict) -> PaymentStatus:
    """Name, position and active always; the flags only while no payment uses the status
    (changing them would silently change the balance of every invoice that does)."""
    changed_flags = [f for f in FLAGS if f in data and bool(data[f]) != getattr(status, f)]
    if changed_flags:
        if status.code is not None:
            raise Conflict(_("%(name)s is built in: its flags cannot change", name=status.name), code="builtin")
        uses = _uses(session, Payment.status_id, status.id)
        if uses:
            raise Conflict(_("%(name)s is used by %(count)s payment(s): its flags cannot change (they would change "
                             "the balance of those invoices); create a new status and deactivate this one",
                             name=status.name, count=uses),
                           {f: [_("in use")] for f in changed_flags}, code="status_in_use")
    merged = {f: data.get(f, getattr(status, f)) for f in FLAGS}
    _check_flags(merged)
    if "name" in data:
        status.name = _unique_name(session, PaymentStatus, data["name"], status.id)
    for key in (*FLAGS, "position", "active"):
        if key in data and data[key] is not None:
            setattr(status, key, data[key])
    session.flush()
    return status


def delete_status(session: Session, status: PaymentStatus) -> None:
    if status.code is not None:
        raise Conflict(_("%(name)s is built in and cannot be deleted", name=status.name), code="builtin")
    uses = _uses(session, Payment.status_id, status.id)
    if uses:
        raise Conflict(_("%(name)s is used by %(count)s payment(s) and cannot be deleted; deactivate it instead",
                         name=status.name, count=uses), code="in_use")
    session.delete(status)
    session.flush()


def create_method(session: Session, data: dict) -> PaymentMethod:
    method = PaymentMethod(name=_unique_name(session, PaymentMethod, data.get("name")), active=data.get("active", True),
                           position=data.get("position") if data.get("position") is not None
                           else _next_position(session, PaymentMethod))
    session.add(method)
    session.flush()
    return method


def update_method(session: Session, method: PaymentMethod, data: dict) -> PaymentMethod:
    if "name" in data:
        method.name = _unique_name(session, PaymentMethod, data["name"], method.id)
    for key in ("position", "active"):
        if key in data and data[key] is not None:
            setattr(method, key, data[key])
    session.flush()
    return method


def delete_method(session: Session, method: PaymentMethod) -> None:
    if method.code is not None:
        raise Conflict(_("%(name)s is built in and cannot be deleted", name=method.name), code="builtin")
    uses = _uses(session, Payment.method_id, method.id)
    if uses:
        raise Conflict(_("%(name)s is used by %(count)s payment(s) and cannot be deleted; deactivate it instead",
                         name=method.name, count=uses), code="in_use")
    session.delete(method)
    session.flush()


def get_status(session: Session, status_id: int) -> PaymentStatus:
    found = session.get(PaymentStatus, status_id)
    if found is None:
        raise NotFound(_("payment status %(id)s not found", id=status_id))
    return found


def get_method(session: Session, method_id: int) -> PaymentMethod:
    found = session.get(PaymentMethod, method_id)
    if found is None:
        raise NotFound(_("payment method %(id)s not found", id=method_id))
    return found


# --- reading ---------------------------------------------------------------------------------------

def received_on(session: Session, invoice_id: int, *, excluding: int | None = None) -> Decimal:
    """Sum of the invoice's counted payments minus its refunds, exactly (Decimal, in Python:
    SQLite would add REALs)."""
    stmt = (select(Payment.amount, PaymentStatus.counts_as_received, PaymentStatus.is_refund)
            .join(PaymentStatus, Payment.status_id == PaymentStatus.id)
            .where(Payment.invoice_id == invoice_id, PaymentStatus.counts_as_received.is_(True)))
    if excluding is not None:
        stmt = stmt.where(Payment.id != excluding)
    total = ZERO
    for amount, _counts, refund in session.execute(stmt):
        total = money.subtract(total, amount) if refund else money.add(total, amount)
    return total


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


def get_invoice(session: Session, invoice_id: int, *, lock: bool = False) -> Document:
    invoice = documents.get_document(session, "invoice", invoice_id, for_update=lock)
    if lock:
        session.refresh(invoice)  # read the row as locked, not as this session may have seen it earlier
    return invoice


def _check_payable(invoice: Document) -> None:
    if invoice.status not in PAYABLE:
        hint = (_("approve or send it first") if invoice.status in ("Created", "AutoCreated")
                else _("its payments are closed"))
        raise Conflict(_("invoice %(number)s is %(status)s: it takes no payments (%(hint)s)", number=invoice.number,
                         status=status_label(invoice.status), hint=hint),
                       {"invoice": [_("status %(status)s", status=status_label(invoice.status))]},
                       code="invoice_not_payable")


def _amount(value, currency: str, field: str = "amount") -> Decimal:
    try:
        amount = money.to_decimal(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(field, _("must be a decimal number")) from exc
    if amount <= 0:
        raise ValidationError.for_field(field, _("must be greater than zero"))
    if money.round_money(amount, currency) != amount:
        raise ValidationError.for_field(field, _("at most %(places)s decimals in %(currency)s",
                                                 places=money.currency_precision(currency), currency=currency))
    return money.round_money(amount, currency)


def _fmt(amount: Decimal, currency: str) -> str:
    return f"{money.round_money(amount, currency)} {currency}"


# --- the balance check -------------------------------------------------------------------------------

@dataclass
class _Outcome:
    applied: Decimal
    excess: Decimal = ZERO


def _check_amount(session: Session, invoice: Document, payment: Payment, status: PaymentStatus, amount: Decimal,
                  *, excess_as_credit: bool) -> _Outcome:
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
                  "record the excess as customer credit (excess_as_credit)", amount=_fmt(amount, invoice.currency),
                  balance=_fmt(available, invoice.currency), number=invoice.number),
                {"amount": [_("more than the balance of %(balance)s", balance=_fmt(available, invoice.currency))]},
                code="overpayment")
        if available <= 0:
            raise Conflict(_("invoice %(number)s has no balance left to pay", number=invoice.number),
                           {"amount": [_("nothing left to pay")]}, code="nothing_to_pay")
        return _Outcome(applied=available, excess=money.subtract(amount, available))
    if after < 0:
        raise ValidationError(
            _("a refund of %(amount)s is more than the %(received)s received on invoice %(number)s",
              amount=_fmt(amount, invoice.currency), received=_fmt(others, invoice.currency), number=invoice.number),
            {"amount": [_("more than the %(received)s received", received=_fmt(others, invoice.currency))]},
            code="refund_exceeds_received")
    return _Outcome(applied=amount)


def status_sign(status: PaymentStatus) -> int:
    if not status.counts_as_received:
        return 0
    return -1 if status.is_refund else 1


def _after_change(session: Session, invoice: Document, payment: Payment, event: str) -> None:
    session.flush()
    if event != "deleted":
        session.expire(payment, ["credits_created", "applications"])
    documents.refresh_balance(session, invoice)
    session.flush()
    hooks.call("crm_payment_event", session=session, event=event, payment=payment, invoice=invoice)


def _new_credit(session: Session, invoice: Document, payment: Payment, amount: Decimal) -> Credit:
    credit = Credit(account_id=invoice.account_id, currency=invoice.currency, amount=amount, remaining=amount,
                    source_payment_id=payment.id, source_invoice_id=invoice.id,
                    note=f"excess of a payment on {invoice.number}"[:200], created_by_id=current_actor_id())
    session.add(credit)
    session.flush()
    return credit


def credits_from(session: Session, payment_id: int) -> list[Credit]:
    return list(session.scalars(select(Credit).where(Credit.source_payment_id == payment_id).order_by(Credit.id)))


def _release_credits(session: Session, payment: Payment) -> None:
    """Drop the unused credit made from ``payment``'s excess; refuse when some was applied."""
    for credit in session.scalars(select(Credit).where(Credit.source_payment_id == payment.id)
                                  .with_for_update()).all():
        session.refresh(credit)
        if credit.remaining != credit.amount:
            raise Conflict(_("%(used)s of the credit made from this payment (credit %(credit)s) was already applied; "
                             "delete those credit payments first", used=_fmt(credit.amount - credit.remaining,
                                                                             credit.currency), credit=credit.id),
                           code="credit_in_use")
        session.delete(credit)
    session.flush()


# --- recording, changing, deleting -------------------------------------------------------------------

def record_payment(session: Session, invoice_id: int, data: dict) -> Payment:
    """A new payment on an issued invoice. ``excess_as_credit``: an amount above the
    balance pays the balance and the rest becomes credit of the invoice's account."""
    invoice = get_invoice(session, invoice_id, lock=True)
    _check_payable(invoice)
    status = (_usable_status(session, data["status"]) if data.get("status") not in (None, "")
              else default_status(session))
    method = _usable_method(session, data.get("method"))
    amount = _amount(data.get("amount"), invoice.currency)
    payment = Payment(invoice_id=invoice.id, amount=amount, date=data.get("date") or today(), status=status,
                      method=method, reference=(data.get("reference") or "")[:100], note=data.get("note") or "",
                      created_by_id=current_actor_id())
    outcome = _check_amount(session, invoice, payment, status, amount,
                            excess_as_credit=bool(data.get("excess_as_credit")))
    payment.amount = outcome.applied
    session.add(payment)
    session.flush()
    if outcome.excess > 0:
        _new_credit(session, invoice, payment, outcome.excess)
    _after_change(session, invoice, payment, "recorded")
    return payment


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
    _check_payable(invoice)
    if payment.applications and any(k in data and data[k] not in (None, "") for k in ("amount", "status", "method")):
        new = {k: data[k] for k in ("amount", "status", "method") if k in data}
        if _changes_credit_payment(session, payment, new):
            raise Conflict(_("this payment applied customer credit: only its date, reference and note can change; "
                             "delete it to give the credit back"), code="credit_payment")
    old_status, old_date = payment.status, payment.date
    status = _usable_status(session, data["status"], payment.status) if data.get("status") not in (None, "") \
        else payment.status
    method = payment.method
    if "method" in data:
        method = _usable_method(session, data["method"], payment.method)
    amount = _amount(data["amount"], invoice.currency) if data.get("amount") not in (None, "") else payment.amount
    outcome = _check_amount(session, invoice, payment, status, amount,
                            excess_as_credit=bool(data.get("excess_as_credit")))
    if status_sign(old_status) > 0 and status_sign(status) <= 0:
        _release_credits(session, payment)
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
        _new_credit(session, invoice, payment, outcome.excess)
    _after_change(session, invoice, payment, "changed")
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
        _check_payable(invoice)
    others = received_on(session, invoice.id, excluding=payment.id)
    if others < 0:
        raise Conflict(_("deleting this payment would leave refunds larger than what was received on %(number)s; "
                         "delete the refund first", number=invoice.number), code="refund_exceeds_received")
    for application in payment.applications:
        credit = session.get(Credit, application.credit_id, populate_existing=True, with_for_update=True)
        credit.remaining = money.add(credit.remaining, application.amount)
    _release_credits(session, payment)
    session.delete(payment)
    _after_change(session, invoice, payment, "deleted")
    return payment


# --- credit --------------------------------------------------------------------------------------

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
    _check_payable(invoice)
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
        amount = _amount(data["amount"], invoice.currency)
        if amount > credit.remaining:
            raise ValidationError.for_field("amount", _("only %(amount)s of credit %(credit)s is left",
                                                        amount=_fmt(credit.remaining, credit.currency),
                                                        credit=credit.id))
        if amount > balance:
            raise ValidationError(_("amount %(amount)s is more than the balance of %(balance)s of invoice %(number)s",
                                    amount=_fmt(amount, invoice.currency), balance=_fmt(balance, invoice.currency),
                                    number=invoice.number),
                                  {"amount": [_("more than the balance of %(balance)s",
                                                balance=_fmt(balance, invoice.currency))]},
                                  code="overpayment")
    else:
        amount = min(credit.remaining, balance)
    payment = Payment(invoice_id=invoice.id, amount=amount, date=data.get("date") or today(),
                      status=_builtin(session, PaymentStatus, CREDIT), method=_builtin(session, PaymentMethod, CREDIT),
                      reference=f"credit {credit.id}", note=data.get("note") or "", created_by_id=current_actor_id())
    session.add(payment)
    session.flush()
    credit.remaining = money.subtract(credit.remaining, amount)
    session.add(CreditApplication(credit_id=credit.id, payment_id=payment.id, amount=amount))
    session.flush()
    session.refresh(payment, ["applications"])
    _after_change(session, invoice, payment, "recorded")
    return payment


# --- calculator ----------------------------------------------------------------------------------

BASES = ("total", "balance")


def calculate(invoice: Document, basis: str = "balance", percent: Decimal = Decimal("100")) -> dict:
    """``percent`` of the invoice's total or balance, rounded to its currency (HALF_UP),
    with the usual presets."""
    if basis not in BASES:
        raise ValidationError.for_field("basis", _("must be total or balance"))
    percent = money.to_decimal(percent)
    if not (0 < percent <= 100):
        raise ValidationError.for_field("percent", _("must be more than 0 and at most 100"))
    cur = invoice.currency
    base = invoice.grand_total if basis == "total" else max(invoice.balance, ZERO)

    def amount_of(p):
        return money.round_money(money.percent_of(base, p), cur)

    amount = amount_of(percent)
    return {
        "invoice_id": invoice.id, "currency": cur, "basis": basis, "percent": percent, "base": base,
        "amount": amount, "grand_total": invoice.grand_total, "received": invoice.received,
        "balance": invoice.balance, "full_balance": max(invoice.balance, ZERO),
        "exceeds_balance": amount > invoice.balance,
        "presets": [{"percent": p, "amount": amount_of(p)} for p in PRESETS],
    }


# --- schedules -----------------------------------------------------------------------------------

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
    _check_payable(invoice)
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
    status = scheduled_status(session)
    method = _usable_method(session, data.get("method"))
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
                                                          balance=_fmt(balance, invoice.currency)))
    schedule = PaymentSchedule(invoice_id=invoice.id, amount=balance, installments=count, first_date=first,
                               interval=interval, created_by_id=current_actor_id())
    session.add(schedule)
    session.flush()
    note = data.get("note") or ""
    created = []
    for number, (amount, day) in enumerate(zip(amounts, installment_dates(first, count, interval)), start=1):
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


# --- overdue -------------------------------------------------------------------------------------

def overdue_condition(on: dt.date):
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


# --- listing and summary ---------------------------------------------------------------------------

def payments_query(filters: dict, on: dt.date | None = None):
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


ISSUED = ("Approved", "Sent", "Partially Paid", "Paid")


def summary(session: Session, date_from: dt.date | None = None, date_to: dt.date | None = None,
            on: dt.date | None = None) -> dict:
    """Invoiced, received, outstanding and overdue totals per currency, and receipts by
    month. Invoiced: grand totals of issued invoices dated in the period (invoice date,
    else creation day). Received: counted payments minus refunds dated in the period.
    Outstanding: open balances of those invoices today; overdue: the part of it whose
    invoice is past its due date. Scheduled / overdue installments: open scheduled
    payments of those invoices, and those past their date."""
    on = on or today()
    per: dict[str, dict] = {}

    def bucket(currency):
        return per.setdefault(currency, {"currency": currency, "invoices": 0, "invoiced": ZERO, "received": ZERO,
                                         "outstanding": ZERO, "overdue": ZERO, "scheduled": ZERO,
                                         "overdue_installments": ZERO})

    invoices = session.execute(select(Document.id, Document.currency, Document.grand_total, Document.balance,
                                      Document.invoice_date, Document.created_at, Document.due_date)
                               .where(Document.doc_type == "invoice", Document.status.in_(ISSUED)))
    in_period = set()
    for inv_id, currency, total, balance, invoice_date, created_at, due_date in invoices:
        day = invoice_date or created_at.date()
        if (date_from and day < date_from) or (date_to and day > date_to):
            continue
        in_period.add(inv_id)
        b = bucket(currency)
        b["invoices"] += 1
        b["invoiced"] = money.add(b["invoiced"], total)
        if balance > 0:
            b["outstanding"] = money.add(b["outstanding"], balance)
            if due_date is not None and due_date < on:
                b["overdue"] = money.add(b["overdue"], balance)

    months: dict[tuple[str, str], Decimal] = {}
    rows = session.execute(select(Payment.amount, Payment.date, Payment.invoice_id, Document.currency,
                                  PaymentStatus.counts_as_received, PaymentStatus.is_refund,
                                  PaymentStatus.is_scheduled)
                           .join(PaymentStatus, Payment.status_id == PaymentStatus.id)
                           .join(Document, Document.id == Payment.invoice_id)
                           .where(Document.status.notin_(("Cancelled",))))
    for amount, day, inv_id, currency, counts, refund, scheduled in rows:
        if scheduled and inv_id in in_period:
            b = bucket(currency)
            b["scheduled"] = money.add(b["scheduled"], amount)
            if day < on:
                b["overdue_installments"] = money.add(b["overdue_installments"], amount)
        if not counts or (date_from and day < date_from) or (date_to and day > date_to):
            continue
        signed = -amount if refund else amount
        b = bucket(currency)
        b["received"] = money.add(b["received"], signed)
        key = (day.strftime("%Y-%m"), currency)
        months[key] = money.add(months.get(key, ZERO), signed)
    return {
        "from": date_from, "to": date_to, "today": on,
        "currencies": [per[c] for c in sorted(per)],
        "by_month": [{"month": m, "currency": c, "received": v} for (m, c), v in sorted(months.items())],
    }


# --- consistency ---------------------------------------------------------------------------------

def recompute_all(session: Session, *, fix: bool = True) -> list[tuple[str, Decimal, Decimal]]:
    """Invoices whose stored ``received`` differs from their payments (after the plugin was
    disabled and received edited by hand): ``(number, stored, from payments)``; ``fix``
    recomputes them (balance and status follow)."""
    wrong = []
    for invoice in session.scalars(select(Document).where(Document.doc_type == "invoice").order_by(Document.id)):
        expected = money.round_money(received_on(session, invoice.id), invoice.currency)
        if expected != invoice.received or invoice.balance != invoice.grand_total - invoice.received:
            wrong.append((invoice.number, invoice.received, expected))
            if fix:
                locked = get_invoice(session, invoice.id, lock=True)
                documents.refresh_balance(session, locked)
    session.flush()
    return wrong


__all__ = ["PAYABLE", "record_payment", "update_payment", "delete_payment", "apply_credit", "calculate",
           "create_schedule", "mark_overdue", "summary", "received_on"]
