"""each warehouse owns a core stock location (plugin "warehouses", code = the warehouse's code)

Revision ID: warehouses_0003
Revises: warehouses_0002
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "warehouses_0003"
down_revision = "warehouses_0002"
branch_labels = None
depends_on = None

warehouses = sa.table("warehouses_warehouses", sa.column("id", sa.Integer()), sa.column("code", sa.String()),
                      sa.column("name", sa.String()), sa.column("location_id", sa.Integer()))
locations = sa.table("stock_locations", sa.column("id", sa.Integer()), sa.column("plugin", sa.String()),
                     sa.column("code", sa.String()), sa.column("name", sa.String()),
                     sa.column("created_at", sa.DateTime(timezone=True)))


def upgrade():
    with op.batch_alter_table("warehouses_warehouses") as batch:
        batch.add_column(sa.Column("location_id", sa.Integer(), nullable=True))
    bind = op.get_bind()
    for warehouse_id, code, name in bind.execute(sa.select(warehouses.c.id, warehouses.c.code, warehouses.c.name)):
        found = bind.execute(sa.select(locations.c.id).where(locations.c.plugin == "warehouses",
                                                             locations.c.code == code)).scalar()
        if found is None:
            bind.execute(locations.insert().values(plugin="warehouses", code=code, name=name,
                                                   created_at=dt.datetime.now(dt.timezone.utc)))
            found = bind.execute(sa.select(locations.c.id).where(locations.c.plugin == "warehouses",
                                                                 locations.c.code == code)).scalar()
        bind.execute(warehouses.update().where(warehouses.c.id == warehouse_id).values(location_id=found))
    with op.batch_alter_table("warehouses_warehouses") as batch:
        batch.alter_column("location_id", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint(op.f("uq_warehouses_warehouses_location_id"), ["location_id"])
        batch.create_foreign_key(op.f("fk_warehouses_warehouses_location_id_stock_locations"), "stock_locations",
                                 ["location_id"], ["id"])


def downgrade():
    with op.batch_alter_table("warehouses_warehouses") as batch:
        batch.drop_constraint(op.f("fk_warehouses_warehouses_location_id_stock_locations"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_warehouses_warehouses_location_id"), type_="unique")
        batch.drop_column("location_id")
