"""Starting runs: inline, in the background worker, on a schedule.

"Sync now" (``POST /api/v1/accounting-sync/runs``) runs inline when the work is small
(at most ``background_threshold`` records pending on our side, 200 by default, and
not the first run of the connection) and answers with the finished run (201);
otherwise it queues the run for the worker (``crm.worker.enqueue``) and answers 202
with the queued run, whose ``progress`` and counts the worker updates as it goes
(poll ``GET /api/v1/accounting-sync/runs/<id>``). ``?background=true|false`` or the
body's ``"background"`` forces one or the other.

The scheduled job ``accounting_sync`` (every 5 minutes in the worker, and in
``crm jobs run-due``) runs each enabled connection whose ``schedule_minutes`` have
passed since its last scheduled run.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import Conflict, ValidationError
from crm.models.base import utcnow
from crm_accounting_sync.connections import connector_class, get_connection
from crm_accounting_sync.engine import execute_run, pending_estimate, start_run
from crm_accounting_sync.models import Connection, Run

DEFAULT_THRESHOLD = 200


def create_run(session: Session, name: str, entities=None, *, trigger="manual", background=None,
               user_id=None) -> Run:
    connection = get_connection(session, name)
    if not connection.enabled:
        raise Conflict(f"connection {name!r} is disabled", code="connection_disabled")
    cls = connector_class(connection.connector)
    if entities:
        unknown = [e for e in entities if e not in cls.entities]
        if unknown:
            raise ValidationError.for_field("entities", f"{cls.name} does not sync {unknown[0]}; it syncs: "
                                                        f"{', '.join(cls.entities)}")
    busy = session.scalar(select(Run.id).where(Run.connection == name, Run.status.in_(("queued", "running")),
                                               Run.created_at > utcnow() - dt.timedelta(hours=6)))
    if busy is not None:
        raise Conflict(f"run {busy} of {name!r} has not finished yet", code="run_in_progress")
    if background is None:
        threshold = (connection.settings or {}).get("background_threshold", DEFAULT_THRESHOLD)
        background = pending_estimate(session, connection) > threshold
    return start_run(session, connection, entities, trigger=trigger, mode="background" if background else "inline",
                     user_id=user_id)


def run_now(app, session: Session, run_id: int) -> Run:
    """Execute a queued run on ``session`` (inline requests, jobs)."""
    return execute_run(app, session, run_id)


def enqueue_run(app, run_id: int) -> None:
    from crm.worker import enqueue
    enqueue(app, "crm_accounting_sync.runner:worker_run", run_id=run_id)


def worker_run(app, run_id: int):
    """The worker's task: runs on a session of its own."""
    from crm.db import db
    session = db.new_session(app)
    try:
        run = execute_run(app, session, run_id)
        return {"run": run.id, "status": run.status}
    finally:
        session.close()


def run_due(session: Session, today) -> str:
    """The scheduled job: every connection whose schedule is due runs once (inline, on this
    job's session; the engine commits as it goes)."""
    from flask import current_app
    app = current_app._get_current_object()
    now = utcnow()
    done = []
    for connection in list(session.scalars(select(Connection).where(Connection.enabled.is_(True))
                                           .order_by(Connection.name))):
        minutes = int((connection.settings or {}).get("schedule_minutes") or 0)
        if minutes <= 0:
            continue
        last = (connection.state or {}).get("last_scheduled")
        if last and dt.datetime.fromisoformat(last) + dt.timedelta(minutes=minutes) > now:
            continue
        try:
            run = create_run(session, connection.name, trigger="schedule", background=False)
        except Conflict:
            continue
        state = dict(connection.state or {})
        state["last_scheduled"] = now.isoformat()
        connection.state = state
        session.commit()
        run = execute_run(app, session, run.id)
        done.append(f"{connection.name}: run {run.id} {run.status}")
    return "; ".join(done) or "no sync due"
