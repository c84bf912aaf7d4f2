"""Enabling, disabling and purging plugins."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import MetaData, inspect as sa_inspect, text
from sqlalchemy.orm import Session

from crm.db import table_owner, virtual_tables
from crm.errors import NotFound, ValidationError
from crm.models import PluginState


def set_enabled(session: Session, registry, plugin_id: str, enabled: bool) -> None:
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
    state = session.get(PluginState, plugin_id)
    if state is None:
        session.add(PluginState(id=plugin_id, enabled=enabled))
    else:
        state.enabled = enabled
    session.flush()
    registry.refresh(session)


def plugin_tables(connection, plugin_id: str) -> list[str]:
    """The tables in the database that belong to ``plugin_id`` (by name), its
    Alembic version table included; works when the plugin is not installed."""
    names = sa_inspect(connection).get_table_names()
    return sorted(n for n in names if table_owner(n, [plugin_id]) == plugin_id)


def _owned(name: str, plugin_id: str) -> bool:
    return table_owner(name, [plugin_id]) == plugin_id


def drop_triggers_and_functions(connection, plugin_id: str) -> list[str]:
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


def purge(connection, plugin_id: str) -> list[str]:
    """Drop every table, trigger and database function of ``plugin_id`` (named
    ``<plugin_id>_...``) and forget its state and settings. Irreversible."""
    drop_triggers_and_functions(connection, plugin_id)
    tables = plugin_tables(connection, plugin_id)
    virtual = virtual_tables(connection)
    quote = connection.dialect.identifier_preparer.quote
    # a virtual table sorts before its shadow tables (``<name>_...``), which SQLite drops with it
    for name in sorted(virtual.intersection(tables)):
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")
    rest = [name for name in tables if name not in virtual]
    metadata = MetaData()
    metadata.reflect(connection, only=rest)      # also reflects the core tables they point at...
    metadata.drop_all(connection, tables=[metadata.tables[name] for name in rest])  # ...which stay
    connection.execute(PluginState.__table__.delete().where(PluginState.id == plugin_id))
    from crm.models import Setting
    connection.execute(Setting.__table__.delete().where(Setting.namespace == plugin_id))
    return tables
