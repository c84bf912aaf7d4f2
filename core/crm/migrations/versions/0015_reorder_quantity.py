"""the quantity replenishment orders a product up to

Revision ID: core_0015
Revises: core_0014
Create Date: 2026-12-06 10:00:00.000000

``items.reorder_quantity``: replenishment drafts purchase orders bringing a low product up to it
(at least up to its reorder level); 0 for every existing product (up to the reorder level).
"""
import sqlalchemy as sa
from alembic import op

from crm.models.base import Quantity  # exact: NUMERIC(18, 3) on PostgreSQL, a scaled integer on SQLite

revision = 'core_0015'
down_revision = 'core_0014'
branch_labels = None
depends_on = None


# plain ALTER TABLE on both databases (SQLite adds and drops a column in place): a batch copy of
# ``items`` would break the triggers other tables keep on it (the item lookup's)
def upgrade():
    op.add_column('items', sa.Column('reorder_quantity', Quantity, server_default='0', nullable=False))


def downgrade():
    op.drop_column('items', 'reorder_quantity')
