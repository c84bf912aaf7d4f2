"""transfers of stock between warehouses (draft, shipped: in transit, received, cancelled)

Revision ID: warehouses_0004
Revises: warehouses_0003
"""
import sqlalchemy as sa
from alembic import op

from crm.models.base import Quantity  # exact: NUMERIC(18, 3) on PostgreSQL, a scaled integer on SQLite

revision = "warehouses_0004"
down_revision = "warehouses_0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "warehouses_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("from_warehouse_id", sa.Integer(), nullable=False),
        sa.Column("to_warehouse_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["from_warehouse_id"], ["warehouses_warehouses.id"],
                                name=op.f("fk_warehouses_transfers_from_warehouse_id_warehouses_warehouses")),
        sa.ForeignKeyConstraint(["to_warehouse_id"], ["warehouses_warehouses.id"],
                                name=op.f("fk_warehouses_transfers_to_warehouse_id_warehouses_warehouses")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_warehouses_transfers_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses_transfers")),
        sa.UniqueConstraint("number", name=op.f("uq_warehouses_transfers_number")),
    )
    for column in ("from_warehouse_id", "to_warehouse_id", "status"):
        op.create_index(op.f(f"ix_warehouses_transfers_{column}"), "warehouses_transfers", [column])
    op.create_table(
        "warehouses_transfer_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", Quantity, nullable=False),
        sa.Column("qty_received", Quantity, nullable=False),
        sa.ForeignKeyConstraint(["transfer_id"], ["warehouses_transfers.id"],
                                name=op.f("fk_warehouses_transfer_lines_transfer_id_warehouses_transfers"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["product_id"], ["items.id"], name=op.f("fk_warehouses_transfer_lines_product_id_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses_transfer_lines")),
    )
    for column in ("transfer_id", "product_id"):
        op.create_index(op.f(f"ix_warehouses_transfer_lines_{column}"), "warehouses_transfer_lines", [column])


def downgrade():
    for column in ("transfer_id", "product_id"):
        op.drop_index(op.f(f"ix_warehouses_transfer_lines_{column}"), table_name="warehouses_transfer_lines")
    op.drop_table("warehouses_transfer_lines")
    for column in ("from_warehouse_id", "to_warehouse_id", "status"):
        op.drop_index(op.f(f"ix_warehouses_transfers_{column}"), table_name="warehouses_transfers")
    op.drop_table("warehouses_transfers")
