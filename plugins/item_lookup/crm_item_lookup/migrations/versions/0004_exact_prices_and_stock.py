"""item lookup on SQLite: prices and stock stored exactly, ids never reused

Revision ID: item_lookup_0004
Revises: item_lookup_0003

On SQLite (nothing changes on PostgreSQL) ``item_lookup_entries`` and ``item_lookup_state`` are
rebuilt (``crm.migrate.rebuild_sqlite_tables``): ``unit_price`` and ``available`` hold the same
scaled INTEGERs as the ``items`` columns the triggers copy them from (``value * 10**scale``,
``crm.models.base.ExactNumeric``), and the integer keys are AUTOINCREMENT like every table's.
The triggers are kept, and so is the full-text index ``item_lookup_text`` (its rows are the
entries' ``item_id``, which the rebuild keeps); it is rebuilt anyway, to be sure.
"""
from alembic import op

from crm.migrate import rebuild_sqlite_tables

revision = "item_lookup_0004"
down_revision = "item_lookup_0003"
branch_labels = None
depends_on = None

TABLES = {
    "item_lookup_entries": {"available": (18, 3), "unit_price": (18, 4)},
    "item_lookup_state": {},
}


def _rebuild_text_index():
    from crm_item_lookup import sync

    if sync.text_index_kept(op.get_bind()):
        op.execute(f"INSERT INTO {sync.TEXT_TABLE} ({sync.TEXT_TABLE}) VALUES ('rebuild')")


def upgrade():
    rebuild_sqlite_tables(TABLES)
    _rebuild_text_index()


def downgrade():
    rebuild_sqlite_tables(TABLES, exact=False)
    _rebuild_text_index()
