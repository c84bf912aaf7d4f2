"""Generators of bench data, written with bulk inserts."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import insert, select

from crm.db import db
from crm.models import Account, Document, Item, StockBalance, StockMove, Tax, Vendor, item_taxes
from crm.models.stock import DEFAULT_LOCATION_ID

CATEGORIES = ["Hardware", "Electrical", "Garden", "Office", "Plumbing", "Paint", "Tools", "Safety"]
WORDS = ["steel", "brass", "cordless", "heavy", "compact", "pro", "mini", "outdoor", "quick", "smart", "eco",
         "classic", "industrial", "flex", "max"]
NOUNS = ["drill", "hammer", "cable", "lamp", "hose", "stapler", "valve", "brush", "ladder", "glove", "saw",
         "socket", "switch", "pump", "clamp"]


def base_records(app) -> dict:
    """A tax, an account and a vendor."""
    with app.app_context():
        session = db.new_session(app)
        tax = Tax(name="IVA 21%", rate=Decimal("21"), applies_to="both")
        account = Account(name="Bench Customer S.L.")
        vendor = Vendor(name="Bench Supplier S.A.")
        session.add_all([tax, account, vendor])
        session.commit()
        ids = {"tax": tax.id, "account": account.id, "vendor": vendor.id}
        session.close()
        return ids


def products(app, count: int, tax_id: int, *, stock: Decimal | None = None, services: int = 0,
             seed: int = 7) -> list[int]:
    """``count`` products (and ``services`` services) with names, SKUs, categories, prices."""
    rng = random.Random(seed)
    rows = []
    for n in range(count + services):
        kind = "product" if n < count else "service"
        rows.append({
            "kind": kind, "name": f"{rng.choice(WORDS).title()} {rng.choice(NOUNS)} {n}",
            "sku": f"{'P' if kind == 'product' else 'S'}-{n:06d}",
            "unit_price": Decimal(rng.randrange(100, 50000)) / 100, "purchase_cost": Decimal(rng.randrange(50, 20000)) / 100,
            "category": rng.choice(CATEGORIES), "subcategory": rng.choice(WORDS), "manufacturer": f"Maker {rng.randrange(40)}",
            "active": True, "on_hand": stock if (stock is not None and kind == "product") else Decimal(0),
            "reserved": Decimal(0), "qty_per_unit": Decimal(1), "reorder_level": Decimal(rng.randrange(0, 20)),
            "usage_unit": "unit", "description": "", "is_bundle": False, "custom": {}, "version": 1,
        })
    with app.app_context():
        session = db.new_session(app)
        for start in range(0, len(rows), 5000):
            session.execute(insert(Item), rows[start:start + 5000])
        ids = list(session.scalars(select(Item.id).order_by(Item.id)))
        session.execute(insert(item_taxes), [{"item_id": i, "tax_id": tax_id} for i in ids])
        if stock is not None:  # the ledger backs the stock we gave them
            product_ids = ids[:count]
            for start in range(0, len(product_ids), 5000):
                session.execute(insert(StockMove), [
                    {"product_id": i, "quantity": stock, "kind": "adjustment", "reason": "found", "note": "bench"}
                    for i in product_ids[start:start + 5000]])
                session.execute(insert(StockBalance), [   # at the default location, as the moves
                    {"product_id": i, "location_id": DEFAULT_LOCATION_ID, "on_hand": stock, "reserved": Decimal(0)}
                    for i in product_ids[start:start + 5000]])
        session.commit()
        session.close()
    return ids


def documents(app, count: int, account_id: int, doc_type: str = "sales_order", prefix: str = "SO-B") -> None:
    """``count`` documents without lines, spread over a year and over statuses."""
    rng = random.Random(11)
    statuses = {"sales_order": ["Created", "Approved", "Delivered", "Cancelled"]}[doc_type]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    rows = [{
        "doc_type": doc_type, "number": f"{prefix}{n:06d}", "subject": f"Order {rng.choice(NOUNS)} {n}",
        "status": rng.choice(statuses), "account_id": account_id, "currency": "EUR", "conversion_rate": Decimal(1),
        "tax_mode": "individual", "group_taxes": [], "shipping_taxes": [], "shipping_amount": Decimal(0),
        "adjustment": Decimal(0), "terms": "", "description": "", "billing_address": {}, "shipping_address": {},
        "subtotal": Decimal(n % 1000), "discount_total": Decimal(0), "taxable": Decimal(n % 1000),
        "tax_total": Decimal(0), "shipping": Decimal(0), "shipping_tax": Decimal(0), "grand_total": Decimal(n % 1000),
        "extra_totals": {}, "received": Decimal(0), "balance": Decimal(0), "stock_moved": False, "custom": {},
        "version": 1, "created_at": start + dt.timedelta(minutes=50 * n), "updated_at": start + dt.timedelta(minutes=50 * n),
    } for n in range(count)]
    with app.app_context():
        session = db.new_session(app)
        for first in range(0, len(rows), 5000):
            session.execute(insert(Document), rows[first:first + 5000])
        session.commit()
        session.close()
