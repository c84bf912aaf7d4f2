"""the customer's own order reference on documents; a per-user generation of
sign-in credentials

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-12-06 06:00:00.000000

* ``documents.customer_reference``: the customer's purchase order number or
  other reference, shown on sales orders, invoices and their PDFs.
* ``users.auth_generation``: goes up by one when the user signs out everywhere
  or changes the password; sessions and API tokens issued under an older
  generation are refused.
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0004'
down_revision = 'core_0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('documents') as batch:
        batch.add_column(sa.Column('customer_reference', sa.String(length=100), nullable=False, server_default=''))
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('auth_generation', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('users') as batch:
        batch.drop_column('auth_generation')
    with op.batch_alter_table('documents') as batch:
        batch.drop_column('customer_reference')
