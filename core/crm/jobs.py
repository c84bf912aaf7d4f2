"""Scheduled jobs: the core's and the plugins' (hook ``crm_scheduled_jobs``).

``crm jobs run-due`` runs every job once for a given day; the worker calls the
same function on a timer. A job must be idempotent for a day: running it twice
creates nothing new.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from crm.db import db
from crm.plugins import get_registry


@dataclass(frozen=True)
class ScheduledJob:
    """``run(session, today)`` does the due work and returns a short summary."""

    name: str
    run: Callable
    every_minutes: int = 60  # how often the worker runs it


def core_jobs() -> list[ScheduledJob]:
    from crm.services import recurring
    return [ScheduledJob("recurring_invoices", recurring.run_due, every_minutes=60)]


def all_jobs(app: Flask) -> list[ScheduledJob]:
    jobs = list(core_jobs())
    for batch in get_registry(app).hook.crm_scheduled_jobs():
        jobs.extend(batch or [])
    return jobs


def run_due(app: Flask, today: dt.date | None = None, only: str | None = None) -> dict[str, object]:
    """Run every job (or ``only`` one) for ``today``, each in its own transaction."""
    today = today or dt.date.today()
    results, failures = {}, []
    with app.app_context():
        get_registry(app).refresh(db.session)
        for job in all_jobs(app):
            if only and job.name != only:
                continue
            try:
                with db.transaction() as session:
                    results[job.name] = job.run(session, today)
            except Exception as exc:  # one failing job must not stop the others
                failures.append((job.name, exc))
    if failures:
        raise JobsFailed(results, failures)
    return results


class JobsFailed(Exception):
    """Some jobs failed (each rolled back); the others ran and committed."""

    def __init__(self, results: dict, failures: list):
        self.results, self.failures = results, failures
        super().__init__("; ".join(f"{name}: {exc}" for name, exc in failures))
