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
def crm_records_saved(session, entity, record_ids, created):
    """A batch (an import): its outbox rows in one INSERT, the connections read once."""
    from crm_accounting_sync.outbox_batch import record_changes
    record_changes(session, entity, record_ids, "saved")


@hookimpl
def crm_record_deleted(session, entity, record_id):
    from crm_accounting_sync.outbox import record_change
    record_change(session, entity, record_id, "deleted")


@hookimpl
def crm_document_status_changed(session, document, old_status, new_status):
    """A status change is a change of the document's sync status (``crm.accounting_connectors``)."""
    from crm.services.doctypes import DOC_TYPES
    from crm_accounting_sync.outbox import record_change
    kind = DOC_TYPES.get(getattr(document, "doc_type", None))
    if kind is not None:
        record_change(session, kind.path, document.id, "saved")


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


@hookimpl
def crm_web_blueprints():
    from crm_accounting_sync.web import bp
    return [bp]


@hookimpl
def crm_menu_items(user):
    from flask import url_for
    from flask_babel import gettext as _

    from crm.ui import MenuItem
    from crm_accounting_sync.permissions import ACCOUNTING_SYNC
    return [MenuItem(_("Accounting sync"), url_for("accounting_sync.index"), order=850,
                     roles=ACCOUNTING_SYNC.read, group=_("Admin"))]


@hookimpl
def crm_settings_pages():
    from flask import url_for
    from flask_babel import gettext as _

    from crm.ui import SettingsPage
    return [SettingsPage(_("Accounting sync"), url_for("accounting_sync.settings_page"))]


@hookimpl
def crm_scheduled_jobs():
    from crm.jobs import ScheduledJob
    from crm_accounting_sync.runner import run_due
    return [ScheduledJob("accounting_sync", run_due, every_minutes=5)]


@hookimpl
def crm_register_commands(cli):
    import click
    from flask.cli import with_appcontext

    @cli.group("accounting-sync")
    def accounting_sync():
        """The accounting sync plugin."""

    @accounting_sync.command("run")
    @click.argument("connection")
    @click.option("--entity", "entities", multiple=True, help="only these entities (repeat)")
    @with_appcontext
    def run(connection, entities):
        """Sync a connection now, in this process, and print the counts."""
        from flask import current_app

        from crm.db import db
        from crm_accounting_sync.runner import create_run, run_now
        session = db.session
        made = create_run(session, connection, list(entities) or None, background=False)
        session.commit()
        done = run_now(current_app._get_current_object(), session, made.id)
        for entity, sides in (done.counts or {}).items():
            for side, counts in sides.items():
                click.echo(f"{entity:16} {side:12} " + " ".join(f"{k}={v}" for k, v in counts.items()))
        click.echo(f"run {done.id}: {done.status} {done.error}".rstrip())
        if done.status != "done":
            raise SystemExit(1)
