"""A background sync whose worker is killed (SIGKILL) in the middle is marked interrupted and run
again, once, by another worker, to its end, without sending a record twice; and two "Sync now"
at the same moment start one run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from accsync_helpers import configure, in_app
from crm.db import db
from crm.models.jobs import Task
from crm.services import accounts

ROOT = Path(__file__).resolve().parents[3]
HERE = 90          # accounts made here: three batches of 30 customers


def _worker(env, tmp_path):
    return subprocess.Popen([sys.executable, "-m", "crm.cli", "worker", "--workers", "1"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(worker) -> str:
    if worker.poll() is None:
        worker.terminate()
    return worker.communicate(timeout=30)[0]


@pytest.mark.slow
def test_a_run_whose_worker_is_killed_is_run_again_once_by_another_worker(app, api, qbo, crm_database_url,
                                                                           tmp_path):
    app.config["QUEUE_IMMEDIATE"] = False            # real workers, in processes of their own
    qbo.real_clock()
    app.extensions.pop("crm.huey", None)
    app.instance_path = str(tmp_path)                # the queue file the workers read
    in_app(app, lambda s: [accounts.create_account(s, {"name": f"Here {n:03}"}) for n in range(HERE)])
    # the second batch of customers hangs (the connector waits up to 60 s), then its connection
    # drops with nothing applied
    configure(app, "qbo", timeout_seconds=60)
    qbo.inject(path="batch", delay=25, drop="before", skip=1)
    env = {**os.environ, "CRM_DATABASE_URL": crm_database_url, "CRM_INSTANCE_PATH": str(tmp_path),
           "CRM_SECRET_KEY": app.config["SECRET_KEY"], "CRM_WORKER_LEASE_SECONDS": "3",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "docs" / "example-plugin")])}
    env.pop("CRM_REDIS_URL", None)
    started = api.post("/accounting-sync/runs", json={"connection": "qbo", "entities": ["accounts"]})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]

    def run():
        return api.get(f"/accounting-sync/runs/{run_id}", params={"limit": 1}).json()

    def batches():
        return len([c for c in qbo.calls if "batch" in c[1]])

    first = _worker(env, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while batches() < 2 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        assert batches() >= 2, _stop(first)[-3000:]
        time.sleep(0.5)                              # (the run's transaction is open: on SQLite, reading waits)
        first.send_signal(signal.SIGKILL)            # killed waiting for the second batch's answer
        first.wait(timeout=20)
    finally:
        _stop(first)
    assert run()["status"] == "running"
    time.sleep(4)                                    # its lease lapses; nothing else runs it
    assert run()["status"] == "running"
    second = _worker(env, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while run()["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.3)
            assert second.poll() is None, "the second worker stopped"
        done = run()
        time.sleep(3)                                # a few more lease periods: nothing runs it again
    finally:
        output = _stop(second)
    assert done["status"] == "done", (done["status"], done["error"], output[-3000:])
    assert len(done["progress"]["interrupted"]) == 1, done["progress"]
    assert "interrupted" in output and "run again" in output
    assert run()["status"] == "done" and run()["progress"]["interrupted"] == done["progress"]["interrupted"]
    with app.app_context():
        session = db.new_session(app)
        tasks = list(session.scalars(select(Task).where(Task.target.like("crm_accounting_sync%"))))
        session.close()
    assert [(t.status, t.attempts) for t in tasks] == [("done", 2)]
    # every account reached QuickBooks once: the first batch was not sent again
    names = sorted(c["DisplayName"] for c in qbo.objects("Customer").values() if not c.get("ParentRef"))
    assert names == [f"Here {n:03}" for n in range(HERE)]
    assert done["counts"]["accounts"]["to_remote"]["created"] == HERE - 30


def test_two_sync_now_at_the_same_moment_start_one_run(app, api, mem, monkeypatch, tmp_path):
    """The busy check and the new run are one step: the second request waits for the first's
    commit and answers 409 run_in_progress (without the lock both passed the check)."""
    from crm_accounting_sync import runner
    slow = runner.pending_estimate

    def pending_estimate(session, connection):      # between the check and the new run
        time.sleep(0.5)
        return slow(session, connection)
    monkeypatch.setattr(runner, "pending_estimate", pending_estimate)
    barrier = threading.Barrier(4)
    answers = []

    def click():
        client = app.test_client()
        barrier.wait()
        answers.append(client.post("/api/v1/accounting-sync/runs", json={"connection": "mem", "background": True},
                                   headers={"Authorization": api.http.headers["Authorization"]}))

    app.config["QUEUE_IMMEDIATE"] = False            # queued, not run: it stays under way
    app.extensions.pop("crm.huey", None)
    app.instance_path = str(tmp_path)
    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    codes = sorted(a.status_code for a in answers)
    assert codes == [202, 409, 409, 409], [a.get_data(as_text=True) for a in answers]
    assert all("run_in_progress" in a.get_data(as_text=True) for a in answers if a.status_code == 409)
    listed = api.get("/accounting-sync/runs", params={"connection": "mem"}).json()
    assert len(listed["items"]) == 1
