"""Several workers on one queue: a scheduled job runs once per period and one run at a time
(its ``job_runs`` row is its lock), a queued task is a row with a lease that another worker takes
over when its worker dies. The first tests drive the mechanism in this process; the last one
runs it for real: several gunicorn web processes and two ``crm worker`` processes on PostgreSQL
and Redis, under load, with a worker killed mid-task."""
from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, update

from crm import hookimpl
from crm.db import db
from crm.jobs import ScheduledJob, period_of, run_due
from crm.models import Document, Item
from crm.models.base import utcnow
from crm.models.jobs import JobRun, Task
from crm.testing import TEST_PASSWORD, ApiClient, registered_plugin
from crm.worker import enqueue
from tests import scaleout_probe
from tests.test_serve import free_port, wait_for

UTC = dt.timezone.utc


def record(app, key):
    """A task for the tests: notes in the app that it ran (this module may be imported twice:
    as the test module and by the worker, as ``tests.test_scaleout``)."""
    app.extensions.setdefault("test.runs", []).append(key)
    return key


def test_a_period_is_the_last_moment_the_schedule_matched():
    at = dt.datetime(2027, 3, 4, 10, 37, 21, tzinfo=UTC)
    assert period_of(ScheduledJob("hourly", None, every_minutes=60), at) == dt.datetime(2027, 3, 4, 10, 0, tzinfo=UTC)
    assert period_of(ScheduledJob("five", None, every_minutes=5), at) == dt.datetime(2027, 3, 4, 10, 35, tzinfo=UTC)
    assert period_of(ScheduledJob("six_hours", None, every_minutes=360), at) == \
        dt.datetime(2027, 3, 4, 6, 0, tzinfo=UTC)
    assert period_of(ScheduledJob("five", None, every_minutes=5), dt.datetime(2027, 3, 4, 10, 35, tzinfo=UTC)) == \
        dt.datetime(2027, 3, 4, 10, 35, tzinfo=UTC)


class Counting:
    def __init__(self):
        self.calls = 0

    @hookimpl
    def crm_scheduled_jobs(self):
        def run(session, today):
            self.calls += 1
            return {"calls": self.calls}
        return [ScheduledJob("counted", run, every_minutes=5)]


def test_a_job_runs_once_per_period_and_not_while_it_runs_elsewhere(app):
    plugin = Counting()
    ten, five_past = (dt.datetime(2027, 1, 1, 10, m, tzinfo=UTC) for m in (0, 5))
    with registered_plugin(app, plugin, "counting"):
        assert run_due(app, only="counted", period=ten) == {"counted": {"calls": 1}}
        assert run_due(app, only="counted", period=ten) == {"counted": "skipped: already ran for 2027-01-01 10:00 UTC"}
        assert run_due(app, only="counted", period=five_past) == {"counted": {"calls": 2}}
        assert plugin.calls == 2
        with app.app_context():
            row = db.session.get(JobRun, "counted")
            assert (row.status, row.summary, row.locked_by, row.locked_until) == ("ok", "calls: 2", "", None)
            assert row.period == five_past

            # another worker holds the job (its lease runs): skipped, whatever the period
            db.session.execute(update(JobRun).where(JobRun.name == "counted").values(
                status="running", locked_by="elsewhere:1:1", locked_until=utcnow() + dt.timedelta(seconds=30)))
            db.session.commit()
        eleven = dt.datetime(2027, 1, 1, 11, 0, tzinfo=UTC)
        assert run_due(app, only="counted", period=eleven)["counted"].startswith("skipped: running in elsewhere:1:1")
        assert run_due(app, only="counted")["counted"].startswith("skipped: running in elsewhere:1:1")  # run-due too

        # its worker died: the lease lapses and the job runs again, also for the period it had taken
        with app.app_context():
            db.session.execute(update(JobRun).where(JobRun.name == "counted").values(
                period=eleven, locked_until=utcnow() - dt.timedelta(seconds=1)))
            db.session.commit()
        assert run_due(app, only="counted", period=eleven) == {"counted": {"calls": 3}}


