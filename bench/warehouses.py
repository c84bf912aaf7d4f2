"""Several warehouses (the warehouses plugin):

1. **Reservations per warehouse** (PostgreSQL only): 1,200 single-unit sales orders on 20 products,
   each order of one of 5 warehouses (every product is ordered from every warehouse: 12 orders for
   each product and warehouse, which holds 9 of it), approved by 16 clients over kept-alive HTTP
   connections through ``crm serve``; 900 reserved, 300 refused, 0 oversold at any warehouse (the
   core's conditional UPDATEs of the product's row and of its balance at the warehouse). The same
   machinery as ``bench/scaleout.py`` (its server, clients and CPU accounting), and its figure at
   the one default location measured just before, on the same machine, to compare.
2. **A warehouse's stock report** (``/warehouses/<id>/report``, a signed-in session, every
   database of ``CRM_BENCH_BACKENDS``): 10,000 products with stock in each of 5 warehouses, p50/p95
   of its first page (50 products, the value and low count of all 10,000, and the first page of
   the warehouse's moves), of its last page and of the low ones only (``?low=1``); goal p95 < 100 ms.

``CRM_BENCH_WAREHOUSES_PROCESSES`` sets the web processes of part 1 (``1``; ``1,4`` for both);
``CRM_BENCH_WAREHOUSES_COMPARE=0`` skips the single-location figure;
``CRM_BENCH_WAREHOUSES_PARTS`` runs some parts only (``reservations,report``: both; ``report``)."""
from __future__ import annotations

import json
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select, update

from bench import data, scaleout
from bench.common import bench_app, fresh_database, header, migrated_app, p50_p95, row, settle
from bench.search import sign_in

WAREHOUSES = 5
CLIENTS = scaleout.CLIENTS
ORDERS = scaleout.ORDERS
PRODUCTS = scaleout.PRODUCTS
PER_WAREHOUSE = scaleout.STOCK_PER_PRODUCT / WAREHOUSES   # 9 of each product in each warehouse
PROCESSES = [int(n) for n in os.environ.get("CRM_BENCH_WAREHOUSES_PROCESSES", "1").split(",")]
COMPARE = os.environ.get("CRM_BENCH_WAREHOUSES_COMPARE", "1") != "0"
PARTS = set(os.environ.get("CRM_BENCH_WAREHOUSES_PARTS", "reservations,report").split(","))
REPORT_PRODUCTS = 10_000
REPORT_STOCK = Decimal("12")
REPEAT = 30
#: seconds of timing per page at most (after 5 requests)
BUDGET = 30.0
GOAL_MS = 100.0


def run(backend: str) -> None:
    print(f"\n(load average {_load()})")
    if "report" in PARTS:
        _report(backend)
    if "reservations" not in PARTS:
        return
    header(f"reservations across {WAREHOUSES} warehouses through crm serve [{backend}]")
    if backend != "postgresql":
        row("(PostgreSQL only: several web processes share the database)", "-")
        return
    cores = os.cpu_count() or 1
    for processes in PROCESSES:
        if COMPARE:
            codes, seconds, oversold, reserved, _cpu = scaleout._round(processes)
            row(f"one location (bench scaleout), {CLIENTS} clients, {processes} x {scaleout.THREADS} threads",
                f"{ORDERS / seconds:.0f} /s", f"{codes.count(200)} reserved, {codes.count(409)} refused, "
                f"oversold {oversold}; load {_load()}")
        codes, seconds, oversold, reserved, cpu = _round(processes)
        other = len(codes) - codes.count(200) - codes.count(409)
        row(f"{WAREHOUSES} warehouses, {CLIENTS} clients, {processes} x {scaleout.THREADS} threads",
            f"{ORDERS / seconds:.0f} /s", f"{codes.count(200)} reserved, {codes.count(409)} refused, other {other}; "
            f"load {_load()}")
        per = {part: seconds_ * 1000 / ORDERS for part, seconds_ in cpu.items()}
        row("  CPU per approval: web / PostgreSQL / clients",
            f"{per['web']:.1f}/{per['postgresql']:.1f}/{per['clients']:.1f} ms",
            f"at most {cores * 1000 / sum(per.values()):.0f}/s on {cores} idle cores")
        row("  units oversold (any warehouse, or in all)", oversold,
            f"reserved {reserved} of {scaleout.STOCK_PER_PRODUCT * PRODUCTS} in stock")


def _load() -> str:
    return " ".join(f"{n:.1f}" for n in os.getloadavg())


# --- 1. reservations -----------------------------------------------------------------------------

