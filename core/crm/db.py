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

Ids are never reused. PostgreSQL's sequences never give a number twice; on SQLite an integer
primary key takes the largest id + 1, so deleting the newest row would hand its id to the next
one, and whatever remembered the old id (audit entries, the accounting sync's links, a plugin's
rows) would take the new record for the deleted one. Every table of :class:`Model`'s metadata,
and every table a migration creates or rebuilds (:func:`tables_created_by_migrations`), is
therefore ``AUTOINCREMENT`` on SQLite (``sqlite_autoincrement=True``, set by
:func:`_ids_never_reused`): SQLite then remembers the largest id ever given.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar

from flask import Flask, current_app, g
from sqlalchemy import MetaData, Table, create_engine, event, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import DateTime

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


#: set while migrations run (:func:`tables_created_by_migrations`)
_MIGRATING: ContextVar[bool] = ContextVar("crm_migrating", default=False)


@event.listens_for(Table, "after_parent_attach")
def _ids_never_reused(table: Table, metadata) -> None:
    """``sqlite_autoincrement=True`` on every table of the models, and on every table built while
    migrations run (``op.create_table``, and the copy of a table Alembic's batch mode rebuilds, as
    SQLAlchemy does not read AUTOINCREMENT back from SQLite), unless the table says otherwise.
    SQLite applies it to a single INTEGER primary key that is not a foreign key (a table
    ``WITHOUT ROWID`` cannot have it); other databases ignore it."""
    if not (metadata is Model.metadata or _MIGRATING.get()):
        return
    given = list(table.dialect_kwargs)  # the options set explicitly (``in`` also sees the defaults)
    if "sqlite_autoincrement" not in given and table.dialect_options["sqlite"]["with_rowid"]:
        table.dialect_kwargs["sqlite_autoincrement"] = True


@contextlib.contextmanager
def tables_created_by_migrations() -> Iterator[None]:
    """Within the block, every new :class:`~sqlalchemy.Table` (whatever its metadata) gets
    ``sqlite_autoincrement=True``: :func:`crm.migrate.run_env` runs migrations in it."""
    token = _MIGRATING.set(True)
    try:
        yield
    finally:
        _MIGRATING.reset(token)


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


#: the execution option of :meth:`Database.reading_session`'s connections
READ_ONLY = "crm_read_only"


def make_engine(url: str, **options) -> Engine:
    """An engine tuned for the backend: SQLite gets foreign keys, WAL, and
    ``BEGIN IMMEDIATE`` so that writers queue instead of failing mid-way (``BEGIN`` for a
    :meth:`Database.reading_session`). A database that
    cannot be reached raises :class:`crm.errors.DatabaseUnavailable` (see :func:`_unavailable`)."""
    engine = _make_engine(url, **options)
    event.listen(engine, "handle_error", _unavailable)
    return engine


def _unavailable(context) -> None:
    """``handle_error``: a connection that cannot be opened (refused, no such file or folder,
    wrong password) or that broke (the server went away) becomes :class:`DatabaseUnavailable`.
    A failed pre-ping is left alone: the pool opens a new connection after it."""
    if context.is_pre_ping or not (context.connection is None or context.is_disconnect):
        return
    from flask_babel import gettext as _

    from crm.errors import DatabaseUnavailable
    reason = str(context.original_exception).strip().splitlines() or [type(context.original_exception).__name__]
    where = context.engine.url.render_as_string(hide_password=True) if context.engine is not None else ""
    raise DatabaseUnavailable(_("The database cannot be reached. Try again in a few moments; if it "
                                "goes on, tell your administrator."),
                              f"{where}: {reason[0]}") from context.original_exception


class UTCDateTime(sqlite.DATETIME):
    """SQLite's type for ``DateTime(timezone=True)`` columns: SQLite keeps no time zone, so an
    aware moment is stored in UTC and read back aware, in UTC, as PostgreSQL gives it (SQLAlchemy
    alone reads it back naive). ``DateTime()`` columns without a time zone are left as they are."""

    def bind_processor(self, dialect):
        process = super().bind_processor(dialect)
        if not self.timezone:
            return process

        def bind(value):
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                value = value.astimezone(dt.timezone.utc)
            return process(value) if process else value
        return bind

    def result_processor(self, dialect, coltype):
        process = super().result_processor(dialect, coltype)
        if not self.timezone:
            return process

        def result(value):
            value = process(value) if process else value
            if isinstance(value, dt.datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=dt.timezone.utc)
            return value
        return result


def _make_engine(url: str, **options) -> Engine:
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **options)
        engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: UTCDateTime}

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
            read_only = connection.get_execution_options().get(READ_ONLY)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

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

    def reading_session(self, app: Flask | None = None) -> Session:
        """A session of its own for a long read that writes nothing (an export of a whole list).
        On SQLite its transaction begins ``DEFERRED``: it reads the snapshot of its first query
        (WAL) and takes no lock, where a request's ``BEGIN IMMEDIATE`` takes the writers' lock
        until it ends, so that every sale and change would wait for the read (and give up after
        the 30 s busy timeout). It must not write: on SQLite a write in it can fail with
        ``database is locked`` when another transaction wrote since its first read."""
        return (app or current_app).extensions["crm.db"](bind=self.engine(app).execution_options(**{READ_ONLY: True}))

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
    def _close_session(exc=None) -> None:
        session = g.pop("crm_session", None)
        if session is not None:
            if exc is None:
                end_read_only(session)
            session.close()


def end_read_only(session: Session) -> None:
    """Commit the session's transaction on PostgreSQL when it wrote nothing, neither in the
    session (nothing new, changed or deleted) nor on the server (no transaction id assigned),
    instead of the rollback that closing it would send. For the database the two are the same;
    but psycopg forgets a connection's prepared statements at every rollback, so every request
    that only read (a page, a search, an API GET) would have its queries planned again by the
    next one, which costs about as much as running them. Anything else is left to
    ``close()``, which rolls it back."""
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    if session.get_bind().dialect.name != "postgresql":
        return
    try:
        if session.execute(text("SELECT txid_current_if_assigned()")).scalar() is None:
            session.commit()
    except Exception:  # noqa: BLE001 - a failed transaction or a broken connection: close() rolls back
        return


db = Database()
