"""comments on records (the activity timeline)

Revision ID: core_0017
Revises: core_0016
Create Date: 2026-12-06 10:10:00.000000

``comments``: a user's comment on an account, contact, vendor, item or document, with the
users it mentions; the rest of a record's timeline is read from the audit trail, the status
history, the outbox and the plugins.
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0017'
down_revision = 'core_0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'comments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entity', sa.String(length=40), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('mentions', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_comments_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_comments')),
    )
    op.create_index('ix_comments_record', 'comments', ['entity', 'record_id', 'id'])


def downgrade():
    op.drop_index('ix_comments_record', table_name='comments')
    op.drop_table('comments')
