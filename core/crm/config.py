"""Configuration read from the environment (``CRM_*`` variables).

Every setting has a default that works on a fresh machine: an SQLite file in
the instance folder, a random secret key per process (sessions then end when
the process restarts, so set ``CRM_SECRET_KEY`` in production).
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
        "SECRET_KEY": env.get("CRM_SECRET_KEY") or secrets.token_hex(32),
        "REDIS_URL": env.get("CRM_REDIS_URL") or None,
        # None loads every installed plugin; a list loads only those ids.
        "PLUGINS": [p.strip() for p in plugins.split(",") if p.strip()] if plugins is not None else None,
        "LOGIN_ATTEMPTS_LIMIT": int(env.get("CRM_LOGIN_ATTEMPTS_LIMIT", "5")),
        "LOGIN_ATTEMPTS_WINDOW_SECONDS": int(env.get("CRM_LOGIN_ATTEMPTS_WINDOW", "900")),
        "TOKEN_LIFETIME_DAYS": int(env.get("CRM_TOKEN_LIFETIME_DAYS", "365")),
        "COMPANY_NAME": env.get("CRM_COMPANY_NAME", "Demo Trading S.L."),
    }
