"""Small helpers every record service uses."""
from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Mapping, TypeVar

from flask_babel import gettext as _
from sqlalchemy import ARRAY, String, Table, any_, bindparam, event, exists, func, insert, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import get_history, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import NullType

from crm import money
from crm.errors import Conflict, NotFound, ValidationError
from crm.models import ConfigStamp
from crm.services import audit, hooks

Record = TypeVar("Record")
T = TypeVar("T")

#: ids are 32-bit integers on PostgreSQL: anything outside cannot exist (and must not reach the database).
MAX_ID = 2**31 - 1


def check_version(record: Any, version: int | None) -> None:
    """Optimistic concurrency: a PATCH that sends ``version`` must match the stored one."""
    if version is not None and version != record.version:
        raise Conflict(_("this record was changed by someone else meanwhile; reload it and apply your change "
                         "again"), {"version": [_("stale: it is now %(current)s, you sent %(sent)s",
                                                   current=record.version, sent=version)]}, code="stale_version")


def check_bounds(data: dict, bounds: dict, *, where: str = "") -> None:
    """Each ``data[name]`` given (a Decimal) lies between 0 and ``bounds[name]`` (one of the
    bounds of :mod:`crm.money`); otherwise a ValidationError naming ``where + name``. For the
    callers that bypass the API's schemas (the accounting sync pulls records through services)."""
    for name, bound in bounds.items():
        value = data.get(name)
        if value is not None and money.out_of_bounds(value, bound, signed=False):
            raise ValidationError.for_field(where + name, _("must be between 0 and %(max)s", max=bound))


def apply_changes(record: object, data: dict) -> None:
    for key, value in data.items():
        setattr(record, key, value)


def valid_id(record_id: object) -> bool:
    return isinstance(record_id, int) and not isinstance(record_id, bool) and 1 <= record_id <= MAX_ID


def find(session: Session, model: type[Record], record_id: object, **options: Any) -> Record | None:
    """``session.get`` that answers None for ids that cannot exist instead of overflowing the database."""
    return session.get(model, record_id, **options) if valid_id(record_id) else None


def get_or_404(session: Session, model: type[Record], record_id: object, label: str, *, for_update: bool = False,
               **options: Any) -> Record:
    """The record, or a 404. ``for_update`` locks its row until the commit (PostgreSQL; SQLite
    serialises writers anyway), so that concurrent changes apply one after the other."""
    record = find(session, model, record_id, with_for_update=True if for_update else None, **options)
    if record is None:
        raise NotFound(_("%(label)s %(id)s not found", label=label, id=record_id), {"id": [_("not found")]})
    return record


def refuse_if_used(session: Session, label: str, uses: dict) -> None:
    """409 when a record is still referred to. ``uses``: a description (``"documents"``)
    -> an EXISTS clause that holds while such references exist."""
    found = [name for name, clause in uses.items() if session.scalar(select(clause))]
    if found:
        raise Conflict(_("%(label)s is still used by %(uses)s: it cannot be deleted; "
                         "deactivate it instead (\"active\": false)", label=label, uses=", ".join(found)),
                       code="in_use")


def referring(references: Mapping[str, Any], record_id: int) -> dict:
    """``references`` (a description -> the column that refers to such a record) as
    :func:`refuse_if_used`'s EXISTS clauses for the record ``record_id``."""
    return {name: exists().where(column == record_id) for name, column in references.items()}


def first_used(session: Session, references: Mapping[str, Any], ids: list[int]) -> int | None:
    """One of ``ids`` still referred to, or None (``references``: a description -> the column
    that refers to such a record): a query per reference and thousand ids, for deleting many."""
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for column in references.values():
            used = session.scalar(select(column).where(matching(column, chunk, session)).limit(1))
            if used is not None:
                return used
    return None


