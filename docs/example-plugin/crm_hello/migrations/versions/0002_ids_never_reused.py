"""SQLite: greeting ids never reused

Revision ID: hello_0002
Revises: hello_0001

``hello_greetings`` was created before the core made every table AUTOINCREMENT on SQLite: it is
rebuilt so (``crm.migrate.rebuild_sqlite_tables``). A table created from now on needs no such
migration: every table a migration creates gets AUTOINCREMENT (see the plugin guide).
"""
from crm.migrate import rebuild_sqlite_tables

revision = "hello_0002"
down_revision = "hello_0001"
branch_labels = None
depends_on = None

TABLES = {"hello_greetings": {}}


def upgrade():
    rebuild_sqlite_tables(TABLES)


def downgrade():
    rebuild_sqlite_tables(TABLES, exact=False)
