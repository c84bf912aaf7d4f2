"""What a customer still owes: the one definition of an open and of an overdue invoice.

The dashboard, the invoice list's "overdue" filter, the invoice aging report and plugins
(the payments summary) all use these conditions, so they always give the same figures.

- **Open**: an issued invoice (Approved, Sent, Partially Paid, or AutoCreated by a recurring
  schedule) with a balance above zero. Drafts (Created), Paid, Cancelled and Credit Invoice
  ones are not open.
- **Due day**: the due date; without one, the invoice date; without one, the day it was created.
- **Overdue on a day**: open, and its due day is before that day.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Date, func

from crm.models import Document

#: issued invoices a customer still has to pay (with a balance above zero)
OPEN_INVOICE_STATUSES = ("Approved", "Sent", "Partially Paid", "AutoCreated")


def due_day() -> ColumnElement[dt.date]:
    """The SQL expression of an invoice's due day."""
    return func.coalesce(Document.due_date, Document.invoice_date, func.date(Document.created_at), type_=Date)


def open_invoices() -> tuple:
    """WHERE conditions of the open invoices."""
    return (Document.doc_type == "invoice", Document.status.in_(OPEN_INVOICE_STATUSES), Document.balance > 0)


def overdue_invoices(on: dt.date) -> tuple:
    """WHERE conditions of the invoices overdue on ``on``."""
    return (*open_invoices(), due_day() < on)


def is_overdue(invoice: Document, on: dt.date) -> bool:
    """The same rule for one loaded invoice."""
    if invoice.doc_type != "invoice" or invoice.status not in OPEN_INVOICE_STATUSES or invoice.balance <= 0:
        return False
    day = invoice.due_date or invoice.invoice_date or invoice.created_at.date()
    return day < on
