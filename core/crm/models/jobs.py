"""What the scheduled jobs did last (``crm jobs list``, the admin's Jobs page), and the queued
tasks the workers run (:mod:`crm.worker`)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model


class JobRun(Model):
    """One row per scheduled job (by name), rewritten by each run: when the last run started
    and ended, how (``running``, ``ok``, ``failed``) and its summary; and the last error, kept
    with its moment after later runs succeed.

    The row is also the job's lock across workers: a run takes it (``locked_by``, until
    ``locked_until``, renewed while it runs) and records the schedule's ``period`` it runs for,
    so that one run at a time happens, and one per period whatever the number of workers."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="running")
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    summary: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    period: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    locked_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Task(Model):
    """A queued task (:func:`crm.worker.enqueue`): ``target(app, **kwargs)``. The queue carries
    only its id; the row says whether it is ``queued``, ``running`` (by ``worker``, whose lease
    runs until ``lease_until`` and is renewed while the task runs), ``done`` or ``failed``. A
    running task whose lease lapsed (its worker died) is queued again for another worker."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_lease_until", "status", "lease_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(200))
    kwargs: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str] = mapped_column(String(100), default="")
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str] = mapped_column(Text, default="")
