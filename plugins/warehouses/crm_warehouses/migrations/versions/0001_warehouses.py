"""warehouses

Revision ID: warehouses_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "warehouses_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "warehouses_warehouses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses_warehouses")),
        sa.UniqueConstraint("code", name=op.f("uq_warehouses_warehouses_code")),
    )


def downgrade():
    op.drop_table("warehouses_warehouses")
