"""Scheduled jobs: the core's and the plugins' (hook ``crm_scheduled_jobs``).

``crm jobs run-due`` runs every job once for a given day; the worker calls the
same function on each job's schedule (:meth:`ScheduledJob.schedule`). A job must be
idempotent for a day: running it twice creates nothing new.

Every run is recorded in ``job_runs`` (:class:`crm.models.JobRun`): when it started and
ended, its summary or error, and the last error with its moment. ``crm jobs list`` and the
admin's Jobs page show them with each job's next run (:func:`next_run`).

The row is also the job's lock across processes: a run takes it first (:func:`run_due`, in a
short transaction holding the row with ``SELECT ... FOR UPDATE``), and a job already running in
another worker (or in ``crm jobs run-due``) is skipped, so one run of a job happens at a time. A
worker's run also names the schedule's period it runs for (:func:`period_of`: the last moment
the schedule matched); a second run for the same period is skipped, so every worker may queue
the job on its schedule and it runs once per period. The lock is a lease: the run renews it
while it runs (every third of ``CRM_WORKER_LEASE_SECONDS``); when its worker dies, the lease
lapses and the job may run again, also for the same period.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from huey import crontab
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from crm.db import db
from crm.models.base import utcnow
from crm.models.jobs import JobRun
from crm.plugins import get_registry

log = logging.getLogger(__name__)

#: seconds a worker's hold on a running job or task lasts unless renewed (``CRM_WORKER_LEASE_SECONDS``)
DEFAULT_LEASE_SECONDS = 60


@dataclass(frozen=True)
class ScheduledJob:
    """``run(session, today)`` does the due work and returns a short summary."""

    name: str
    run: Callable
    every_minutes: int = 60  # how often the worker runs it

    def schedule(self):
        """When the worker runs it, as huey's ``crontab`` (minutes of UTC time): every
        ``every_minutes`` minutes below an hour (at the minutes divisible by it), else every
        ``every_minutes // 60`` hours, on the hour."""
        minutes = max(1, self.every_minutes)
        if minutes < 60:
            return crontab(minute=f"*/{minutes}")
        return crontab(minute="0", hour=f"*/{max(1, minutes // 60)}")


def core_jobs() -> list[ScheduledJob]:
    from crm import mailer
    from crm.services import recurring, workflows
    return [ScheduledJob("recurring_invoices", recurring.run_due, every_minutes=60),
            ScheduledJob("email_outbox", mailer.run_outbox_job, every_minutes=1),
            ScheduledJob("workflow_dates", workflows.run_dates_job, every_minutes=60),
            ScheduledJob("workflow_runs", workflows.run_runs_job, every_minutes=1)]


def all_jobs(app: Flask) -> list[ScheduledJob]:
    jobs = list(core_jobs())
    for batch in get_registry(app).hook.crm_scheduled_jobs():
        jobs.extend(batch or [])
    return jobs


def next_run(job: ScheduledJob, now: dt.datetime | None = None) -> dt.datetime:
    """The next moment (UTC, after ``now``) the worker's schedule runs ``job``."""
    now = (now or utcnow()).astimezone(dt.timezone.utc).replace(second=0, microsecond=0, tzinfo=None)
    matches = job.schedule()
    moment = now + dt.timedelta(minutes=1)
    for _minute in range(60 * 24 * 32):
        if matches(moment):
            return moment.replace(tzinfo=dt.timezone.utc)
        moment += dt.timedelta(minutes=1)
    raise ValueError(f"job {job.name} never runs")


def period_of(job: ScheduledJob, now: dt.datetime | None = None) -> dt.datetime:
    """The period of ``job``'s schedule that ``now`` falls in: the last moment (UTC, to the
    minute, at or before ``now``) the schedule matched."""
    moment = (now or utcnow()).astimezone(dt.timezone.utc).replace(second=0, microsecond=0, tzinfo=None)
    matches = job.schedule()
    for _minute in range(60 * 24 * 32):
        if matches(moment):
            return moment.replace(tzinfo=dt.timezone.utc)
        moment -= dt.timedelta(minutes=1)
    raise ValueError(f"job {job.name} never runs")


def lease_seconds(app: Flask) -> int:
    return max(1, int(app.config.get("WORKER_LEASE_SECONDS") or DEFAULT_LEASE_SECONDS))


