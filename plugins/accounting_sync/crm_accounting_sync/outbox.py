"""The outbox: local changes written in the same transaction as the change (hooks
``crm_record_saved``, ``crm_record_deleted``, ``crm_document_status_changed``, ``crm_payment_event``), one row per
enabled connection that sends the entity to the remote. Changes made by the engine
while it applies remote changes are suppressed for that connection (they came from
there), so they do not bounce back."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crm.accounting import ENTITIES
from crm_accounting_sync.models import Connection, Outbox

SUPPRESS = "accounting_sync_suppress"


def _senders(session: Session, entity: str) -> list[str]:
    from crm.accounting import connector_classes
    rows = session.execute(select(Connection.name, Connection.connector, Connection.settings)
                           .where(Connection.enabled.is_(True))).all()
    if not rows:
        return []
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
    return out


def record_change(session: Session, entity: str, local_id, op: str) -> None:
    if entity not in ENTITIES or local_id is None:
        return
    suppressed = session.info.get(SUPPRESS) or set()
    try:
        with session.begin_nested():
            names = [n for n in _senders(session, entity) if n not in suppressed]
    except SQLAlchemyError:  # the plugin's tables do not exist yet (before `crm db upgrade`)
        return
    for name in names:
        session.add(Outbox(connection=name, entity=entity, local_id=int(local_id), op=op))
