"""Migrations of the core and of every plugin, on a database created for each test
(an SQLite file, or a new PostgreSQL database when CRM_TEST_DATABASE_URL is set):
upgrade -> downgrade -> upgrade round-trips, one version table per owner, models and
migrations agree (no autogenerate diff), and ``crm db upgrade`` / ``crm db pending``."""
from __future__ import annotations

import uuid

import pytest
from flask.cli import ScriptInfo
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from crm import create_app, migrate
from crm.cli import cli
from crm.config import normalise_database_url
from crm.db import Model, db, table_owner, virtual_tables
from crm.plugins import get_registry
from crm.testing import database_url, is_postgres

#: core and the plugins that ship migrations
EXPECTED_TARGETS = {"core", "payments", "item_lookup", "idca", "accounting_sync", "warehouses", "hello"}
PLUGINS_WITH_MIGRATIONS = sorted(EXPECTED_TARGETS - {"core"})


@pytest.fixture
def fresh_database_url(tmp_path):
    """An empty database of its own: never migrated, dropped afterwards."""
    if not is_postgres():
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    base = make_url(normalise_database_url(database_url()))
    name = f"{base.database or 'crm'}_migrations_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def fresh_app(fresh_database_url, crm_extra_plugins):
    app = create_app({"TESTING": True, "DATABASE_URL": fresh_database_url, "SECRET_KEY": "test",
                      "EXTRA_PLUGINS": crm_extra_plugins})
    yield app
    db.engine(app).dispose()


def _targets(app) -> list[str]:
    """What ``crm db upgrade`` migrates, in its order: core, then plugins with migrations."""
    registry = get_registry(app)
    return [migrate.CORE] + [p for p in registry.order if registry.plugins[p].migrations_dir is not None]


def _tables(app) -> set[str]:
    return set(inspect(db.engine(app)).get_table_names())


def _owned_by(app, target: str, tables: set[str]) -> set[str]:
    plugin_ids = list(get_registry(app).plugins)
    return {t for t in tables if (table_owner(t, plugin_ids) or migrate.CORE) == target
            and not t.startswith("alembic_version")}


def _cli(app, *args):
    return app.test_cli_runner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


def _differences(app) -> dict[str, list]:
    return {target: diff for target in _targets(app) if (diff := migrate.schema_differences(app, target))}


def test_upgrade_runs_core_then_plugins_each_with_its_own_version_table(fresh_app):
    targets = _targets(fresh_app)
    assert EXPECTED_TARGETS <= set(targets) and targets[0] == "core"
    assert migrate.pending(fresh_app) == targets
    assert _tables(fresh_app) == set()

    assert migrate.upgrade_all(fresh_app) == targets
    tables = _tables(fresh_app)
    versions = {migrate.version_table(t) for t in targets}
    assert versions == {"alembic_version"} | {f"alembic_version_{p}" for p in targets[1:]}
    assert versions <= tables
    assert all(migrate.current_revisions(fresh_app).values())
    assert migrate.pending(fresh_app) == []
    for target in targets:
        assert _owned_by(fresh_app, target, tables), f"{target} created no table"


def test_every_table_is_named_after_its_owner_and_every_model_table_has_a_migration(fresh_app):
    migrate.upgrade_all(fresh_app)
    plugin_ids = list(get_registry(fresh_app).plugins)
    targets = set(_targets(fresh_app))
    for table in Model.metadata.tables:
        owner = table_owner(table, plugin_ids) or migrate.CORE
        assert owner in targets, f"table {table} belongs to {owner}, which has no migrations"
    database_tables = _tables(fresh_app)
    missing = set(Model.metadata.tables) - database_tables
    assert missing == set(), f"model tables no migration creates: {sorted(missing)}"
    with db.engine(fresh_app).connect() as connection:
        full_text = virtual_tables(connection)   # SQLite virtual tables and their shadows: no model
    unknown = {t for t in database_tables - set(Model.metadata.tables) - full_text
               if not t.startswith("alembic_version")}
    assert unknown == set(), f"tables created by migrations without a model: {sorted(unknown)}"


def test_models_and_migrations_agree(fresh_app):
    migrate.upgrade_all(fresh_app)
    assert _differences(fresh_app) == {}, "run `crm db revision <target> -m ...` for these differences"


