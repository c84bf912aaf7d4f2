"""outgoing email: the outbox, its attachments, the document templates

Revision ID: core_0013
Revises: core_0012
Create Date: 2026-12-06 09:40:00.000000

``email_messages``: one row per message (to, cc, bcc, subject, body, status, attempts, the
server's answer, its Message-ID fixed when queued), sent by the job queue at most once;
``email_attachments``: the files sent with it (a document's PDF as it was when queued);
``email_templates``: the admins' templates per document type and language.
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0013'
down_revision = 'core_0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'email_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.String(length=250), nullable=False),
        sa.Column('record_type', sa.String(length=30), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=True),
        sa.Column('sender', sa.String(length=200), nullable=False),
        sa.Column('sender_name', sa.String(length=200), nullable=False),
        sa.Column('to', sa.JSON(), nullable=False),
        sa.Column('cc', sa.JSON(), nullable=False),
        sa.Column('bcc', sa.JSON(), nullable=False),
        sa.Column('subject', sa.String(length=250), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('handed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_response', sa.Text(), nullable=False),
        sa.Column('on_sent_status', sa.String(length=30), nullable=False),
        sa.Column('resent_from_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_email_messages_created_by_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['resent_from_id'], ['email_messages.id'],
                                name=op.f('fk_email_messages_resent_from_id_email_messages'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_email_messages')),
        sa.UniqueConstraint('message_id', name=op.f('uq_email_messages_message_id')),
    )
    op.create_index('ix_email_messages_record', 'email_messages', ['record_type', 'record_id', 'id'])
    op.create_index('ix_email_messages_status_due', 'email_messages', ['status', 'next_attempt_at'])
    op.create_table(
        'email_attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['email_messages.id'],
                                name=op.f('fk_email_attachments_message_id_email_messages'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_email_attachments')),
    )
    op.create_index(op.f('ix_email_attachments_message_id'), 'email_attachments', ['message_id'])
    op.create_table(
        'email_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('doc_type', sa.String(length=20), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('subject', sa.String(length=250), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'),
                  nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_email_templates')),
        sa.UniqueConstraint('doc_type', 'language', name='uq_email_templates_doc_type_language'),
    )


def downgrade():
    op.drop_table('email_templates')
    op.drop_index(op.f('ix_email_attachments_message_id'), table_name='email_attachments')
    op.drop_table('email_attachments')
    op.drop_index('ix_email_messages_status_due', table_name='email_messages')
    op.drop_index('ix_email_messages_record', table_name='email_messages')
    op.drop_table('email_messages')
