"""The hooks a plugin can implement.

Every hook is called with keyword arguments. A plugin implements a hook by
defining a function with the same name decorated with :data:`crm.hookimpl`,
taking any subset of the arguments. Hooks of a disabled plugin are never called.
Each hook is documented in ``docs/hooks/`` under its group, with its exact signature.

Groups: application, lines and totals, items, documents, stock, stock locations, invoices and payments,
user interface, jobs, workflows, PDF, accounting.
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
def crm_line_custom_keys(doc_type, session, document):
    """Return the keys the plugin keeps in the ``custom`` dict of the lines of ``document``
    (None for a new one) besides its ``crm_line_columns``: ``{key: editable}``, True for a
    value a client may send, False for one the plugin computes (a value sent is ignored)."""


@hookspec
def crm_extra_totals(doc_type, session, document):
    """Describe the informative totals the plugin puts in ``document.extra_totals``
    (``document`` None for a new one): a list of :class:`crm.ui.ExtraTotal` (key, label,
    type, visible) for the document page and the editor."""


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
def crm_records_saved(session, entity, record_ids, created):
    """Records of one kind were created (``created``) or changed together, before the commit: a
    batch of an import. ``record_ids`` lists their ids. Called instead of ``crm_record_saved`` for
    each of them; a plugin that implements only ``crm_record_saved`` is called with it per record."""


@hookspec
def crm_record_deleted(session, entity, record_id):
    """A record was deleted, before the commit."""


@hookspec
def crm_timeline_events(session, entity, record_id):
    """Return events of a record's activity timeline (a list of dicts with ``at``, ``kind``,
    ``title`` and optionally ``text``, ``user_id``, ``source``), merged with the core's."""


@hookspec
def crm_document_validate(session, document, data):
    """Check a document about to be saved; raise ``crm.errors.ValidationError`` to refuse it."""


@hookspec
def crm_document_status_changed(session, document, old_status, new_status):
    """A document's status changed, before the commit."""


@hookspec
def crm_document_serialize(document, data):
    """Add fields to a document's API representation ``data`` (a dict, changed in place)."""


# --- stock -------------------------------------------------------------------

@hookspec
def crm_stock_moved(session, moves):
    """Stock moves were posted (a receipt, a shipment, a direct invoice's stock out or back,
    an adjustment, a pair of transfer moves between two locations): ``moves`` is the batch, a list of flushed :class:`crm.models.StockMove`,
    before the commit."""


@hookspec
def crm_receipt_recorded(session, order, lines, moves):
    """A purchase order received goods, in part or all that was left, before the commit:
    ``lines`` the ``crm.services.orders.LineQuantity(line, quantity)`` received this time,
    ``moves`` their stock moves."""


@hookspec
def crm_shipment_recorded(session, order, lines, moves):
    """A sales order shipped goods, in part or all that was left, before the commit:
    ``lines`` the ``crm.services.orders.LineQuantity(line, quantity)`` shipped this time,
    ``moves`` their stock moves."""


@hookspec
def crm_stock_adjusted(session, move):
    """A stock adjustment was recorded (``move``, a flushed :class:`crm.models.StockMove` of
    kind ``adjustment``), before the commit."""


# --- stock locations ---------------------------------------------------------

@hookspec(firstresult=True)
def crm_stock_location(session, purpose, document, line, product_id, quantity):
    """Choose the stock location (a :class:`crm.models.StockLocation` id) of a stock change, or
    None for the default location. ``purpose``: ``receipt`` (a purchase order line's product),
    ``reservation`` (a sales order line, kept by the line: its shipments take from there),
    ``shipment`` (a sales order line without a reservation), ``invoice`` (a direct invoice
    line's product) or ``adjustment`` (``document`` and ``line`` None)."""


@hookspec(firstresult=True)
def crm_stock_available(session, product_ids):
    """Return what is available of each of ``product_ids`` for the one acting (``{product_id:
    Decimal}``, e.g. at the user's warehouse), or None for on hand - reserved in all."""


@hookspec
def crm_stock_location_choices(session, user):
    """Return the stock locations ``user`` may choose to see stock at, as ``[(location_id,
    label)]`` (a warehouses plugin: its active warehouses), for pages that offer that choice (the
    item lookup's warehouse filter); None or [] for none. Every plugin's answers are listed."""


# --- invoices and payments ---------------------------------------------------

@hookspec(firstresult=True)
def crm_invoice_received(session, invoice):
    """Return the amount received on ``invoice`` as a Decimal, or None when kept by hand."""


@hookspec
def crm_payment_event(session, event, payment, invoice):
    """A payment was ``recorded``, ``changed``, ``deleted`` or became ``overdue``; ``failed``
    follows ``recorded`` or ``changed`` when the payment's status became one that means a failed
    payment (the payments plugin's statuses with ``is_failure``)."""


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


@hookspec
def crm_search_kinds():
    """Return kinds of records the global search finds (a list of
    :class:`crm.services.search.SearchKind`), shown to the roles that may read their resource."""


# --- jobs --------------------------------------------------------------------

@hookspec
def crm_scheduled_jobs():
    """Return scheduled jobs (a list of :class:`crm.jobs.ScheduledJob`)."""


# --- workflows ---------------------------------------------------------------

@hookspec
def crm_workflow_triggers():
    """Return triggers the admins' workflow rules may use (a list of
    :class:`crm.services.workflows.WorkflowTrigger`); the plugin fires one with
    :func:`crm.services.workflows.fire` in the transaction of its event."""


@hookspec
def crm_workflow_actions():
    """Return actions the admins' workflow rules may use (a list of
    :class:`crm.services.workflows.WorkflowAction`: a check of the action's settings and what it does)."""


# --- PDF ---------------------------------------------------------------------

@hookspec
def crm_pdf_context(session, document, context):
    """Change the template context of a document PDF in place (columns, blocks, totals)."""


# --- accounting --------------------------------------------------------------

@hookspec
def crm_accounting_connectors():
    """Return accounting connector classes (see ``crm.accounting_connectors.Connector``)."""


@hookspec
def crm_accounting_entities():
    """Return local entity adapters (``crm.accounting_connectors.LocalEntity`` instances) for sync entities
    whose records the plugin owns (``payments``), so the accounting sync reaches them through hooks."""
