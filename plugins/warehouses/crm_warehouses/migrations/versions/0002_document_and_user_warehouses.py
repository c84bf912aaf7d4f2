"""the warehouse of a document, the default warehouse of a user

Revision ID: warehouses_0002
Revises: warehouses_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "warehouses_0002"
down_revision = "warehouses_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "warehouses_documents",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_warehouses_documents_document_id_documents"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses_warehouses.id"],
                                name=op.f("fk_warehouses_documents_warehouse_id_warehouses_warehouses")),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_warehouses_documents")),
    )
    op.create_index(op.f("ix_warehouses_documents_warehouse_id"), "warehouses_documents", ["warehouse_id"])
    op.create_table(
        "warehouses_user_defaults",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_warehouses_user_defaults_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses_warehouses.id"],
                                name=op.f("fk_warehouses_user_defaults_warehouse_id_warehouses_warehouses"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_warehouses_user_defaults")),
    )
    op.create_index(op.f("ix_warehouses_user_defaults_warehouse_id"), "warehouses_user_defaults", ["warehouse_id"])


def downgrade():
    op.drop_index(op.f("ix_warehouses_user_defaults_warehouse_id"), table_name="warehouses_user_defaults")
    op.drop_table("warehouses_user_defaults")
    op.drop_index(op.f("ix_warehouses_documents_warehouse_id"), table_name="warehouses_documents")
    op.drop_table("warehouses_documents")
