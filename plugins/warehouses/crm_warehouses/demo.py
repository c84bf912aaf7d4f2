"""The warehouses plugin's demo data (``crm demo``): two warehouses, and the warehouse user
works in the first. The demo's stock stays at the default location, where the core put it."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import User
from crm_warehouses import services
from crm_warehouses.models import Warehouse

WAREHOUSES = [("MAD", "Madrid", "Calle de Alcalá 120\n28009 Madrid"),
              ("BCN", "Barcelona", "Carrer de la Marina 16\n08005 Barcelona")]


def load_demo_warehouses(session: Session) -> dict[str, int]:
    if session.scalar(select(func.count()).select_from(Warehouse)):
        return {}
    made = [services.create_warehouse(session, {"code": code, "name": name, "address": address})
            for code, name, address in WAREHOUSES]
    worker = session.scalar(select(User).where(User.username == "warehouse"))
    if worker is not None:
        services.set_user_default(session, worker.id, made[0].id)
    return {"warehouses": len(made)}
