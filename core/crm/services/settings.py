"""Settings stored in the database under a namespace (``core`` or a plugin id)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm.models import Setting

#: The core's settings and their defaults.
CORE_DEFAULTS: dict[str, object] = {
    "allow_backorders": False,          # approve sales orders with short stock, reporting the shortfall
    "allow_negative_stock": False,      # accept adjustments and shipments that take on-hand below zero
    "default_currency": "EUR",
    "company_name": "Demo Trading S.L.",
    "company_address": "",
}


def get_setting(session: Session, key: str, namespace: str = "core", default: Any = None) -> Any:
    row = session.get(Setting, (namespace, key))
    if row is not None:
        return row.value
    if namespace == "core" and default is None:
        return CORE_DEFAULTS.get(key)
    return default


def set_setting(session: Session, key: str, value: Any, namespace: str = "core") -> None:
    row = session.get(Setting, (namespace, key))
    if row is None:
        session.add(Setting(namespace=namespace, key=key, value=value))
    else:
        row.value = value


def all_settings(session: Session, namespace: str = "core") -> dict:
    from sqlalchemy import select
    values = dict(CORE_DEFAULTS) if namespace == "core" else {}
    for row in session.scalars(select(Setting).where(Setting.namespace == namespace)):
        values[row.key] = row.value
    return values
