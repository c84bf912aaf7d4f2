"""indexes for lists and search: documents and items by type then id; PostgreSQL
trigram indexes for the text search of products and services

Revision ID: core_0003
Revises: core_0002
Create Date: 2026-11-28 06:00:00.000000

* ``ix_documents_type_id`` and ``ix_items_kind_id``: a page of one document type
  (newest first) or of one kind of item (in id order) walks the index and stops
  after the page, instead of sorting every row of the type (SQLite did).
* PostgreSQL only: GIN trigram indexes on ``lower(name)``, ``lower(sku)`` and
  ``lower(description)`` of items serve ``?q=`` (``lower(column) LIKE '%q%'``).
  They need the ``pg_trgm`` extension (in PostgreSQL's contrib, trusted since 13):
  it is created if missing; where it cannot be (not installed, no privilege) the
  trigram indexes are left out and search works as before, only slower.
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = 'core_0003'
down_revision = 'core_0002'
branch_labels = None
depends_on = None

TRIGRAM_COLUMNS = ("name", "sku", "description")
log = logging.getLogger("alembic.runtime.migration")


def upgrade():
    op.create_index('ix_documents_type_id', 'documents', ['doc_type', 'id'], unique=False)
    op.create_index('ix_items_kind_id', 'items', ['kind', 'id'], unique=False)
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if not _pg_trgm(bind):
        log.warning("pg_trgm is not available: items are searched without trigram indexes")
        return
    for column in TRIGRAM_COLUMNS:
        op.execute(f"CREATE INDEX ix_items_{column}_trgm ON items USING gin (lower({column}) gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for column in TRIGRAM_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_items_{column}_trgm")
    op.drop_index('ix_items_kind_id', table_name='items')
    op.drop_index('ix_documents_type_id', table_name='documents')


def _pg_trgm(bind) -> bool:
    """pg_trgm is installed in this database, or could be installed now."""
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        return True
    if not bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first():
        return False
    savepoint = bind.begin_nested()  # a refused CREATE EXTENSION must not abort the migration
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True
