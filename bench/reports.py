"""Reports on a large catalogue: 100k products, 20k invoices, open orders. Time per report
(JSON, first page) and SQL statements, plus the full CSV of stock levels."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import insert, select

from bench import data
from bench.common import bench_app, header, p50_p95, row, timed

PRODUCTS = 100_000
INVOICES = 20_000
ORDERS = 2_000           # sales orders and purchase orders each, half of them open
LINES_PER_DOCUMENT = 3


def _documents(app, ids, product_ids) -> None:
    """Invoices spread over 2027 and open orders, each with a few lines, by bulk inserts."""
    from crm.db import db
    from crm.models import Document, DocumentLine
    rng = random.Random(5)
    specs = ([("invoice", "INV-B", rng.choice(["Approved", "Sent", "Paid", "Cancelled", "Created"]))
              for _ in range(INVOICES)]
             + [("sales_order", "SO-B", rng.choice(["Created", "Approved", "Delivered"])) for _ in range(ORDERS)]
             + [("purchase_order", "PO-B", rng.choice(["Created", "Approved", "Received Shipment"]))
                for _ in range(ORDERS)])
    rows = []
    for n, (doc_type, prefix, status) in enumerate(specs):
        day = dt.date(2027, 1, 1) + dt.timedelta(days=n % 365)
        total = Decimal(rng.randrange(1000, 100000)) / 100
        rows.append({
            "doc_type": doc_type, "number": f"{prefix}{n:06d}", "subject": "", "status": status,
            "account_id": ids["account"] if doc_type != "purchase_order" else None,
            "vendor_id": ids["vendor"] if doc_type == "purchase_order" else None,
            "currency": "EUR", "conversion_rate": Decimal(1), "tax_mode": "individual", "group_taxes": [],
            "shipping_taxes": [], "shipping_amount": Decimal(0), "adjustment": Decimal(0), "terms": "",
            "description": "", "billing_address": {}, "shipping_address": {}, "subtotal": total,
            "discount_total": Decimal(0), "taxable": total, "tax_total": Decimal(0), "shipping": Decimal(0),
            "shipping_tax": Decimal(0), "grand_total": total, "extra_totals": {},
            "received": total if status == "Paid" else Decimal(0), "balance": Decimal(0) if status == "Paid" else total,
            "stock_moved": False, "custom": {}, "version": 1, "invoice_date": day, "due_date": day + dt.timedelta(30),
        })
    with app.app_context():
        session = db.new_session(app)
        for first in range(0, len(rows), 5000):
            session.execute(insert(Document), rows[first:first + 5000])
        doc_ids = list(session.scalars(select(Document.id).order_by(Document.id)))
        lines = [{"document_id": doc_id, "position": p, "item_id": rng.choice(product_ids),
                  "quantity": Decimal(3), "unit_price": Decimal("10.00"), "gross": Decimal("30.00"),
                  "discount": Decimal(0), "net": Decimal("30.00"), "tax": Decimal(0), "total": Decimal("30.00"),
                  "qty_shipped": Decimal(1), "qty_invoiced": Decimal(1), "qty_received": Decimal(1),
                  "taxes": [], "custom": {}, "description": "", "comment": ""}
                 for doc_id in doc_ids for p in range(LINES_PER_DOCUMENT)]
        for first in range(0, len(lines), 5000):
            session.execute(insert(DocumentLine), lines[first:first + 5000])
        session.commit()
        session.close()


def run(backend: str) -> None:
    with bench_app(backend, "reports") as bench:
        ids = data.base_records(bench.app)
        product_ids = data.products(bench.app, PRODUCTS, ids["tax"], stock=Decimal("10"))
        _documents(bench.app, ids, product_ids)
        api = bench.api
        header(f"reports [{backend}]: {PRODUCTS // 1000}k products, {INVOICES // 1000}k invoices, "
               f"{2 * ORDERS // 1000}k orders")
        reports = [("stock-levels", {}), ("stock-levels", {"q": "drill", "category": "Tools"}), ("low-stock", {}),
                   ("stock-valuation", {}), ("stock-moves", {"product_id": product_ids[0]}),
                   ("open-sales-orders", {}), ("open-purchase-orders", {}),
                   ("sales-by-product", {"from": "2027-01-01", "to": "2027-12-31"}),
                   ("sales-by-account", {"from": "2027-01-01", "to": "2027-12-31"}),
                   ("invoice-aging", {"as_of": "2027-12-31"})]
        for name, params in reports:
            with bench.statements.counting() as counted:
                response = api.get(f"/reports/{name}", params=params)
            assert response.status_code == 200, response.text
            p50, p95 = p50_p95(timed(lambda: api.get(f"/reports/{name}", params=params), repeat=5, warmup=1))
            label = name + (f" ({', '.join(params)})" if params and name.startswith("stock-levels") else "")
            row(f"{label}, JSON page 1", f"{p50:.0f} ms", f"p95 {p95:.0f} ms; {counted['statements']} SQL statements")
        p50, _p95 = p50_p95(timed(lambda: api.get("/reports/stock-levels", params={"format": "csv"}), repeat=3,
                                  warmup=1))
        row(f"stock-levels CSV, all {PRODUCTS // 1000}k rows", f"{p50:.0f} ms")
