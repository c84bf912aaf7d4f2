"""The background worker: ``crm worker`` consuming a real huey queue (an SQLite
file by default, Redis with ``CRM_REDIS_URL``), in its own process."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crm import hookimpl
from crm.jobs import ScheduledJob
from crm.testing import registered_plugin

ROOT = Path(__file__).resolve().parent.parent


def touch(app, path):
    """A background task for the test: writes the app's name into ``path``."""
    Path(path).write_text(app.name)


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_worker_process_runs_due_jobs_and_queued_tasks(api, catalog, app, crm_database_url, tmp_path, backend):
    start = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    order = api.post("/sales-orders", json={
        "account_id": catalog.account, "lines": [{"item_id": catalog.consulting}],
        "recurring": {"frequency": "daily", "start_date": start}}).json()
    api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
    env = {**os.environ, "CRM_DATABASE_URL": crm_database_url, "CRM_INSTANCE_PATH": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "docs" / "example-plugin")])}
    if backend == "redis":
        env["CRM_REDIS_URL"] = "redis://127.0.0.1:6379/15"
        app.config["REDIS_URL"] = env["CRM_REDIS_URL"]
    app.instance_path = str(tmp_path)
    worker = subprocess.Popen([sys.executable, "-m", "crm.cli", "worker", "--workers", "1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def invoices():
            related = api.get(f"/sales-orders/{order['id']}/related").json()["items"]
            return [d for d in related if d["type"] == "invoice"]
        assert wait_for(lambda: len(invoices()) == 3), "the worker did not run the recurring invoices job"
        from crm.worker import enqueue
        marker = tmp_path / "done.txt"
        enqueue(app, "tests.test_worker:touch", path=str(marker))
        assert wait_for(marker.exists), "the worker did not run the queued task"
        assert marker.read_text() == "crm"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=20)[0]
    assert "worker: queue" in output


def test_scheduled_jobs_become_periodic_tasks(app_factory):
    calls = []

    class Plugin:
        @hookimpl
        def crm_scheduled_jobs(self):
            return [ScheduledJob("ping", lambda session, today: calls.append(today) or "pong", every_minutes=5)]

    app = app_factory(QUEUE_IMMEDIATE=True)
    with registered_plugin(app, Plugin(), "pinger"):
        from crm.worker import _make_huey
        huey = _make_huey(app)
        assert {"recurring_invoices", "ping"} <= set(huey.crm_jobs)
        ping = huey.crm_jobs["ping"]
        assert ping.task_class().validate_datetime(dt.datetime(2027, 1, 1, 10, 5))
        assert not ping.task_class().validate_datetime(dt.datetime(2027, 1, 1, 10, 7))
        ping()  # immediate mode runs it at once
    assert calls == [dt.date.today()]
