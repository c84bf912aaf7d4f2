"""item lookup: count changes folded at commit on PostgreSQL

``item_lookup_count_deltas`` receives, on PostgreSQL, each +1 and -1 the triggers used to add
straight to ``item_lookup_counts``; the transaction's commit sums them per group and adds each
sum once (``crm_item_lookup.sync``). A bulk import of 100,000 items changed the same few dozen
count rows 100,000 times in one transaction, and each update walked the row's earlier versions,
which PostgreSQL keeps until the commit: the time grew with the square of the rows. SQLite
updates in place: its triggers are unchanged, and the table stays empty there.

Revision ID: item_lookup_0005
Revises: item_lookup_0004
"""
import sqlalchemy as sa
from alembic import op

revision = "item_lookup_0005"
down_revision = "item_lookup_0004"
branch_labels = None
depends_on = None


def upgrade():
    from crm_item_lookup import sync

    op.create_table(
        "item_lookup_count_deltas",
        sa.Column("kind_key", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("in_stock", sa.Boolean(), nullable=False),
        sa.Column("f1", sa.String(length=100), nullable=False),
        sa.Column("f2", sa.String(length=100), nullable=False),
        sa.Column("f3", sa.String(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Boolean(), nullable=False),
    )
    sync.install(op.get_bind())   # PostgreSQL's triggers now write the changes there


def downgrade():
    from crm_item_lookup import sync

    bind = op.get_bind()
    sync.flush_deferred(bind)     # this transaction's changes folded before the table goes
    op.drop_table("item_lookup_count_deltas")
    sync.install(bind)            # the counts changed directly again
