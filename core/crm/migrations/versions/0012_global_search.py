"""text indexes of the global search: SQLite FTS5 trigram tables kept by triggers, PostgreSQL
trigram GIN indexes

Revision ID: core_0012
Revises: core_0011
Create Date: 2026-12-06 09:40:00.000000

The global search (``crm.services.search``) finds products, services, accounts, contacts,
vendors and documents by any part of their name, number, SKU, e-mail or phone, and the API's
``?q=`` of products and services uses the same index on SQLite.

* SQLite: one FTS5 table with the ``trigram`` tokenizer per searched table (``fts_items``,
  ``fts_accounts``, ``fts_contacts``, ``fts_vendors``, ``fts_documents``), its rowid the record's
  id, kept by ``AFTER INSERT / UPDATE OF / DELETE`` triggers named like the table
  (``fts_items_insert`` ...), so bulk inserts and raw updates are indexed too. They are virtual
  tables without a model (``crm.db.virtual_tables``).
* PostgreSQL: a GIN ``gin_trgm_ops`` index on ``lower(<the searched columns joined by
  spaces>)`` of accounts, contacts, vendors and documents (items already have theirs on
  ``lower(name)``, ``lower(sku)`` and ``lower(description)``, migration core_0003). Where
  pg_trgm cannot be had, they are left out and the search works, only slower.

The expressions must stay exactly those of ``crm.services.search`` (``PG_TEXT``, ``FTS_COLUMNS``):
the planner uses an expression index only for the same expression.
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = 'core_0012'
down_revision = 'core_0011'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _compact(column: str) -> str:
    """A phone without spaces, dashes, dots and brackets (``+34 600-11.22`` -> ``+346001122``)."""
    return (f"replace(replace(replace(replace(replace({column}, ' ', ''), '-', ''), '.', ''), '(', ''), "
            f"')', '')")


#: SQLite: the FTS5 table's columns and their expression over a row (``{r}``: NEW or the table)
FTS_COLUMNS = {
    "items": {"name": "{r}.name", "sku": "COALESCE({r}.sku, '')", "description": "{r}.description"},
    "accounts": {"name": "{r}.name", "email": "{r}.email", "phone": "{r}.phone || ' ' || " + _compact("{r}.phone"),
                 "tax_id": "{r}.tax_id"},
    "contacts": {"name": "{r}.first_name || ' ' || {r}.last_name", "email": "{r}.email",
                 "phone": "{r}.phone || ' ' || " + _compact("{r}.phone")},
    "vendors": {"name": "{r}.name", "email": "{r}.email", "phone": "{r}.phone || ' ' || " + _compact("{r}.phone")},
    "documents": {"number": "{r}.number", "subject": "{r}.subject", "customer_reference": "{r}.customer_reference"},
}
#: the columns whose change re-indexes a row
WATCHED = {"items": "name, sku, description", "accounts": "name, email, phone, tax_id",
           "contacts": "first_name, last_name, email, phone", "vendors": "name, email, phone",
           "documents": "number, subject, customer_reference"}

#: PostgreSQL: the text each table's GIN index holds (items: their per-column indexes of core_0003)
PG_TEXT = {
    "accounts": "name || ' ' || email || ' ' || phone || ' ' || " + _compact("phone") + " || ' ' || tax_id",
    "contacts": "first_name || ' ' || last_name || ' ' || email || ' ' || phone || ' ' || " + _compact("phone"),
    "vendors": "name || ' ' || email || ' ' || phone || ' ' || " + _compact("phone"),
    "documents": "number || ' ' || subject || ' ' || customer_reference",
}


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table, columns in FTS_COLUMNS.items():
            _sqlite_index(table, columns)
        return
    if bind.dialect.name != "postgresql":
        return
    if not _pg_trgm(bind):
        log.warning("pg_trgm is not available: the global search runs without trigram indexes")
        return
    for table, expression in PG_TEXT.items():
        op.execute(f"CREATE INDEX ix_{table}_search_trgm ON {table} USING gin (lower({expression}) gin_trgm_ops)")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table in FTS_COLUMNS:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS fts_{table}_{event}")
            op.execute(f"DROP TABLE IF EXISTS fts_{table}")
    elif bind.dialect.name == "postgresql":
        for table in PG_TEXT:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_trgm")


def _sqlite_index(table: str, columns: dict) -> None:
    names = ", ".join(columns)

    def values(row: str) -> str:
        return ", ".join(expression.format(r=row) for expression in columns.values())
    sets = ", ".join(f"{name} = {expression.format(r='NEW')}" for name, expression in columns.items())
    op.execute(f"CREATE VIRTUAL TABLE fts_{table} USING fts5({names}, tokenize='trigram')")
    op.execute(f"INSERT INTO fts_{table} (rowid, {names}) SELECT id, {values(table)} FROM {table}")
    op.execute(f"CREATE TRIGGER fts_{table}_insert AFTER INSERT ON {table} BEGIN "
               f"INSERT INTO fts_{table} (rowid, {names}) VALUES (NEW.id, {values('NEW')}); END")
    op.execute(f"CREATE TRIGGER fts_{table}_update AFTER UPDATE OF {WATCHED[table]} ON {table} BEGIN "
               f"UPDATE fts_{table} SET {sets} WHERE rowid = NEW.id; END")
    op.execute(f"CREATE TRIGGER fts_{table}_delete AFTER DELETE ON {table} BEGIN "
               f"DELETE FROM fts_{table} WHERE rowid = OLD.id; END")


def _pg_trgm(bind) -> bool:
    """pg_trgm is installed in this database, or could be installed now (as in core_0003)."""
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        return True
    if not bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first():
        return False
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True
