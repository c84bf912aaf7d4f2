"""the connections are configuration: a change to one replaces the core's change stamp

Revision ID: accounting_sync_0004
Revises: accounting_sync_0003

A trigger on ``accounting_sync_connections`` (``crm.migrate.watch_configuration``) replaces the
core's configuration stamp whenever a connection is added, changed, enabled, disabled or deleted,
so that every process reads the enabled connections again instead of the ones it kept
(``crm.services.records.once_per_configuration``).
"""
from crm.migrate import unwatch_configuration, watch_configuration

revision = "accounting_sync_0004"
down_revision = "accounting_sync_0003"
branch_labels = None
depends_on = None


def upgrade():
    watch_configuration("accounting_sync_connections")


def downgrade():
    unwatch_configuration("accounting_sync_connections")
