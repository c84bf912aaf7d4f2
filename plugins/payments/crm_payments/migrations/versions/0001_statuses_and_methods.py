"""payment statuses and methods, with the defaults

Revision ID: payments_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "payments_0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = [  # name, counts as received, is refund, is scheduled
    ("Paid", True, False, False),
    ("Pending", False, False, False),
    ("Scheduled", False, False, True),
    ("Failed", False, False, False),
    ("Refunded", True, True, False),
]
METHODS = ["Cash", "Check", "Credit card", "Bank transfer", "Direct debit"]


def upgrade():
    statuses = op.create_table(
        "payments_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("counts_as_received", sa.Boolean(), nullable=False),
        sa.Column("is_refund", sa.Boolean(), nullable=False),
        sa.Column("is_scheduled", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_statuses")),
        sa.UniqueConstraint("name", name=op.f("uq_payments_statuses_name")),
    )
    methods = op.create_table(
        "payments_methods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_methods")),
        sa.UniqueConstraint("name", name=op.f("uq_payments_methods_name")),
    )
    op.bulk_insert(statuses, [
        {"name": n, "counts_as_received": c, "is_refund": r, "is_scheduled": s, "position": i, "active": True}
        for i, (n, c, r, s) in enumerate(STATUSES)
    ])
    op.bulk_insert(methods, [{"name": n, "position": i, "active": True} for i, n in enumerate(METHODS)])


def downgrade():
    op.drop_table("payments_methods")
    op.drop_table("payments_statuses")
