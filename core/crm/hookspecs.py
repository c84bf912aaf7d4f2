"""The hooks a plugin can implement.

Every hook is called with keyword arguments. A plugin implements a hook by
defining a function with the same name decorated with :data:`crm.hookimpl`,
taking any subset of the arguments. Hooks of a disabled plugin are never called.
Each hook is documented in ``docs/hooks/`` under its group, with its exact signature.

Groups: application, lines and totals, items, documents, invoices and payments,
user interface, jobs, PDF, accounting.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("crm")
hookimpl = pluggy.HookimplMarker("crm")


# --- application -------------------------------------------------------------

@hookspec
def crm_startup(app):
    """Called once when the app is created, after every plugin is registered."""


@hookspec
def crm_api_blueprints():
    """Return a list of flask-smorest Blueprints to serve under ``/api/v1``."""


@hookspec
def crm_web_blueprints():
    """Return a list of Flask Blueprints with the plugin's pages."""


@hookspec
def crm_demo_data(session):
    """Load the plugin's demo data after the core's (``crm demo``); return counts; add nothing when run again."""


@hookspec
def crm_register_commands(cli):
    """Add click commands or groups to the ``crm`` command line group ``cli``."""


# --- lines and totals --------------------------------------------------------

@hookspec
def crm_line_columns(doc_type, session, document):
    """Return extra line columns (a list of :class:`crm.ui.LineColumn`) for a document type;
    ``document`` is the document they are shown for (None for a new one): an issued
    document may keep other columns than the type's current ones. Implementations may
    leave ``document`` out of their arguments."""


@hookspec(firstresult=True)
def crm_builtin_line_columns(doc_type, session, document):
    """Arrange the built-in line columns of the document page and the line editor for
    ``document`` (None for a new one): return ``{key: {"label", "visible", "width",
    "position"}}`` (keys of ``crm.ui.BUILTIN_LINE_COLUMNS``; a plugin column's key may carry a
    ``position`` only), or None to leave the core's presentation."""


@hookspec
def crm_totals_stage(stage, computation, document, session):
    """Contribute to a named stage of the totals pipeline (``crm.totals.STAGES``)."""


# --- items -------------------------------------------------------------------

@hookspec(firstresult=True)
def crm_search_items(session, q, kind, limit):
    """Return the items matching ``q`` for the line editor, or None to let the core search."""


# --- documents and records ---------------------------------------------------

@hookspec
def crm_record_saved(session, entity, record, created):
    """A record (account, item, document, ...) was created or changed, before the commit."""


@hookspec
def crm_record_deleted(session, entity, record_id):
    """A record was deleted, before the commit."""


@hookspec
def crm_document_validate(session, document, data):
    """Check a document about to be saved; raise ``crm.errors.ValidationError`` to refuse it."""


@hookspec
def crm_document_status_changed(session, document, old_status, new_status):
    """A document's status changed, before the commit."""


@hookspec
def crm_document_serialize(document, data):
    """Add fields to a document's API representation ``data`` (a dict, changed in place)."""


# --- invoices and payments ---------------------------------------------------

@hookspec(firstresult=True)
def crm_invoice_received(session, invoice):
    """Return the amount received on ``invoice`` as a Decimal, or None when kept by hand."""


@hookspec
def crm_payment_event(session, event, payment, invoice):
    """A payment was ``recorded``, ``changed``, ``deleted`` or became ``overdue``."""


@hookspec
def crm_invoice_paid(session, invoice):
    """An invoice became fully paid, before the commit."""


# --- user interface ----------------------------------------------------------

@hookspec
def crm_menu_items(user):
    """Return menu entries (a list of :class:`crm.ui.MenuItem`) for the signed-in user."""


@hookspec
def crm_template_slot(slot, context):
    """Return HTML (``markupsafe.Markup``) to place in a named slot of a core page, or None."""


@hookspec
def crm_settings_pages():
    """Return settings pages (a list of :class:`crm.ui.SettingsPage`) for the admin."""


# --- jobs --------------------------------------------------------------------

@hookspec
def crm_scheduled_jobs():
    """Return scheduled jobs (a list of :class:`crm.jobs.ScheduledJob`)."""


# --- PDF ---------------------------------------------------------------------

@hookspec
def crm_pdf_context(session, document, context):
    """Change the template context of a document PDF in place (columns, blocks, totals)."""


# --- accounting --------------------------------------------------------------

@hookspec
def crm_accounting_connectors():
    """Return accounting connector classes (see ``crm.accounting.Connector``)."""


@hookspec
def crm_accounting_entities():
    """Return local entity adapters (``crm.accounting.LocalEntity`` instances) for sync entities
    whose records the plugin owns (``payments``), so the accounting sync reaches them through hooks."""
