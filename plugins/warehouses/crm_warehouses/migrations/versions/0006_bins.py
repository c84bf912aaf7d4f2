"""locations inside a warehouse: the tree of zones, aisles, shelves and bins, what each bin holds,
and each product's default bin per warehouse

Revision ID: warehouses_0006
Revises: warehouses_0005
"""
import sqlalchemy as sa
from alembic import op

from crm.models.base import Quantity  # exact: NUMERIC(18, 3) on PostgreSQL, a scaled integer on SQLite

revision = "warehouses_0006"
down_revision = "warehouses_0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "warehouses_bins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses_warehouses.id"],
                                name=op.f("fk_warehouses_bins_warehouse_id_warehouses_warehouses")),
        sa.ForeignKeyConstraint(["parent_id"], ["warehouses_bins.id"],
                                name=op.f("fk_warehouses_bins_parent_id_warehouses_bins")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses_bins")),
        sa.UniqueConstraint("warehouse_id", "path", name=op.f("uq_warehouses_bins_warehouse_id")),
    )
    for column in ("warehouse_id", "parent_id"):
        op.create_index(op.f(f"ix_warehouses_bins_{column}"), "warehouses_bins", [column])
    op.create_table(
        "warehouses_bin_stock",
        sa.Column("bin_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", Quantity, nullable=False),
        sa.ForeignKeyConstraint(["bin_id"], ["warehouses_bins.id"],
                                name=op.f("fk_warehouses_bin_stock_bin_id_warehouses_bins"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["product_id"], ["items.id"], name=op.f("fk_warehouses_bin_stock_product_id_items"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("bin_id", "product_id", name=op.f("pk_warehouses_bin_stock")),
    )
    op.create_index(op.f("ix_warehouses_bin_stock_product_id"), "warehouses_bin_stock", ["product_id"])
    op.create_table(
        "warehouses_default_bins",
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("bin_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses_warehouses.id"],
                                name=op.f("fk_warehouses_default_bins_warehouse_id_warehouses_warehouses"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["product_id"], ["items.id"],
                                name=op.f("fk_warehouses_default_bins_product_id_items"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["bin_id"], ["warehouses_bins.id"],
                                name=op.f("fk_warehouses_default_bins_bin_id_warehouses_bins"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("warehouse_id", "product_id", name=op.f("pk_warehouses_default_bins")),
    )
    for column in ("product_id", "bin_id"):
        op.create_index(op.f(f"ix_warehouses_default_bins_{column}"), "warehouses_default_bins", [column])


def downgrade():
    for column in ("product_id", "bin_id"):
        op.drop_index(op.f(f"ix_warehouses_default_bins_{column}"), table_name="warehouses_default_bins")
    op.drop_table("warehouses_default_bins")
    op.drop_index(op.f("ix_warehouses_bin_stock_product_id"), table_name="warehouses_bin_stock")
    op.drop_table("warehouses_bin_stock")
    for column in ("warehouse_id", "parent_id"):
        op.drop_index(op.f(f"ix_warehouses_bins_{column}"), table_name="warehouses_bins")
    op.drop_table("warehouses_bins")
