"""links, outbox, runs, encrypted secrets

Revision ID: accounting_sync_0002
Revises: accounting_sync_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "accounting_sync_0002"
down_revision = "accounting_sync_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("accounting_sync_connections") as batch:
        batch.add_column(sa.Column("secrets", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("state", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "accounting_sync_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(length=60), nullable=False),
        sa.Column("entity", sa.String(length=30), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=True),
        sa.Column("remote_id", sa.String(length=100), nullable=True),
        sa.Column("remote_version", sa.String(length=100), nullable=True),
        sa.Column("local_hash", sa.String(length=64), nullable=True),
        sa.Column("remote_hash", sa.String(length=64), nullable=True),
        sa.Column("local_state", sa.JSON(), nullable=True),
        sa.Column("remote_state", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("pending", sa.String(length=12), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("conflict", sa.JSON(), nullable=True),
        sa.Column("resolution", sa.String(length=10), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["connection"], ["accounting_sync_connections.name"], ondelete="CASCADE",
                                name=op.f("fk_accounting_sync_links_connection_accounting_sync_connections")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_sync_links")),
        sa.UniqueConstraint("connection", "entity", "local_id", name="uq_accounting_sync_links_local"),
        sa.UniqueConstraint("connection", "entity", "remote_id", name="uq_accounting_sync_links_remote"),
    )
    op.create_index("ix_accounting_sync_links_status", "accounting_sync_links", ["connection", "status"])

    op.create_table(
        "accounting_sync_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(length=60), nullable=False),
        sa.Column("entity", sa.String(length=30), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection"], ["accounting_sync_connections.name"], ondelete="CASCADE",
                                name=op.f("fk_accounting_sync_outbox_connection_accounting_sync_connections")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_sync_outbox")),
    )
    op.create_index("ix_accounting_sync_outbox_connection", "accounting_sync_outbox", ["connection", "entity", "id"])

    op.create_table(
        "accounting_sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(length=60), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("trigger", sa.String(length=12), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("http_calls", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["connection"], ["accounting_sync_connections.name"], ondelete="CASCADE",
                                name=op.f("fk_accounting_sync_runs_connection_accounting_sync_connections")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_accounting_sync_runs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_sync_runs")),
    )
    op.create_index("ix_accounting_sync_runs_connection", "accounting_sync_runs", ["connection", "id"])

    op.create_table(
        "accounting_sync_run_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=30), nullable=False),
        sa.Column("side", sa.String(length=12), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=True),
        sa.Column("remote_id", sa.String(length=100), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["accounting_sync_runs.id"], ondelete="CASCADE",
                                name=op.f("fk_accounting_sync_run_records_run_id_accounting_sync_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_sync_run_records")),
    )
    op.create_index("ix_accounting_sync_run_records_run", "accounting_sync_run_records", ["run_id", "entity"])


def downgrade():
    op.drop_index("ix_accounting_sync_run_records_run", table_name="accounting_sync_run_records")
    op.drop_table("accounting_sync_run_records")
    op.drop_index("ix_accounting_sync_runs_connection", table_name="accounting_sync_runs")
    op.drop_table("accounting_sync_runs")
    op.drop_index("ix_accounting_sync_outbox_connection", table_name="accounting_sync_outbox")
    op.drop_table("accounting_sync_outbox")
    op.drop_index("ix_accounting_sync_links_status", table_name="accounting_sync_links")
    op.drop_table("accounting_sync_links")
    with op.batch_alter_table("accounting_sync_connections") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("created_at")
        batch.drop_column("state")
        batch.drop_column("secrets")