def flush(session: Session, unique: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """Flush, turning what a concurrent request can cause into a 409 instead of a 500:
    a unique value taken meanwhile (``unique``: field -> constraint names or
    ``table.column`` as the database reports them), a row changed meanwhile
    (version counter) or a reference that appeared or vanished meanwhile."""
    with _conflicts(unique):
        session.flush()


def flush_changed(session: Session, records: list, unique: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """:func:`flush` for many loaded records of versioned models whose columns were changed (an
    import's batch, its undo): their ``UPDATE`` s are sent as one executemany per model and set
    of changed columns, each row matched by its id and version as the ORM's own flush matches it
    (which sends a versioned ``UPDATE`` one row at a time, to check each row's count), with
    their audit entries in one ``INSERT``; then the session flushes the rest (relationships)."""
    with _conflicts(unique):
        if records:
            with session.no_autoflush:
                audit.record_updates(session, records)
                _update_changed(session, records)
        session.flush()


@contextlib.contextmanager
def _conflicts(unique: Mapping[str, tuple[str, ...]] | None) -> Iterator[None]:
    try:
        yield
    except StaleDataError:
        raise Conflict(_("this record was changed by someone else meanwhile; reload it and apply your change "
                         "again"), {"version": [_("stale")]}, code="stale_version") from None
    except IntegrityError as exc:
        message = str(exc.orig)
        for field, markers in (unique or {}).items():
            if any(marker in message for marker in markers):
                raise Conflict(_("%(field)s: already exists", field=field), {field: [_("already exists")]}) \
                    from None
        raise Conflict(_("the change conflicts with another change made at the same time; reload and try again")) \
            from None


def saved(session: Session, entity: str, record: object, created: bool) -> None:
    """Tell the plugins that ``record`` was created or changed (``crm_record_saved``), before the
    commit; inside :func:`saves_batched`, at the end of the block with the others."""
    held = session.info.get(_HELD)
    if held is not None:
        held.setdefault((entity, created), {}).setdefault(type(record), []).append((getattr(record, "id", None), record))
        return
    hooks.call("crm_record_saved", session=session, entity=entity, record=record, created=created)


def saved_many(session: Session, entity: str, model: type, record_ids: list[int], created: bool) -> None:
    """Tell the plugins that the records ``record_ids`` (of ``model``) were created or changed
    together (an import's batch), before the commit: ``crm_records_saved`` once, and
    ``crm_record_saved`` for each record to the plugins that implement only that one (the
    records loaded in one query, only for them). Inside :func:`saves_batched`, at its end."""
    if not record_ids:
        return
    held = session.info.get(_HELD)
    if held is not None:
        held.setdefault((entity, created), {}).setdefault(model, []).extend((i, None) for i in record_ids)
        return
    _tell(session, entity, created, {model: [(i, None) for i in record_ids]})


#: session.info key of the saves :func:`saves_batched` holds: (entity, created) -> model -> [(id, record or None)]
_HELD = "crm.records.held_saves"


@contextlib.contextmanager
def saves_batched(session: Session) -> Iterator[None]:
    """Within the block, the plugins are not told of each record saved (:func:`saved`,
    :func:`saved_many`): at its end, once per entity and created/changed, ``crm_records_saved``
    with their ids (and ``crm_record_saved`` per record to the plugins implementing only that).
    Nothing is told when the block raises (its changes are meant to be rolled back). A block
    inside another one: the outer block tells."""
    if _HELD in session.info:
        yield
        return
    held: dict = {}
    session.info[_HELD] = held
    try:
        yield
    finally:
        session.info.pop(_HELD, None)
    for (entity, created), by_model in held.items():
        _tell(session, entity, created, by_model)


def _tell(session: Session, entity: str, created: bool, by_model: dict[Any, list[tuple[Any, Any]]]) -> None:
    ids = [record_id for pairs in by_model.values() for record_id, _record in pairs if record_id is not None]
    if ids:
        hooks.call("crm_records_saved", session=session, entity=entity, record_ids=ids, created=created)
    if not hooks.wants_single_saves():
        return
    records: list[Any] = []
    for model, pairs in by_model.items():
        missing = [record_id for record_id, record in pairs if record is None and record_id is not None]
        found: dict[Any, Any] = {}
        if missing:
            with session.no_autoflush:
                for start in range(0, len(missing), 1000):
                    found.update((r.id, r) for r in session.scalars(select(model).where(model.id.in_(missing[start:start + 1000]))))
        records += [record if record is not None else found.get(record_id) for record_id, record in pairs]
    hooks.call_single_saved(session, entity, [r for r in records if r is not None], created)


def deleted(session: Session, entity: str, record_id: int) -> None:
    """Tell the plugins that a record was deleted (``crm_record_deleted``), before the commit."""
    hooks.call("crm_record_deleted", session=session, entity=entity, record_id=record_id)


def once_per_transaction(session: Session, key: str, read: Callable[[], T]) -> T:
    """``read()`` (without autoflush), once per transaction of ``session``: kept in
    ``session.info[key]`` with the transaction it was read in. ``session.info.pop(key, None)``
    makes the next call read again (:func:`read_again_when_flushed` does it when what was read
    changes in the session)."""
    kept = session.info.get(key)
    transaction = session.get_transaction()
    if kept is None or transaction is None or kept[0]() is not transaction:
        with session.no_autoflush:
            value = read()
        transaction = session.get_transaction()
        kept = (weakref.ref(transaction) if transaction is not None else lambda: None, value)
        session.info[key] = kept
    return kept[1]


#: the configuration's change stamp (:class:`crm.models.ConfigStamp`), for the first query of a
#: request to read with what it reads (:func:`note_config_stamp`)
CONFIG_STAMP = select(ConfigStamp.stamp).where(ConfigStamp.id == 1).scalar_subquery()
_STAMP = "crm.config_stamp"
_CHANGED = "crm.config_changed"
#: engine -> {key: (stamp, value)}: what this process read of the configuration, by the stamp it read it under
_KEPT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CONFIGURATION_MODELS: set[type] = set()


def note_config_stamp(session: Session, stamp: str | None) -> None:
    """The configuration's stamp as the current transaction of ``session`` read it (a request's
    first statement reads it with the signed-in user: :data:`CONFIG_STAMP`)."""
    transaction = session.get_transaction()
    if transaction is not None and stamp is not None:
        session.info[_STAMP] = (weakref.ref(transaction), stamp)


def once_per_configuration(session: Session, key: str, read: Callable[[], T]) -> T:
    """``read()``, kept by the process while the configuration is unchanged: a request whose
    transaction read the same change stamp as the one ``read()`` was last made under gets the
    value kept then (no query). The stamp changes with every change to a configuration table
    (:func:`crm.migrate.watch_configuration`), by any process. Without a stamp (a job, a
    command, a session of its own) and for the rest of a transaction that changed a model of
    :func:`changes_configuration`, it is :func:`once_per_transaction`. The value is shared by
    every request of the process: plain data, never changed by its readers."""
    transaction = session.get_transaction()
    noted = session.info.get(_STAMP)
    if transaction is None or noted is None or noted[0]() is not transaction or configuration_changed(session):
        return once_per_transaction(session, key, read)
    kept = _KEPT.setdefault(session.get_bind().engine, {})
    found = kept.get(key)
    if found is not None and found[0] == noted[1]:
        return found[1]
    value = once_per_transaction(session, key, read)
    kept[key] = (noted[1], value)
    return value


def changes_configuration(model: type) -> None:
    """Rows of ``model`` are configuration (their table is watched: :func:`crm.migrate.watch_configuration`):
    once one is added to a session, or changed or deleted by its flush, the rest of that session's
    transaction reads the configuration again (:func:`once_per_configuration`), since what the
    process kept does not show its own changes."""
    def changed(_mapper: Any, _connection: Any, target: object) -> None:
        session = object_session(target)
        if session is not None:
            _note_changed(session)
    for name in ("after_insert", "after_update", "after_delete"):
        event.listen(model, name, changed)
    _CONFIGURATION_MODELS.add(model)


def configuration_changed(session: Session) -> bool:
    """Whether the current transaction of ``session`` added, changed or deleted configuration
    (a model of :func:`changes_configuration`)."""
    changed = session.info.get(_CHANGED)
    transaction = session.get_transaction()
    return changed is not None and transaction is not None and changed() is transaction


def _note_changed(session: Session) -> None:
    transaction = session.get_transaction()
    if transaction is not None:
        session.info[_CHANGED] = weakref.ref(transaction)


@event.listens_for(Session, "transient_to_pending")
def _configuration_added(session: Session, instance: object) -> None:
    if type(instance) in _CONFIGURATION_MODELS:
        _note_changed(session)


def read_again_when_flushed(model: type, key: str) -> None:
    """After a row of ``model`` is inserted, updated or deleted by a session's flush, its next
    :func:`once_per_transaction` call for ``key`` reads again."""
    def forget(_mapper: Any, _connection: Any, target: object) -> None:
        session = object_session(target)
        if session is not None:
            session.info.pop(key, None)
    for name in ("after_insert", "after_update", "after_delete"):
        event.listen(model, name, forget)


def add_record(session: Session, entity: str, record: Record,
               unique: Mapping[str, tuple[str, ...]] | None = None) -> Record:
    """Add a new record, flush it (:func:`flush`, with ``unique``) and tell the plugins (:func:`saved`)."""
    session.add(record)
    flush(session, unique)
    saved(session, entity, record, True)
    return record


def add_records(session: Session, entity: str, records: list,
                unique: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """:func:`add_record` for many new records of one kind (an import's batch): flushed together
    (SQLAlchemy inserts rows of one table with a few multi-row ``INSERT``s, and their audit entries
    with one), then the plugins told of each."""
    session.add_all(records)
    flush(session, unique)
    for record in records:
        saved(session, entity, record, True)


def store_change(session: Session, entity: str, record: Record,
                 unique: Mapping[str, tuple[str, ...]] | None = None) -> Record:
    """Flush a changed record (:func:`flush`, with ``unique``) and tell the plugins (:func:`saved`)."""
    flush(session, unique)
    saved(session, entity, record, False)
    return record


def store_changes(session: Session, entity: str, records: list,
                  unique: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """:func:`store_change` for many changed records of one kind (an import's batch, its undo):
    written together (:func:`flush_changed`), then the plugins told of each."""
    flush_changed(session, records, unique)
    for record in records:
        saved(session, entity, record, False)


def delete_record(session: Session, entity: str, record: Any) -> None:
    """Delete a record, flush, and tell the plugins (:func:`deleted`)."""
    record_id = record.id
    session.delete(record)
    flush(session)
    deleted(session, entity, record_id)


def delete_records(session: Session, entity: str, records: list) -> None:
    """:func:`delete_record` for many records of one kind, checked beforehand (the undo of an
    import): one flush, then the plugins told of each."""
    record_ids = [record.id for record in records]
    for record in records:
        session.delete(record)
    flush(session)
    for record_id in record_ids:
        deleted(session, entity, record_id)


# --- bulk writes (imports) -----------------------------------------------------------------------

#: from this many rows on, :func:`insert_rows` loads them with ``COPY`` on PostgreSQL
COPY_FROM = 100


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """INSERT ``rows`` (dicts of column values, each with the same keys; the columns' Python
    defaults fill the columns no row gives) into ``table``, inside the session's transaction.
    SQLite, and a few rows: one executemany. PostgreSQL, :data:`COPY_FROM` rows or more: one
    ``COPY``, the rows streamed as PostgreSQL's bulk load reads them (no statement with
    thousands of placeholders for the driver to parse, nothing for it to quote)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql" or len(rows) < COPY_FROM:
        with session.no_autoflush:
            session.execute(insert(table), rows)
        return
    given = list(rows[0])
    columns = [c for c in table.columns if c.key in given or (c.default is not None and not c.primary_key)]
    fillers = []   # per column: the rows' key, or the default's function or value; the bind processor
    for column in columns:
        default = column.default
        make = default.arg if default is not None and default.is_callable else None  # type: ignore[attr-defined]
        fixed = getattr(default, "arg", None) if make is None else None
        process = column.type._cached_bind_processor(dialect)  # JSON -> text, as a plain bind would
        fillers.append((column.key if column.key in given else None, make, fixed, process))
    names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    statement = f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
    with session.no_autoflush:
        driver: Any = session.connection().connection.driver_connection   # psycopg's
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    values: list[Any] = []
                    for key, make, fixed, process in fillers:
                        # SQLAlchemy wraps a default's function to take the execution context
                        value = row[key] if key is not None else make(None) if make is not None else fixed
                        values.append(process(value) if process is not None and value is not None else value)
                    copy.write_row(values)
        except dialect.loaded_dbapi.Error as exc:   # raised as SQLAlchemy raises a statement's (IntegrityError...)
            raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc


def _update_changed(session: Session, records: list) -> None:
    """The changed columns of ``records`` written, then marked as stored on the objects (with the
    new version and the columns' ``onupdate`` values): the ORM's flush finds nothing left in
    them to write."""
    groups: dict[tuple, list[tuple[Any, dict]]] = {}
    for record in records:
        state = inspect(record)
        columns = state.mapper.column_attrs
        touched = [key for key in state.committed_state if key in columns]
        changed = {key: state.dict[key] for key in touched if get_history(record, key).has_changes()}
        for key in touched:
            if key not in changed:   # set to the value it had: nothing to write
                set_committed_value(record, key, state.dict[key])
        if changed:
            groups.setdefault((state.mapper, tuple(sorted(changed))), []).append((record, changed))
    connection = session.connection()
    mapper: Any
    for (mapper, keys), rows in groups.items():
        table, version_column = mapper.local_table, mapper.version_id_col
        version = mapper.get_property_by_column(version_column).key
        # the columns set at every UPDATE (the time of the change), computed once for the rows
        onupdate = {mapper.get_property_by_column(c).key: c.onupdate.arg(None)
                    for c in table.columns if c.onupdate is not None and c.onupdate.is_callable
                    and mapper.get_property_by_column(c).key not in keys}
        new: dict[Any, Any] = {mapper.column_attrs[key].columns[0]: bindparam(f"new_{key}") for key in (*keys, *onupdate)}
        statement = (table.update().where(table.c.id == bindparam("old_id"), version_column == bindparam("old_v"))
                     .values({**new, version_column: bindparam("new_v")}))
        params = [{"old_id": record.id, "old_v": getattr(record, version), "new_v": getattr(record, version) + 1,
                   **{f"new_{key}": value for key, value in {**changed, **onupdate}.items()}}
                  for record, changed in rows]
        if connection.execute(statement, params).rowcount != len(params):
            raise StaleDataError(f"{table.name}: a row was changed or deleted meanwhile")
        for (record, changed), row in zip(rows, params):
            for key, value in {**changed, **onupdate, version: row["new_v"]}.items():
                set_committed_value(record, key, value)
    for record in records:
        state = inspect(record)
        if state.modified and not state.committed_state:
            # nothing else changed in it (no relationship): clean, so that the ORM's flush does
            # not look through its columns again (SQLAlchemy has no public call for it)
            state._commit_all(state.dict, session.identity_map)


def new_ids(session: Session, table: Table, count: int) -> list[int] | None:
    """PostgreSQL: ``count`` ids taken from the sequence of ``table``'s ``id`` (to insert rows
    with :func:`insert_rows` knowing their ids), in increasing order. None on SQLite (whose
    ``INSERT ... RETURNING`` of many rows is cheap)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    sequence = func.pg_get_serial_sequence(table.name, "id")
    with session.no_autoflush:
        return sorted(session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count))))


def matching(column: Any, values: list, session: Session) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)`` (one parameter: a long
    IN list costs the driver more to parse than the database to run)."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    item_type = column.type if not isinstance(column.type, NullType) else String()   # an expression of text
    return column == any_(bindparam(None, list(values), type_=ARRAY(item_type)))
