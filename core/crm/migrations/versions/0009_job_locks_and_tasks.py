"""job locks and periods, queued tasks with leases

Revision ID: core_0009
Revises: core_0008
Create Date: 2026-12-06 09:30:00.000000

``job_runs`` gains the lock a run holds across workers (``locked_by`` until ``locked_until``)
and the schedule's ``period`` of the last run; ``tasks`` holds every queued task with its
status and its worker's lease, so that a task whose worker died is run again by another.
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0009'
down_revision = 'core_0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job_runs') as batch:
        batch.add_column(sa.Column('period', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('locked_by', sa.String(length=100), server_default='', nullable=False))
        batch.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'tasks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('target', sa.String(length=200), nullable=False),
        sa.Column('kwargs', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('worker', sa.String(length=100), nullable=False),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    )
    op.create_index('ix_tasks_status_lease_until', 'tasks', ['status', 'lease_until'])


def downgrade():
    op.drop_index('ix_tasks_status_lease_until', table_name='tasks')
    op.drop_table('tasks')
    with op.batch_alter_table('job_runs') as batch:
        batch.drop_column('locked_until')
        batch.drop_column('locked_by')
        batch.drop_column('period')

