"""item lookup: a full-text index of the search text on SQLite

``item_lookup_text`` is an FTS5 table with the trigram tokenizer whose content is
``item_lookup_entries.search``: a text search reads the ids of the entries holding every word
of three or more characters from it, instead of scanning every entry. It replaces
``ix_item_lookup_entries_text``. It is a virtual table, with shadow tables SQLite keeps for it,
and has no model (see ``crm.db.virtual_tables``). PostgreSQL keeps its trigram GIN index:
nothing changes there.

Revision ID: item_lookup_0003
Revises: item_lookup_0002
"""
from alembic import op

revision = "item_lookup_0003"
down_revision = "item_lookup_0002"
branch_labels = None
depends_on = None

#: SQLite 3.37 (2021): FTS5's trigram tokenizer and PRAGMA table_list
SQLITE_NEEDED = (3, 37, 0)
OLD_TEXT_INDEX = ["search", "kind_key", "active", "in_stock", "f1", "f2", "f3", "name_key", "unit_price"]


def upgrade():
    from crm_item_lookup import sync

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    version = bind.exec_driver_sql("SELECT sqlite_version()").scalar()
    if tuple(int(part) for part in version.split(".")) < SQLITE_NEEDED:
        raise RuntimeError(f"the item lookup needs SQLite 3.37 or newer (FTS5 with trigram tokens); "
                           f"this Python's SQLite is {version}")
    op.execute(f"CREATE VIRTUAL TABLE {sync.TEXT_TABLE} USING fts5(search, content='item_lookup_entries', "
               f"content_rowid='item_id', tokenize='trigram')")
    op.execute(f"INSERT INTO {sync.TEXT_TABLE} ({sync.TEXT_TABLE}) VALUES ('rebuild')")
    op.drop_index("ix_item_lookup_entries_text", table_name="item_lookup_entries")
    sync.install(bind)   # the triggers now keep the index too


def downgrade():
    from crm_item_lookup import sync

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    op.execute(f"DROP TABLE {sync.TEXT_TABLE}")
    op.create_index("ix_item_lookup_entries_text", "item_lookup_entries", OLD_TEXT_INDEX)
    sync.install(bind)   # without the index
