"""the configuration's change stamp: one row that a trigger on each configuration table changes

Revision ID: core_0020
Revises: core_0019
Create Date: 2026-12-08 01:00:00.000000

``config_stamp`` holds one row (id 1) with a random ``stamp``; triggers on ``settings`` and
``workflow_rules`` (``crm.migrate.watch_configuration``) replace it whenever a row of theirs is
inserted, updated or deleted, by any process and any means. Each request reads it with its first
statement (the signed-in user), and a process keeps what it read of those tables while the stamp
is unchanged (``crm.services.records.once_per_configuration``) instead of reading them again in
every request. Taken back while the plugins stay at their head, the plugins' watched tables keep
their triggers, asleep until the upgrade (``crm.migrate.configuration_triggers_asleep``).
"""
import sqlalchemy as sa
from alembic import op

from crm.migrate import configuration_triggers_asleep, unwatch_configuration, watch_configuration

revision = 'core_0020'
down_revision = 'core_0019'
branch_labels = None
depends_on = None

TABLES = ("settings", "workflow_rules")


def upgrade():
    op.create_table("config_stamp",
                    sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column("stamp", sa.String(length=32), nullable=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_config_stamp")))
    op.execute("INSERT INTO config_stamp (id, stamp) VALUES (1, '')")
    for table in TABLES:
        watch_configuration(table)
    configuration_triggers_asleep(False)   # the plugins' tables, if the core was taken back before


def downgrade():
    for table in TABLES:
        unwatch_configuration(table)
    configuration_triggers_asleep(True)    # the plugins' tables stay watched, their triggers asleep
    op.drop_table("config_stamp")