def _round(processes: int):
    """One round: a fresh database, 5 warehouses holding 9 of each of 20 products, 1,200 orders
    each of one warehouse, approved 16 at a time; (status codes, seconds, oversold, reserved, CPU)."""
    from crm.db import db
    from crm.models import Item, StockBalance

    with fresh_database(f"warehouses_{processes}") as url:
        app, token = migrated_app(url, scaleout.PLUGINS.split(",") if scaleout.PLUGINS else None)
        ids = data.base_records(app)
        product_ids = data.products(app, PRODUCTS, ids["tax"])
        served = scaleout._served(url, processes, Path(tempfile.mkdtemp(prefix="crm-bench-")))
        with served as port:
            made, _, _ = scaleout._in_own_process(scaleout._send_all, port, token, [
                ("POST", "/api/v1/warehouses", {"code": f"W{n}", "name": f"Warehouse {n}"})
                for n in range(WAREHOUSES)])
            warehouses = [json.loads(body) for _, body in made]
            _stock_in(app, product_ids, [w["location_id"] for w in warehouses], PER_WAREHOUSE)
            made, _, _ = scaleout._in_own_process(scaleout._send_all, port, token, [
                ("POST", "/api/v1/sales-orders", {"account_id": ids["account"], "lines": [
                    {"item_id": product_ids[n % PRODUCTS], "quantity": "1"}]}) for n in range(ORDERS)])
            orders = [json.loads(body)["id"] for _, body in made]
            chosen, _, _ = scaleout._in_own_process(scaleout._send_all, port, token, [
                ("PUT", f"/api/v1/warehouses/documents/{order}",
                 {"warehouse_id": warehouses[(n // PRODUCTS) % WAREHOUSES]["id"]}) for n, order in enumerate(orders)])
            assert all(code == 200 for code, _ in chosen), chosen[:3]
            approvals = [("PATCH", f"/api/v1/sales-orders/{order}", {"status": "Approved"}) for order in orders]
            before = scaleout._cpu_seconds(served.process.pid, url)
            answers, seconds, clients_cpu = scaleout._in_own_process(scaleout._send_all, port, token, approvals)
            after = scaleout._cpu_seconds(served.process.pid, url)
        cpu = {part: after[part] - before[part] for part in after} | {"clients": clients_cpu}
        with app.app_context():
            session = db.new_session(app)
            over_all = session.scalar(select(func.coalesce(func.sum(Item.reserved - Item.on_hand), 0))
                                      .where(Item.reserved > Item.on_hand))
            over_here = session.scalar(select(func.coalesce(func.sum(StockBalance.reserved - StockBalance.on_hand), 0))
                                       .where(StockBalance.reserved > StockBalance.on_hand))
            reserved = session.scalar(select(func.sum(Item.reserved)))
            session.close()
        db.engine(app).dispose()
        oversold = f"{scaleout._plain(over_here)} / {scaleout._plain(over_all)}"
        return [code for code, _ in answers], seconds, oversold, scaleout._plain(reserved), cpu


def _stock_in(app, product_ids: list[int], location_ids: list[int], quantity: Decimal) -> None:
    """``quantity`` of every product at every location, as the ledger would have it (a move and a
    balance each, the products' totals)."""
    from crm.db import db
    from crm.models import Item, StockBalance, StockMove
    with app.app_context():
        session = db.new_session(app)
        for location_id in location_ids:
            for start in range(0, len(product_ids), 5000):
                chunk = product_ids[start:start + 5000]
                session.execute(insert(StockMove), [
                    {"product_id": pid, "quantity": quantity, "kind": "adjustment", "reason": "found",
                     "note": "bench", "location_id": location_id} for pid in chunk])
                session.execute(insert(StockBalance), [
                    {"product_id": pid, "location_id": location_id, "on_hand": quantity, "reserved": Decimal(0)}
                    for pid in chunk])
        session.execute(update(Item).where(Item.id.in_(product_ids))
                        .values(on_hand=Item.on_hand + quantity * len(location_ids)))
        session.commit()
        session.close()


# --- 2. the stock report -------------------------------------------------------------------------

def _report(backend: str) -> None:
    from crm.db import db
    from crm.services import stock
    with bench_app(backend, "warehouses_report") as bench:
        start = time.perf_counter()
        ids = data.base_records(bench.app)
        product_ids = data.products(bench.app, REPORT_PRODUCTS, ids["tax"])
        made = [bench.api.post("/warehouses", json={"code": f"W{n}", "name": f"Warehouse {n}"}).json()
                for n in range(WAREHOUSES)]
        _stock_in(bench.app, product_ids, [w["location_id"] for w in made], REPORT_STOCK)
        settle(bench)
        with bench.app.app_context():
            session = db.new_session(bench.app)
            problems = stock.verify(session)
            session.close()
        header(f"a warehouse's stock report [{backend}]: {REPORT_PRODUCTS:,} products x {WAREHOUSES} warehouses "
               f"(loaded in {time.perf_counter() - start:.0f} s; ledger {'verified' if not problems else 'WRONG'})")
        browser = sign_in(bench.url, bench.app)
        first = made[0]["id"]

        def page(**params):
            answer = browser.get(f"{bench.url}/warehouses/{first}/report", params=params)
            assert answer.status_code == 200, answer.status_code
            return answer

        size = len(page().content)
        last = -(-REPORT_PRODUCTS // 50)
        for label, params in (("the first page (50 products; totals of all; moves page 1)", {}),
                              (f"the last page (?page={last})", {"page": str(last)}),
                              ("the low ones only (?low=1), first page", {"low": "1"})):
            with bench.statements.counting() as counted:
                page(**params)
            times = _timed(lambda params=params: page(**params))
            p50, p95 = p50_p95(times)
            row(label, f"{p50:.0f}/{p95:.0f} ms",
                f"p50/p95 of {len(times)}; goal p95 < {GOAL_MS:.0f} ms {'met' if p95 < GOAL_MS else 'NOT met'}; "
                f"{counted['statements']} SQL statements; load {_load()}")
        row("  size of the report's first page", f"{size / 1024:.0f} KiB")


def _timed(call) -> list[float]:
    """Milliseconds of up to REPEAT calls after one warm-up, stopping after BUDGET seconds (at
    least 5 calls): a slow page must not hold the bench for many minutes."""
    call()
    times: list[float] = []
    deadline = time.perf_counter() + BUDGET
    while len(times) < REPEAT and (len(times) < 5 or time.perf_counter() < deadline):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times
