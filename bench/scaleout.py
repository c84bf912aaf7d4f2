"""Stock reservations per second through ``crm serve`` (gunicorn) on PostgreSQL: 16 concurrent
HTTP clients approving single-unit sales orders, with one web process and with four; units
oversold must be 0. ``CRM_BENCH_SCALEOUT_THREADS`` sets the threads of each web process (4),
``CRM_BENCH_SCALEOUT_PROCESSES`` the web processes to compare (``1,4``), and
``CRM_BENCH_SCALEOUT_PLUGINS`` the plugins the server loads (its ``CRM_PLUGINS``; unset: all).

Besides the rate, the CPU time each approval took, measured from ``/proc``: in the web processes
(gunicorn's), in PostgreSQL's backends serving them, and in the clients; and the rate those
allow on this machine's cores when nothing else runs (cores / CPU per approval), since a shared
machine's rate says more about its other users than about the app."""
from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select, text

from bench import data
from bench.common import Served, StatementCounter, admin_engine, fresh_database, header, migrated_app, row

CLIENTS = 16
ORDERS = 1200
PRODUCTS = 20
STOCK_PER_PRODUCT = Decimal("45")  # 900 units for 1,200 single-unit orders: some must be refused
PROCESSES = [int(n) for n in os.environ.get("CRM_BENCH_SCALEOUT_PROCESSES", "1,4").split(",")]
THREADS = int(os.environ.get("CRM_BENCH_SCALEOUT_THREADS", "4"))
PLUGINS = os.environ.get("CRM_BENCH_SCALEOUT_PLUGINS")
FLOOR_APP = "bench.floor:application"


def run(backend: str) -> None:
    header(f"reservations through crm serve [{backend}]"
           + (f", plugins: {PLUGINS or 'none'}" if PLUGINS is not None else ""))
    if backend != "postgresql":
        row("(PostgreSQL only: several web processes share the database)", "-")
        return
    rates = {}
    for processes in PROCESSES:
        rates[processes] = _report(f"approvals, {CLIENTS} clients, {processes} web process(es) x {THREADS} threads",
                                   *_round(processes))
    floor = max(PROCESSES)
    floor_rate = _report(f"floor: the approval's own SQL in a bare WSGI app, {floor} process(es) x {THREADS} threads",
                         *_round(floor, FLOOR_APP))
    row("  the CRM's rate against the floor's", f"{rates[floor] / floor_rate:.2f}",
        "the floor is the most this machine gives any implementation of this work (bench/floor.py)")
    counted = _statements_per_approval()
    row("SQL statements per approval (in process, Flask's test client)", str(counted),
        "the token check, the order and its lines, the changes, the hooks' reads")


def _report(label: str, codes, seconds, oversold, reserved, cpu) -> float:
    """Print a round's rate, its CPU per approval and the units oversold; the rate."""
    cores = os.cpu_count() or 1
    other = len(codes) - codes.count(200) - codes.count(409)
    row(label, f"{ORDERS / seconds:.0f} /s", f"{codes.count(200)} reserved, {codes.count(409)} refused, other {other}")
    per = {part: seconds_ * 1000 / ORDERS for part, seconds_ in cpu.items()}
    row("  CPU per approval: web / PostgreSQL / clients",
        f"{per['web']:.1f}/{per['postgresql']:.1f}/{per['clients']:.1f} ms",
        f"at most {cores * 1000 / sum(per.values()):.0f}/s on {cores} idle cores"
        f" ({cores * 1000 / (per['web'] + per['postgresql']):.0f}/s with the clients elsewhere)")
    row("  units oversold", str(oversold), f"reserved {reserved} of {STOCK_PER_PRODUCT * PRODUCTS} in stock")
    return ORDERS / seconds


