"""Documents through the HTTP API: SQL statements per request, the create -> confirm
-> invoice flow against Tryton's figures, totals recomputation, list speed."""
from __future__ import annotations

from decimal import Decimal

from bench import data
from bench.common import bench_app, header, p50_p95, row, settle, timed

TRYTON_SALE_SECONDS = {20: 1.7, 200: 11.5}   # create, confirm and invoice a sale (Tryton 8.2, this machine)
TRYTON_SEARCH_MS = 30                         # search 10k products


def sales_order_body(ids, product_ids, lines):
    return {"account_id": ids["account"], "lines": [
        {"item_id": product_ids[n % len(product_ids)], "quantity": "2", "discount_percent": "5"} for n in range(lines)]}


def run(backend: str) -> None:
    with bench_app(backend, "documents") as bench:
        ids = data.base_records(bench.app)
        product_ids = data.products(bench.app, 10_000, ids["tax"], stock=Decimal("1000000"), services=0)
        settle(bench)
        api = bench.api
        header(f"documents [{backend}]")

        for lines in (1, 10, 100):
            body = sales_order_body(ids, product_ids, lines)
            api.post("/sales-orders", json=body)  # warm
            with bench.statements.counting() as counted:
                response = api.post("/sales-orders", json=body)
            assert response.status_code == 201, response.text
            row(f"SQL statements to create a {lines}-line sales order", f"{counted['statements']}")

        for lines in (20, 200):
            body = sales_order_body(ids, product_ids, lines)

            def sale():
                order = api.post("/sales-orders", json=body).json()
                approved = api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
                assert approved.status_code == 200, approved.text
                invoice = api.post(f"/sales-orders/{order['id']}/invoices")
                assert invoice.status_code == 201, invoice.text
            times = timed(sale, repeat=10 if lines == 20 else 5, warmup=1)
            p50, p95 = p50_p95(times)
            ratio = TRYTON_SALE_SECONDS[lines] * 1000 / p50
            row(f"create + approve + invoice a {lines}-line sale (HTTP)", f"{p50:.1f} ms",
                f"p95 {p95:.1f} ms; Tryton {TRYTON_SALE_SECONDS[lines]} s -> {ratio:.0f}x faster")

        _recompute(bench, ids, product_ids)

        data.documents(bench.app, 10_000, ids["account"])
        settle(bench)
        for label, path in [("list sales orders (10k), page 1", "/sales-orders?per_page=50"),
                            ("list sales orders, status filter + sort", "/sales-orders?status=Approved&sort=-grand_total"),
                            ("list sales orders, text search", "/sales-orders?q=ladder"),
                            ("list sales orders, page 150", "/sales-orders?page=150&per_page=50")]:
            p50, p95 = p50_p95(timed(lambda: api.get(path), repeat=30))
            row(label, f"{p50:.1f} ms", f"p95 {p95:.1f} ms (target < 50 ms)")
        # Tryton's figure is a search of 10,000 products; ours answers the first 50 (of ~670) with
        # their stock, taxes and components. The two other rows split the time: the same search
        # answering one product (the search and its count), and a word nothing matches.
        for label, path in [("search 10k products by name (HTTP)", "/products?q=drill&per_page=50"),
                            ("  the same, answering 1 product", "/products?q=drill&per_page=1"),
                            ("  a word no product holds", "/products?q=zzqxj&per_page=50"),
                            ("  a SKU", "/products?q=P-004321&per_page=50")]:
            p50, p95 = p50_p95(timed(lambda path=path: api.get(path), repeat=30))
            row(label, f"{p50:.1f} ms",
                f"p95 {p95:.1f} ms; Tryton ~{TRYTON_SEARCH_MS} ms -> {TRYTON_SEARCH_MS / p50:.1f}x faster")


def _recompute(bench, ids, product_ids) -> None:
    from crm import totals
    from crm.db import db
    from crm.services import documents
    body = sales_order_body(ids, product_ids, 500)
    order = bench.api.post("/sales-orders", json=body).json()
    with bench.app.app_context():
        session = db.session
        document = documents.get_document(session, "sales_order", order["id"])
        p50, p95 = p50_p95(timed(lambda: documents.recompute(session, document), repeat=30))
        row("recompute totals of a 500-line document (with plugins)", f"{p50:.2f} ms", f"p95 {p95:.2f} ms (target < 10 ms)")
        engine_input = totals.DocumentInput(currency="EUR", tax_mode="individual", lines=[
            totals.LineInput(quantity=line.quantity, unit_price=line.unit_price, discount_percent=line.discount_percent,
                             taxes=[totals.TaxRate(1, "IVA", Decimal("21"))]) for line in document.lines])
        p50, _ = p50_p95(timed(lambda: totals.compute(engine_input), repeat=30))
        row("  of which the totals engine alone", f"{p50:.2f} ms")
        session.rollback()
