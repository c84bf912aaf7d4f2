"""A plugin for the scale-out test (tests/test_scaleout.py), loaded by ``crm serve`` and
``crm worker`` processes through an entry point the test writes: a scheduled job that runs every
minute and takes a few seconds, and tasks. Each writes what it does, with the process id, into
files of the folder ``CRM_SCALEOUT_PROBE`` names (one line per ``write``, appended at once)."""
from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from crm import hookimpl

#: seconds the probe job takes
JOB_SECONDS = 4


def _folder() -> Path:
    return Path(os.environ["CRM_SCALEOUT_PROBE"])


def _append(name: str, line: str) -> None:
    descriptor = os.open(_folder() / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(descriptor, (line + "\n").encode())
    finally:
        os.close(descriptor)


def probe_job(session, today):
    """The scheduled job: ``start`` and ``end`` lines with the process and the moments."""
    started = time.time()
    _append("job.log", f"start {os.getpid()} {started:.3f}")
    time.sleep(JOB_SECONDS)
    _append("job.log", f"end {os.getpid()} {started:.3f} {time.time():.3f}")
    return "probed"


@hookimpl
def crm_scheduled_jobs():
    from crm.jobs import ScheduledJob
    return [ScheduledJob("scaleout_probe", probe_job, every_minutes=1)]


def note(app, key: str) -> str:
    """A task: one line per run."""
    _append("tasks.log", f"{key} {os.getpid()}")
    return key


def slow(app, key: str) -> str:
    """A task that, the first time it runs, says so and then waits to be killed; when run again
    (by another worker), it finishes."""
    marker = _folder() / f"{key}.first"
    try:
        descriptor = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _append("tasks.log", f"{key} {os.getpid()}")
        return key
    os.write(descriptor, str(os.getpid()).encode())
    os.close(descriptor)
    deadline = dt.datetime.now() + dt.timedelta(minutes=5)
    while dt.datetime.now() < deadline:  # the test kills this worker meanwhile
        time.sleep(0.2)
    raise RuntimeError("the test should have killed this worker")
