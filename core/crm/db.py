"""Database access: one declarative base, one engine and session factory per app.

Services receive a SQLAlchemy ``Session`` as their first argument and never
commit; whoever calls them (an API resource, a web view, a CLI command, a job)
owns the transaction, usually through :meth:`Database.transaction`.

Tables belong to the core, or to the plugin whose id prefixes their name
(``payments_payments`` belongs to ``payments``). Alembic histories, purge and
the contract checks rely on that convention.

Every table has a model, except SQLite virtual tables (an FTS5 full-text index, say) and the
shadow tables SQLite keeps for them: a migration creates them with raw SQL, and
:func:`virtual_tables` names them so that the models/migrations comparison leaves them out.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import Flask, g, current_app
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Model(DeclarativeBase):
    """Base class of every table, the core's and the plugins'."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def virtual_tables(connection) -> set[str]:
    """SQLite: the virtual tables of the database and their shadow tables (none on PostgreSQL)."""
    if connection.dialect.name != "sqlite":
        return set()
    rows = connection.exec_driver_sql("SELECT name FROM pragma_table_list WHERE type IN ('virtual', 'shadow')")
    return {name for (name,) in rows}


def core_table_names() -> set[str]:
    """The tables of the core's own models (package ``crm``), whatever else is imported."""
    names = set()
    for mapper in Model.registry.mappers:
        if mapper.class_.__module__.split(".")[0] == "crm":
            names.add(mapper.local_table.name)
            names.update(rel.secondary.name for rel in mapper.relationships if rel.secondary is not None)
    return names


def table_owner(table_name: str, plugin_ids) -> str | None:
    """The plugin id owning ``table_name``, or None for a core table."""
    if table_name.startswith("alembic_version_"):
        table_name = table_name[len("alembic_version_"):] + "_"
    for plugin_id in plugin_ids:
        if table_name.startswith(plugin_id + "_"):
            return plugin_id
    return None


def make_engine(url: str, **options) -> Engine:
    """An engine tuned for the backend: SQLite gets foreign keys, WAL, and
    ``BEGIN IMMEDIATE`` so that writers queue instead of failing mid-way."""
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 20)
    options.setdefault("max_overflow", 20)
    return create_engine(url, **options)


class Database:
    """The app's engine and sessions; ``db.session`` is the current app context's session."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["crm.db"] = sessionmaker(engine, expire_on_commit=False)
        app.teardown_appcontext(self._close_session)

    @staticmethod
    def engine(app: Flask | None = None) -> Engine:
        return (app or current_app).extensions["crm.db"].kw["bind"]

    @staticmethod
    def new_session(app: Flask | None = None) -> Session:
        """A session of its own, for threads, jobs and tests."""
        return (app or current_app).extensions["crm.db"]()

    @property
    def session(self) -> Session:
        if "crm_session" not in g:
            g.crm_session = self.new_session()
        return g.crm_session

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit what the block did, or roll all of it back on any exception."""
        session = self.session
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    @staticmethod
    def _close_session(_exc=None) -> None:
        session = g.pop("crm_session", None)
        if session is not None:
            session.close()


db = Database()
