"""Background work through a real job queue (huey).

The embedded default keeps the queue in an SQLite file in the instance folder;
with ``CRM_REDIS_URL`` it lives in Redis. ``crm worker`` runs a consumer that
executes queued tasks and runs every scheduled job (the core's and the
plugins', hook ``crm_scheduled_jobs``) on its interval.

Plugins queue long work (a big sync) with :func:`enqueue`, naming a function
``"package.module:function"`` that receives the app and keyword arguments.

Several workers may consume one queue (Redis), on one machine or several:

- every worker queues the scheduled jobs on their schedule, and each job runs once per period
  and one run at a time all the same (the job's row in ``job_runs`` is its lock: :mod:`crm.jobs`);
- a queued task is a row of ``tasks`` (:class:`crm.models.jobs.Task`) and the queue carries its
  id: a worker takes the task (``queued`` -> ``running``, in one conditional ``UPDATE``) with a
  lease of ``CRM_WORKER_LEASE_SECONDS`` that it renews while the task runs, and marks it done or
  failed. Every worker looks for tasks whose lease lapsed (their worker was killed, the machine
  went down) and queues them again, so that another worker runs them. A task may therefore run
  again after a partial run: a task must be idempotent (a sync run, for instance, carries on from
  what it recorded). A failing task is not retried: it is marked ``failed`` with its error.

A running worker writes a heartbeat into the queue every :data:`HEARTBEAT_SECONDS`;
:func:`worker_status` tells whether one was heard from lately, so that a page showing queued
work can say when nothing will run it.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

from flask import Flask
from huey import RedisHuey, SqliteHuey
from sqlalchemy import or_, select, update

from crm.db import db
from crm.jobs import JobsFailed, all_jobs, holder_name, lease_seconds, period_of, renewing, run_due
from crm.models.base import utcnow
from crm.models.jobs import JobRun, Task

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "crm.worker.heartbeat"
HEARTBEAT_SECONDS = 10
#: a worker not heard from for this long is taken for stopped
SILENT_AFTER_SECONDS = 60


def queue(app: Flask):
    """The app's huey instance (created once per app)."""
    huey = app.extensions.get("crm.huey")
    if huey is None:
        huey = _make_huey(app)
        app.extensions["crm.huey"] = huey
    return huey


def _make_huey(app: Flask):
    url = app.config.get("REDIS_URL")
    name = app.config.get("QUEUE_NAME", "crm")
    immediate = bool(app.config.get("QUEUE_IMMEDIATE", False))
    if url:
        from redis import ConnectionPool
        pool = ConnectionPool.from_url(url, socket_connect_timeout=5)  # a Redis that is gone: an error, not a hang
        huey = RedisHuey(name, connection_pool=pool, immediate=immediate)
    else:
        huey = SqliteHuey(name, filename=os.path.join(app.instance_path, "jobs.db"), immediate=immediate)

    @huey.task(name="crm.call")
    def call(target: str, kwargs: dict):  # tasks queued before tasks had rows (a restored backup)
        with app.app_context():
            return _function(target)(app, **kwargs)

    @huey.task(name="crm.task")
    def task(task_id: int):
        return run_task(app, task_id)

    huey.crm_task = task
    huey.crm_jobs = {job.name: _schedule(huey, app, job) for job in all_jobs(app)}
    return huey


def _function(target: str):
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def _schedule(huey, app: Flask, job) -> None:
    def run():
        try:
            return run_due(app, dt.date.today(), only=job.name, period=period_of(job))
        except JobsFailed as failed:  # logged and recorded by run_due
            return str(failed)
    run.__name__ = f"job_{job.name}"
    return huey.periodic_task(job.schedule(), name=f"crm.job.{job.name}")(run)


def enqueue(app: Flask, target: str, **kwargs):
    """Queue ``target(app, **kwargs)`` for a worker (``kwargs`` as JSON); returns huey's result
    handle. Call it after committing what the task reads: the task runs in another process."""
    _function(target)  # a target that does not exist fails here, not in the worker
    session = db.new_session(app)
    try:
        row = Task(target=target, kwargs=kwargs, status="queued", attempts=0, queued_at=utcnow(), worker="", error="")
        session.add(row)
        session.commit()
        task_id = row.id
    finally:
        session.close()
    return queue(app).crm_task(task_id)


def run_task(app: Flask, task_id: int):
    """Take the task (unless another worker holds it or it is over), run it while renewing its
    lease, and record how it ended."""
    holder, lease = holder_name(), lease_seconds(app)
    with app.app_context():
        with db.transaction() as session:
            now = utcnow()
            taken = session.execute(
                update(Task).where(Task.id == task_id, or_(Task.status == "queued",
                                                           (Task.status == "running") & (Task.lease_until < now)))
                .values(status="running", worker=holder, lease_until=now + dt.timedelta(seconds=lease),
                        started_at=now, attempts=Task.attempts + 1)
                .execution_options(synchronize_session=False)).rowcount
            row = session.get(Task, task_id) if taken else None
        if row is None:
            log.info("task %s: taken by another worker or over; skipped", task_id)
            return None
        log.info("task %s (%s) started, attempt %s", task_id, row.target, row.attempts)
        with renewing(app, _renew_task(task_id, holder)):
            try:
                result = _function(row.target)(app, **(row.kwargs or {}))
            except Exception as exc:
                log.error("task %s (%s) failed: %s", task_id, row.target, exc, exc_info=exc)
                _finish(task_id, holder, "failed", f"{type(exc).__name__}: {exc}")
                raise
        _finish(task_id, holder, "done", "")
        log.info("task %s (%s) done", task_id, row.target)
        return result


