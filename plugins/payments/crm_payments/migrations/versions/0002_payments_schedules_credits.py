"""payments, schedules, customer credit; the built-in Credit status and method

Revision ID: payments_0002
Revises: payments_0001
"""
import sqlalchemy as sa
from alembic import op

revision = 'payments_0002'
down_revision = 'payments_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payments_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('installments', sa.Integer(), nullable=False),
    sa.Column('first_date', sa.Date(), nullable=False),
    sa.Column('interval', sa.String(length=10), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_payments_schedules_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invoice_id'], ['documents.id'], name=op.f('fk_payments_schedules_invoice_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_schedules'))
    )
    with op.batch_alter_table('payments_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_schedules_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('payments_payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('method_id', sa.Integer(), nullable=True),
    sa.Column('status_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('overdue_since', sa.Date(), nullable=True),
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_payments_amount_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_payments_payments_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invoice_id'], ['documents.id'], name=op.f('fk_payments_payments_invoice_id_documents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['method_id'], ['payments_methods.id'], name=op.f('fk_payments_payments_method_id_payments_methods')),
    sa.ForeignKeyConstraint(['schedule_id'], ['payments_schedules.id'], name=op.f('fk_payments_payments_schedule_id_payments_schedules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['status_id'], ['payments_statuses.id'], name=op.f('fk_payments_payments_status_id_payments_statuses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_payments'))
    )
    with op.batch_alter_table('payments_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_payments_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_payments_method_id'), ['method_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_payments_schedule_id'), ['schedule_id'], unique=False)
        batch_op.create_index('ix_payments_payments_status_date', ['status_id', 'date'], unique=False)

    op.create_table('payments_credits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('remaining', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('source_payment_id', sa.Integer(), nullable=True),
    sa.Column('source_invoice_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('remaining <= amount', name=op.f('ck_payments_credits_remaining_within_amount')),
    sa.CheckConstraint('remaining >= 0', name=op.f('ck_payments_credits_remaining_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_payments_credits_account_id_accounts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_payments_credits_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_invoice_id'], ['documents.id'], name=op.f('fk_payments_credits_source_invoice_id_documents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_payment_id'], ['payments_payments.id'], name=op.f('fk_payments_credits_source_payment_id_payments_payments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_credits'))
    )
    with op.batch_alter_table('payments_credits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_credits_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_credits_source_payment_id'), ['source_payment_id'], unique=False)

    op.create_table('payments_credit_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credit_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['credit_id'], ['payments_credits.id'], name=op.f('fk_payments_credit_applications_credit_id_payments_credits'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments_payments.id'], name=op.f('fk_payments_credit_applications_payment_id_payments_payments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_credit_applications')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_payments_credit_applications_payment_id'))
    )
    with op.batch_alter_table('payments_credit_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_credit_applications_credit_id'), ['credit_id'], unique=False)

    with op.batch_alter_table('payments_methods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=30), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payments_methods_code'), ['code'])

    with op.batch_alter_table('payments_statuses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=30), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payments_statuses_code'), ['code'])


    _seed_credit(op.get_bind())


def _seed_credit(bind):
    """The status and method that applying customer credit uses (``code = 'credit'``).
    A row already named "Credit" (made by an admin) is adopted; its status flags are set
    so that it counts as received."""
    statuses = sa.table("payments_statuses", sa.column("id", sa.Integer), sa.column("name", sa.String),
                        sa.column("counts_as_received", sa.Boolean), sa.column("is_refund", sa.Boolean),
                        sa.column("is_scheduled", sa.Boolean), sa.column("position", sa.Integer),
                        sa.column("active", sa.Boolean), sa.column("code", sa.String))
    methods = sa.table("payments_methods", sa.column("id", sa.Integer), sa.column("name", sa.String),
                       sa.column("position", sa.Integer), sa.column("active", sa.Boolean),
                       sa.column("code", sa.String))
    for table, values in ((statuses, {"counts_as_received": True, "is_refund": False, "is_scheduled": False}),
                          (methods, {})):
        found = bind.execute(sa.select(table.c.id).where(table.c.name == "Credit")).scalar()
        if found is not None:
            bind.execute(table.update().where(table.c.id == found).values(code="credit", active=True, **values))
        else:
            position = bind.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.position), 0))).scalar() + 1
            bind.execute(table.insert().values(name="Credit", code="credit", position=position, active=True,
                                               **values))


def downgrade():
    with op.batch_alter_table('payments_credit_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_credit_applications_credit_id'))

    op.drop_table('payments_credit_applications')
    with op.batch_alter_table('payments_credits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_credits_source_payment_id'))
        batch_op.drop_index(batch_op.f('ix_payments_credits_account_id'))

    op.drop_table('payments_credits')
    with op.batch_alter_table('payments_payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_payments_status_date')
        batch_op.drop_index(batch_op.f('ix_payments_payments_schedule_id'))
        batch_op.drop_index(batch_op.f('ix_payments_payments_method_id'))
        batch_op.drop_index(batch_op.f('ix_payments_payments_invoice_id'))

    op.drop_table('payments_payments')
    with op.batch_alter_table('payments_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_schedules_invoice_id'))

    op.drop_table('payments_schedules')
    bind = op.get_bind()
    bind.execute(sa.text("DELETE FROM payments_statuses WHERE code = 'credit'"))
    bind.execute(sa.text("DELETE FROM payments_methods WHERE code = 'credit'"))
    with op.batch_alter_table('payments_statuses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_payments_statuses_code'), type_='unique')
        batch_op.drop_column('code')

    with op.batch_alter_table('payments_methods', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_payments_methods_code'), type_='unique')
        batch_op.drop_column('code')
