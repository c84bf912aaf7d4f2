"""Demo data: a believable small business to explore the product with."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import ROLES, User
from crm.services.users import create_user

DEMO_PASSWORD_SUFFIX = "1234"


def load_demo(session: Session) -> dict[str, int]:
    """Load the demo data once; running it again adds nothing."""
    created = {"users": 0}
    for role in ROLES:
        if session.scalar(select(User.id).where(User.username == role)) is None:
            create_user(session, role, role + DEMO_PASSWORD_SUFFIX, role, full_name=role.title(),
                        language="es" if role == "warehouse" else "en")
            created["users"] += 1
    return created
