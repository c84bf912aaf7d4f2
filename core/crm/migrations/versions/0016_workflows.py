"""workflows: the admins' rules, their runs, the users' notifications

Revision ID: core_0016
Revises: core_0015
Create Date: 2026-12-06 10:10:00.000000

``workflow_rules``: trigger, conditions and actions of a rule (off by default), its webhook key
encrypted; ``workflow_runs``: one row per rule, record, trigger and period (unique: a rule runs
once for it), with what matched and what each action did; ``notifications``: the in-app messages
of each user (the bell).
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0016'
down_revision = 'core_0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'workflow_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('entity', sa.String(length=60), nullable=False),
        sa.Column('event', sa.String(length=60), nullable=False),
        sa.Column('trigger', sa.JSON(), nullable=False),
        sa.Column('conditions', sa.JSON(), nullable=False),
        sa.Column('actions', sa.JSON(), nullable=False),
        sa.Column('webhook_secret', sa.Text(), nullable=False),
        sa.Column('example', sa.String(length=60), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'),
                  nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_rules')),
        sa.UniqueConstraint('name', name=op.f('uq_workflow_rules_name')),
    )
    op.create_index('ix_workflow_rules_entity_event', 'workflow_rules', ['entity', 'event', 'enabled'])
    op.create_table(
        'workflow_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rule_id', sa.Integer(), nullable=False),
        sa.Column('entity', sa.String(length=60), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('event', sa.String(length=60), nullable=False),
        sa.Column('period', sa.String(length=30), nullable=False),
        sa.Column('snapshot', sa.JSON(), nullable=False),
        sa.Column('matched', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('steps', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['rule_id'], ['workflow_rules.id'],
                                name=op.f('fk_workflow_runs_rule_id_workflow_rules'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_runs')),
        sa.UniqueConstraint('rule_id', 'entity', 'record_id', 'event', 'period', name='uq_workflow_runs_once'),
    )
    op.create_index('ix_workflow_runs_status_due', 'workflow_runs', ['status', 'next_attempt_at'])
    op.create_index('ix_workflow_runs_rule', 'workflow_runs', ['rule_id', 'id'])
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=250), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('link', sa.String(length=300), nullable=False),
        sa.Column('source', sa.String(length=60), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    )
    op.create_index('ix_notifications_user_read', 'notifications', ['user_id', 'read_at', 'id'])


def downgrade():
    op.drop_index('ix_notifications_user_read', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index('ix_workflow_runs_rule', table_name='workflow_runs')
    op.drop_index('ix_workflow_runs_status_due', table_name='workflow_runs')
    op.drop_table('workflow_runs')
    op.drop_index('ix_workflow_rules_entity_event', table_name='workflow_rules')
    op.drop_table('workflow_rules')
