"""layout versions, the layout version of each document, custom field types of a layout

Revision ID: idca_0002
Revises: idca_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "idca_0002"
down_revision = "idca_0001"
branch_labels = None
depends_on = None

#: the skeleton keyed layouts by API path; the plugin keys them by the core's document type
PATHS = {"quotes": "quote", "sales-orders": "sales_order", "purchase-orders": "purchase_order",
         "invoices": "invoice"}


def upgrade():
    with op.batch_alter_table("idca_layouts") as batch:
        batch.add_column(sa.Column("fields", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("updated_by_id", sa.Integer(), nullable=True))
    op.create_table(
        "idca_layout_versions",
        sa.Column("doc_type", sa.String(length=30), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_idca_layout_versions_created_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("doc_type", "version", name=op.f("pk_idca_layout_versions")),
    )
    op.create_table(
        "idca_document_layouts",
        sa.Column("document_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("doc_type", sa.String(length=30), nullable=False),
        sa.Column("layout_version", sa.Integer(), nullable=False),
        sa.Column("total_errors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_idca_document_layouts_document_id_documents"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_idca_document_layouts")),
    )
    layouts = sa.table("idca_layouts", sa.column("doc_type", sa.String), sa.column("version", sa.Integer),
                       sa.column("columns", sa.JSON), sa.column("totals", sa.JSON))
    for path, name in PATHS.items():
        op.execute(layouts.update().where(layouts.c.doc_type == path).values(doc_type=name))
    versions = sa.table("idca_layout_versions", sa.column("doc_type", sa.String), sa.column("version", sa.Integer),
                        sa.column("columns", sa.JSON), sa.column("totals", sa.JSON))
    op.execute(versions.insert().from_select(["doc_type", "version", "columns", "totals"],
                                             sa.select(layouts.c.doc_type, layouts.c.version, layouts.c.columns,
                                                       layouts.c.totals)))


def downgrade():
    op.drop_table("idca_document_layouts")
    op.drop_table("idca_layout_versions")
    with op.batch_alter_table("idca_layouts") as batch:
        batch.drop_column("updated_by_id")
        batch.drop_column("updated_at")
        batch.drop_column("fields")
