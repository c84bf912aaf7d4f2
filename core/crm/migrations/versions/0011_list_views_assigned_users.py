"""saved list views; the user assigned to an account or a document

Revision ID: core_0011
Revises: core_0010
Create Date: 2026-12-06 10:00:00.000000

``list_views``: a user's saved views of a list page (query arguments and columns), shared with
everyone when an administrator says so; ``list_view_defaults``: the view each user's list opens
with. ``accounts.assigned_user_id`` and ``documents.assigned_user_id``: the user responsible for
the record (what a list's "Assign" sets).

On SQLite the two tables are rebuilt to hold the reference (Alembic's batch mode: rows, indexes
and AUTOINCREMENT stay), every trigger of the database dropped meanwhile and created again.
"""
import sqlalchemy as sa
from alembic import op

from crm.migrate import sqlite_triggers_set_aside

revision = 'core_0011'
down_revision = 'core_0010'
branch_labels = None
depends_on = None

ASSIGNED = ('accounts', 'documents')


def upgrade():
    op.create_table(
        'list_views',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('list_key', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('query', sa.JSON(), nullable=False),
        sa.Column('columns', sa.JSON(), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'),
                  nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_list_views_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_list_views')),
        sa.UniqueConstraint('user_id', 'list_key', 'name', name='uq_list_views_user_list_name'),
    )
    op.create_index('ix_list_views_list_key_shared', 'list_views', ['list_key', 'shared'], unique=False)
    op.create_table(
        'list_view_defaults',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('list_key', sa.String(length=100), nullable=False),
        sa.Column('view_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_list_view_defaults_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['view_id'], ['list_views.id'],
                                name=op.f('fk_list_view_defaults_view_id_list_views'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'list_key', name=op.f('pk_list_view_defaults')),
    )
    op.create_index(op.f('ix_list_view_defaults_view_id'), 'list_view_defaults', ['view_id'], unique=False)
    with sqlite_triggers_set_aside():
        for table in ASSIGNED:
            with op.batch_alter_table(table) as batch:
                batch.add_column(sa.Column('assigned_user_id', sa.Integer(), nullable=True))
                batch.create_foreign_key(f'fk_{table}_assigned_user_id_users', 'users', ['assigned_user_id'], ['id'],
                                         ondelete='SET NULL')
                batch.create_index(f'ix_{table}_assigned_user_id', ['assigned_user_id'], unique=False)


def downgrade():
    with sqlite_triggers_set_aside():
        for table in ASSIGNED:
            with op.batch_alter_table(table) as batch:
                batch.drop_index(f'ix_{table}_assigned_user_id')
                batch.drop_constraint(f'fk_{table}_assigned_user_id_users', type_='foreignkey')
                batch.drop_column('assigned_user_id')
    op.drop_index(op.f('ix_list_view_defaults_view_id'), table_name='list_view_defaults')
    op.drop_table('list_view_defaults')
    op.drop_index('ix_list_views_list_key_shared', table_name='list_views')
    op.drop_table('list_views')
