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

One module a subject: :mod:`.statuses` (payment statuses and methods), :mod:`.invoices` (the
invoice a payment is on, what was received on it), :mod:`.amounts`, :mod:`.payments` (reading
them), :mod:`.balance` (the balance check and what follows a change), :mod:`.recording`,
:mod:`.credit`, :mod:`.calculator`, :mod:`.schedules`, :mod:`.overdue`, :mod:`.listing`,
:mod:`.summary` and :mod:`.consistency`. The names the plugin's API, pages, hooks and tests use
are imported here.
"""
from __future__ import annotations

from crm_payments.services.calculator import BASES, PRESETS, calculate
from crm_payments.services.consistency import recompute_all
from crm_payments.services.credit import apply_credit, get_credit, list_credits
from crm_payments.services.invoices import PAYABLE, get_invoice, received_on
from crm_payments.services.listing import payments_query
from crm_payments.services.overdue import mark_overdue
from crm_payments.services.payments import get_payment, is_overdue, payments_of, today
from crm_payments.services.recording import delete_payment, record_payment, update_payment
from crm_payments.services.schedules import MAX_INSTALLMENTS, create_schedule, get_schedule
from crm_payments.services.statuses import (
    create_method,
    create_status,
    default_status,
    delete_method,
    delete_status,
    find_method,
    find_status,
    get_method,
    get_status,
    list_methods,
    list_statuses,
    ordered,
    update_method,
    update_status,
)
from crm_payments.services.summary import summary

__all__ = [
    "BASES", "MAX_INSTALLMENTS", "PAYABLE", "PRESETS", "apply_credit", "calculate", "create_method", "create_schedule",
    "create_status", "default_status", "delete_method", "delete_payment", "delete_status", "find_method",
    "find_status", "get_credit", "get_invoice", "get_method", "get_payment", "get_schedule", "get_status",
    "is_overdue", "list_credits", "list_methods", "list_statuses", "mark_overdue", "ordered", "payments_of",
    "payments_query", "received_on", "recompute_all", "record_payment", "summary", "today", "update_method",
    "update_payment", "update_status",
]
