"""Document PDFs: a sales order of 200 lines with 10 IDCA columns and one of 1,000 lines
(the most a document holds) with 40 IDCA columns (the most a layout holds): what
``GET /sales-orders/<id>/pdf`` answers (200 rendered in the request, or 202 while a worker
renders it: ``crm.services.pdf_renders.INLINE_CELLS``), the first printing's time with the
share of building the HTML (context, plugins, Jinja) beside WeasyPrint's layout and PDF
writing, and the time of printing the unchanged document again (the kept PDF). Each size is
printed with its cells (item lines x printed columns) and WeasyPrint's time per 1,000 cells."""
from __future__ import annotations

import time

from bench import data
from bench.common import bench_app, header, row

#: (item lines, IDCA columns) printed; the last is the most a document and a layout hold (over the cap)
SIZES = [(20, 5), (200, 10), (200, 40), (1000, 40)]


def idca_columns(count: int) -> list[dict]:
    """``count`` formula columns of every printed type (money, number, percent)."""
    kinds = [("money", "net * 0.{:02d}"), ("number", "quantity * {}"), ("percent", "{} + 0.5")]
    columns = []
    for n in range(1, count + 1):
        kind, formula = kinds[n % len(kinds)]
        columns.append({"key": f"c{n}", "label": f"Column {n}", "type": kind, "formula": formula.format(n)})
    return columns


def timed_once(call, *args) -> tuple[float, float, object]:
    """(wall ms, CPU ms of this process, result): the server runs in this process, so its
    CPU time counts, and other processes sharing the machine do not."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call(*args)
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, result


def run(backend: str) -> None:
    import os
    dump = os.environ.get("CRM_BENCH_PDF_HTML")   # a folder to write each size's HTML in
    from sqlalchemy import delete

    from crm.db import db
    from crm.models.pdf import PdfRender
    from crm.services import documents, pdf_renders

    with bench_app(backend, "pdf", plugins=["idca"]) as bench:
        ids = data.base_records(bench.app)
        product_ids = data.products(bench.app, 200, ids["tax"])
        api = bench.api
        header(f"document PDF [{backend}]  (one run each: wall time, and CPU time of this process)")
        for lines, custom in SIZES:
            put = api.put("/idca/layouts/sales-orders", json={"columns": idca_columns(custom), "totals": []})
            assert put.status_code == 200, put.text
            body = {"account_id": ids["account"], "tax_mode": "individual", "lines": [
                {"item_id": product_ids[n % len(product_ids)], "quantity": str(1 + n % 7), "discount_percent": "5"}
                for n in range(lines)]}
            order = api.post("/sales-orders", json=body)
            assert order.status_code == 201, order.text
            order_id = order.json()["id"]
            label = f"{lines} lines x {custom} IDCA columns"
            answer = api.get(f"/sales-orders/{order_id}/pdf").status_code
            with bench.app.test_request_context():
                session = db.session
                session.execute(delete(PdfRender))  # what the request above kept: timed here from the start
                document = documents.get_document(session, "sales_order", order_id)
                html_wall, html_cpu, printing = timed_once(pdf_renders.prepare, session, document)
                wall, cpu, content = timed_once(pdf_renders.printed_pdf, session, document)  # rendered and kept
                session.commit()
                again, _, _ = timed_once(pdf_renders.printed_pdf, session, document)       # printed again
                session.rollback()
            cells, layout_cpu = printing.cells, cpu - html_cpu
            row(f"{label} ({cells:,} cells, {len(content) // 1024} KiB)", f"{wall:.0f} ms",
                f"CPU {layout_cpu:.0f} ms in WeasyPrint ({layout_cpu / cells * 1000:.0f} ms per 1,000 cells); "
                f"HTML {html_wall:.0f} ms")
            row("  printed again, unchanged (the kept PDF)", f"{again:.0f} ms",
                f"over HTTP: {answer}" + (" (rendered by a worker; the page shows its progress)" if answer == 202 else ""))
            if dump:
                with open(f"{dump}/{lines}x{custom}.html", "w") as out:
                    out.write(printing.html)
