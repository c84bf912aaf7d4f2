"""item lookup entries, counts, facet fields, state; the triggers that keep them in sync

Revision ID: item_lookup_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "item_lookup_0001"
down_revision = None
branch_labels = None
depends_on = None

DEFAULT_FACETS = [
    {"kind_key": "product", "f1": "category", "f2": "subcategory", "f3": "manufacturer"},
    {"kind_key": "service", "f1": "category", "f2": None, "f3": None},
    {"kind_key": "bundle", "f1": "category", "f2": "subcategory", "f3": "manufacturer"},
]


def upgrade():
    from crm_item_lookup import sync

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # trusted since PostgreSQL 13
    op.create_table(
        "item_lookup_entries",
        sa.Column("item_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind_key", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=True),
        sa.Column("in_stock", sa.Boolean(), nullable=False),
        sa.Column("available", sa.Numeric(precision=18, scale=3), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=True),
        sa.Column("f1", sa.String(length=100), nullable=True),
        sa.Column("f2", sa.String(length=100), nullable=True),
        sa.Column("f3", sa.String(length=100), nullable=True),
        sa.Column("search", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_lookup_entries")),
    )
    op.create_index("ix_item_lookup_entries_facets", "item_lookup_entries",
                    ["kind_key", "active", "f1", "f2", "f3", "in_stock", "vendor_id"])
    op.create_index("ix_item_lookup_entries_name", "item_lookup_entries", ["kind_key", "active", "name_key"])
    op.create_index("ix_item_lookup_entries_sku", "item_lookup_entries", ["kind_key", "active", "sku"])
    op.create_index("ix_item_lookup_entries_price", "item_lookup_entries", ["kind_key", "active", "unit_price"])
    op.create_index("ix_item_lookup_entries_available", "item_lookup_entries", ["kind_key", "active", "available"])
    op.create_index("ix_item_lookup_entries_all_name", "item_lookup_entries", ["active", "name_key"])
    op.create_index("ix_item_lookup_entries_vendor", "item_lookup_entries",
                    ["vendor_id", "kind_key", "active", "in_stock"])
    op.create_index("ix_item_lookup_entries_search", "item_lookup_entries", ["search"], postgresql_using="gin",
                    postgresql_ops={"search": "gin_trgm_ops"})
    op.create_table(
        "item_lookup_counts",
        sa.Column("kind_key", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("f1", sa.String(length=100), nullable=False),
        sa.Column("f2", sa.String(length=100), nullable=False),
        sa.Column("f3", sa.String(length=100), nullable=False),
        sa.Column("in_stock", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind_key", "active", "f1", "f2", "f3", "in_stock",
                                name=op.f("pk_item_lookup_counts")),
        sqlite_with_rowid=False,
    )
    facets = op.create_table(
        "item_lookup_facet_fields",
        sa.Column("kind_key", sa.String(length=10), nullable=False),
        sa.Column("f1", sa.String(length=80), nullable=True),
        sa.Column("f2", sa.String(length=80), nullable=True),
        sa.Column("f3", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("kind_key", name=op.f("pk_item_lookup_facet_fields")),
    )
    state = op.create_table(
        "item_lookup_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_lookup_state")),
    )
    op.bulk_insert(facets, DEFAULT_FACETS)
    op.bulk_insert(state, [{"id": 1, "generation": 0}])
    sync.install(bind)
    sync.rebuild(bind)  # the items that exist already


def downgrade():
    from crm_item_lookup import sync

    sync.uninstall(op.get_bind())
    op.drop_table("item_lookup_state")
    op.drop_table("item_lookup_facet_fields")
    op.drop_table("item_lookup_counts")
    op.drop_index("ix_item_lookup_entries_search", table_name="item_lookup_entries")
    for name in ("vendor", "all_name", "available", "price", "sku", "name", "facets"):
        op.drop_index(f"ix_item_lookup_entries_{name}", table_name="item_lookup_entries")
    op.drop_table("item_lookup_entries")
