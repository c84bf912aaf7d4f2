"""The audit trail, written automatically for every audited model.

A model opts in with ``__audited__ = True``. On each flush the listener records
inserts, updates (the changed columns, old and new) and deletes with the current
actor (:mod:`crm.context`), in the same transaction as the change.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, event, inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import get_history

from crm.context import current_actor_id
from crm.models import AuditEntry
from crm.models.base import utcnow

IGNORED = {"updated_at", "created_at", "version", "password_hash"}


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _changes(obj: object) -> dict:
    """The columns changed since the object was loaded: old and new value of each. Only the
    attributes set since (``committed_state``, which keeps their loaded value) are looked at,
    not every column of the model: a flush of a thousand changed products stays cheap."""
    state = inspect(obj)
    touched = state.committed_state
    changes: dict = {}
    if not touched:
        return changes
    for attr in state.mapper.column_attrs:
        if attr.key in IGNORED or attr.key not in touched:
            continue
        history = get_history(obj, attr.key)
        if history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old != new:
                changes[attr.key] = [_plain(old), _plain(new)]
    return changes


def _identity(obj: object) -> str:
    state = inspect(obj)
    ident = state.identity or state.mapper.primary_key_from_instance(obj)
    return ",".join(str(i) for i in ident if i is not None) if ident else ""


def _entity_name(obj: Any) -> str:
    return getattr(obj, "__audit_entity__", None) or obj.__tablename__


@event.listens_for(Session, "before_flush")
def _record_updates_and_deletes(session: Session, _ctx: object, _instances: object) -> None:
    user_id = current_actor_id()
    entries = _updates(user_id, session.dirty)
    entries += [_entry(user_id, "delete", obj, {}) for obj in session.deleted if getattr(obj, "__audited__", False)]
    _write(session, entries)


def record_updates(session: Session, objects: list) -> None:
    """The update entries of ``objects`` now, with one INSERT, for a writer that then marks
    their changes as stored without the ORM's flush (:func:`crm.services.records.flush_changed`)."""
    _write(session, _updates(current_actor_id(), objects))


def _updates(user_id: int | None, objects: Any) -> list[dict]:
    entries = []
    for obj in objects:
        if getattr(obj, "__audited__", False):
            changes = _changes(obj)
            if changes:
                entries.append(_entry(user_id, "update", obj, changes))
    return entries


@event.listens_for(Session, "after_flush")
def _record_inserts(session: Session, _ctx: object) -> None:
    user_id = current_actor_id()
    _write(session, [_entry(user_id, "create", obj, {}) for obj in session.new if getattr(obj, "__audited__", False)])


def _entry(user_id: int | None, action: str, obj: object, changes: dict) -> dict:
    return {"at": utcnow(), "user_id": user_id, "action": action, "entity": _entity_name(obj),
            "entity_id": _identity(obj), "changes": changes}


def _write(session: Session, entries: list[dict]) -> None:
    """One INSERT for the flush's entries, in its transaction (a flush deleting a thousand
    records writes their thousand entries at once)."""
    from crm.services.records import insert_rows
    insert_rows(session, cast(Table, AuditEntry.__table__), entries)


def history(session: Session, entity: str, entity_id: object) -> list[AuditEntry]:
    from sqlalchemy import select
    return list(session.scalars(select(AuditEntry).where(AuditEntry.entity == entity,
                                                         AuditEntry.entity_id == str(entity_id))
                                .order_by(AuditEntry.id)))
