"""Hook implementations of the accounting sync plugin (id ``accounting_sync``)."""
from __future__ import annotations

from crm import hookimpl
from crm_accounting_sync import models  # noqa: F401  (registers the plugin's tables)


@hookimpl
def crm_api_blueprints():
    from crm_accounting_sync.api import blp
    return [blp]


@hookimpl
def crm_record_saved(session, entity, record, created):
    from crm_accounting_sync.outbox import record_change
    record_change(session, entity, getattr(record, "id", None), "saved")


@hookimpl
def crm_record_deleted(session, entity, record_id):
    from crm_accounting_sync.outbox import record_change
    record_change(session, entity, record_id, "deleted")


@hookimpl
def crm_payment_event(session, event, payment, invoice):
    if event not in ("recorded", "changed", "deleted"):
        return
    from crm_accounting_sync.outbox import record_change
    record_change(session, "payments", payment.id, "deleted" if event == "deleted" else "saved")


@hookimpl
def crm_accounting_connectors():
    from crm_accounting_sync.quickbooks import QuickBooksConnector
    connectors = [QuickBooksConnector]
    try:
        from crm_accounting_sync.tryton import TrytonConnector
    except ImportError:  # the optional extra "tryton" is not installed
        return connectors
    return connectors + [TrytonConnector]
