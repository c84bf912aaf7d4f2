"""Alembic for the core and for each plugin.

The core and every plugin keep their own history (``migrations/`` beside their
code) and their own version table (``alembic_version`` for the core,
``alembic_version_<plugin id>`` for a plugin). Every ``env.py`` is two lines that
call :func:`run_env`, which limits autogenerate to the tables of its owner.

``upgrade_all`` runs the core first, then the plugins in dependency order.
Nothing here runs when the web app starts.

On SQLite, foreign keys are not enforced while migrations run and are checked before the
commit instead (as SQLite's own procedure for rebuilding a table says): a migration that
rebuilds a table drops it, and the drop would otherwise delete, or cascade to, the rows that
refer to it. Every table a migration creates or rebuilds gets ``AUTOINCREMENT`` there (see
:mod:`crm.db`); :func:`rebuild_sqlite_tables` rebuilds tables made before that.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import BigInteger, Integer, Numeric, inspect, text

from crm.db import Model, db, table_owner, tables_created_by_migrations, virtual_tables
from crm.models.base import ExactNumeric
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


def _render_item(type_, obj, autogen_context):
    """Autogenerate writes an :class:`ExactNumeric` column as what it is on each database."""
    if type_ == "type" and isinstance(obj, ExactNumeric):
        return (f"sa.Numeric(precision={obj.precision}, scale={obj.scale})"
                f".with_variant(sa.BigInteger(), 'sqlite')")
    return False


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
        render_item=_render_item,
        compare_type=True,
    )
    with context.begin_transaction(), tables_created_by_migrations():
        context.run_migrations()


@contextlib.contextmanager
def _migration_connection(app: Flask) -> Iterator:
    """A connection in a transaction committed at the end of the block. On SQLite, foreign keys
    are off during the block and checked before the commit (see the module's docstring)."""
    with db.engine(app).connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # outside a transaction, where SQLite takes it into account
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"the migration left rows whose foreign keys refer to nothing: {broken[:5]}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def upgrade(app: Flask, target: str, revision: str = "head") -> None:
    with _migration_connection(app) as connection:
        command.upgrade(_config(app, target, connection), revision)


def downgrade(app: Flask, target: str, revision: str = "base") -> None:
    with _migration_connection(app) as connection:
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
    current = current_revisions(app)
    return [target for target, head in heads(app).items() if head != current[target]]


def heads(app: Flask) -> dict[str, str | None]:
    """The head revision of the core and of each loaded plugin, read from their migration
    folders once per app (they do not change while it runs; ``/readyz`` asks often)."""
    found = app.extensions.get("crm.migration_heads")
    if found is None:
        from alembic.script import ScriptDirectory
        found = {}
        for target, folder in _targets(app).items():
            cfg = Config()
            cfg.set_main_option("script_location", str(folder))
            found[target] = ScriptDirectory.from_config(cfg).get_current_head()
        app.extensions["crm.migration_heads"] = found
    return found


def schema_differences(app: Flask, target: str) -> list:
    """What autogenerate would change for ``target``, and (SQLite) the tables whose AUTOINCREMENT
    differs from the model's: empty when models and migrations agree."""
    plugin_ids = list(get_registry(app).plugins)
    with db.engine(app).connect() as connection:
        include_object = _include_object_for(target, plugin_ids, connection.dialect.name,
                                              frozenset(virtual_tables(connection)))
        context = MigrationContext.configure(connection, opts={"include_object": include_object, "compare_type": True})
        differences = compare_metadata(context, Model.metadata)
        if connection.dialect.name == "sqlite":
            owned = [t for t in Model.metadata.sorted_tables if include_object(t, t.name, "table", False, None)]
            differences += _autoincrement_differences(connection, owned)
        return differences


def autoincrement_expected(table) -> bool:
    """Whether SQLite creates ``table`` (a model's) with AUTOINCREMENT: a single INTEGER primary key
    that is not a foreign key, on a table with ``sqlite_autoincrement`` (all of the models')."""
    key = list(table.primary_key.columns)
    return bool(table.dialect_options["sqlite"]["autoincrement"] and len(key) == 1
                and issubclass(key[0].type._type_affinity, Integer) and not key[0].foreign_keys)


def has_autoincrement(connection, table_name: str) -> bool:
    """SQLite: whether the table was created with AUTOINCREMENT."""
    sql = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                     (table_name,)).scalar()
    return sql is not None and "AUTOINCREMENT" in sql.upper()


