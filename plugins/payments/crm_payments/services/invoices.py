"""The invoice a payment is on: which invoices take payments, loading one (locked for a change),
and what was received on it."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import money
from crm.errors import Conflict
from crm.labels import status_label
from crm.models import Document
from crm.services import documents
from crm_payments.models import Payment, PaymentStatus

#: invoice statuses that take payments: issued, not cancelled or credited. Created and
#: AutoCreated are drafts whose amounts may still change: no payments until issued.
PAYABLE = ("Approved", "Sent", "Partially Paid", "Paid")


def get_invoice(session: Session, invoice_id: int, *, lock: bool = False) -> Document:
    invoice = documents.get_document(session, "invoice", invoice_id, for_update=lock)
    if lock:
        session.refresh(invoice)  # read the row as locked, not as this session may have seen it earlier
    return invoice


def check_payable(invoice: Document) -> None:
    if invoice.status not in PAYABLE:
        hint = (_("approve or send it first") if invoice.status in ("Created", "AutoCreated")
                else _("its payments are closed"))
        raise Conflict(_("invoice %(number)s is %(status)s: it takes no payments (%(hint)s)", number=invoice.number,
                         status=status_label(invoice.status), hint=hint),
                       {"invoice": [_("status %(status)s", status=status_label(invoice.status))]},
                       code="invoice_not_payable")


def received_on(session: Session, invoice_id: int, *, excluding: int | None = None) -> Decimal:
    """Sum of the invoice's counted payments minus its refunds, exactly (Decimal, in Python:
    SQLite would add REALs)."""
    stmt = (select(Payment.amount, PaymentStatus.counts_as_received, PaymentStatus.is_refund)
            .join(PaymentStatus, Payment.status_id == PaymentStatus.id)
            .where(Payment.invoice_id == invoice_id, PaymentStatus.counts_as_received.is_(True)))
    if excluding is not None:
        stmt = stmt.where(Payment.id != excluding)
    total = money.ZERO
    for amount, _counts, refund in session.execute(stmt):
        total = money.subtract(total, amount) if refund else money.add(total, amount)
    return total
