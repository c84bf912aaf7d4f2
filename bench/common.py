"""What every benchmark needs: a fresh migrated database (SQLite file or a new
PostgreSQL database), the app served over real HTTP, a signed-in client, and
timing helpers that print p50/p95."""
from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, event, text

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("CRM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Bench:
    app: object
    url: str
    api: object          # crm.testing.ApiClient
    backend: str
    statements: "StatementCounter"


class StatementCounter:
    """Counts SQL statements the app's engine executes."""

    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args):
        self.count += 1

    @contextlib.contextmanager
    def counting(self):
        start = self.count
        box = {}
        yield box
        box["statements"] = self.count - start


def postgres_available() -> bool:
    try:
        engine = create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


def backends() -> list[str]:
    wanted = os.environ.get("CRM_BENCH_BACKENDS", "sqlite,postgresql").split(",")
    return [b for b in wanted if b == "sqlite" or (b == "postgresql" and postgres_available())]


def admin_engine():
    """An engine on the PostgreSQL server's ``postgres`` database, outside transactions."""
    return create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def fresh_database(name: str, folder: str | None = None):
    """The URL of a new, empty database for the benchmark ``name``: a SQLite file in ``folder``
    when one is given, else the PostgreSQL database ``crm_bench_<name>``, dropped after the block."""
    if folder is not None:
        yield f"sqlite:///{folder}/bench.db"
        return
    dbname = f"crm_bench_{name}"
    admin = admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    try:
        yield PG_SERVER.rsplit("/", 1)[0] + "/" + dbname
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


def migrated_app(url: str, plugins=None):
    """An app on the database ``url``, migrated, with an admin: (the app, the admin's API token).
    ``plugins``: the plugin ids to load (None: every installed one)."""
    from crm import create_app, migrate
    from crm.db import db
    from crm.services.users import create_user, issue_token

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "PLUGINS": plugins,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    migrate.upgrade_all(app)
    with app.app_context():
        session = db.new_session(app)
        user = create_user(session, "bench", "bench-password", "admin")
        _, token = issue_token(session, user)
        session.commit()
        session.close()
    return app, token


@contextlib.contextmanager
def bench_app(backend: str, name: str, plugins=None):
    """A migrated app on a fresh database, served on 127.0.0.1, with an admin token."""
    from werkzeug.serving import make_server

    from crm.db import db
    from crm.testing import ApiClient

    with tempfile.TemporaryDirectory() as tmp, \
            fresh_database(name, tmp if backend == "sqlite" else None) as url:
        app, token = migrated_app(url, plugins)
        app.instance_path = tmp  # its own job queue: nothing queued here reaches another worker
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            yield Bench(app, base, ApiClient(base, token), backend, StatementCounter(db.engine(app)))
        finally:
            server.shutdown()
            db.engine(app).dispose()


def settle(bench: Bench) -> None:
    """After a bulk load, do what a live database does by itself within a minute:
    PostgreSQL's autovacuum (VACUUM ANALYZE: planner statistics, visibility map), so
    that queries are planned as in production, not for tables the planner still
    believes empty. SQLite keeps no statistics unless asked (the app never asks):
    nothing to do there."""
    if bench.backend == "sqlite":
        return
    engine = create_engine(bench.app.config["DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def timed(call, repeat: int, warmup: int = 2) -> list[float]:
    """Milliseconds of each call after a warm-up."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def p50_p95(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<58} {value:>14}  {note}")


def header(title: str) -> None:
    print(f"\n== {title}")


class Served:
    """``crm serve`` (gunicorn, as in production) on the database ``url`` with ``processes`` web
    processes of ``threads`` threads on a free port, until the block ends (``with`` gives the
    port); ``plugins``: its ``CRM_PLUGINS`` (None: every installed plugin). ``wsgi``: another
    WSGI app (``module:name``) served by gunicorn the same way instead (a benchmark's floor)."""

    def __init__(self, url: str, processes: int, threads: int, folder: Path, plugins: str | None = None,
                 wsgi: str | None = None):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "CRM_DATABASE_URL": url, "CRM_SECRET_KEY": "bench", "CRM_INSTANCE_PATH": str(folder),
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        for unset in ("CRM_REDIS_URL", "CRM_WITH_WORKER", "CRM_WEB_WORKERS", "CRM_WEB_THREADS", "CRM_PLUGINS"):
            env.pop(unset, None)
        if plugins is not None:
            env["CRM_PLUGINS"] = plugins
        self.folder = folder
        self.log = (folder / "serve.log").open("w")
        command = ([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(processes),
                    "--threads", str(threads), "--worker-class", "gthread" if threads > 1 else "sync", wsgi]
                   if wsgi else
                   [sys.executable, "-m", "crm.cli", "serve", "--port", str(self.port), "--workers", str(processes),
                    "--threads", str(threads)])
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def __enter__(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return self.port
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("crm serve did not come up")

    def __exit__(self, *_exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