def _autoincrement_differences(connection, tables) -> list:
    return [("sqlite_autoincrement", table.name, autoincrement_expected(table)) for table in tables
            if has_autoincrement(connection, table.name) != autoincrement_expected(table)]


def rebuild_sqlite_tables(tables: dict[str, dict[str, tuple[int, int]]], *, exact: bool = True) -> None:
    """For a migration to call: on SQLite, rebuild each of ``tables`` (``{table: {column: (precision,
    scale)}}``, the columns being its NUMERIC ones) so that ids and amounts are stored as the models
    say, or (``exact=False``, the downgrade) as they were before. Nothing happens on PostgreSQL.

    Rebuilt with ``exact``: an INTEGER primary key becomes AUTOINCREMENT, its counter starting
    above both the largest id in the table and the largest one the audit trail recorded for it
    (the id of a row deleted before is not given again); each listed column holds
    ``value * 10**scale`` as an INTEGER (:class:`crm.models.base.ExactNumeric`), converted from
    what SQLite held (a float with decimals: rounded to the scale). Without ``exact``: no
    AUTOINCREMENT, NUMERIC columns holding the value.

    Rows, indexes and constraints stay (Alembic's batch mode copies the table), and so does every
    trigger of the database: they are dropped for the rebuild, so that nothing fires while
    values are converted and no trigger refers to a table while it is gone, and created again."""
    from alembic import op
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    with sqlite_triggers_set_aside():
        _rebuild(bind, tables, exact)


def _rebuild(bind, tables: dict[str, dict[str, tuple[int, int]]], exact: bool) -> None:
    from alembic import op
    for table, columns in tables.items():
        if exact:
            _rescale(bind, table, columns, up=True)
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={} if exact else {"sqlite_autoincrement": False}) as batch:
            for column, (precision, scale) in columns.items():
                numeric = Numeric(precision=precision, scale=scale)
                batch.alter_column(column, type_=BigInteger() if exact else numeric,
                                   existing_type=numeric if exact else BigInteger())
        if exact:
            _start_ids_above_used(bind, table)
        else:
            _rescale(bind, table, columns, up=False)


@contextlib.contextmanager
def sqlite_triggers_set_aside() -> Iterator[None]:
    """For a migration to wrap what rebuilds tables on SQLite (Alembic's batch mode: adding a
    reference, changing a column): every trigger of the database is dropped for the block, so
    that none refers to a table while it is gone, and created again after it. Nothing happens on
    PostgreSQL."""
    from alembic import op
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    triggers = bind.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
    for name, _sql in triggers:
        bind.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    for _name, sql in triggers:
        bind.exec_driver_sql(sql)


def _rescale(bind, table: str, columns: dict[str, tuple[int, int]], *, up: bool) -> None:
    """Every listed column of every row to its stored integer (``up``) or back to its value, in one
    UPDATE (CHECK constraints comparing two of them hold throughout)."""
    if not columns:
        return
    if up:
        values = [f'"{c}" = CAST(ROUND("{c}" * {10 ** s}) AS INTEGER)' for c, (_p, s) in columns.items()]
    else:
        values = [f'"{c}" = "{c}" / {10 ** s}.0' for c, (_p, s) in columns.items()]
    bind.exec_driver_sql(f'UPDATE "{table}" SET {", ".join(values)}')


def _start_ids_above_used(bind, table: str) -> None:
    """The AUTOINCREMENT counter of ``table`` above its largest id and above the largest id the
    audit trail (``audit_log``, entity = table name) recorded for it."""
    if not has_autoincrement(bind, table):
        return
    key = next(row[1] for row in bind.exec_driver_sql(f'PRAGMA table_info("{table}")') if row[5])
    used = [bind.exec_driver_sql(f'SELECT max("{key}") FROM "{table}"').scalar()]
    if bind.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").scalar():
        used.append(bind.exec_driver_sql("SELECT max(CAST(entity_id AS INTEGER)) FROM audit_log WHERE entity = ?",
                                         (table,)).scalar())
    highest = max((value for value in used if value is not None), default=0)
    if not highest:
        return
    if not bind.exec_driver_sql("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?",
                                (highest, table)).rowcount:
        bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, highest))


