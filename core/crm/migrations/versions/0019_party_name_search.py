"""PostgreSQL: trigram indexes on the names of accounts and vendors, for the global search's
documents found by their customer's or vendor's name

Revision ID: core_0019
Revises: core_0018
Create Date: 2026-12-06 23:40:00.000000

The global search finds a document when every word is in its customer's (a purchase order: its
vendor's) name (``crm.services.search._named``). The indexes of core_0012 hold the name with
the e-mail, phone and tax id; these hold ``lower(name)`` alone, so the few parties named by a
word are found without reading every party that mentions it elsewhere. SQLite's full-text
tables of core_0012 already have a ``name`` column. Where pg_trgm cannot be had, they are left
out and the search works, only slower.
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0019'
down_revision = 'core_0018'
branch_labels = None
depends_on = None

TABLES = ("accounts", "vendors")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if not bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        return  # core_0003 and core_0012 could not have it either
    for table in TABLES:
        op.execute(f"CREATE INDEX ix_{table}_name_trgm ON {table} USING gin (lower(name) gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_name_trgm")