def _renew_task(task_id: int, holder: str):
    def renew(session, until: dt.datetime) -> None:
        session.execute(update(Task).where(Task.id == task_id, Task.worker == holder, Task.status == "running")
                        .values(lease_until=until))
    return renew


def _finish(task_id: int, holder: str, status: str, error: str) -> None:
    db.session.rollback()  # what the task left open on the context's session
    with db.transaction() as session:
        session.execute(update(Task).where(Task.id == task_id, Task.worker == holder)
                        .values(status=status, error=error, finished_at=utcnow(), lease_until=None))


#: queued tasks not taken for this many leases are queued again (their message was lost)
STALE_QUEUED_LEASES = 5
#: finished tasks are kept this long (for the record), then deleted
KEEP_FINISHED = dt.timedelta(days=7)


def requeue_lapsed(app: Flask) -> list[int]:
    """Queue again the tasks whose worker's lease lapsed (and queued ones left untaken for
    :data:`STALE_QUEUED_LEASES` leases), and run again the jobs whose run's lease lapsed;
    delete finished tasks older than :data:`KEEP_FINISHED`. Returns the tasks' ids."""
    huey, lease = queue(app), lease_seconds(app)
    session = db.new_session(app)
    try:
        now = utcnow()
        lapsed = (Task.status == "running") & (Task.lease_until < now)
        stale = (Task.status == "queued") & (Task.queued_at < now - dt.timedelta(seconds=lease * STALE_QUEUED_LEASES))
        ids = list(session.scalars(update(Task).where(or_(lapsed, stale))
                                   .values(status="queued", queued_at=now, lease_until=None)
                                   .returning(Task.id).execution_options(synchronize_session=False)))
        jobs = list(session.scalars(select(JobRun.name).where(JobRun.status == "running",
                                                              JobRun.locked_until < now)))
        session.execute(Task.__table__.delete().where(Task.status.in_(("done", "failed")),
                                                      Task.finished_at < now - KEEP_FINISHED))
        session.commit()
    finally:
        session.close()
    for task_id in ids:
        log.warning("task %s: its worker's lease lapsed (the worker stopped): queued again", task_id)
        huey.crm_task(task_id)
    for name in jobs:
        if name in huey.crm_jobs:
            log.warning("job %s: its worker's lease lapsed (the worker stopped): queued again", name)
            huey.crm_jobs[name]()
    return ids


def run_worker(app: Flask, workers: int = 2) -> None:
    """Consume the queue until interrupted (``crm worker``). Every scheduled job is also queued
    at start-up (it runs unless it ran for the current period already), so work missed while no
    worker ran is caught up."""
    huey = queue(app)
    for task in huey.crm_jobs.values():
        task()  # queue one run now
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True,
                                    check_worker_health=True)
    threading.Thread(target=_keep_beating, args=(app,), name="crm-heartbeat", daemon=True).start()
    threading.Thread(target=_keep_requeuing, args=(app,), name="crm-requeue", daemon=True).start()
    consumer.run()


def _keep_requeuing(app: Flask) -> None:
    """Every half lease (at most every :data:`HEARTBEAT_SECONDS`): :func:`requeue_lapsed`."""
    every = min(HEARTBEAT_SECONDS, lease_seconds(app) / 2)
    while True:
        time.sleep(every)
        try:
            requeue_lapsed(app)
        except Exception as exc:  # noqa: BLE001  the database or the queue is down: try again
            log.warning("could not look for lapsed tasks: %s", exc)


def beat(app: Flask) -> None:
    """Tell the queue a worker is consuming it (now)."""
    queue(app).put(HEARTBEAT_KEY, {"at": time.time(), "worker": f"{socket.gethostname()}:{os.getpid()}"})


def _keep_beating(app: Flask) -> None:
    while True:
        try:
            beat(app)
        except Exception as exc:  # noqa: BLE001  the queue is down: say so, try again
            log.warning("worker heartbeat: the queue cannot be reached: %s", exc)
        time.sleep(HEARTBEAT_SECONDS)


@dataclass(frozen=True)
class WorkerStatus:
    """Whether queued work will run: ``running`` (a worker was heard from within
    :data:`SILENT_AFTER_SECONDS`, or the queue runs tasks at once), when the last heartbeat
    came (``seen_at``, UTC) and, when the queue cannot be read, why (``problem``)."""

    running: bool
    seen_at: dt.datetime | None = None
    immediate: bool = False
    problem: str = ""


def worker_status(app: Flask, now: float | None = None) -> WorkerStatus:
    huey = queue(app)
    if huey.immediate:
        return WorkerStatus(running=True, immediate=True)
    try:
        heartbeat = huey.get(HEARTBEAT_KEY, peek=True)
    except Exception as exc:  # noqa: BLE001  Redis down, the queue file unreadable
        return WorkerStatus(running=False, problem=f"{type(exc).__name__}: {exc}")
    if not heartbeat:
        return WorkerStatus(running=False)
    at = float(heartbeat["at"])
    fresh = (now or time.time()) - at < SILENT_AFTER_SECONDS
    return WorkerStatus(running=fresh, seen_at=dt.datetime.fromtimestamp(at, dt.timezone.utc))


def queue_problem(app: Flask) -> str:
    """Why the queue cannot be used, or ``""`` when it answers (``/readyz``)."""
    huey = queue(app)
    if huey.immediate:
        return ""
    try:
        huey.storage.queue_size()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return ""