def _round(processes: int, wsgi: str | None = None):
    """One round: the orders made through the CRM, then approved by 16 clients through ``crm
    serve`` (or the WSGI app ``wsgi``, served by gunicorn the same way)."""
    from crm.db import db
    from crm.models import Item

    with fresh_database(f"scaleout_{processes}") as url:
        app, token = migrated_app(url)
        ids = data.base_records(app)
        product_ids = data.products(app, PRODUCTS, ids["tax"], stock=STOCK_PER_PRODUCT)
        bodies = [("POST", "/api/v1/sales-orders", {"account_id": ids["account"], "lines": [
            {"item_id": product_ids[n % PRODUCTS], "quantity": "1"}]}) for n in range(ORDERS)]
        crm = Served(url, processes, THREADS, Path(tempfile.mkdtemp(prefix="crm-bench-")), PLUGINS)
        with crm as port:
            made, _, _ = _in_own_process(_send_all, port, token, bodies)
            approvals = [("PATCH", f"/api/v1/sales-orders/{json.loads(body)['id']}", {"status": "Approved"})
                         for _, body in made]
            if wsgi is None:
                answers, seconds, cpu = _approve_all(crm, port, url, token, approvals)
        if wsgi is not None:
            floor = Served(url, processes, THREADS, Path(tempfile.mkdtemp(prefix="crm-bench-")), wsgi=wsgi)
            with floor as port:
                answers, seconds, cpu = _approve_all(floor, port, url, token, approvals)
        with app.app_context():
            session = db.new_session(app)
            oversold = session.scalar(select(func.coalesce(func.sum(Item.reserved - Item.on_hand), 0))
                                      .where(Item.reserved > Item.on_hand))
            reserved = session.scalar(select(func.sum(Item.reserved)))
            session.close()
        db.engine(app).dispose()
        return [code for code, _ in answers], seconds, _plain(oversold), _plain(reserved), cpu


def _approve_all(served: Served, port: int, url: str, token: str, approvals: list):
    """The approvals sent by the clients to ``served``: the answers, the seconds they took, and
    the CPU seconds of the server, of PostgreSQL's backends and of the clients meanwhile."""
    before = _cpu_seconds(served.process.pid, url)
    answers, seconds, clients_cpu = _in_own_process(_send_all, port, token, approvals)
    after = _cpu_seconds(served.process.pid, url)
    return answers, seconds, {part: after[part] - before[part] for part in after} | {"clients": clients_cpu}


def _statements_per_approval() -> int:
    """The SQL statements of one approval (after a first one), counted on the app's engine with the
    plugins the server loads, in this process through Flask's test client."""
    from crm.db import db

    plugins = [p.strip() for p in PLUGINS.split(",") if p.strip()] if PLUGINS is not None else None
    with fresh_database("scaleout_statements") as url:
        app, token = migrated_app(url, plugins)
        ids = data.base_records(app)
        product_ids = data.products(app, 2, ids["tax"], stock=STOCK_PER_PRODUCT)
        client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
        orders = [client.post("/api/v1/sales-orders", headers=headers, json={
            "account_id": ids["account"], "lines": [{"item_id": product_ids[0], "quantity": "1"}]}).json["id"]
            for _ in range(2)]
        counter = StatementCounter(db.engine(app))
        client.patch(f"/api/v1/sales-orders/{orders[0]}", headers=headers, json={"status": "Approved"})
        with counter.counting() as counted:
            answer = client.patch(f"/api/v1/sales-orders/{orders[1]}", headers=headers, json={"status": "Approved"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        db.engine(app).dispose()
        return counted["statements"]


def _send_all(port: int, token: str, requests_: list) -> tuple[list[tuple[int, bytes]], float]:
    """Send every request, CLIENTS at a time, each client on its own kept-alive connection
    (``http.client``: the lightest client, so that the clients take little of the CPU the server
    needs); the status codes and bodies in order, and the seconds it took."""
    local = threading.local()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(request):
        method, path, body = request
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        local.connection.request(method, path, body=json.dumps(body), headers=headers)
        answer = local.connection.getresponse()
        return answer.status, answer.read()

    start, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(send, requests_))
    return answers, time.perf_counter() - start, time.process_time() - cpu


def _cpu_seconds(server_pid: int, url: str) -> dict[str, float]:
    """CPU seconds used so far by the live processes of the server (its master and web
    processes) and by PostgreSQL's backends connected to the bench's database ``url``."""
    admin = admin_engine()
    with admin.connect() as conn:
        backends = list(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                                     {"name": url.rsplit("/", 1)[1]}).scalars())
    admin.dispose()
    server = [server_pid] + [pid for pid, parent in _processes() if parent == server_pid]
    return {"web": sum(_cpu_of(pid) for pid in server), "postgresql": sum(_cpu_of(pid) for pid in backends)}


def _processes():
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue


def _cpu_of(pid: int) -> float:
    """User and system CPU seconds of a live process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _in_own_process(function, *args):
    """``function(*args)`` in a fresh process (the clients must not share the bench's interpreter)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def _plain(value) -> str:
    text_ = format(Decimal(str(value or 0)).normalize(), "f")
    return "0" if text_ == "-0" else text_
