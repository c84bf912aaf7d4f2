"""``crm serve`` for real: gunicorn with several web processes and its background worker
(``--with-worker``, what ``make run`` starts), in processes of their own on a free port, on
the test's database (SQLite or PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from crm.testing import TEST_PASSWORD, ApiClient

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout=60.0, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        time.sleep(every)
    return None


def children(pid: int) -> dict[int, str]:
    """The live child processes of ``pid``: their pid and command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Server:
    """``crm serve`` in a process of its own; its output in ``log``."""

    def __init__(self, database_url: str, folder: Path, *args: str, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "server.log"
        environment = {**os.environ, "CRM_DATABASE_URL": database_url, "CRM_INSTANCE_PATH": str(folder / "instance"),
                       "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "docs" / "example-plugin")]), **env}
        for unset in ("CRM_REDIS_URL", "CRM_SECRET_KEY", "CRM_WEB_WORKERS", "CRM_WITH_WORKER"):
            environment.pop(unset, None)
        with self.log.open("w") as output:
            self.process = subprocess.Popen([sys.executable, "-m", "crm.cli", "serve", "--port", str(self.port), *args],
                                            env=environment, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
        up = wait_for(lambda: requests.get(self.url + "/healthz", timeout=5).status_code == 200, timeout=60)
        if not up:
            self.stop()  # no server outlives a failed test
        assert up, self.output()

    def output(self) -> str:
        return self.log.read_text()

    def web_processes(self) -> set[int]:
        return {pid for pid, cmd in children(self.process.pid).items() if " serve " in cmd}

    def background_worker(self) -> int | None:
        return next((pid for pid, cmd in children(self.process.pid).items() if " worker " in cmd), None)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def sign_in_form(http: requests.Session, base: str, username: str) -> None:
    """Sign in through the login page as a browser does (CSRF token included)."""
    page = http.get(base + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = http.post(base + "/login", data={"username": username, "password": TEST_PASSWORD,
                                              "csrf_token": token}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:500]


@pytest.mark.slow
def test_serve_with_its_worker_runs_background_work_reloads_and_stops(app, api, catalog, make_user,
                                                                      crm_database_url, tmp_path):
    today = dt.date.today().isoformat()
    order = api.post("/sales-orders", json={
        "account_id": catalog.account, "lines": [{"item_id": catalog.consulting}],
        "recurring": {"frequency": "monthly", "start_date": today}}).json()
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    admin = make_user("admin")

    server = Server(crm_database_url, tmp_path, "--workers", "3", "--threads", "2", "--with-worker",
                    CRM_LOG_FORMAT="json")
    try:
        token = requests.post(server.url + "/api/v1/auth/tokens", json={"username": admin.username,
                                                                         "password": TEST_PASSWORD}).json()["token"]
        live = ApiClient(server.url, token)

        # the recurring invoice due today is made with nothing else started
        def invoice():
            related = live.get(f"/sales-orders/{order['id']}/related").json()["items"]
            return [d for d in related if d["type"] == "invoice"]
        assert wait_for(invoice, timeout=60), "the background worker did not make today's invoice\n" + server.output()

        # and a queued task runs (the queue: the SQLite file of the server's instance folder)
        from crm.worker import enqueue
        app.config["QUEUE_IMMEDIATE"] = False
        app.instance_path = str(tmp_path / "instance")
        app.extensions.pop("crm.huey", None)
        marker = tmp_path / "task-ran.txt"
        enqueue(app, "tests.test_worker:touch", path=str(marker))
        assert wait_for(marker.exists, timeout=30), "the background worker did not run the queued task"

        # ready, with a worker heard from
        ready = wait_for(lambda: (r := requests.get(server.url + "/readyz")).json()["worker"] == "running" and r)
        assert ready and ready.status_code == 200, server.output()
        assert ready.json() == {"status": "ready", "worker": "running",
                                "checks": {"database": "ok", "migrations": "ok", "queue": "ok"}}

        # three web processes share one secret key (the instance folder's): a browser session
        # signed in by one is honoured by all, request after request
        assert len(server.web_processes()) == 3
        browser = requests.Session()
        sign_in_form(browser, server.url, admin.username)
        for _ in range(12):
            home = browser.get(server.url + "/", allow_redirects=False)
            assert home.status_code == 200, home.headers.get("Location")

        # a request's id: the client's, in the answer, the error body and the JSON access log
        missing = live.get("/sales-orders/999999", headers={"X-Request-ID": "probe-42.a"})
        assert missing.status_code == 404 and missing.headers["X-Request-ID"] == "probe-42.a"
        assert missing.json()["error"]["request_id"] == "probe-42.a"

        def access_line():
            for line in server.output().splitlines():
                entry = json.loads(line) if line.startswith("{") else {}
                if entry.get("logger") == "gunicorn.access" and entry.get("request_id") == "probe-42.a":
                    return entry
        entry = wait_for(access_line, timeout=10)
        assert entry and entry["http"]["status"] == "404" and entry["http"]["path"] == "/api/v1/sales-orders/999999"

        # HUP: new web processes and a new background worker, no request refused meanwhile
        before, worker_before = server.web_processes(), server.background_worker()
        failures, answered, stop = [], [], threading.Event()

        def keep_asking():
            while not stop.is_set():
                try:
                    status = requests.get(server.url + "/healthz", timeout=10).status_code
                    (answered if status == 200 else failures).append(status)
                except requests.RequestException as exc:
                    failures.append(repr(exc))
        asker = threading.Thread(target=keep_asking)
        asker.start()
        try:
            server.process.send_signal(signal.SIGHUP)
            replaced = wait_for(lambda: len(now := server.web_processes()) == 3 and not now & before, timeout=60)
            restarted = wait_for(lambda: (pid := server.background_worker()) and pid != worker_before, timeout=60)
        finally:
            stop.set()
            asker.join()
        assert replaced and restarted, server.output()
        assert failures == [] and len(answered) > 10
        assert not alive(worker_before)

        # a background worker that dies is started again
        worker = server.background_worker()
        os.kill(worker, signal.SIGKILL)
        assert wait_for(lambda: (pid := server.background_worker()) and pid != worker, timeout=30), server.output()
        web, worker = server.web_processes(), server.background_worker()
    finally:
        status = server.stop()
    assert status == 0, server.output()
    assert not any(alive(pid) for pid in web | {worker}), "processes outlived the server"
    assert "background worker stopped" in server.output()


@pytest.mark.slow
def test_serve_without_a_worker_says_how_to_run_background_work(crm_database_url, tmp_path):
    server = Server(crm_database_url, tmp_path, "--workers", "1", "--threads", "1")
    try:
        ready = requests.get(server.url + "/readyz").json()
        assert ready["status"] == "ready" and ready["worker"] == "not running"
        assert server.background_worker() is None
    finally:
        assert server.stop() == 0
    assert "run `crm worker` for background work" in server.output()


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "0 is not between 1 and 64"),
    (["--threads", "x"], "'x' is not a whole number"),
    (["--port", "70000"], "70000 is not between 1 and 65535"),
])
def test_serve_refuses_bad_settings_in_one_line(runner, args, message):
    result = runner.invoke(["serve", *args])
    assert result.exit_code == 2 and message in result.output


def test_default_web_processes_follow_the_cpus():
    from crm.serve import MAX_DEFAULT_WORKERS, default_workers
    assert [default_workers(n) for n in (1, 2, 3)] == [3, 5, 7]
    assert default_workers(64) == MAX_DEFAULT_WORKERS


def test_without_crm_secret_key_every_process_uses_the_instance_folders(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from crm import create_app
    from crm.config import instance_secret_key
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    monkeypatch.setenv("CRM_INSTANCE_PATH", str(tmp_path))
    with ThreadPoolExecutor(8) as pool:  # processes starting at once agree on one key
        keys = set(pool.map(lambda _: instance_secret_key(str(tmp_path)), range(16)))
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'crm.db'}"})
    assert app.config["SECRET_KEY"] == instance_secret_key(str(tmp_path))
    monkeypatch.setenv("CRM_SECRET_KEY", "from-the-environment")
    assert create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'crm.db'}"}).config["SECRET_KEY"] == \
        "from-the-environment"
