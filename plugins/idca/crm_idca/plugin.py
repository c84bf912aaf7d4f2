"""Hook implementations of the IDCA plugin (id ``idca``)."""
from __future__ import annotations

from flask import Blueprint, url_for
from flask_smorest import Blueprint as SmorestBlueprint
from markupsafe import Markup
from sqlalchemy.orm import Session

from crm import hookimpl
from crm.models import Document
from crm.services.doctypes import BY_PATH
from crm.totals import Computation
from crm.ui import SettingsPage
from crm_idca import models  # noqa: F401  (registers the plugin's tables)


@hookimpl
def crm_api_blueprints() -> list[SmorestBlueprint]:
    from crm_idca.api import blp
    return [blp]


@hookimpl
def crm_web_blueprints() -> list[Blueprint]:
    from crm_idca.web import bp
    return [bp]


@hookimpl
def crm_settings_pages() -> list[SettingsPage]:
    from flask_babel import gettext as _

    return [SettingsPage(_("Line columns and totals"), url_for("idca.index"))]


@hookimpl
def crm_line_columns(doc_type: str, session: Session, document: Document | None) -> list:
    """The visible custom columns (built-in ones are the core's) of the layout the document is
    computed with: the current one for a new or editable document, the version an issued one
    was computed with (none if the plugin never computed it)."""
    from crm_idca import engine, layouts
    if document is None:
        return engine.line_columns(layouts.compiled(session, doc_type))
    layout, _live = engine.layout_of(session, document)
    return engine.line_columns(layout)


@hookimpl
def crm_line_custom_keys(doc_type: str, session: Session, document: Document | None) -> dict[str, bool]:
    """Every custom column of the layout, hidden ones too (editable ones may be sent), the
    ``errors`` of a line and the sums of a subtotal row (computed)."""
    from crm_idca import engine, layouts
    layout = layouts.compiled(session, doc_type) if document is None else engine.layout_of(session, document)[0]
    return engine.custom_keys(layout)


@hookimpl
def crm_builtin_line_columns(doc_type: str, session: Session, document: Document | None) -> dict | None:
    """The layout's built-in column arrangement (hidden, relabelled, resized, moved) for the
    document page and the line editor, of the same layout version as ``crm_line_columns``;
    None while the layout leaves the built-in columns as they are."""
    from crm_idca import engine, layouts, presentation
    layout = layouts.compiled(session, doc_type) if document is None else engine.layout_of(session, document)[0]
    return presentation.builtin_arrangement(layout)


@hookimpl
def crm_extra_totals(doc_type: str, session: Session, document: Document | None) -> list:
    """The layout's custom totals (labels, types, visibility), of the same layout version as
    ``crm_line_columns``."""
    from crm_idca import engine, layouts, presentation
    layout = layouts.compiled(session, doc_type) if document is None else engine.layout_of(session, document)[0]
    return presentation.extra_totals(layout)


@hookimpl
def crm_totals_stage(stage: str, computation: Computation, document: Document, session: Session) -> None:
    from crm_idca import engine
    engine.run_stage(stage, computation, document, session)


@hookimpl
def crm_document_validate(session: Session, document: Document, data: dict) -> None:
    from crm_idca import validation
    validation.validate_document(session, document, data)


@hookimpl
def crm_record_saved(session: Session, entity: str, record: object, created: bool) -> None:
    if entity in BY_PATH and isinstance(record, Document):   # a document
        from crm_idca import engine
        engine.remember(session, record)


@hookimpl
def crm_records_saved(session: Session, entity: str, record_ids: list[int], created: bool) -> None:
    """A batch (an import): only documents concern IDCA; those computed in this session are in
    its identity map (``session.get`` reads no row for them)."""
    if entity in BY_PATH:
        from crm_idca import engine
        for record_id in record_ids:
            document = session.get(Document, record_id)
            if document is not None:
                engine.remember(session, document)


@hookimpl
def crm_document_serialize(document: Document, data: dict) -> None:
    from crm_idca import presentation
    presentation.serialize(document, data)


@hookimpl
def crm_pdf_context(session: Session, document: Document, context: dict) -> None:
    from crm_idca import presentation
    presentation.pdf_context(session, document, context)


@hookimpl
def crm_template_slot(slot: str, context: dict) -> Markup | None:
    if slot in ("line_editor_toolbar", "document_panels"):
        from crm_idca import web
        return web.slot(slot, context)
    return None
