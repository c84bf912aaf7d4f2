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

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounting_connectors import ENTITIES, connector_classes, settings_fields
from crm.errors import NotFound, ValidationError
from crm.money import is_digits
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


def default_direction(cls, entity: str) -> str:
    """The direction of an entity not configured: the connector's ``default_directions`` (QuickBooks:
    sales orders are not synced), else both ways."""
    return (getattr(cls, "default_directions", None) or {}).get(entity, "both")


def entity_config(connection: Connection, entity: str, supported=()) -> dict:
    cfg = dict((connection.settings or {}).get("entities", {}).get(entity) or {})
    cls = connector_classes().get(connection.connector)
    cfg.setdefault("direction", default_direction(cls, entity) if (not supported or entity in supported) else "none")
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
    missing = [f.name for f in settings_fields(cls) if f.secret and f.required]
    if missing:
        stored = crypto.decrypt(connection.secrets)
        missing = [k for k in missing if not stored.get(k)]
        if missing:
            raise ValidationError(f"secrets.{missing[0]}: is required",
                                  {f"secrets.{k}": ["is required"] for k in missing})
    session.flush()
    return connection


def validate_settings(settings: dict, cls) -> dict:
    """Check the settings of a connection of ``cls``; every problem found is reported at once
    (a :class:`ValidationError` whose ``fields`` are ``settings.<path>``)."""
    errors: dict[str, list[str]] = {}

    def bad(where: str, reason: str) -> None:
        errors.setdefault(where, []).append(reason)

    _check_entities(settings, cls, bad)
    _check_mappings(settings, cls, bad)
    maps = settings.get("value_maps") or {}
    if not isinstance(maps, dict) or any(not isinstance(v, dict) for v in maps.values()):
        bad("settings.value_maps", "must be an object of objects: name -> {ours: theirs}")
    for key in ("schedule_minutes", "background_threshold"):
        value = settings.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            bad(f"settings.{key}", "must be a whole number >= 0")
    _check_connector_fields(settings, cls, bad)
    if errors:
        first = next(iter(errors))
        raise ValidationError(f"{first}: {errors[first][0]}", errors)
    return settings


def _check_entities(settings: dict, cls, bad) -> None:
    """``entities``: entity -> {direction, policy}, of the entities ``cls`` syncs."""
    entities = settings.get("entities") or {}
    if not isinstance(entities, dict):
        bad("settings.entities", "must be an object: entity -> {direction, policy}")
        return
    for entity, cfg in entities.items():
        where = f"settings.entities.{entity}"
        if entity not in ENTITIES:
            bad(where, f"unknown entity; use: {', '.join(ENTITIES)}")
            continue
        if not isinstance(cfg, dict):
            bad(where, "must be an object {direction, policy}")
            continue
        if cfg.get("direction", "both") not in DIRECTIONS:
            bad(f"{where}.direction", f"must be one of {', '.join(DIRECTIONS)}")
        elif entity not in cls.entities and cfg.get("direction", "both") != "none":
            bad(f"{where}.direction", f"{cls.name} does not sync {entity}")
        if cfg.get("policy", "newest") not in POLICIES:
            bad(f"{where}.policy", f"must be one of {', '.join(POLICIES)}")


def _check_mappings(settings: dict, cls, bad) -> None:
    """``mappings``: a list of {entity, local: custom.<key>, remote, direction, map}."""
    mappings = settings.get("mappings") or []
    if not isinstance(mappings, list):
        bad("settings.mappings", "must be a list")
        return
    for n, m in enumerate(mappings):
        where = f"settings.mappings.{n}"
        if not isinstance(m, dict):
            bad(where, "must be an object")
            continue
        if m.get("entity") not in cls.entities:
            bad(f"{where}.entity", f"must be one of {', '.join(cls.entities)}")
        local = m.get("local") or ""
        if not isinstance(local, str) or not local.startswith("custom.") or len(local) <= 7:
            bad(f"{where}.local", "must name one of our custom fields: custom.<key>")
        if not m.get("remote") or not isinstance(m["remote"], str):
            bad(f"{where}.remote", "is required: the remote field")
        if m.get("direction", "both") not in MAPPING_DIRECTIONS:
            bad(f"{where}.direction", f"must be one of {', '.join(MAPPING_DIRECTIONS)}")
        if m.get("map") is not None and not isinstance(m["map"], dict):
            bad(f"{where}.map", "must be an object: our value -> theirs")
        problem = getattr(cls, "mapping_problem", None)
        reason = problem(m.get("entity"), m.get("remote")) if problem and isinstance(m.get("remote"), str) else None
        if reason:
            bad(f"{where}.remote", reason)


