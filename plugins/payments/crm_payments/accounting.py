"""Payments in the accounting sync (hook ``crm_accounting_entities``).

The accounting sync plugin reaches the payments of invoices through this adapter (the
contract :class:`crm.accounting_connectors.LocalEntity`), never by importing this plugin: with the
payments plugin disabled there is no adapter, and payments are simply not synced.

Canonical payment (see :mod:`crm.accounting_connectors`): ``invoice_id``, ``account_id`` (read-only:
the invoice's), ``amount``, ``date``, ``method`` (the payment type's name), ``reference``.
Only money received is sent (statuses that count as received and are not refunds); a
payment from the accounting system is recorded with the default counting status (Paid).
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from crm.accounting_connectors import LocalEntity, dec, iso, to_date
from crm.errors import Conflict, ValidationError
from crm_payments import services
from crm_payments.models import Payment, PaymentStatus


class PaymentsEntity(LocalEntity):
    """Payments of invoices, changed only through this plugin's services."""

    entity = "payments"
    model = Payment
    has_active = False
    decimals = ("amount",)

    def label(self, p):
        return f"{p.amount} {p.date.isoformat() if p.date else ''}".strip()

    def all_ids(self, session):
        counted = select(PaymentStatus.id).where(PaymentStatus.counts_as_received.is_(True),
                                                 PaymentStatus.is_refund.is_(False))
        return list(session.scalars(select(Payment.id).where(Payment.status_id.in_(counted)).order_by(Payment.id)))

    def skip_reason(self, record) -> str | None:
        status = record.status
        if not status.counts_as_received or status.is_refund:
            return f"payments in status {status.name} are not sent (only money received)"
        return None

    def shape(self, session, p) -> dict:
        return {"invoice_id": p.invoice_id, "account_id": p.invoice.account_id, "amount": dec(p.amount),
                "date": iso(p.date), "method": p.method.name if p.method is not None else None,
                "reference": p.reference or ""}

    def _pay_input(self, data: dict) -> dict:
        out = self._input(data)
        if "date" in out:
            out["date"] = to_date(out["date"])
        out.pop("invoice_id", None)
        out.pop("account_id", None)
        return out

    def create(self, session, data):
        if data.get("invoice_id") is None:
            raise ValidationError.for_field("invoice_id", _("the payment is not for an invoice we know"))
        return services.record_payment(session, data["invoice_id"], self._pay_input(data))

    def update(self, session, record, changes):
        if "invoice_id" in changes and changes["invoice_id"] != record.invoice_id:
            raise Conflict(_("a payment cannot move to another invoice: delete it and record a new one"),
                           code="payment_moved")
        data = self._pay_input(changes)
        return services.update_payment(session, record.id, data) if data else record

    def remove(self, session, record):
        services.delete_payment(session, record.id)
        return "deleted"


def accounting_entities() -> list[LocalEntity]:
    return [PaymentsEntity()]
