"""reorder levels per warehouse: a product's reorder level and quantity in one warehouse

Revision ID: warehouses_0005
Revises: warehouses_0004
"""
import sqlalchemy as sa
from alembic import op

from crm.models.base import Quantity  # exact: NUMERIC(18, 3) on PostgreSQL, a scaled integer on SQLite

revision = "warehouses_0005"
down_revision = "warehouses_0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "warehouses_reorder_levels",
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("reorder_level", Quantity, nullable=False),
        sa.Column("reorder_quantity", Quantity, nullable=False),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses_warehouses.id"],
                                name=op.f("fk_warehouses_reorder_levels_warehouse_id_warehouses_warehouses"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["product_id"], ["items.id"],
                                name=op.f("fk_warehouses_reorder_levels_product_id_items"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("warehouse_id", "product_id", name=op.f("pk_warehouses_reorder_levels")),
    )
    op.create_index(op.f("ix_warehouses_reorder_levels_product_id"), "warehouses_reorder_levels", ["product_id"])


def downgrade():
    op.drop_index(op.f("ix_warehouses_reorder_levels_product_id"), table_name="warehouses_reorder_levels")
    op.drop_table("warehouses_reorder_levels")
