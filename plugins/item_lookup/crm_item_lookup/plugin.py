"""Hook implementations of the item lookup plugin (id ``item_lookup``)."""
from __future__ import annotations

import click
from flask import Blueprint, g, url_for
from flask_smorest import Blueprint as SmorestBlueprint
from markupsafe import Markup
from sqlalchemy.orm import Session

from crm import hookimpl
from crm.models import Item
from crm.permissions import can
from crm.services.doctypes import DOC_TYPES
from crm.ui import SettingsPage
from crm_item_lookup import models  # noqa: F401  (registers the plugin's tables)


@hookimpl
def crm_api_blueprints() -> list[SmorestBlueprint]:
    from crm_item_lookup.api import blp, lines_blp
    return [blp, lines_blp]


@hookimpl
def crm_web_blueprints() -> list[Blueprint]:
    from crm_item_lookup.web import bp, json_bp
    return [bp, json_bp]


@hookimpl
def crm_search_items(session: Session, q: str, kind: str | None, limit: int) -> list[Item]:
    """The line editor's item search is the lookup's: every word, in name, SKU or description."""
    from crm_item_lookup.search import quick_search
    return quick_search(session, q, kind, limit)


@hookimpl
def crm_template_slot(slot: str, context: dict) -> Markup | None:
    """The picker: in the line editor's toolbar (rows go into the editor) and among a saved
    document's actions while its lines may change (lines are added at once)."""
    user = g.get("user")
    if user is None or slot not in ("line_editor_toolbar", "document_actions"):
        return None
    doc_type = context.get("doc_type")
    if doc_type not in DOC_TYPES or not can(user, DOC_TYPES[doc_type].resource, "write"):
        return None
    from crm_item_lookup.web import picker_html
    if slot == "line_editor_toolbar":
        return picker_html(mode="editor", doc_type=doc_type, document=context.get("document"))
    document = context.get("document")
    if document is None or document.status not in DOC_TYPES[doc_type].editable:
        return None
    return picker_html(mode="document", doc_type=doc_type, document=document)


@hookimpl
def crm_settings_pages() -> list[SettingsPage]:
    from flask_babel import gettext as _

    return [SettingsPage(_("Item lookup"), url_for("item_lookup.settings_page"))]


@hookimpl
def crm_register_commands(cli: click.Group) -> None:
    from flask.cli import with_appcontext

    @cli.group("item-lookup")
    def item_lookup() -> None:
        """The item lookup plugin."""

    @item_lookup.command("reindex")
    @with_appcontext
    def reindex() -> None:
        """Rebuild the lookup's copy of the items and its counts (the triggers keep them in sync;
        run it after a bulk import: on PostgreSQL it also compacts the counts table)."""
        from crm.db import db
        from crm_item_lookup import sync
        with db.engine().begin() as connection:
            sync.rebuild(connection)
        sync.compact(db.engine())
        click.echo("item lookup: entries rebuilt")

    @item_lookup.command("install-triggers")
    @with_appcontext
    def install_triggers() -> None:
        """(Re)create the database triggers that keep the lookup in sync, then rebuild."""
        from crm.db import db
        from crm_item_lookup import sync
        with db.engine().begin() as connection:
            sync.install(connection)
            sync.rebuild(connection)
        click.echo("item lookup: triggers installed, entries rebuilt")

    @item_lookup.command("drop-triggers")
    @with_appcontext
    def drop_triggers() -> None:
        """Remove the database triggers: the lookup stops following the items until `install-triggers`."""
        from crm.db import db
        from crm_item_lookup import sync
        with db.engine().begin() as connection:
            sync.uninstall(connection)
        click.echo("item lookup: triggers dropped")


@hookimpl
def crm_record_saved(session: Session, entity: str, record: object, created: bool) -> None:
    """A custom field of items changed (label, active): settings read by searches are stale."""
    if entity == "custom_fields" and getattr(record, "entity", None) == "items":
        from crm_item_lookup import sync
        sync.bump(session.connection())


@hookimpl
def crm_records_saved(session: Session, entity: str, record_ids: list[int], created: bool) -> None:
    """A batch (an import): items are followed by the database's triggers; custom fields of items
    make the searches' settings stale."""
    if entity == "custom_fields":
        from crm_item_lookup import sync
        sync.bump(session.connection())


@hookimpl
def crm_record_deleted(session: Session, entity: str, record_id: int) -> None:
    if entity == "custom_fields":
        from crm_item_lookup import sync
        sync.bump(session.connection())
