"""Stock reservations per second with 16 concurrent clients, and units oversold (must be 0)."""
from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import func, select

from bench import data
from bench.common import bench_app, header, row

CLIENTS = 16
ORDERS = 800
PRODUCTS = 20
STOCK_PER_PRODUCT = Decimal("30")  # 600 units for 800 single-unit orders: some must be refused


def run(backend: str) -> None:
    from crm.db import db
    from crm.models import Item

    with bench_app(backend, "stock") as bench:
        ids = data.base_records(bench.app)
        product_ids = data.products(bench.app, PRODUCTS, ids["tax"], stock=STOCK_PER_PRODUCT)
        orders = []
        for n in range(ORDERS):
            order = bench.api.post("/sales-orders", json={
                "account_id": ids["account"], "lines": [{"item_id": product_ids[n % PRODUCTS], "quantity": "1"}]})
            orders.append(order.json()["id"])
        codes, seconds = _in_own_process(_approve_all, bench.url, bench.api.http.headers["Authorization"], orders)
        with bench.app.app_context():
            session = db.new_session(bench.app)
            oversold = session.scalar(select(func.coalesce(func.sum(Item.reserved - Item.on_hand), 0))
                                      .where(Item.reserved > Item.on_hand))
            reserved = session.scalar(select(func.sum(Item.reserved)))
            session.close()
        header(f"stock reservations [{backend}]")
        row(f"approvals with {CLIENTS} concurrent clients", f"{ORDERS / seconds:.0f} /s",
            f"{codes.count(200)} reserved, {codes.count(409)} refused (409), other {len(codes) - codes.count(200) - codes.count(409)}")
        row("units oversold", _plain(oversold), f"reserved {_plain(reserved)} of {_plain(STOCK_PER_PRODUCT * PRODUCTS)} in stock")


def _approve_all(url: str, authorization: str, order_ids: list[int]) -> tuple[list[int], float]:
    """Approve every order, CLIENTS at a time, each client with its own connection;
    the status codes (in order) and the seconds it took."""
    from crm.testing import ApiClient
    local = threading.local()

    def approve(order_id):
        if not hasattr(local, "client"):
            local.client = ApiClient(url, None)
            local.client.http.headers["Authorization"] = authorization
        return local.client.patch(f"/sales-orders/{order_id}", json={"status": "Approved"}).status_code

    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        codes = list(pool.map(approve, order_ids))
    return codes, time.perf_counter() - start


def _in_own_process(function, *args):
    """``function(*args)`` in a fresh process: the clients' HTTP work (about a tenth of the
    CPU per approval) must not run in the server's interpreter, where it takes the
    server's turns at the GIL and counts against the throughput measured."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def _plain(value) -> str:
    """A quantity as the API writes it: ``Decimal("600.000")`` -> ``"600"``, ``0`` -> ``"0"``."""
    text = format(Decimal(str(value or 0)).normalize(), "f")
    return "0" if text == "-0" else text