def _check_connector_fields(settings: dict, cls, bad) -> None:
    """The settings the connector declares (its setting fields), but the secrets."""
    for f in settings_fields(cls):
        if f.secret or f.name in RESERVED:
            continue
        value = settings.get(f.name)
        where = f"settings.{f.name}"
        if value in (None, ""):
            if f.required:
                bad(where, "is required")
            continue
        if f.type == "int" and not (isinstance(value, int) and not isinstance(value, bool)
                                    or isinstance(value, str) and is_digits(value.strip())):
            bad(where, "must be a whole number")
        elif f.type == "url" and not (isinstance(value, str) and value.startswith(("http://", "https://"))):
            bad(where, "must be an http:// or https:// address")
        elif f.type == "choice" and f.choices and value not in f.choices:
            bad(where, f"must be one of {', '.join(map(str, f.choices))}")


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


OAUTH_TOKENS = ("refresh_token", "access_token", "refresh_token_expires_at")
#: a reconnect is asked for when the refresh token lapses within this many days
RECONNECT_DAYS = 14


def refresh_token_expiry(connection: Connection | None) -> dict | None:
    """When the connection's refresh token lapses, and whether to reconnect now:
    ``{"at": datetime, "days": n, "reconnect": bool}`` (``reconnect`` within :data:`RECONNECT_DAYS`),
    None when unknown."""
    if connection is None:
        return None
    text = crypto.decrypt(connection.secrets).get("refresh_token_expires_at")
    if not text:
        return None
    at = dt.datetime.fromisoformat(text)
    at = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
    days = (at - dt.datetime.now(dt.timezone.utc)).days
    return {"at": at, "days": days, "reconnect": days < RECONNECT_DAYS}


def store_consent(session: Session, name: str, tokens: dict, realm_id: str) -> Connection:
    """After the OAuth consent: the tokens (encrypted) and the company id. Connecting a
    connection that already has links to another company is refused (its links would
    point at records of the other company): use a new connection for that company."""
    connection = get_connection(session, name, for_update=True)
    settings = dict(connection.settings or {})
    if check_company(session, connection, realm_id):
        connection.state = {}   # the cursors were the other company's
    settings["realm_id"] = str(realm_id)
    connection.settings = settings
    current = crypto.decrypt(connection.secrets)
    current.update({k: str(tokens[k]) for k in OAUTH_TOKENS if tokens.get(k)})
    connection.secrets = crypto.encrypt(current)
    session.flush()
    return connection


def check_company(session: Session, connection: Connection, realm_id: str) -> bool:
    """Whether ``realm_id`` is another company than the connection's; a Conflict when the
    connection already has links (to records of its company)."""
    from crm.errors import Conflict
    from crm_accounting_sync.models import Link
    previous = str((connection.settings or {}).get("realm_id") or "")
    if not previous or previous == str(realm_id):
        return False
    if session.scalar(select(Link.id).where(Link.connection == connection.name).limit(1)) is not None:
        raise Conflict(f"this connection syncs the QuickBooks company {previous}, not {realm_id}; "
                       "create a new connection for that company", code="other_company")
    return True


def forget_tokens(session: Session, name: str) -> Connection:
    """Disconnect: the OAuth tokens are removed (the app's client id and secret stay)."""
    connection = get_connection(session, name, for_update=True)
    current = crypto.decrypt(connection.secrets)
    for key in OAUTH_TOKENS:
        current.pop(key, None)
    connection.secrets = crypto.encrypt(current)
    session.flush()
    return connection
