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
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm.errors import Conflict, ValidationError
from crm.models.base import utcnow
from crm_accounting_sync.connections import connector_class, get_connection
from crm_accounting_sync.engine import execute_run, pending_estimate, start_run
from crm_accounting_sync.models import Connection, Run

log = logging.getLogger(__name__)
DEFAULT_THRESHOLD = 200
#: a running run whose engine has not written its progress for this long stopped (its process ended)
STALE_MINUTES = 20


def create_run(session: Session, name: str, entities=None, *, trigger="manual", background=None,
               user_id=None) -> Run:
    """A new run of connection ``name``, unless one of it is under way (409 ``run_in_progress``).
    The connection's row is locked first (PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite's
    transactions are one at a time), so two "Sync now" at the same moment start one run: the
    second waits for the first's commit, then sees its run."""
    connection = get_connection(session, name, for_update=True)
    if not connection.enabled:
        raise Conflict(f"connection {name!r} is disabled", code="connection_disabled")
    cls = connector_class(connection.connector)
    if entities:
        unknown = [e for e in entities if e not in cls.entities]
        if unknown:
            raise ValidationError.for_field("entities", f"{cls.name} does not sync {unknown[0]}; it syncs: "
                                                        f"{', '.join(cls.entities)}")
    busy = None
    for run in session.scalars(select(Run).where(Run.connection == name, Run.status.in_(("queued", "running")),
                                                 Run.created_at > utcnow() - dt.timedelta(hours=6))):
        if not stopped(session, run):
            busy = run.id
    if busy is not None:
        raise Conflict(f"run {busy} of {name!r} has not finished yet", code="run_in_progress")
    if background is None:
        threshold = (connection.settings or {}).get("background_threshold", DEFAULT_THRESHOLD)
        background = pending_estimate(session, connection) > threshold
    return start_run(session, connection, entities, trigger=trigger, mode="background" if background else "inline",
                     user_id=user_id)


def stopped(session: Session, run: Run) -> bool:
    """Whether ``run``, said running, stopped without finishing: its engine writes a heartbeat with
    its progress at every step (``progress.heartbeat``); none for :data:`STALE_MINUTES` means the
    process running it ended (a crash, a restart). It is then marked failed, saying so, and no
    longer holds its connection."""
    if run.status != "running":
        return False
    beat = (run.progress or {}).get("heartbeat")
    last = dt.datetime.fromisoformat(beat) if beat else run.started_at or run.created_at
    if last.tzinfo is None:
        last = last.replace(tzinfo=dt.timezone.utc)
    if last > utcnow() - dt.timedelta(minutes=STALE_MINUTES):
        return False
    run.status, run.finished_at = "failed", utcnow()
    run.error = (f"stopped without finishing: no progress since {last.isoformat(timespec='seconds')} (over "
                 f"{STALE_MINUTES} minutes; the process running it ended). What it did is kept; the next run "
                 f"completes it.")
    run.progress = {**(run.progress or {}), "phase": "stopped"}
    log.warning("accounting sync run %s of %s: %s", run.id, run.connection, run.error)
    session.flush()
    return True


def run_now(app, session: Session, run_id: int) -> Run:
    """Execute a queued run on ``session`` (inline requests, jobs)."""
    return execute_run(app, session, run_id)


def enqueue_run(app, run_id: int) -> None:
    from crm.worker import enqueue
    enqueue(app, "crm_accounting_sync.runner:worker_run", run_id=run_id)


def worker_run(app, run_id: int):
    """The worker's task: runs on a session of its own. A run found ``running`` is one whose
    worker stopped in the middle (killed, the machine went down): the core queues a task again
    only once its worker's lease lapsed (:func:`crm.worker.requeue_lapsed`), and one worker
    takes it. The run is marked interrupted (``progress.interrupted``, logged) and queued again,
    then run to its end here; it carries on from what it recorded (links, cursors, outbox)."""
    from crm.db import db
    session = db.new_session(app)
    try:
        interrupted(session, run_id)
        run = execute_run(app, session, run_id)
        return {"run": run.id, "status": run.status}
    finally:
        session.close()


def interrupted(session: Session, run_id: int) -> bool:
    """Queue again a background run left ``running`` by a worker that stopped; whether it was."""
    run = session.get(Run, run_id)
    if run is None or run.status != "running" or run.mode != "background":
        return False
    now = utcnow()
    note = {"at": now.isoformat(timespec="seconds"), "phase": (run.progress or {}).get("phase"),
            "entity": (run.progress or {}).get("entity")}
    progress = {**(run.progress or {}), "phase": "interrupted",
                "interrupted": [*(run.progress or {}).get("interrupted", []), note]}
    # conditional: of two takers of the same run (there should be one), one queues it again
    taken = session.execute(update(Run).where(Run.id == run_id, Run.status == "running",
                                              Run.started_at == run.started_at)
                            .values(status="queued", progress=progress)
                            .execution_options(synchronize_session=False)).rowcount
    session.commit()
    session.expire(run)
    if taken:
        log.warning("accounting sync run %s of %s: interrupted (its worker stopped during %s); run again",
                    run_id, run.connection, note["phase"] or "the run")
    return bool(taken)


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
        note_scheduled(session, connection, run)
        done.append(f"{connection.name}: run {run.id} {run.status}")
    return "; ".join(done) or "no sync due"


def note_scheduled(session: Session, connection: Connection, run: Run) -> None:
    """A scheduled run that failed is told to the administrators: an in-app notification to each
    active administrator (the bell), an error line in the log and the connection's ``state.alert``
    (shown on the accounting sync's pages until a run of the connection ends done)."""
    from crm.models import Notification, User
    state = dict(connection.state or {})
    if run.status == "failed":
        log.error("scheduled accounting sync run %s of %s failed: %s", run.id, connection.name, run.error)
        state["alert"] = {"run": run.id, "at": utcnow().isoformat(timespec="seconds"), "error": run.error[:500]}
        for user in session.scalars(select(User).where(User.role == "admin", User.active.is_(True))):
            session.add(Notification(user_id=user.id, title=f"The scheduled accounting sync of {connection.name} "
                                                            f"failed"[:250],
                                     body=run.error, link=f"/accounting-sync/runs/{run.id}",
                                     source=f"accounting_sync:{connection.name}"[:60]))
    elif run.status == "done":
        state.pop("alert", None)
    connection.state = state
    session.commit()
