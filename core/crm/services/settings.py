"""Settings stored in the database under a namespace (``core`` or a plugin id)."""
from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from crm.models import Setting
from crm.services.records import changes_configuration, configuration_changed, once_per_configuration

changes_configuration(Setting)

#: The core's settings and their defaults.
CORE_DEFAULTS: dict[str, object] = {
    "allow_backorders": False,          # approve sales orders with short stock, reporting the shortfall
    "allow_negative_stock": False,      # accept adjustments and shipments that take on-hand below zero
    "default_currency": "EUR",
    "company_name": "Demo Trading S.L.",
    "company_address": "",
}


def get_setting(session: Session, key: str, namespace: str = "core", default: Any = None) -> Any:
    """The setting's value: what the session holds of it (changed or not), else what the process
    kept of it while the configuration is unchanged (:func:`once_per_configuration`: no query
    in most requests), else its row; ``default`` (a core setting's: :data:`CORE_DEFAULTS`) when
    it has none. A list or mapping is the caller's own copy."""
    row = session.identity_map.get(identity_key(Setting, (namespace, key)))
    if row is not None:
        found: tuple = (row.value,)
    elif configuration_changed(session):   # a setting added in this transaction: flushed and read
        found = _stored(session, namespace, key)
    else:
        found = once_per_configuration(session, f"crm.settings.{namespace}.{key}",
                                       lambda: _stored(session, namespace, key))
    if found:
        return copy.deepcopy(found[0]) if isinstance(found[0], (dict, list)) else found[0]
    if namespace == "core" and default is None:
        return CORE_DEFAULTS.get(key)
    return default


def _stored(session: Session, namespace: str, key: str) -> tuple:
    """``(value,)`` of the setting's row, ``()`` without one."""
    value = session.execute(select(Setting.value).where(Setting.namespace == namespace, Setting.key == key)).first()
    return (value[0],) if value is not None else ()


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
