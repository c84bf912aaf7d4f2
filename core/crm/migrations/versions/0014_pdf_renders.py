"""printed PDFs kept per document

Revision ID: core_0014
Revises: core_0013
Create Date: 2026-12-06 09:30:00.000000

``pdf_renders``: the PDF of a document printed from a given HTML (by its hash), kept so that
printing it again is immediate, and rendered by a worker when the document is large.
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0014'
down_revision = 'core_0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pdf_renders',
        sa.Column('html_sha256', sa.String(length=64), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=10), nullable=False),
        sa.Column('cells', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_pdf_renders_document_id_documents'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('html_sha256', name=op.f('pk_pdf_renders')),
    )
    with op.batch_alter_table('pdf_renders') as batch_op:
        batch_op.create_index(batch_op.f('ix_pdf_renders_document_id'), ['document_id'], unique=False)


def downgrade():
    op.drop_table('pdf_renders')
