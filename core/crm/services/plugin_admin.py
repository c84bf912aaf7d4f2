"""Enabling, disabling and purging plugins, and what the Plugins page says about them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from sqlalchemy import MetaData, delete, inspect as sa_inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crm.db import table_owner, virtual_tables
from crm.errors import NotFound, ValidationError
from crm.models import PluginState
from crm.services import stock_merge

if TYPE_CHECKING:
    from crm.plugins import PluginRegistry


def set_enabled(session: Session, registry: PluginRegistry, plugin_id: str, enabled: bool) -> None:
    check_can_switch(registry, plugin_id, enabled)
    state = session.get(PluginState, plugin_id)
    if state is None:
        session.add(PluginState(id=plugin_id, enabled=enabled))
    else:
        state.enabled = enabled
    session.flush()
    registry.refresh(session)


def check_can_switch(registry: PluginRegistry, plugin_id: str, enabled: bool) -> None:
    """Refuse enabling a plugin that is not installed or failed to load, and disabling one that
    an enabled plugin requires."""
    plugin = registry.plugins.get(plugin_id)
    if plugin is None:
        raise NotFound(_("plugin %(plugin)s is not installed", plugin=repr(plugin_id)))
    if enabled and plugin.error:
        raise ValidationError(_("plugin %(plugin)s failed to load: %(error)s", plugin=repr(plugin_id),
                                error=plugin.error))
    if not enabled:
        dependants = [p for p in registry.enabled if plugin_id in registry.plugins[p].requires]
        if dependants:
            raise ValidationError(_("plugin %(plugin)s is required by enabled plugin(s): %(plugins)s",
                                    plugin=repr(plugin_id), plugins=", ".join(dependants)))


def plugin_tables(connection: Connection, plugin_id: str) -> list[str]:
    """The tables in the database that belong to ``plugin_id`` (by name), its
    Alembic version table included; works when the plugin is not installed."""
    names = sa_inspect(connection).get_table_names()
    return sorted(n for n in names if table_owner(n, [plugin_id]) == plugin_id)


def _owned(name: str, plugin_id: str) -> bool:
    return table_owner(name, [plugin_id]) == plugin_id


def drop_triggers_and_functions(connection: Connection, plugin_id: str) -> list[str]:
    """Drop the database triggers (on any table, core tables included) and, on PostgreSQL,
    the functions whose names start with ``<plugin_id>_``: the same naming rule as tables."""
    quote = connection.dialect.identifier_preparer.quote
    dropped = []
    if connection.dialect.name == "sqlite":
        for (name,) in connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")):
            if _owned(name, plugin_id):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {quote(name)}"))
                dropped.append(name)
        return dropped
    triggers = connection.execute(text(
        "SELECT DISTINCT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname = current_schema()"))
    for name, table in triggers.all():
        if _owned(name, plugin_id):
            connection.execute(text(f"DROP TRIGGER IF EXISTS {quote(name)} ON {quote(table)}"))
            dropped.append(name)
    functions = connection.execute(text(
        "SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"))
    for name, arguments in functions.all():
        if _owned(name, plugin_id):
            connection.execute(text(f"DROP FUNCTION IF EXISTS {quote(name)}({arguments}) CASCADE"))
            dropped.append(f"{name}()")
    return dropped


def _drop_foreign_keys_to(connection: Connection, tables: list[str]) -> None:
    """Drop the foreign keys of other tables that point at ``tables`` (no row uses them:
    :func:`purge_plan` refuses otherwise). SQLite drops a referenced table without them."""
    if connection.dialect.name == "sqlite":
        return
    quote = connection.dialect.identifier_preparer.quote
    inspector = sa_inspect(connection)
    for table in sorted(set(inspector.get_table_names()) - set(tables)):
        for key in inspector.get_foreign_keys(table):
            name = key.get("name")
            if key.get("referred_table") in tables and name:
                connection.execute(text(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}"))


def purge(connection: Connection, plugin_id: str) -> list[str]:
    """Drop every table, trigger and database function of ``plugin_id`` (named
    ``<plugin_id>_...``), and the unused foreign keys of other tables pointing at its tables, and
    forget its (empty) stock locations, state, settings and numbering sequences. Irreversible;
    see :func:`purge_plan`."""
    drop_triggers_and_functions(connection, plugin_id)
    tables = plugin_tables(connection, plugin_id)
    virtual = virtual_tables(connection)
    quote = connection.dialect.identifier_preparer.quote
    # a virtual table sorts before its shadow tables (``<name>_...``), which SQLite drops with it
    for name in sorted(virtual.intersection(tables)):
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")
    rest = [name for name in tables if name not in virtual]
    _drop_foreign_keys_to(connection, rest)
    metadata = MetaData()
    metadata.reflect(connection, only=rest)      # also reflects the core tables they point at...
    metadata.drop_all(connection, tables=[metadata.tables[name] for name in rest])  # ...which stay
    stock_merge.forget_locations(connection, plugin_id)    # empty: purge_plan refuses otherwise
    connection.execute(delete(PluginState).where(PluginState.id == plugin_id))
    from crm.models import Sequence, Setting
    from crm.services.doctypes import DOC_TYPES
    connection.execute(delete(Setting).where(Setting.namespace == plugin_id))
    connection.execute(delete(Sequence).where(Sequence.doc_type.startswith(f"{plugin_id}_", autoescape=True),
                                                         Sequence.doc_type.not_in(list(DOC_TYPES))))
    return tables


# --- what the Plugins page says ------------------------------------------------------------

def _hook_phrases() -> dict[str, str]:
    """What implementing a hook adds, in the administrator's words (hooks the administrator
    would not notice, such as ``crm_startup``, are left out)."""
    pages, columns, totals = _("pages"), _("columns on document lines"), _("totals on documents")
    stock, payments, records = (_("acts on stock moves, receipts and shipments"),
                                _("acts when invoices are paid"), _("acts when records are saved or deleted"))
    accounting = _("a link with accounting systems")
    return {
        "crm_web_blueprints": pages,
        "crm_api_blueprints": _("API endpoints"),
        "crm_menu_items": _("menu entries"),
        "crm_template_slot": _("panels and buttons on pages"),
        "crm_settings_pages": _("a settings page"),
        "crm_line_columns": columns,
        "crm_builtin_line_columns": _("arranges the columns of document lines"),
        "crm_line_custom_keys": columns,
        "crm_extra_totals": totals,
        "crm_totals_stage": _("changes how document totals are computed"),
        "crm_search_items": _("item search in the line editor"),
        "crm_search_kinds": _("results in the global search"),
        "crm_record_saved": records,
        "crm_record_deleted": records,
        "crm_records_saved": records,
        "crm_document_validate": _("checks documents before they are saved"),
        "crm_document_status_changed": _("acts when a document's status changes"),
        "crm_document_serialize": _("fields in the documents the API returns"),
        "crm_stock_moved": stock,
        "crm_receipt_recorded": stock,
        "crm_shipment_recorded": stock,
        "crm_stock_adjusted": stock,
        "crm_stock_location": _("chooses where stock is received, reserved and shipped"),
        "crm_stock_available": _("says what stock is available to each user"),
        "crm_stock_location_choices": _("offers its stock locations to choose from (such as warehouses)"),
        "crm_invoice_received": payments,
        "crm_payment_event": payments,
        "crm_invoice_paid": payments,
        "crm_scheduled_jobs": _("scheduled jobs"),
        "crm_pdf_context": _("content of printed PDFs"),
        "crm_accounting_connectors": accounting,
        "crm_accounting_entities": accounting,
        "crm_register_commands": _("commands of the crm command line"),
        "crm_timeline_events": _("events in the history of records"),
        "crm_workflow_actions": _("actions for workflows"),
        "crm_workflow_triggers": _("triggers for workflows"),
        "crm_demo_data": _("demo data"),
    }


#: hooks that add nothing an administrator sees
SILENT_HOOKS = frozenset({"crm_startup"})


def what_it_adds(hooks: list[str]) -> list[str]:
    """The phrases of :func:`_hook_phrases` for ``hooks`` (hook names), each once, in the order
    of the hooks; a hook without a phrase is shown by its name."""
    phrases = _hook_phrases()
    found: list[str] = []
    for hook in hooks:
        if hook in SILENT_HOOKS:
            continue
        phrase = phrases.get(hook, hook.removeprefix("crm_").replace("_", " "))
        if phrase not in found:
            found.append(phrase)
    return found


# --- purging ---------------------------------------------------------------------------------

@dataclass
class PurgePlan:
    """What purging a plugin drops, and why it may not (``blockers``: empty when it may)."""

    plugin_id: str
    tables: list[tuple[str, int]] = field(default_factory=list)   # (table, rows), its version table too
    blockers: list[str] = field(default_factory=list)
    #: stock moves, balances or reservations are at its stock locations (one of the blockers):
    #: :func:`crm.services.stock_merge.merge_into_default` brings them to the default location
    stock_at_locations: bool = False

    @property
    def allowed(self) -> bool:
        return bool(self.tables) and not self.blockers


def purge_plan(connection: Connection, registry: PluginRegistry | None, plugin_id: str) -> PurgePlan:
    """The tables of ``plugin_id`` with their row counts, and what forbids purging them: another
    installed plugin that requires it (enabled or not: its data may rest on this plugin's),
    rows of a table that is not the plugin's (the core's or another plugin's) pointing at its rows,
    or stock moves, balances or reservations at its stock locations (``stock_locations.plugin``)
    until they are merged into the default location (:mod:`crm.services.stock_merge`)."""
    quote = connection.dialect.identifier_preparer.quote
    names = plugin_tables(connection, plugin_id)
    plan = PurgePlan(plugin_id)
    for name in names:
        plan.tables.append((name, connection.execute(text(f"SELECT count(*) FROM {quote(name)}")).scalar_one()))
    if registry is not None:
        dependants = sorted(p for p, plugin in registry.plugins.items() if plugin_id in plugin.requires)
        if dependants:
            plan.blockers.append(_("installed plugin(s) %(plugins)s require it: uninstall them first",
                                   plugins=", ".join(dependants)))
    owned = set(names)
    inspector = sa_inspect(connection)
    for table in sorted(set(inspector.get_table_names()) - owned):
        for key in inspector.get_foreign_keys(table):
            if key.get("referred_table") not in owned or not key.get("constrained_columns"):
                continue
            filled = " AND ".join(f"{quote(c)} IS NOT NULL" for c in key["constrained_columns"])
            rows = connection.execute(text(f"SELECT count(*) FROM {quote(table)} WHERE {filled}")).scalar_one()
            if rows:
                plan.blockers.append(_("%(rows)s row(s) of %(table)s refer to its table %(target)s",
                                       rows=rows, table=table, target=key["referred_table"]))
    located = stock_merge.located_stock(connection, plugin_id)
    if located.any:
        plan.blockers.append(_(
            "%(moves)s stock move(s), the stock of %(products)s product(s) and %(lines)s sales order line(s) are at "
            "its %(locations)s stock location(s): merge them into the default location first (crm stock "
            "merge-locations --plugin %(plugin)s)", moves=located.moves, products=located.products, lines=located.lines,
            locations=located.locations, plugin=plugin_id))
        plan.stock_at_locations = True
    return plan
