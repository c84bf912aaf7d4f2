"""the layouts are configuration: a change to one replaces the core's change stamp

Revision ID: idca_0003
Revises: idca_0002

A trigger on ``idca_layouts`` (``crm.migrate.watch_configuration``) replaces the core's
configuration stamp whenever a layout is saved, so that every process reads the layout's version
again instead of the one it kept (``crm.services.records.once_per_configuration``).
"""
from crm.migrate import unwatch_configuration, watch_configuration

revision = "idca_0003"
down_revision = "idca_0002"
branch_labels = None
depends_on = None


def upgrade():
    watch_configuration("idca_layouts")


def downgrade():
    unwatch_configuration("idca_layouts")
