"""SQLite: ids never reused

Revision ID: accounting_sync_0003
Revises: accounting_sync_0002

On SQLite (nothing changes on PostgreSQL) the links, outbox, runs and run records tables are
rebuilt with AUTOINCREMENT ids (``crm.migrate.rebuild_sqlite_tables``). The records the links
point at (the core's and the plugins' tables) get the same in their own migrations, with
counters above every id the audit trail recorded: a record created after the newest one was
deleted never takes its id, and so never its link.
"""
from crm.migrate import rebuild_sqlite_tables

revision = "accounting_sync_0003"
down_revision = "accounting_sync_0002"
branch_labels = None
depends_on = None

TABLES = {
    "accounting_sync_links": {},
    "accounting_sync_outbox": {},
    "accounting_sync_runs": {},
    "accounting_sync_run_records": {},
}


def upgrade():
    rebuild_sqlite_tables(TABLES)


def downgrade():
    rebuild_sqlite_tables(TABLES, exact=False)
