"""payment statuses may mean a failed payment; the built-in Failed status

Revision ID: payments_0004
Revises: payments_0003

``payments_statuses.is_failure`` (false for every existing status). The status named "Failed"
(seeded by ``payments_0001``) becomes the built-in one (``code = 'failed'``, ``is_failure``)
when it does not count as received and is not scheduled; otherwise (an administrator gave it
another meaning) it is left as it is and a built-in "Payment failed" status is added.
"""
import sqlalchemy as sa
from alembic import op

revision = 'payments_0004'
down_revision = 'payments_0003'
branch_labels = None
depends_on = None

STATUSES = sa.table("payments_statuses", sa.column("id", sa.Integer), sa.column("name", sa.String),
                    sa.column("counts_as_received", sa.Boolean), sa.column("is_refund", sa.Boolean),
                    sa.column("is_scheduled", sa.Boolean), sa.column("is_failure", sa.Boolean),
                    sa.column("position", sa.Integer), sa.column("active", sa.Boolean),
                    sa.column("code", sa.String))


# plain ALTER TABLE on both databases (SQLite adds and drops a column in place): a batch copy
# would lose the AUTOINCREMENT ids of payments_0003
def upgrade():
    op.add_column('payments_statuses', sa.Column('is_failure', sa.Boolean(), server_default=sa.false(),
                                                 nullable=False))
    bind = op.get_bind()
    if bind.execute(sa.select(STATUSES.c.id).where(STATUSES.c.code == "failed")).scalar() is not None:
        return
    found = bind.execute(sa.select(STATUSES.c.id, STATUSES.c.counts_as_received, STATUSES.c.is_scheduled)
                         .where(STATUSES.c.name == "Failed", STATUSES.c.code.is_(None))).first()
    if found is not None and not found.counts_as_received and not found.is_scheduled:
        bind.execute(STATUSES.update().where(STATUSES.c.id == found.id)
                     .values(code="failed", is_failure=True, is_refund=False))
        return
    name = "Failed" if found is None else "Payment failed"
    if bind.execute(sa.select(STATUSES.c.id).where(STATUSES.c.name == name)).scalar() is not None:
        name = f"{name} ({revision})"
    position = bind.execute(sa.select(sa.func.coalesce(sa.func.max(STATUSES.c.position), 0))).scalar() + 1
    bind.execute(STATUSES.insert().values(name=name, code="failed", counts_as_received=False, is_refund=False,
                                          is_scheduled=False, is_failure=True, position=position, active=True))


def downgrade():
    op.execute(sa.text("UPDATE payments_statuses SET code = NULL WHERE code = 'failed'"))
    op.drop_column('payments_statuses', 'is_failure')
