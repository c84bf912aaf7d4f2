"""The outbox for a batch of records (``crm_records_saved``: an import's batch of 1,000): the
connections that send the entity read once, the outbox rows written with one INSERT
(executemany, SQLAlchemy Core) instead of an ORM object per record and connection."""
from __future__ import annotations

from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crm.accounting_connectors import ENTITIES
from crm.models.base import utcnow
from crm_accounting_sync.models import Outbox
from crm_accounting_sync.outbox import SUPPRESS, _senders


def record_changes(session: Session, entity: str, local_ids: list[int], op: str) -> None:
    """:func:`crm_accounting_sync.outbox.record_change` for many records of one entity."""
    if entity not in ENTITIES or not local_ids:
        return
    suppressed = session.info.get(SUPPRESS) or set()
    try:
        with session.begin_nested():
            names = [n for n in _senders(session, entity) if n not in suppressed]
    except SQLAlchemyError:  # the plugin's tables do not exist yet (before `crm db upgrade`)
        return
    if not names:
        return
    now = utcnow()
    rows = [{"connection": name, "entity": entity, "local_id": int(local_id), "op": op, "created_at": now}
            for local_id in local_ids for name in names]
    with session.no_autoflush:
        session.execute(insert(cast(Table, Outbox.__table__)), rows)
