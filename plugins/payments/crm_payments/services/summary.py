"""The payments summary: invoiced, received, outstanding and overdue per currency, receipts by month."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import money
from crm.models import Document
from crm.services import receivables
from crm_payments.models import Payment, PaymentStatus
from crm_payments.services.payments import today

ISSUED = (*receivables.OPEN_INVOICE_STATUSES, "Paid")


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

    def bucket(currency: str) -> dict:
        totals = ("invoiced", "received", "outstanding", "overdue", "scheduled", "overdue_installments")
        return per.setdefault(currency, {"currency": currency, "invoices": 0, **dict.fromkeys(totals, money.ZERO)})

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
            if (due_date or day) < on:  # overdue as crm.services.receivables defines it
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
        months[key] = money.add(months.get(key, money.ZERO), signed)
    return {
        "from": date_from, "to": date_to, "today": on,
        "currencies": [per[c] for c in sorted(per)],
        "by_month": [{"month": m, "currency": c, "received": v} for (m, c), v in sorted(months.items())],
    }
