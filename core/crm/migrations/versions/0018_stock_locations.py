"""stock locations: every move at a location, balances per product and location

Revision ID: core_0018
Revises: core_0017
Create Date: 2026-12-06 12:50:00.000000

``stock_locations``: where stock is kept; the core's default location (id 1, plugin "", code
"default") is made here, and every existing move is at it. ``stock_balances``: on hand and
reserved per product and location, kept by the stock service with the product's totals; filled
here with each product's figures at the default location. ``stock_moves.location_id`` (1 for
every existing move) and ``document_lines.stock_location_id``: where a sales order line's
reservation is (1 for the lines holding one now).

On SQLite the two tables are rebuilt to hold the references (Alembic's batch mode: rows, indexes
and AUTOINCREMENT stay), every trigger of the database dropped meanwhile and created again.
"""
import sqlalchemy as sa
from alembic import op

from crm.migrate import sqlite_triggers_set_aside
from crm.models.base import Quantity  # exact: NUMERIC(18, 3) on PostgreSQL, a scaled integer on SQLite

revision = 'core_0018'
down_revision = 'core_0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stock_locations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plugin', sa.String(length=60), nullable=False),
        sa.Column('code', sa.String(length=60), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_locations')),
        sa.UniqueConstraint('plugin', 'code', name='uq_stock_locations_plugin_code'),
    )
    # the first row of a new table: id 1 on both databases (the sequence / AUTOINCREMENT moves on)
    op.execute("INSERT INTO stock_locations (plugin, code, name, created_at) "
               "VALUES ('', 'default', 'Default', CURRENT_TIMESTAMP)")
    op.create_table(
        'stock_balances',
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('on_hand', Quantity, nullable=False),
        sa.Column('reserved', Quantity, nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['items.id'], name=op.f('fk_stock_balances_product_id_items'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['location_id'], ['stock_locations.id'],
                                name=op.f('fk_stock_balances_location_id_stock_locations')),
        sa.PrimaryKeyConstraint('product_id', 'location_id', name=op.f('pk_stock_balances')),
    )
    op.create_index(op.f('ix_stock_balances_location_id'), 'stock_balances', ['location_id'], unique=False)
    # every stocked product's figures are at the default location (bundles and services have none)
    op.execute("INSERT INTO stock_balances (product_id, location_id, on_hand, reserved) "
               "SELECT id, 1, on_hand, reserved FROM items WHERE kind = 'product' AND "
               "(on_hand <> 0 OR reserved <> 0 OR EXISTS (SELECT 1 FROM stock_moves WHERE product_id = items.id))")
    with sqlite_triggers_set_aside():
        with op.batch_alter_table('stock_moves') as batch:
            batch.add_column(sa.Column('location_id', sa.Integer(), server_default=sa.text('1'), nullable=False))
            batch.create_foreign_key('fk_stock_moves_location_id_stock_locations', 'stock_locations',
                                     ['location_id'], ['id'])
            batch.create_index('ix_stock_moves_location_id', ['location_id'], unique=False)
        with op.batch_alter_table('document_lines') as batch:
            batch.add_column(sa.Column('stock_location_id', sa.Integer(), nullable=True))
            batch.create_foreign_key('fk_document_lines_stock_location_id_stock_locations', 'stock_locations',
                                     ['stock_location_id'], ['id'])


def downgrade():
    with sqlite_triggers_set_aside():
        with op.batch_alter_table('document_lines') as batch:
            batch.drop_constraint('fk_document_lines_stock_location_id_stock_locations', type_='foreignkey')
            batch.drop_column('stock_location_id')
        with op.batch_alter_table('stock_moves') as batch:
            batch.drop_index('ix_stock_moves_location_id')
            batch.drop_constraint('fk_stock_moves_location_id_stock_locations', type_='foreignkey')
            batch.drop_column('location_id')
    op.drop_index(op.f('ix_stock_balances_location_id'), table_name='stock_balances')
    op.drop_table('stock_balances')
    op.drop_table('stock_locations')
