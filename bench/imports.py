"""Imports: 100,000 products from a CSV file (``crm.services.imports``, as ``crm import`` and the
job queue run it: every row checked by the API's schema and created through the items service,
one INSERT a batch of 500), on the core alone and with every installed plugin (told once a batch
through ``crm_records_saved``).
Goal: under 60 s on SQLite and on PostgreSQL. Then the same file again with new prices, every
row updating its product (matched by SKU), the undo of that update (every product restored),
and the undo of the first import, as the Undo button runs them."""
from __future__ import annotations

import csv
import io
import os
import time

from bench.common import bench_app, header, row

ROWS = int(os.environ.get("CRM_BENCH_IMPORT_ROWS", "100000"))


def catalogue(rows: int, price_step: int = 0) -> bytes:
    """A Spanish catalogue: name, SKU, price and cost in the Spanish way, category, active."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["Nombre", "Referencia", "Precio", "Coste", "Categoría", "Activo"])
    for n in range(rows):
        writer.writerow([f"Producto {n}", f"IMP-{n:07d}", f"{n % 900 + 1 + price_step},{n % 100:02d}", "1,10",
                         f"Familia {n % 40}", "sí"])
    return buffer.getvalue().encode("utf-8")


def run(backend: str) -> None:
    data = catalogue(ROWS)
    for plugins, label in (([], "core only"), (None, "every installed plugin")):
        with bench_app(backend, "imports", plugins=plugins) as bench:
            seconds, cpu, outcome = _import(bench.app, data)
            header(f"import of {ROWS:,} products, {label} [{backend}]")
            row("rows imported", f"{outcome.created:,}", f"refused {outcome.rejected_count}")
            row("seconds (read, check, write, record for undo, commit)", f"{seconds:.1f} s",
                f"{ROWS / seconds:,.0f} rows/s; goal under 60 s")
            row("of which this process's CPU", f"{cpu:.1f} s", "the rest: the database server, other processes")
            seconds, _cpu, outcome = _import(bench.app, catalogue(ROWS, price_step=5), on_duplicate="update")
            row("the same file with new prices: every product updated", f"{seconds:.1f} s",
                f"{outcome.updated:,} updated, {ROWS / seconds:,.0f} rows/s")
            seconds = _undo(bench.app)
            row("undo of that update (every product restored)", f"{seconds:.1f} s", f"{ROWS / seconds:,.0f} rows/s")
            seconds = _undo(bench.app)
            row("undo of the first import (every product removed)", f"{seconds:.1f} s",
                f"{ROWS / seconds:,.0f} rows/s")


def _import(app, data: bytes, on_duplicate: str = "skip"):
    from crm.db import db
    from crm.services import import_files, imports

    with app.app_context():
        start, cpu = time.perf_counter(), time.process_time()
        sheet = import_files.read(data, "catalogo.csv")
        with db.transaction() as session:
            options = imports.options_from(session, "products", sheet, key="sku", on_duplicate=on_duplicate)
            run_record = imports.new_run(session, "products", "catalogo.csv")
            outcome = imports.perform(session, run_record, sheet, options)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        db.session.close()
    return seconds, cpu, outcome


def _undo(app) -> float:
    from crm.db import db
    from crm.services import imports

    with app.app_context():
        start = time.perf_counter()
        with db.transaction() as session:
            latest = imports.latest_run(session, "products")
            imports.undo(session, imports.get_run(session, latest.id, for_update=True))
        seconds = time.perf_counter() - start
        db.session.close()
    return seconds