def holder_name() -> str:
    """Who holds a lock: this host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def run_due(app: Flask, today: dt.date | None = None, only: str | None = None,
            period: dt.datetime | None = None) -> dict[str, object]:
    """Run every job (or ``only`` one) for ``today``, each in its own transaction, recording
    each run in ``job_runs`` (in transactions of their own: a job's rollback keeps its record).

    A job running elsewhere is skipped (its summary says so), and with ``period`` (the worker's
    runs) so is a job that already ran for that period."""
    today = today or dt.date.today()
    results, failures = {}, []
    with app.app_context():
        get_registry(app).refresh(db.session)
        for job in all_jobs(app):
            if only and job.name != only:
                continue
            holder = holder_name()
            refused = _claim(job.name, holder, lease_seconds(app), period)
            if refused:
                log.info("job %s skipped: %s", job.name, refused, extra={"job": job.name})
                results[job.name] = f"skipped: {refused}"
                continue
            log.info("job %s started%s", job.name, f" for {period.isoformat()}" if period else "",
                     extra={"job": job.name})
            with renewing(app, _renew_job(job.name, holder)):
                try:
                    with db.transaction() as session:
                        results[job.name] = job.run(session, today)
                except Exception as exc:  # one failing job must not stop the others
                    failures.append((job.name, exc))
                    app.logger.error("job %s failed: %s", job.name, exc, exc_info=exc, extra={"job": job.name})
                    now = utcnow()
                    _record(job.name, holder, status="failed", finished_at=now, summary="", failed_at=now,
                            error=f"{type(exc).__name__}: {exc}\n\n" + "".join(traceback.format_exception(exc))[-4000:])
                else:
                    _record(job.name, holder, status="ok", finished_at=utcnow(), summary=summary_text(results[job.name]))
    if failures:
        raise JobsFailed(results, failures)
    return results


def _claim(name: str, holder: str, lease: int, period: dt.datetime | None) -> str:
    """Take the job's lock for ``holder`` (and its ``period``): ``""``, or why not."""
    for attempt in (1, 2):
        try:
            with db.transaction() as session:
                row = session.get(JobRun, name, with_for_update=True, populate_existing=True)
                if row is None:
                    row = JobRun(name=name, summary="", error="", locked_by="")
                    session.add(row)
                now = utcnow()
                if row.locked_until is not None and row.locked_until > now:
                    return f"running in {row.locked_by} (since {row.started_at:%H:%M:%S} UTC)"
                if period is not None and row.period is not None and row.period >= period \
                        and row.status != "running":
                    return f"already ran for {period:%Y-%m-%d %H:%M} UTC"
                row.status, row.started_at, row.finished_at = "running", now, None
                row.locked_by, row.locked_until = holder, now + dt.timedelta(seconds=lease)
                if period is not None:
                    row.period = period
            return ""
        except IntegrityError:  # two first runs made the row at once: the other's is there now
            if attempt == 2:
                raise
    return ""


def _renew_job(name: str, holder: str):
    def renew(session, until: dt.datetime) -> None:
        session.execute(update(JobRun).where(JobRun.name == name, JobRun.locked_by == holder)
                        .values(locked_until=until))
    return renew


class renewing:
    """While the block runs, a thread renews a lease every third of ``CRM_WORKER_LEASE_SECONDS``:
    ``renew(session, until)`` on a session of its own, committed."""

    def __init__(self, app: Flask, renew: Callable):
        self.app, self.renew, self.lease = app, renew, lease_seconds(app)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="crm-lease", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._done.wait(self.lease / 3):
            session = db.new_session(self.app)
            try:
                self.renew(session, utcnow() + dt.timedelta(seconds=self.lease))
                session.commit()
            except Exception as exc:  # noqa: BLE001  the database is busy or gone: try again
                session.rollback()
                log.warning("could not renew a lease: %s", exc)
            finally:
                session.close()


def summary_text(summary) -> str:
    """A job's summary as a line: ``{"created": 2}`` -> ``"created: 2"``."""
    if isinstance(summary, dict):
        return ", ".join(f"{key}: {value}" for key, value in summary.items())
    return "" if summary is None else str(summary)


def _record(name: str, holder: str, **values) -> None:
    """Write how the run ended into the job's row and release its lock, if ``holder`` holds it
    still (else another run took the job over after this one's lease lapsed: that one records)."""
    with db.transaction() as session:
        row = session.get(JobRun, name, with_for_update=True, populate_existing=True)
        if row is None or row.locked_by != holder:
            log.warning("job %s: its lease lapsed while it ran; another run took it over", name)
            return
        for key, value in values.items():
            setattr(row, key, value)
        row.locked_by, row.locked_until = "", None


@dataclass(frozen=True)
class JobOverview:
    """A job with its last recorded run (None before its first) and its next run (None when
    no worker runs the schedule)."""

    job: ScheduledJob
    last: JobRun | None
    next_run: dt.datetime | None


def overview(app: Flask, session, worker_running: bool) -> list[JobOverview]:
    """Every job of the core and the enabled plugins, in order (``crm jobs list``, /admin/jobs)."""
    runs = {row.name: row for row in session.scalars(select(JobRun))}
    return [JobOverview(job, runs.get(job.name), next_run(job) if worker_running else None)
            for job in all_jobs(app)]


class JobsFailed(Exception):
    """Some jobs failed (each rolled back); the others ran and committed."""

    def __init__(self, results: dict, failures: list):
        self.results, self.failures = results, failures
        super().__init__("; ".join(f"{name}: {exc}" for name, exc in failures))
