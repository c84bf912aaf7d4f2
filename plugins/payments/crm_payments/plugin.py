"""Hook implementations of the payments plugin (id ``payments``)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm import hookimpl
from crm_payments import models  # noqa: F401  (registers the plugin's tables)


@hookimpl
def crm_invoice_received(session, invoice):
    """The sum of the invoice's counted payments minus its refunds (never None: with
    the plugin on, received is kept by payments, not by hand)."""
    if getattr(invoice, "doc_type", None) != "invoice":
        return None
    if invoice.id is None:
        return Decimal("0")
    from crm_payments.services import received_on
    return received_on(session, invoice.id)


@hookimpl
def crm_api_blueprints():
    from crm_payments.api import BLUEPRINTS
    return list(BLUEPRINTS)


@hookimpl
def crm_web_blueprints():
    from crm_payments.web import bp
    return [bp]


@hookimpl
def crm_menu_items(user):
    from flask import url_for
    from flask_babel import gettext as _

    from crm.permissions import can
    from crm.ui import MenuItem
    from crm_payments.permissions import PAYMENTS
    if not can(user, PAYMENTS):
        return []
    return [MenuItem(_("Payments"), url_for("payments.index"), order=29, group=_("Sales")),
            MenuItem(_("Payments summary"), url_for("payments.summary"), order=30, group=_("Sales"))]


@hookimpl
def crm_settings_pages():
    from flask import url_for
    from flask_babel import gettext as _

    from crm.ui import SettingsPage
    return [SettingsPage(_("Payment statuses"), url_for("payments.statuses")),
            SettingsPage(_("Payment types"), url_for("payments.methods"))]


@hookimpl
def crm_template_slot(slot, context):
    """The payments panel on the invoice page (slot ``document_panels``)."""
    document = context.get("document")
    if slot != "document_panels" or document is None or getattr(document, "doc_type", None) != "invoice":
        return None
    from crm_payments.web import invoice_panel
    return invoice_panel(document)


@hookimpl
def crm_scheduled_jobs():
    from crm.jobs import ScheduledJob
    from crm_payments.services import mark_overdue
    return [ScheduledJob("payments_overdue", mark_overdue, every_minutes=60)]


@hookimpl
def crm_demo_data(session):
    """Payments, schedules and a customer credit on the demo company's invoices."""
    from crm_payments.demo import load_demo_payments
    return load_demo_payments(session)


@hookimpl
def crm_register_commands(cli):
    from crm_payments.cli import payments
    cli.add_command(payments)


@hookimpl
def crm_accounting_entities():
    """Payments for the accounting sync (the adapter ``crm_payments.accounting.PaymentsEntity``)."""
    from crm_payments.accounting import accounting_entities
    return accounting_entities()


@hookimpl
def crm_timeline_events(session, entity, record_id):
    """An invoice's payments on its activity timeline: amount, status, method, reference, note."""
    if entity != "documents":
        return None
    from flask_babel import format_currency, gettext as _
    from sqlalchemy import select

    from crm.models import Document
    from crm_payments.models import Payment
    rows = session.execute(select(Payment, Document.currency).join(Document, Document.id == Payment.invoice_id)
                           .where(Payment.invoice_id == record_id).order_by(Payment.id))
    return [{"at": payment.created_at, "kind": "payment", "source": "payments", "user_id": payment.created_by_id,
             "title": _("Payment of %(amount)s (%(status)s)", amount=format_currency(payment.amount, currency),
                        status=payment.status.name),
             "text": " · ".join(part for part in (payment.method.name if payment.method else "", payment.reference,
                                                  payment.note) if part)}
            for payment, currency in rows]


@hookimpl
def crm_workflow_triggers():
    """Workflow rules on invoices may start when a payment is recorded, when a payment fails (it
    is recorded with, or changed to, a failure status), each once per payment, or when an
    installment falls overdue (the core fires them from ``crm_payment_event``)."""
    from flask_babel import lazy_gettext as _l

    from crm.services.workflows import WorkflowTrigger
    return [WorkflowTrigger("payment_recorded", "invoices", _l("A payment is recorded"), placeholders=_payment),
            WorkflowTrigger("payment_failed", "invoices", _l("A payment fails"), placeholders=_payment),
            WorkflowTrigger("payment_overdue", "invoices", _l("An installment falls overdue"), placeholders=_payment)]


def _payment(session, period: str | None, language: str) -> dict:
    """What the templates of a rule started by a payment see of it, besides the invoice:
    ``payment.amount`` (with the invoice's currency), ``payment.date``, ``payment.method``,
    ``payment.status``, ``payment.reference``, ``payment.note``; all empty for a payment since
    deleted, sample values when a rule is saved (``period`` None). ``period`` is the payment's id."""
    from babel.dates import format_date
    from babel.numbers import format_currency

    from crm_payments.models import Payment
    if period is None:
        amount, currency, date, method, status, reference, note = (
            Decimal("120.00"), "EUR", dt.date(2027, 1, 31), "Card", "Failed", "TX-0001", "Sample")
    else:
        payment = session.get(Payment, int(period)) if period.isdigit() else None
        if payment is None:
            return {"payment": dict.fromkeys(("amount", "date", "method", "status", "reference", "note"), "")}
        amount, currency, date, method, status, reference, note = (
            payment.amount, payment.invoice.currency, payment.date, payment.method.name if payment.method else "",
            payment.status.name, payment.reference, payment.note)
    return {"payment": {"amount": format_currency(amount, currency, locale=language),
                        "date": format_date(date, format="long", locale=language), "method": method,
                        "status": status, "reference": reference, "note": note}}
