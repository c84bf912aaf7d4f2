"""SQLite: ids never reused, amounts stored exactly

Revision ID: payments_0003
Revises: payments_0002

On SQLite (nothing changes on PostgreSQL) the payments tables are rebuilt
(``crm.migrate.rebuild_sqlite_tables``): their ids become AUTOINCREMENT (a deleted payment's id
is never given again) and their amounts, which SQLite kept as floats, INTEGERs of
``amount * 10**4`` (``crm.models.base.ExactNumeric``). Rows, indexes, CHECK constraints and
triggers are kept; the downgrade stores the amounts as NUMERIC again.
"""
from crm.migrate import rebuild_sqlite_tables

revision = 'payments_0003'
down_revision = 'payments_0002'
branch_labels = None
depends_on = None

MONEY = (18, 4)
TABLES = {
    "payments_statuses": {},
    "payments_methods": {},
    "payments_schedules": {"amount": MONEY},
    "payments_payments": {"amount": MONEY},
    "payments_credits": {"amount": MONEY, "remaining": MONEY},
    "payments_credit_applications": {"amount": MONEY},
}


def upgrade():
    rebuild_sqlite_tables(TABLES)


def downgrade():
    rebuild_sqlite_tables(TABLES, exact=False)
