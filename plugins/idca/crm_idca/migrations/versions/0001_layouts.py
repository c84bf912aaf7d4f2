"""layouts

Revision ID: idca_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "idca_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "idca_layouts",
        sa.Column("doc_type", sa.String(length=30), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("doc_type", name=op.f("pk_idca_layouts")),
    )


def downgrade():
    op.drop_table("idca_layouts")
