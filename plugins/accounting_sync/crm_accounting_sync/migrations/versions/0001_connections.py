"""connections

Revision ID: accounting_sync_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "accounting_sync_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "accounting_sync_connections",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("connector", sa.String(length=60), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_accounting_sync_connections")),
    )


def downgrade():
    op.drop_table("accounting_sync_connections")
