"""Enabling, disabling and purging plugins."""
from __future__ import annotations

from sqlalchemy import MetaData, inspect as sa_inspect
from sqlalchemy.orm import Session

from crm.db import table_owner
from crm.errors import NotFound, ValidationError
from crm.models import PluginState


def set_enabled(session: Session, registry, plugin_id: str, enabled: bool) -> None:
    plugin = registry.plugins.get(plugin_id)
    if plugin is None:
        raise NotFound(f"plugin {plugin_id!r} is not installed")
    if enabled and plugin.error:
        raise ValidationError(f"plugin {plugin_id!r} failed to load: {plugin.error}")
    if not enabled:
        dependants = [p for p in registry.enabled if plugin_id in registry.plugins[p].requires]
        if dependants:
            raise ValidationError(f"plugin {plugin_id!r} is required by enabled plugin(s): {', '.join(dependants)}")
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


def purge(connection, plugin_id: str) -> list[str]:
    """Drop every table of ``plugin_id`` and forget its state. Irreversible."""
    tables = plugin_tables(connection, plugin_id)
    metadata = MetaData()
    metadata.reflect(connection, only=tables)      # also reflects the core tables they point at...
    metadata.drop_all(connection, tables=[metadata.tables[name] for name in tables])  # ...which stay
    connection.execute(PluginState.__table__.delete().where(PluginState.id == plugin_id))
    from crm.models import Setting
    connection.execute(Setting.__table__.delete().where(Setting.namespace == plugin_id))
    return tables
