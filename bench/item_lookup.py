"""Item lookup: the faceted search over 100,000 products and 10,000 services (plus 1,000
bundles), through the HTTP API as the picker calls it, against the same SQL run bare.

For each query: p50/p95 with the count cache warm (what a user paging and sorting gets),
p50/p95 cold (cache off: the first search after the catalogue changed, or text nobody typed
before), and the raw SQL floor: every statement of the cold search (settings, counts, page,
the page's items, taxes, components, vendors) replayed on a bare DB-API connection, no HTTP,
no ORM, no JSON. Target: p95 < 30 ms.
"""
from __future__ import annotations

import random
import time
from decimal import Decimal

from sqlalchemy import insert, literal, select, text, update

from bench import data
from bench.common import bench_app, header, p50_p95, row, settle, timed

PRODUCTS = 100_000
SERVICES = 10_000
BUNDLES = 1_000
VENDORS = 20
TARGET_MS = 30
REPEAT = 60

QUERIES = [
    ("no filter (products, by name)", {"kind": "product"}),
    ("one facet", {"kind": "product", "f1": "Garden"}),
    ("three facets + text", {"kind": "product", "f1": "Garden", "f2": "steel", "f3": "Maker 7", "q": "drill"}),
    ("in stock only", {"kind": "product", "in_stock": "true"}),
    ("text only, every kind", {"q": "cordless lamp"}),
    ("every kind, vendor + in stock, by price", {"vendor_id": "VENDOR", "in_stock": "true", "sort": "-unit_price"}),
    ("price book, products by price", {"kind": "product", "sort": "unit_price", "price_book_id": "BOOK"}),
    ("price book, one facet by name", {"kind": "product", "f1": "Garden", "price_book_id": "BOOK"}),
]
#: how many items the price book lists (the most a price book may hold: crm.services.price_books.MAX_PRICES)
BOOK_PRICES = 5_000


def load(app, tax_id: int) -> dict:
    """The catalogue: bench/data.py's products and services, then stock on 80 % of the
    products, vendors on most, and bundles of two products each."""
    from crm.db import db
    from crm.models import BundleComponent, Item, PriceBook, PriceBookEntry, Vendor
    from crm.models.base import Quantity
    started = time.perf_counter()
    ids = data.products(app, PRODUCTS, tax_id, services=SERVICES)
    rng = random.Random(3)
    with app.app_context():
        session = db.new_session(app)
        session.execute(insert(Vendor), [{"name": f"Vendor {n:02d}", "email": "", "phone": "", "website": "",
                                          "address": {}, "description": "", "active": True, "custom": {},
                                          "version": 1} for n in range(VENDORS)])
        vendor_ids = list(session.scalars(select(Vendor.id).order_by(Vendor.id)))
        # stock and vendors go through the triggers like any UPDATE of the stock ledger would
        one = literal(Decimal(1), Quantity)   # stored scaled on SQLite: 1 unit times an integer
        session.execute(update(Item).where(Item.kind == "product").values(on_hand=one * (Item.id % 5)))
        session.execute(text(f"UPDATE items SET vendor_id = {vendor_ids[0]} + (id % {VENDORS}) "
                             f"WHERE kind = 'product' AND id % 7 <> 0"))
        session.execute(insert(Item), [{
            "kind": "product", "name": f"{rng.choice(data.WORDS).title()} kit {n}", "sku": f"K-{n:05d}",
            "unit_price": Decimal(rng.randrange(1000, 90000)) / 100, "purchase_cost": Decimal(0),
            "category": rng.choice(data.CATEGORIES), "subcategory": rng.choice(data.WORDS),
            "manufacturer": f"Maker {rng.randrange(40)}", "active": True, "on_hand": Decimal(0),
            "reserved": Decimal(0), "qty_per_unit": Decimal(1), "reorder_level": Decimal(0), "usage_unit": "kit",
            "description": "", "is_bundle": True, "custom": {}, "version": 1} for n in range(BUNDLES)])
        bundle_ids = list(session.scalars(select(Item.id).where(Item.is_bundle.is_(True)).order_by(Item.id)))
        session.execute(insert(BundleComponent), [
            {"bundle_id": b, "component_id": c, "quantity": Decimal(q)}
            for b in bundle_ids for c, q in ((ids[(b * 7) % PRODUCTS], 1), (ids[(b * 13 + 1) % PRODUCTS], 2))])
        book = PriceBook(name="Trade", currency="EUR", active=True, description="")
        session.add(book)
        session.flush()
        session.execute(insert(PriceBookEntry), [
            {"price_book_id": book.id, "item_id": item_id, "list_price": Decimal(rng.randrange(100, 90000)) / 100}
            for item_id in rng.sample(ids, BOOK_PRICES)])
        book_id = book.id
        session.commit()
        session.close()
    return {"vendor": vendor_ids[1], "book": book_id, "seconds": time.perf_counter() - started}


