"""Connections: settings, encrypted secrets, per-entity direction and conflict
policy, custom field mappings and value maps; and the connector built from them.

Settings of a connection (JSON, shown back; secrets are separate and never shown)::

    {
      "entities": {"accounts": {"direction": "both", "policy": "newest"}, ...},
      "mappings": [{"entity": "accounts", "local": "custom.region",
                    "remote": "CustomField:Region", "direction": "both",
                    "map": {"north": "N"}, "default": null}],
      "value_maps": {"tax_codes": {"IVA 21%": "TAX"}, "payment_methods": {"Cash": "1"}},
      "schedule_minutes": 60,          # 0: manual only
      "background_threshold": 200,     # more pending records than this: run in the worker
      "retry": {"max_attempts": 5, "base_seconds": 1.0, "max_seconds": 30},
      ... the connector's own keys (realm_id, api_base_url, ...)
    }
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounting import ENTITIES, connector_classes
from crm.errors import NotFound, ValidationError
from crm_accounting_sync import crypto
from crm_accounting_sync.models import DIRECTIONS, POLICIES, Connection

RESERVED = ("entities", "mappings", "value_maps", "schedule_minutes", "background_threshold", "retry",
            "invoice_status_from_remote", "initial_cutoff")
MAPPING_DIRECTIONS = ("both", "to_remote", "from_remote")


def get_connection(session: Session, name: str, *, for_update: bool = False) -> Connection:
    connection = session.get(Connection, name, with_for_update=True if for_update else None)
    if connection is None:
        raise NotFound(f"no connection named {name!r}", {"name": ["not found"]})
    return connection


def list_connections(session: Session) -> list[Connection]:
    return list(session.scalars(select(Connection).order_by(Connection.name)))


def connector_class(name: str):
    classes = connector_classes()
    cls = classes.get(name)
    if cls is None:
        raise ValidationError.for_field("connector", f"unknown connector {name!r}; installed: "
                                                     f"{', '.join(sorted(classes)) or 'none'}")
    return cls


def entity_config(connection: Connection, entity: str, supported=()) -> dict:
    cfg = dict((connection.settings or {}).get("entities", {}).get(entity) or {})
    cfg.setdefault("direction", "both" if (not supported or entity in supported) else "none")
    cfg.setdefault("policy", "newest")
    return cfg


def secret_names(connection: Connection) -> list[str]:
    """The names of the stored secrets (to show that they are set, never their values)."""
    return sorted(crypto.decrypt(connection.secrets))


def save_connection(session: Session, name: str, data: dict) -> Connection:
    """Create or change a connection. ``secrets``: only the keys given change; a key sent
    as null or "" is removed. Everything is validated before anything is written."""
    connection = session.get(Connection, name, with_for_update=True)
    connector = data.get("connector") or (connection.connector if connection else None)
    if not connector:
        raise ValidationError.for_field("connector", "is required")
    cls = connector_class(connector)
    settings = dict(connection.settings or {}) if connection is not None else {}
    if "settings" in data and data["settings"] is not None:
        settings.update(data["settings"])
    settings = validate_settings(settings, cls)
    if connection is None:
        connection = Connection(name=name, connector=connector, enabled=True, settings={}, secrets="", state={})
        session.add(connection)
    elif connection.connector != connector:
        connection.state = {}  # another system: the cursors mean nothing there
    connection.connector = connector
    connection.settings = settings
    if data.get("enabled") is not None:
        connection.enabled = bool(data["enabled"])
    if data.get("secrets"):
        unknown = [k for k in data["secrets"] if cls.secret_keys and k not in cls.secret_keys]
        if unknown:
            raise ValidationError.for_field(f"secrets.{unknown[0]}", f"unknown secret; {cls.name} takes: "
                                                                       f"{', '.join(cls.secret_keys)}")
        current = crypto.decrypt(connection.secrets)
        for key, value in data["secrets"].items():
            if value in (None, ""):
                current.pop(key, None)
            else:
                current[key] = str(value)
        connection.secrets = crypto.encrypt(current)
    session.flush()
    return connection


def validate_settings(settings: dict, cls) -> dict:
    entities = settings.get("entities") or {}
    if not isinstance(entities, dict):
        raise ValidationError.for_field("settings.entities", "must be an object: entity -> {direction, policy}")
    for entity, cfg in entities.items():
        where = f"settings.entities.{entity}"
        if entity not in ENTITIES:
            raise ValidationError.for_field(where, f"unknown entity; use: {', '.join(ENTITIES)}")
        if not isinstance(cfg, dict):
            raise ValidationError.for_field(where, "must be an object {direction, policy}")
        if cfg.get("direction", "both") not in DIRECTIONS:
            raise ValidationError.for_field(f"{where}.direction", f"must be one of {', '.join(DIRECTIONS)}")
        if cfg.get("policy", "newest") not in POLICIES:
            raise ValidationError.for_field(f"{where}.policy", f"must be one of {', '.join(POLICIES)}")
        if entity not in cls.entities and cfg.get("direction", "both") != "none":
            raise ValidationError.for_field(f"{where}.direction", f"{cls.name} does not sync {entity}")
    mappings = settings.get("mappings") or []
    if not isinstance(mappings, list):
        raise ValidationError.for_field("settings.mappings", "must be a list")
    for n, m in enumerate(mappings):
        where = f"settings.mappings.{n}"
        if not isinstance(m, dict):
            raise ValidationError.for_field(where, "must be an object")
        if m.get("entity") not in cls.entities:
            raise ValidationError.for_field(f"{where}.entity", f"must be one of {', '.join(cls.entities)}")
        local = m.get("local") or ""
        if not local.startswith("custom.") or len(local) <= 7:
            raise ValidationError.for_field(f"{where}.local", "must name one of our custom fields: custom.<key>")
        if not m.get("remote") or not isinstance(m["remote"], str):
            raise ValidationError.for_field(f"{where}.remote", "is required: the remote field")
        if m.get("direction", "both") not in MAPPING_DIRECTIONS:
            raise ValidationError.for_field(f"{where}.direction", f"must be one of {', '.join(MAPPING_DIRECTIONS)}")
        if m.get("map") is not None and not isinstance(m["map"], dict):
            raise ValidationError.for_field(f"{where}.map", "must be an object: our value -> theirs")
    maps = settings.get("value_maps") or {}
    if not isinstance(maps, dict) or any(not isinstance(v, dict) for v in maps.values()):
        raise ValidationError.for_field("settings.value_maps", "must be an object of objects: name -> {ours: theirs}")
    for key in ("schedule_minutes", "background_threshold"):
        value = settings.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValidationError.for_field(f"settings.{key}", "must be a whole number >= 0")
    return settings


def make_connector(connection: Connection, session: Session, app=None):
    """The connector object of a connection. Rotated secrets (a new refresh token) are
    written back encrypted and committed at once on ``session``: a refresh token used once
    is gone, so the new one must survive a run that fails later. Callers never hold a
    savepoint open across a remote call, so this commit only ends finished work."""
    cls = connector_class(connection.connector)
    from flask import current_app
    app = app or current_app._get_current_object()

    def save_secrets(changed: dict) -> None:
        current = crypto.decrypt(connection.secrets, app)
        current.update({k: v for k, v in changed.items() if v is not None})
        connection.secrets = crypto.encrypt(current, app)
        session.commit()

    return cls(dict(connection.settings or {}), crypto.decrypt(connection.secrets, app), save_secrets)
