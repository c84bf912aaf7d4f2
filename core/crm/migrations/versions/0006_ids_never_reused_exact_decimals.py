"""SQLite: ids never reused, money and quantities stored exactly

Revision ID: core_0006
Revises: core_0005
Create Date: 2026-12-07 09:00:00.000000

On SQLite (nothing changes on PostgreSQL, whose sequences never give an id twice and whose
NUMERIC columns are exact), every core table is rebuilt (``crm.migrate.rebuild_sqlite_tables``):

* an INTEGER primary key becomes AUTOINCREMENT, its counter above the largest id the table
  holds or the audit trail recorded for it: the id of a deleted row is never given again;
* money, quantity and rate columns, which SQLite kept as floats, hold ``value * 10**scale`` as
  an INTEGER (``crm.models.base.ExactNumeric``).

Rows, indexes, constraints and triggers (the item lookup's on ``items`` and
``bundle_components`` too) are kept. The downgrade stores the amounts as NUMERIC again and drops
AUTOINCREMENT.
"""
from crm.migrate import rebuild_sqlite_tables

revision = 'core_0006'
down_revision = 'core_0005'
branch_labels = None
depends_on = None

MONEY, QUANTITY, RATE = (18, 4), (18, 3), (9, 4)

#: every core table made before this revision whose ids SQLite generates or that has NUMERIC
#: columns, with those columns
TABLES = {
    "accounts": {},
    "api_tokens": {},
    "audit_log": {},
    "bundle_components": {"quantity": QUANTITY},
    "contacts": {},
    "custom_fields": {},
    "document_lines": {"quantity": QUANTITY, "unit_price": MONEY, "discount_percent": RATE,
                       "discount_amount": MONEY, "gross": MONEY, "discount": MONEY, "net": MONEY, "tax": MONEY,
                       "total": MONEY, "qty_reserved": QUANTITY, "qty_shipped": QUANTITY,
                       "qty_invoiced": QUANTITY, "qty_received": QUANTITY},
    "document_status_history": {},
    "documents": {"conversion_rate": RATE, "discount_percent": RATE, "discount_amount": MONEY,
                  "shipping_amount": MONEY, "adjustment": MONEY, "subtotal": MONEY, "discount_total": MONEY,
                  "taxable": MONEY, "tax_total": MONEY, "shipping": MONEY, "shipping_tax": MONEY,
                  "grand_total": MONEY, "received": MONEY, "balance": MONEY},
    "idempotency_keys": {},
    "items": {"unit_price": MONEY, "purchase_cost": MONEY, "qty_per_unit": QUANTITY, "reorder_level": QUANTITY,
              "on_hand": QUANTITY, "reserved": QUANTITY},
    "login_attempts": {},
    "price_book_entries": {"list_price": MONEY},
    "price_books": {},
    "recurring_runs": {},
    "stock_moves": {"quantity": QUANTITY},
    "taxes": {"rate": RATE},
    "users": {},
    "vendors": {},
}


def upgrade():
    rebuild_sqlite_tables(TABLES)


def downgrade():
    rebuild_sqlite_tables(TABLES, exact=False)