def reindex(app) -> None:
    """What the README asks after a bulk import (``crm item-lookup reindex``): recount and, on
    PostgreSQL, compact the counts table (one dead row version per imported item until then)."""
    from crm.db import db
    from crm_item_lookup import sync
    engine = db.engine(app)
    with engine.begin() as connection:
        sync.rebuild(connection)
    sync.compact(engine)


def _params(params: dict, ids: dict) -> dict:
    chosen = {"VENDOR": str(ids["vendor"]), "BOOK": str(ids["book"])}
    return {k: chosen.get(v, v) for k, v in params.items()}


def _raw_statements(app, params: dict) -> list[tuple[str, object]]:
    """Every SQL statement (with its parameters) a cold search runs, as the engine saw them."""
    from sqlalchemy import event

    from crm.db import db
    from crm_item_lookup import schemas, search as lookup
    captured = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if not statement.startswith(("BEGIN", "ROLLBACK", "COMMIT")):
            captured.append((statement, parameters))

    engine = db.engine(app)
    cache_setting = app.config.get("ITEM_LOOKUP_CACHE")
    app.config["ITEM_LOOKUP_CACHE"] = False
    with app.test_request_context():
        session = db.new_session(app)
        try:
            args = schemas.ItemLookupSearchArgs().load(
                {k: ([v] if k in ("f1", "f2", "f3") else v) for k, v in params.items()})
            event.listen(engine, "before_cursor_execute", capture)
            try:
                lookup.search(session, schemas.to_query(args))
            finally:
                event.remove(engine, "before_cursor_execute", capture)
        finally:
            session.close()
            app.config["ITEM_LOOKUP_CACHE"] = cache_setting
    return captured


def run(backend: str) -> None:
    from crm.db import db
    with bench_app(backend, "item_lookup") as bench:
        base = data.base_records(bench.app)
        ids = load(bench.app, base["tax"])
        settle(bench)
        reindex(bench.app)
        header(f"item lookup [{backend}]: {PRODUCTS:,} products, {SERVICES:,} services, {BUNDLES:,} bundles "
               f"(loaded in {ids['seconds']:.0f} s, triggers included)")
        api = bench.api
        engine = db.engine(bench.app)
        for label, params in QUERIES:
            params = _params(params, ids)
            path = "/item-lookup/items?" + "&".join(f"{k}={v}" for k, v in params.items())

            def call():
                response = api.get(path)
                assert response.status_code == 200, response.text
                return response

            body = call().json()
            bench.app.config["ITEM_LOOKUP_CACHE"] = True
            warm = p50_p95(timed(call, repeat=REPEAT))
            bench.app.config["ITEM_LOOKUP_CACHE"] = False
            cold = p50_p95(timed(call, repeat=REPEAT))
            bench.app.config["ITEM_LOOKUP_CACHE"] = True
            statements = _raw_statements(bench.app, params)
            raw_connection = engine.raw_connection()
            try:
                cursor = raw_connection.cursor()

                def raw():
                    for sql, parameters in statements:
                        cursor.execute(sql, parameters)
                        cursor.fetchall()
                floor = p50_p95(timed(raw, repeat=REPEAT))
            finally:
                raw_connection.close()
            verdict = "ok" if cold[1] < TARGET_MS else f"over {TARGET_MS} ms"
            row(f"{label} [{body['total']:,} found]", f"{warm[0]:.1f}/{warm[1]:.1f} ms",
                f"warm p50/p95; cold {cold[0]:.1f}/{cold[1]:.1f} ms ({verdict}); "
                f"raw SQL {floor[0]:.1f}/{floor[1]:.1f} ms")