def test_a_task_runs_once_and_a_lapsed_one_is_queued_again(app_factory, tmp_path):
    from crm.worker import enqueue, queue, requeue_lapsed, run_task
    app = app_factory(WORKER_LEASE_SECONDS=5)
    app.instance_path = str(tmp_path)
    enqueue(app, "tests.test_scaleout:record", key="a")
    huey = queue(app)
    assert huey.pending_count() == 1
    with app.app_context():
        task = db.session.scalars(select(Task)).one()
        assert (task.target, task.kwargs, task.status, task.attempts) == ("tests.test_scaleout:record", {"key": "a"},
                                                                          "queued", 0)
    assert run_task(app, task.id) == "a"
    assert run_task(app, task.id) is None  # a second message for it: nothing done twice
    assert app.extensions["test.runs"] == ["a"]
    with app.app_context():
        task = db.session.get(Task, task.id)
        assert (task.status, task.attempts, task.lease_until, task.error) == ("done", 1, None, "")

        # a worker took the task and died: its lease lapses, another worker queues it again
        db.session.execute(update(Task).where(Task.id == task.id).values(
            status="running", worker="dead:1:1", lease_until=utcnow() + dt.timedelta(seconds=5)))
        db.session.commit()
    assert requeue_lapsed(app) == [] and run_task(app, task.id) is None  # its lease runs still
    with app.app_context():
        db.session.execute(update(Task).where(Task.id == task.id).values(lease_until=utcnow() - dt.timedelta(seconds=1)))
        db.session.commit()
    assert requeue_lapsed(app) == [task.id]
    assert requeue_lapsed(app) == []  # queued once
    assert run_task(app, task.id) == "a"
    with app.app_context():
        assert db.session.get(Task, task.id).attempts == 2


def test_a_failing_task_is_recorded_and_an_unknown_target_refused(app_factory, tmp_path):
    from crm.worker import enqueue, run_task
    app = app_factory()
    app.instance_path = str(tmp_path)
    with pytest.raises(AttributeError):
        enqueue(app, "tests.test_scaleout:no_such_function")
    enqueue(app, "tests.test_scaleout:record")  # no key: a TypeError in the task
    with app.app_context():
        task = db.session.scalars(select(Task)).one()
    with pytest.raises(TypeError):
        run_task(app, task.id)
    with app.app_context():
        task = db.session.get(Task, task.id)
        assert task.status == "failed" and "TypeError" in task.error and task.finished_at is not None


# --- for real: gunicorn web processes and two workers on PostgreSQL and Redis -------------------

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
CLIENTS = 16


def redis_or_skip() -> str:
    """``REDIS_URL`` if a Redis answers there, else the test is skipped saying why."""
    import redis
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis at {REDIS_URL} (CRM_TEST_REDIS_URL): {exc}")
    return REDIS_URL


def install_probe_plugin(folder: Path) -> Path:
    """A folder to put on ``PYTHONPATH`` where the probe plugin is installed: a distribution's
    metadata with its ``crm.plugins`` entry point, as ``pip install`` writes it."""
    info = folder / "crm_scaleout_probe-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crm-scaleout-probe\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[crm.plugins]\nscaleout_probe = tests.scaleout_probe\n")
    return folder


class Processes:
    """``crm`` commands in processes of their own, each with its output in a file."""

    def __init__(self, folder: Path, env: dict):
        self.folder, self.env, self.started = folder, env, []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        with (self.folder / f"{name}.log").open("w") as output:
            process = subprocess.Popen([sys.executable, "-m", "crm.cli", *args], env=self.env, cwd=self.folder,
                                       stdout=output, stderr=subprocess.STDOUT)
        process.name = name
        self.started.append(process)
        return process

    def output(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()

    def outputs(self) -> str:
        return "\n".join(f"--- {p.name}\n{self.output(p.name)[-3000:]}" for p in self.started)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM if process.name == "web" else signal.SIGINT)
        for process in self.started:
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def probe_runs(text: str) -> tuple[list[float], list[tuple[int, float, float]]]:
    """The probe job's starts, and its finished runs (process, start, end), from its log."""
    starts, runs = [], []
    for line in text.splitlines():
        parts = line.split()
        if parts[0] == "start":
            starts.append(float(parts[2]))
        elif parts[0] == "end":
            runs.append((int(parts[1]), float(parts[2]), float(parts[3])))
    return starts, runs


