"""The consistency check: invoices whose stored ``received`` differs from their payments."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import money
from crm.models import Document
from crm.services import documents
from crm_payments.services.invoices import get_invoice, received_on


def recompute_all(session: Session, *, fix: bool = True) -> list[tuple[str, Decimal, Decimal]]:
    """Invoices whose stored ``received`` differs from their payments (after the plugin was
    disabled and received edited by hand): ``(number, stored, from payments)``; ``fix``
    recomputes them (balance and status follow)."""
    wrong = []
    for invoice in session.scalars(select(Document).where(Document.doc_type == "invoice").order_by(Document.id)):
        expected = money.round_money(received_on(session, invoice.id), invoice.currency)
        if expected != invoice.received or invoice.balance != documents.owed(invoice):
            wrong.append((invoice.number, invoice.received, expected))
            if fix:
                locked = get_invoice(session, invoice.id, lock=True)
                documents.refresh_balance(session, locked)
    session.flush()
    return wrong