@pytest.mark.parametrize("plugin_id", PLUGINS_WITH_MIGRATIONS)
def test_plugin_migrations_round_trip(fresh_app, plugin_id):
    migrate.upgrade_all(fresh_app)
    before = _tables(fresh_app)
    own = _owned_by(fresh_app, plugin_id, before)
    assert own and all(t.startswith(plugin_id + "_") for t in own)

    migrate.downgrade(fresh_app, plugin_id, "base")
    after_down = _tables(fresh_app)
    assert _owned_by(fresh_app, plugin_id, after_down) == set(), "downgrade left tables behind"
    assert after_down == before - own, "a plugin's downgrade touched tables it does not own"
    assert migrate.current_revisions(fresh_app)[plugin_id] is None
    assert migrate.pending(fresh_app) == [plugin_id]

    migrate.upgrade(fresh_app, plugin_id)
    assert _tables(fresh_app) == before
    assert migrate.pending(fresh_app) == []
    assert migrate.schema_differences(fresh_app, plugin_id) == []


def test_core_migrations_round_trip_with_every_plugin(fresh_app):
    targets = _targets(fresh_app)
    migrate.upgrade_all(fresh_app)
    before = _tables(fresh_app)

    for target in reversed(targets):  # plugin tables may refer to core tables: they go first
        migrate.downgrade(fresh_app, target, "base")
    leftover = {t for t in _tables(fresh_app) if not t.startswith("alembic_version")}
    assert leftover == set(), f"downgrade to base left {sorted(leftover)}"
    assert not any(migrate.current_revisions(fresh_app).values())

    assert migrate.upgrade_all(fresh_app) == targets
    assert _tables(fresh_app) == before
    assert _differences(fresh_app) == {}


def test_crm_db_pending_then_upgrade_twice_then_nothing_pending(fresh_app):
    targets = _targets(fresh_app)
    pending = _cli(fresh_app, "db", "pending")
    assert pending.exit_code == 1
    assert pending.output.splitlines() == [f"{t}: pending" for t in targets]

    first = _cli(fresh_app, "db", "upgrade")
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [f"{t}: up to date" for t in targets]
    revisions, tables = migrate.current_revisions(fresh_app), _tables(fresh_app)

    second = _cli(fresh_app, "db", "upgrade")
    assert second.exit_code == 0 and second.output == first.output
    assert migrate.current_revisions(fresh_app) == revisions and _tables(fresh_app) == tables

    nothing = _cli(fresh_app, "db", "pending")
    assert nothing.exit_code == 0 and nothing.output.strip() == "nothing pending"
    current = _cli(fresh_app, "db", "current")
    assert current.exit_code == 0
    assert current.output.splitlines() == [f"{t}: {revisions[t]}" for t in targets]


def test_the_core_taken_back_before_its_config_stamp_leaves_the_plugins_tables_watched(fresh_app):
    """The core downgraded below ``core_0020`` while the plugins stay at their head: the plugins'
    configuration tables keep working (their triggers asleep: on SQLite a trigger naming the
    missing stamp would break every later change to the schema), and the core upgraded again
    wakes them: a change to a plugin's connections replaces the stamp again."""
    from sqlalchemy import text
    migrate.upgrade_all(fresh_app)
    engine = db.engine(fresh_app)
    insert = text("INSERT INTO accounting_sync_connections (name, connector, enabled, settings, created_at) "
                  "VALUES (:name, 'quickbooks', false, '{}', CURRENT_TIMESTAMP)")

    def stamp():
        with engine.connect() as connection:
            return connection.execute(text("SELECT stamp FROM config_stamp")).scalar_one()

    migrate.downgrade(fresh_app, migrate.CORE, "core_0019")
    assert "config_stamp" not in _tables(fresh_app)
    with engine.begin() as connection:
        connection.execute(insert, {"name": "asleep"})
        connection.execute(text("CREATE TABLE schema_still_changes (id INTEGER PRIMARY KEY)"))
        connection.execute(text("DROP TABLE schema_still_changes"))
    migrate.upgrade_all(fresh_app)
    before = stamp()
    with engine.begin() as connection:
        connection.execute(insert, {"name": "awake"})
    assert stamp() != before
