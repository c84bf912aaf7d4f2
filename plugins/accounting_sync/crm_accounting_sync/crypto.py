"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) keyed from ``CRM_SYNC_KEY``
(any string; a dedicated key lets the secrets survive a change of the session key)
or else from the app's ``SECRET_KEY`` (``CRM_SECRET_KEY``). The key is derived with
SHA-256, so any string works; losing it makes the stored secrets unreadable (connect
again), never readable by someone without it."""
from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, has_app_context

from crm.errors import Conflict


def _key(app=None) -> bytes:
    raw = os.environ.get("CRM_SYNC_KEY")
    if not raw:
        app = app or (current_app if has_app_context() else None)
        raw = (app.config.get("ACCOUNTING_SYNC_KEY") or app.config["SECRET_KEY"]) if app is not None else None
    if not raw:
        raise RuntimeError("no key for the accounting sync secrets: set CRM_SYNC_KEY or CRM_SECRET_KEY")
    return base64.urlsafe_b64encode(hashlib.sha256(("crm-accounting-sync:" + raw).encode()).digest())


def encrypt(secrets: dict, app=None) -> str:
    if not secrets:
        return ""
    return Fernet(_key(app)).encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()


def decrypt(token: str, app=None) -> dict:
    if not token:
        return {}
    try:
        return json.loads(Fernet(_key(app)).decrypt(token.encode()))
    except InvalidToken:
        raise Conflict("the stored credentials cannot be decrypted with this key (was CRM_SYNC_KEY or "
                       "CRM_SECRET_KEY changed?); enter them again", code="secrets_unreadable") from None
