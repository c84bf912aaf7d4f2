"""Exports of a list page: the product list (``/products/?export=csv|xlsx``) of 100,000
products, downloaded over real HTTP by a signed-in browser session.

Printed for each format: the time to the first byte and to the last, the size, and the peak of
the Python memory the server allocated while it answered (``tracemalloc``, in a second run:
tracing slows the code down) against what holding the same 100,000 products at once costs (the
list's rows read in one ``list()``): an export that streams stays flat, one that gathers grows
with the rows.
"""
from __future__ import annotations

import time
import tracemalloc

from bench import data
from bench.common import bench_app, header, row, settle
from bench.search import sign_in

PRODUCTS = 100_000


def _download(browser, url: str) -> dict:
    started = time.perf_counter()
    first = None
    size = 0
    with browser.get(url, stream=True) as response:
        assert response.status_code == 200, response.text[:300]
        for chunk in response.iter_content(chunk_size=64 * 1024):
            if first is None:
                first = time.perf_counter()
            size += len(chunk)
    return {"first": (first - started) * 1000, "total": time.perf_counter() - started, "bytes": size}


def _traced(call) -> float:
    """Peak MB of Python memory allocated (by any thread) during ``call``, above what was held before."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - before) / 1e6


def _held_at_once(app) -> float:
    """Peak MB of reading the list's 100,000 products into one list, for comparison."""
    from crm.db import db
    from crm.services import items

    def read():
        with app.app_context():
            session = db.new_session(app)
            rows = list(session.scalars(items.items_query("product")))
            assert len(rows) >= PRODUCTS
            session.close()
    return _traced(read)


def run(backend: str) -> None:
    with bench_app(backend, "export") as bench:
        base = data.base_records(bench.app)
        data.products(bench.app, PRODUCTS, base["tax"])
        settle(bench)
        header(f"exports [{backend}]: the product list, {PRODUCTS:,} rows")
        browser = sign_in(bench.url, bench.app)
        for fmt in ("csv", "xlsx"):
            url = f"{bench.url}/products/?export={fmt}"
            timing = _download(browser, url)
            peak = _traced(lambda url=url: _download(browser, url))
            row(f"{fmt.upper()} of {PRODUCTS:,} products", f"{timing['total']:.1f} s",
                f"first byte after {timing['first']:.0f} ms; {timing['bytes'] / 1e6:.1f} MB; "
                f"peak Python memory {peak:.1f} MB")
        row("the same products held at once (list of rows), for comparison", f"{_held_at_once(bench.app):.0f} MB")
