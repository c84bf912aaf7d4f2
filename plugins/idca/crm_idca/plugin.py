"""Hook implementations of the IDCA plugin (id ``idca``)."""
from __future__ import annotations

from flask import url_for

from crm import hookimpl
from crm_idca import models  # noqa: F401  (registers the plugin's tables)

DOCUMENT_ENTITIES = ("quotes", "sales-orders", "purchase-orders", "invoices")


@hookimpl
def crm_api_blueprints():
    from crm_idca.api import blp
    return [blp]


@hookimpl
def crm_web_blueprints():
    from crm_idca.web import bp
    return [bp]


@hookimpl
def crm_settings_pages():
    from flask_babel import gettext as _
    from crm.ui import SettingsPage
    return [SettingsPage(_("Line columns and totals"), url_for("idca.index"))]


@hookimpl
def crm_line_columns(doc_type, session, document):
    """The visible custom columns (built-in ones are the core's) of the layout the document is
    computed with: the current one for a new or editable document, the version an issued one
    was computed with (none if the plugin never computed it)."""
    from crm_idca import engine, layouts
    if document is None:
        return engine.line_columns(layouts.compiled(session, doc_type))
    layout, _live = engine.layout_of(session, document)
    return engine.line_columns(layout)


@hookimpl
def crm_builtin_line_columns(doc_type, session, document):
    """The layout's built-in column arrangement (hidden, relabelled, resized, moved) for the
    document page and the line editor, of the same layout version as ``crm_line_columns``;
    None while the layout leaves the built-in columns as they are."""
    from crm_idca import engine, layouts, presentation
    if document is None:
        layout = layouts.compiled(session, doc_type)
    else:
        layout, _live = engine.layout_of(session, document)
    return presentation.builtin_arrangement(layout)


@hookimpl
def crm_totals_stage(stage, computation, document, session):
    from crm_idca import engine
    engine.run_stage(stage, computation, document, session)


@hookimpl
def crm_document_validate(session, document, data):
    from crm_idca import validation
    validation.validate_document(session, document, data)


@hookimpl
def crm_record_saved(session, entity, record, created):
    if entity in DOCUMENT_ENTITIES:
        from crm_idca import engine
        engine.remember(session, record)


@hookimpl
def crm_document_serialize(document, data):
    from crm_idca import presentation
    presentation.serialize(document, data)


@hookimpl
def crm_pdf_context(session, document, context):
    from crm_idca import presentation
    presentation.pdf_context(session, document, context)


@hookimpl
def crm_template_slot(slot, context):
    if slot in ("line_editor_toolbar", "document_panels"):
        from crm_idca import web
        return web.slot(slot, context)
    return None
