"""item lookup: counts per facet value, a covering vendor index

``item_lookup_facet_counts`` (entries per kind, active, in stock and one facet position's value,
kept by the same triggers as ``item_lookup_counts``): a facet's counts without another facet's
selection are read from a few dozen rows. ``ix_item_lookup_entries_vendor`` becomes covering: a
vendor's entries are counted and sorted from the index alone. On SQLite the text search scans
``ix_item_lookup_entries_text`` (the search text, then what a text search filters, counts and
sorts on) instead of the plain index on the search text.

Revision ID: item_lookup_0002
Revises: item_lookup_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "item_lookup_0002"
down_revision = "item_lookup_0001"
branch_labels = None
depends_on = None

OLD_VENDOR_INDEX = ["vendor_id", "kind_key", "active", "in_stock"]
TEXT_INDEX = ["search", "kind_key", "active", "in_stock", "f1", "f2", "f3", "name_key", "unit_price"]
VENDOR_INDEX = ["vendor_id", "active", "in_stock", "kind_key", "f1", "f2", "f3", "unit_price", "name_key", "sku",
                "available"]


def upgrade():
    from crm_item_lookup import sync

    bind = op.get_bind()
    op.create_table(
        "item_lookup_facet_counts",
        sa.Column("kind_key", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("in_stock", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind_key", "active", "position", "value", "in_stock",
                                name=op.f("pk_item_lookup_facet_counts")),
        sqlite_with_rowid=False,
    )
    op.drop_index("ix_item_lookup_entries_vendor", table_name="item_lookup_entries")
    op.create_index("ix_item_lookup_entries_vendor", "item_lookup_entries", VENDOR_INDEX)
    if bind.dialect.name == "sqlite":  # the plain index on the search text gives way to a wider one
        op.drop_index("ix_item_lookup_entries_search", table_name="item_lookup_entries")
        op.create_index("ix_item_lookup_entries_text", "item_lookup_entries", TEXT_INDEX)
    sync.install(bind)   # the triggers now keep the new table too
    sync.recount(bind)
    sync.bump(bind)


def downgrade():
    from crm_item_lookup import sync

    bind = op.get_bind()
    op.drop_table("item_lookup_facet_counts")
    sync.install(bind)   # without the dropped table
    op.drop_index("ix_item_lookup_entries_vendor", table_name="item_lookup_entries")
    op.create_index("ix_item_lookup_entries_vendor", "item_lookup_entries", OLD_VENDOR_INDEX)
    if bind.dialect.name == "sqlite":
        op.drop_index("ix_item_lookup_entries_text", table_name="item_lookup_entries")
        op.create_index("ix_item_lookup_entries_search", "item_lookup_entries", ["search"])
