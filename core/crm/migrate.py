"""Alembic for the core and for each plugin.

The core and every plugin keep their own history (``migrations/`` beside their
code) and their own version table (``alembic_version`` for the core,
``alembic_version_<plugin id>`` for a plugin). Every ``env.py`` is two lines that
call :func:`run_env`, which limits autogenerate to the tables of its owner.

``upgrade_all`` runs the core first, then the plugins in dependency order.
Nothing here runs when the web app starts.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from flask import Flask

from crm.db import Model, db, table_owner, virtual_tables
from crm.plugins import get_registry

CORE = "core"
CORE_MIGRATIONS = Path(__file__).parent / "migrations"


def version_table(target: str) -> str:
    return "alembic_version" if target == CORE else f"alembic_version_{target}"


def _targets(app: Flask) -> dict[str, Path]:
    """core and every loaded plugin with migrations, in the order they run."""
    registry = get_registry(app)
    targets = {CORE: CORE_MIGRATIONS}
    for plugin_id in registry.order:
        folder = registry.plugins[plugin_id].migrations_dir
        if folder is not None:
            targets[plugin_id] = folder
    return targets


def _other_dialect(obj, dialect: str | None) -> bool:
    """A model object created only on other databases (``Index(...).ddl_if(dialect=...)``)."""
    condition = getattr(obj, "_ddl_if", None)
    if dialect is None or condition is None or condition.dialect is None:
        return False
    wanted = (condition.dialect,) if isinstance(condition.dialect, str) else tuple(condition.dialect)
    return dialect not in wanted


def _include_object_for(target: str, plugin_ids, dialect: str | None = None, virtual: frozenset = frozenset()):
    """Compare only ``target``'s tables, leaving out objects made for another database and the
    ``virtual`` tables (SQLite full-text indexes and their shadow tables, which have no model)."""
    def include_object(obj, name, type_, reflected, compare_to):
        if not reflected and _other_dialect(obj, dialect):
            return False
        if reflected and type_ == "table" and name in virtual:
            return False
        table = obj if type_ == "table" else getattr(obj, "table", None)
        table_name = name if type_ == "table" else (table.name if table is not None else None)
        if table_name is None:
            return True
        if table_name.startswith("alembic_version"):
            return False
        owner = table_owner(table_name, plugin_ids)
        return (owner or CORE) == target
    return include_object


def _config(app: Flask, target: str, connection) -> Config:
    folder = _targets(app).get(target)
    if folder is None:
        raise KeyError(f"no migrations for {target!r}")
    cfg = Config()
    cfg.set_main_option("script_location", str(folder))
    cfg.attributes.update(connection=connection, crm_target=target,
                          crm_plugin_ids=list(get_registry(app).plugins))
    return cfg


def run_env() -> None:
    """The body of every ``env.py``: migrate on the connection Alembic was given."""
    from alembic import context
    cfg = context.config
    target = cfg.attributes["crm_target"]
    connection = cfg.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Model.metadata,
        version_table=version_table(target),
        include_object=_include_object_for(target, cfg.attributes["crm_plugin_ids"], connection.dialect.name,
                                           frozenset(virtual_tables(connection))),
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def upgrade(app: Flask, target: str, revision: str = "head") -> None:
    with db.engine(app).begin() as connection:
        command.upgrade(_config(app, target, connection), revision)


def downgrade(app: Flask, target: str, revision: str = "base") -> None:
    with db.engine(app).begin() as connection:
        command.downgrade(_config(app, target, connection), revision)


def upgrade_all(app: Flask) -> list[str]:
    """Core, then each plugin in dependency order. Idempotent."""
    done = []
    for target in _targets(app):
        upgrade(app, target)
        done.append(target)
    return done


def current_revisions(app: Flask) -> dict[str, str | None]:
    with db.engine(app).connect() as connection:
        return {
            target: MigrationContext.configure(connection, opts={"version_table": version_table(target)})
            .get_current_revision()
            for target in _targets(app)
        }


def pending(app: Flask) -> list[str]:
    """Targets whose database revision is not their head."""
    from alembic.script import ScriptDirectory
    current = current_revisions(app)
    behind = []
    for target, folder in _targets(app).items():
        cfg = Config()
        cfg.set_main_option("script_location", str(folder))
        if ScriptDirectory.from_config(cfg).get_current_head() != current[target]:
            behind.append(target)
    return behind


def schema_differences(app: Flask, target: str) -> list:
    """What autogenerate would change for ``target``: empty when models and migrations agree."""
    plugin_ids = list(get_registry(app).plugins)
    with db.engine(app).connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_object": _include_object_for(target, plugin_ids, connection.dialect.name,
                                                  frozenset(virtual_tables(connection))),
            "compare_type": True})
        return compare_metadata(context, Model.metadata)


def revision(app: Flask, target: str, message: str) -> None:
    """Write a new autogenerated migration for ``target`` (developers' tool)."""
    with db.engine(app).begin() as connection:
        command.revision(_config(app, target, connection), message=message, autogenerate=True)
