"""sequences of the plugins' records

Revision ID: core_0007
Revises: core_0006
Create Date: 2026-12-08 09:00:00.000000

``sequences.doc_type`` names a sequence of ``crm.services.numbering``: a document type, or
``<plugin id>_<kind>`` for a plugin's records, so it takes up to 60 characters (it took 20).
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0007'
down_revision = 'core_0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sequences') as batch:
        batch.alter_column('doc_type', existing_type=sa.String(length=20), type_=sa.String(length=60),
                           existing_nullable=False)


def downgrade():
    op.execute(sa.text("DELETE FROM sequences WHERE length(doc_type) > 20"))
    with op.batch_alter_table('sequences') as batch:
        batch.alter_column('doc_type', existing_type=sa.String(length=60), type_=sa.String(length=20),
                           existing_nullable=False)
