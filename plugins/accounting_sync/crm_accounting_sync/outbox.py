"""The outbox: local changes written in the same transaction as the change (hooks
``crm_record_saved``, ``crm_record_deleted``, ``crm_document_status_changed``, ``crm_payment_event``), one row per
enabled connection that sends the entity to the remote. Changes made by the engine
while it applies remote changes are suppressed for that connection (they came from
there), so they do not bounce back.

Which connections send what is read once per transaction (an approval calls two of these
hooks, an import thousands): the first change of a transaction reads the enabled connections,
the next ones reuse the answer, and a connection added, changed or deleted in the session
(any flush of a :class:`~crm_accounting_sync.models.Connection`) makes the next change read
them again. The first read on a database engine runs in a savepoint, as the plugin's tables
may not exist yet (installed, before ``crm db upgrade``: then nothing is recorded); once they
have been read on an engine, the reads need no savepoint."""
from __future__ import annotations

import weakref

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, object_session

from crm.accounting_connectors import ENTITIES
from crm.services.records import changes_configuration, once_per_configuration
from crm_accounting_sync.models import Connection, Outbox

SUPPRESS = "accounting_sync_suppress"
#: session.info key: (weak reference to the transaction, {entity: [connection names]}, rows)
_SENDERS = "accounting_sync.senders"
_ROWS = "accounting_sync.enabled_connections"
#: engines on which the plugin's tables were read (they exist: no savepoint needed)
_TABLES_SEEN: weakref.WeakSet[Engine] = weakref.WeakSet()

_ENABLED = select(Connection.name, Connection.connector, Connection.settings).where(Connection.enabled.is_(True))


def _enabled_rows(session: Session) -> list | None:
    """The enabled connections' (name, connector, settings), read once per transaction and kept by
    the process while the configuration is unchanged (``once_per_configuration``: the
    connections' table is watched); None when the plugin's tables do not exist yet."""
    transaction = session.get_transaction()
    known = session.info.get(_SENDERS)
    if transaction is not None and known is not None and known[0]() is transaction:
        return known[2]
    bind = session.get_bind(Connection)
    engine = bind if isinstance(bind, Engine) else getattr(bind, "engine", None)
    if engine is not None and engine in _TABLES_SEEN:
        rows = once_per_configuration(session, _ROWS, lambda: list(session.execute(_ENABLED).all()))
    else:
        try:
            with session.begin_nested():
                rows = list(session.execute(_ENABLED).all())
        except SQLAlchemyError:  # the plugin's tables do not exist yet (before `crm db upgrade`)
            return None
        if engine is not None:
            _TABLES_SEEN.add(engine)
    transaction = session.get_transaction()
    if transaction is not None:
        session.info[_SENDERS] = (weakref.ref(transaction), {}, rows)
    return rows


def forget(session: Session | None) -> None:
    """Read the connections again at the next change (one of them changed in ``session``)."""
    if session is not None:
        session.info.pop(_SENDERS, None)


@event.listens_for(Connection, "after_insert")
@event.listens_for(Connection, "after_update")
@event.listens_for(Connection, "after_delete")
def _connection_flushed(_mapper, _connection, target: Connection) -> None:
    forget(object_session(target))


changes_configuration(Connection)


def _senders(session: Session, entity: str) -> list[str]:
    from crm.accounting_connectors import connector_classes
    rows = _enabled_rows(session)
    if not rows:
        return []
    known = session.info.get(_SENDERS)
    cache = known[1] if known is not None else {}
    if entity in cache:
        return cache[entity]
    try:
        supported = {name: cls.entities for name, cls in connector_classes().items()}
    except Exception:  # noqa: BLE001  no app context: nothing to send to
        return []
    out = []
    for name, connector, settings in rows:
        if entity not in supported.get(connector, ()):
            continue
        cfg = ((settings or {}).get("entities") or {}).get(entity) or {}
        if cfg.get("direction", "both") in ("both", "to_remote"):
            out.append(name)
    cache[entity] = out
    return out


def record_change(session: Session, entity: str, local_id, op: str) -> None:
    if entity not in ENTITIES or local_id is None:
        return
    suppressed = session.info.get(SUPPRESS) or set()
    for name in _senders(session, entity):
        if name not in suppressed:
            session.add(Outbox(connection=name, entity=entity, local_id=int(local_id), op=op))
