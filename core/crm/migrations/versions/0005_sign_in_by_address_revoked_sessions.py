"""sign-in failures counted per address; signed-out browser sessions

Revision ID: core_0005
Revises: core_0004
Create Date: 2026-12-06 07:00:00.000000

* ``ix_login_attempts_remote_addr_at``: the per-address sign-in limit counts the recent
  failures from one address (any usernames).
* ``revoked_sessions``: the ids of browser sessions that were signed out; a replayed cookie
  of such a session is refused.
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0005'
down_revision = 'core_0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_login_attempts_remote_addr_at', 'login_attempts', ['remote_addr', 'at'], unique=False)
    op.create_table(
        'revoked_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=64), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_revoked_sessions')),
        sa.UniqueConstraint('session_id', name=op.f('uq_revoked_sessions_session_id')),
    )
    op.create_index(op.f('ix_revoked_sessions_revoked_at'), 'revoked_sessions', ['revoked_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_revoked_sessions_revoked_at'), table_name='revoked_sessions')
    op.drop_table('revoked_sessions')
    op.drop_index('ix_login_attempts_remote_addr_at', table_name='login_attempts')