@pytest.mark.slow
@pytest.mark.postgres_only
def test_web_processes_and_two_workers_on_postgresql_and_redis(app, api, catalog, make_user, crm_database_url,
                                                               tmp_path, monkeypatch):
    redis_url = redis_or_skip()
    queue_name = f"crm-test-{uuid.uuid4().hex[:10]}"  # keys of their own in the Redis database
    probe = tmp_path / "probe"
    probe.mkdir()
    site = install_probe_plugin(tmp_path / "site")
    env = {**os.environ, "CRM_DATABASE_URL": crm_database_url, "CRM_INSTANCE_PATH": str(tmp_path / "instance"),
           "CRM_REDIS_URL": redis_url, "CRM_QUEUE_NAME": queue_name, "CRM_SECRET_KEY": "scale-out",
           "CRM_WORKER_LEASE_SECONDS": "4", "CRM_SCALEOUT_PROBE": str(probe),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "docs" / "example-plugin"), str(site)])}
    for unset in ("CRM_WEB_WORKERS", "CRM_WITH_WORKER", "CRM_LOG_FORMAT"):
        env.pop(unset, None)
    app.config.update(REDIS_URL=redis_url, QUEUE_NAME=queue_name, QUEUE_IMMEDIATE=False)
    monkeypatch.setenv("CRM_SCALEOUT_PROBE", str(probe))

    # before: stock for 60 of 90 single-unit orders, and recurring orders due 3 times each
    products = []
    for n in range(6):
        item = api.post("/products", json={"name": f"Scarce {n}", "unit_price": "5.00"}).json()
        api.post("/stock/adjustments", json={"product_id": item["id"], "quantity": "10", "reason": "found"})
        products.append(item["id"])
    orders = [api.post("/sales-orders", json={"account_id": catalog.account,
                                              "lines": [{"item_id": products[n % 6], "quantity": "1"}]}).json()["id"]
              for n in range(90)]
    start = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    recurring = []
    for _ in range(4):
        order = api.post("/sales-orders", json={"account_id": catalog.account, "lines": [{"item_id": catalog.consulting}],
                                                "recurring": {"frequency": "daily", "start_date": start}}).json()
        assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
        recurring.append(order["id"])
    admin = make_user("admin")

    processes = Processes(tmp_path, env)
    try:
        port = free_port()
        processes.start("web", "serve", "--port", str(port), "--workers", "3", "--threads", "4")
        base = f"http://127.0.0.1:{port}"
        # the second worker starts once the first ran the jobs at start-up, in the same minute mostly:
        # its own start-up runs then find them done for the period (not running: the lock alone
        # would not stop them)
        if dt.datetime.now().second > 25:
            time.sleep(61 - dt.datetime.now().second)
        workers = [processes.start("worker1", "worker", "--workers", "2")]
        assert wait_for(lambda: (probe / "job.log").exists() and "end" in (probe / "job.log").read_text(), 60), \
            processes.outputs()
        workers.append(processes.start("worker2", "worker", "--workers", "2"))
        assert wait_for(lambda: requests.get(base + "/readyz", timeout=5).json()["worker"] == "running", 90), \
            processes.outputs()

        token = requests.post(base + "/api/v1/auth/tokens", json={"username": admin.username,
                                                                   "password": TEST_PASSWORD}).json()["token"]

        # under load: 16 clients approving, 8 creating quotes, tasks queued meanwhile
        local = threading.local()

        def call(method, path, **kwargs):
            if not hasattr(local, "client"):
                local.client = ApiClient(base, token)
            return getattr(local.client, method)(path, **kwargs)

        with ThreadPoolExecutor(CLIENTS + 8) as pool:
            approvals = [pool.submit(call, "patch", f"/sales-orders/{order}", json={"status": "Approved"})
                         for order in orders]
            quotes = [pool.submit(call, "post", "/quotes", json={"account_id": catalog.account,
                                                                 "lines": [{"item_id": catalog.consulting}]})
                      for _ in range(60)]
            for n in range(30):
                enqueue(app, "tests.scaleout_probe:note", key=f"note-{n}")
            codes = [f.result().status_code for f in approvals]
            quote_codes = [f.result().status_code for f in quotes]
        assert codes.count(200) == 60 and codes.count(409) == 30, codes
        assert quote_codes == [201] * 60

        # each recurring order invoiced once per due day, whichever worker ran the job
        def invoiced():
            counts = [len([d for d in api.get(f"/sales-orders/{o}/related").json()["items"] if d["type"] == "invoice"])
                      for o in recurring]
            return counts if counts == [3] * 4 else None
        assert wait_for(invoiced, 60), processes.outputs()

        # every task once
        def notes_done():
            lines = (probe / "tasks.log").read_text().splitlines() if (probe / "tasks.log").exists() else []
            return lines if len(lines) >= 30 else None
        lines = wait_for(notes_done, 60)
        assert lines and sorted(line.split()[0] for line in lines) == sorted(f"note-{n}" for n in range(30))
        assert {int(line.split()[1]) for line in lines} <= {w.pid for w in workers}

        # the probe job: at the start-up period and the next minute's, once each, never two at once;
        # and while a worker runs it, another run (crm jobs run-due's) leaves it alone
        def probe_log():
            return probe_runs((probe / "job.log").read_text()) if (probe / "job.log").exists() else ([], [])
        elsewhere = []

        def two_periods():
            starts, runs = probe_log()
            if len(starts) > len(runs) and not elsewhere:
                with registered_plugin(app, scaleout_probe, "scaleout_probe"):
                    elsewhere.append(run_due(app, only="scaleout_probe"))
            done = len({int(r[1] // 60) for r in runs}) >= 2 and len(starts) == len(runs) and elsewhere
            return runs if done else None
        runs = wait_for(two_periods, 210, every=0.1)
        assert runs, (probe / "job.log").read_text() + processes.outputs()
        minutes = [int(start // 60) for _, start, _ in runs]
        assert len(minutes) == len(set(minutes)), runs  # once per period
        ordered = sorted(runs, key=lambda r: r[1])
        assert all(a[2] <= b[1] for a, b in zip(ordered, ordered[1:])), runs  # one at a time
        assert elsewhere[0]["scaleout_probe"].startswith("skipped: running in"), elsewhere
        logs = processes.output("worker1") + processes.output("worker2")
        assert logs.count("job recurring_invoices started") == len(set(re.findall(
            r"job recurring_invoices started for (\S+)", logs))), logs  # once per period, also the core's job

        # a worker killed mid-task: another one runs the task
        enqueue(app, "tests.scaleout_probe:slow", key="slow")
        first = wait_for(lambda: (probe / "slow.first").exists() and (probe / "slow.first").read_text(), 30)
        assert first, processes.outputs()
        victim = next(w for w in workers if w.pid == int(first))
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        survivor = next(w for w in workers if w is not victim)
        done = wait_for(lambda: "slow " in (probe / "tasks.log").read_text(), 60)
        assert done, processes.outputs()
        assert f"slow {survivor.pid}" in (probe / "tasks.log").read_text()

        def tasks():  # the task's row says done a moment after the task returned
            with app.app_context():
                rows = db.session.scalars(select(Task).where(Task.target.startswith("tests.scaleout_probe:"))
                                          .order_by(Task.id)).all()
                db.session.rollback()
                return rows if all(row.status == "done" for row in rows) else None
        rows = wait_for(tasks, 30)
        assert rows and len(rows) == 31, processes.outputs()
        assert [row.attempts for row in rows] == [1] * 30 + [2]  # the killed worker's task: twice
        assert rows[-1].target == "tests.scaleout_probe:slow"

        # and after all that: nothing oversold, no number twice
        with app.app_context():
            oversold = db.session.scalar(select(func.count()).select_from(Item).where(Item.reserved > Item.on_hand))
            twice = db.session.execute(select(Document.doc_type, Document.number).group_by(Document.doc_type,
                                       Document.number).having(func.count() > 1)).all()
            reserved = db.session.scalar(select(func.sum(Item.reserved)).where(Item.id.in_(products)))
        assert (oversold, twice, reserved) == (0, [], 60)
    finally:
        processes.stop_all()
        import redis
        connection = redis.Redis.from_url(redis_url)
        for key in connection.scan_iter(f"*{queue_name}*"):
            connection.delete(key)
