"""Configuration read from the environment (``CRM_*`` variables).

Every setting has a default that works on a fresh machine: an SQLite file in
the instance folder, and a secret key kept in the instance folder (``secret_key``,
made on first use, readable by its owner only), so that every process of one
installation (web processes, workers, commands) signs and reads alike. Set
``CRM_SECRET_KEY`` in production to keep it out of the instance folder.
"""
from __future__ import annotations

import os
import secrets


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the user gave."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def from_environment(instance_path: str) -> dict:
    """The settings of an app, from ``CRM_*`` environment variables."""
    env = os.environ
    default_db = "sqlite:///" + os.path.join(instance_path, "crm.db")
    plugins = env.get("CRM_PLUGINS")
    return {
        "DATABASE_URL": normalise_database_url(env.get("CRM_DATABASE_URL") or default_db),
        "SECRET_KEY": env.get("CRM_SECRET_KEY") or None,  # None: the instance folder's (instance_secret_key)
        "REDIS_URL": env.get("CRM_REDIS_URL") or None,
        # the queue's name: installations sharing one Redis need names of their own
        "QUEUE_NAME": env.get("CRM_QUEUE_NAME") or "crm",
        # how long a worker's hold on a running task or job lasts unless renewed (it is, while
        # the worker lives): a dead worker's task is run again by another after this long
        "WORKER_LEASE_SECONDS": int(env.get("CRM_WORKER_LEASE_SECONDS", "60")),
        # None loads every installed plugin; a list loads only those ids.
        "PLUGINS": [p.strip() for p in plugins.split(",") if p.strip()] if plugins is not None else None,
        "LOGIN_ATTEMPTS_LIMIT": int(env.get("CRM_LOGIN_ATTEMPTS_LIMIT", "5")),
        "LOGIN_ATTEMPTS_WINDOW_SECONDS": int(env.get("CRM_LOGIN_ATTEMPTS_WINDOW", "900")),
        "LOGIN_ADDRESS_ATTEMPTS_LIMIT": int(env.get("CRM_LOGIN_ADDRESS_ATTEMPTS_LIMIT", "20")),
        # the session cookie is Secure on HTTPS requests anyway; this makes it Secure always
        "SESSION_COOKIE_SECURE": _flag(env.get("CRM_SECURE_COOKIES", "")),
        # reverse proxies in front of the app whose X-Forwarded-For / -Proto are trusted
        "TRUSTED_PROXIES": int(env.get("CRM_TRUSTED_PROXIES", "0")),
        "TOKEN_LIFETIME_DAYS": int(env.get("CRM_TOKEN_LIFETIME_DAYS", "365")),
        "COMPANY_NAME": env.get("CRM_COMPANY_NAME", "Demo Trading S.L."),
        # workflow webhooks may call addresses of private networks and loopback (else refused)
        "WORKFLOW_WEBHOOK_ALLOW_PRIVATE": _flag(env.get("CRM_WORKFLOW_WEBHOOK_ALLOW_PRIVATE", "")),
        "WORKFLOW_WEBHOOK_TIMEOUT": float(env.get("CRM_WORKFLOW_WEBHOOK_TIMEOUT", "10")),
    }


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


SECRET_KEY_FILE = "secret_key"


def instance_secret_key(instance_path: str) -> str:
    """The secret key kept in ``<instance>/secret_key``, made on first use. Processes starting
    at the same moment agree: a new key is written to a file of its own, then linked into place,
    which fails if another process linked its key first (that one is read instead)."""
    path = os.path.join(instance_path, SECRET_KEY_FILE)
    if not os.path.exists(path):
        _write_secret_key(path)
    with open(path, encoding="ascii") as file:
        key = file.read().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it (a new key is made) or set CRM_SECRET_KEY")
    return key


def _write_secret_key(path: str) -> None:
    draft = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_hex(32) + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process made it first: theirs is the key
    finally:
        os.unlink(draft)