def revision(app: Flask, target: str, message: str) -> None:
    """Write a new autogenerated migration for ``target`` (developers' tool)."""
    with db.engine(app).begin() as connection:
        command.revision(_config(app, target, connection), message=message, autogenerate=True)


#: what a configuration table's trigger does: replace the change stamp (PostgreSQL: the body of the
#: function every such trigger calls; SQLite: each trigger's statement)
_PG_REPLACE_STAMP = "UPDATE config_stamp SET stamp = md5(random()::text || clock_timestamp()::text)"
_SQLITE_REPLACE_STAMP = "UPDATE config_stamp SET stamp = lower(hex(randomblob(16)))"
#: what it does while the core is older than ``config_stamp`` (a plugin's table stays watched)
_PG_ASLEEP = "NULL"
_SQLITE_ASLEEP = "SELECT 1"
_EVENTS = ("insert", "update", "delete")


def watch_configuration(table: str) -> None:
    """For a migration to call: every change to ``table`` (an insert, update or delete, by any
    means) replaces the configuration's change stamp (:class:`crm.models.ConfigStamp`), so that
    every process reads again what it kept of the configuration tables
    (:func:`crm.services.records.once_per_configuration`). A plugin calls it for the tables whose
    rows it reads that way. On SQLite a table rebuilt by a later migration (batch mode,
    :func:`rebuild_sqlite_tables`) loses its triggers: that migration watches it again."""
    from alembic import op
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_function(_PG_REPLACE_STAMP))
        op.execute(f"CREATE TRIGGER {table}_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                   f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION crm_config_changed()")
    else:
        for event_ in _EVENTS:
            op.execute(_sqlite_trigger(table, event_, _SQLITE_REPLACE_STAMP))
    _replace_stamp()


def unwatch_configuration(table: str) -> None:
    """Undo :func:`watch_configuration` (a migration's downgrade)."""
    from alembic import op
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_config_changed ON {table}")
    else:
        for event_ in _EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_changed_{event_}")
    _replace_stamp()


def configuration_triggers_asleep(asleep: bool) -> None:
    """For the migration that makes ``config_stamp`` (``core_0020``): its downgrade puts the
    triggers of the tables still watched (the plugins', which stay at their head) to sleep, since
    they cannot write a stamp that is gone (on SQLite a trigger naming a missing table breaks
    every later change to the schema); its upgrade wakes them again."""
    from alembic import op
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        used = bind.execute(text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE :name AND NOT tgisinternal"),
                            {"name": "%\\_config\\_changed"}).scalar()
        if asleep and not used:
            op.execute("DROP FUNCTION IF EXISTS crm_config_changed()")
        elif used:
            op.execute(_pg_function(_PG_ASLEEP if asleep else _PG_REPLACE_STAMP))
        return
    old, new = (_SQLITE_REPLACE_STAMP, _SQLITE_ASLEEP) if asleep else (_SQLITE_ASLEEP, _SQLITE_REPLACE_STAMP)
    for event_ in _EVENTS:
        for name, table, sql in bind.exec_driver_sql(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' AND name = tbl_name || ?",
                (f"_config_changed_{event_}",)).all():
            if sql == _sqlite_trigger(table, event_, old):
                op.execute(f"DROP TRIGGER {name}")
                op.execute(_sqlite_trigger(table, event_, new))


def _pg_function(body: str) -> str:
    return ("CREATE OR REPLACE FUNCTION crm_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n    {body};\n    RETURN NULL;\nEND $$")


def _sqlite_trigger(table: str, event_: str, body: str) -> str:
    return f"CREATE TRIGGER {table}_config_changed_{event_} AFTER {event_.upper()} ON {table} BEGIN {body}; END"


def _replace_stamp() -> None:
    """A new stamp, if the core has its table (a plugin's migration may run on an older core)."""
    from alembic import op
    bind = op.get_bind()
    if inspect(bind).has_table("config_stamp"):
        op.execute(_PG_REPLACE_STAMP if bind.dialect.name == "postgresql" else _SQLITE_REPLACE_STAMP)
