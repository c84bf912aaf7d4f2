"""What every HTTP answer carries for the browser's protection, and the checks of what a
request asks the app to trust: security headers (a Content-Security-Policy with a nonce for
inline scripts), the session cookie's flags, reverse proxies, sign-in with the rate limits,
and local redirect targets (``next``); and secrets kept at rest encrypted (:func:`encrypt_secret`).
See docs/security.md."""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
import unicodedata
from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

#: the policy of every answer; ``{nonce}`` becomes `` 'nonce-…'`` when the page used :func:`csp_nonce`
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'{nonce}; style-src 'self'{nonce}; "
                           "style-src-attr 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
                           "base-uri 'none'; frame-ancestors 'none'")
#: a PDF is shown by the browser's viewer, which a policy for pages would block: it may only not be framed
PDF_CONTENT_SECURITY_POLICY = "frame-ancestors 'none'"

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def csp_nonce() -> str:
    """The nonce of this answer's Content-Security-Policy, for an inline ``<script nonce="...">``
    or ``<style nonce="...">`` (templates: ``{{ csp_nonce() }}``)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy(response) -> str:
    if response.mimetype == "application/pdf":
        return PDF_CONTENT_SECURITY_POLICY
    nonce = g.get("csp_nonce")
    return CONTENT_SECURITY_POLICY.format(nonce=f" 'nonce-{nonce}'" if nonce else "")


def _add_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", content_security_policy(response))
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, made ``Secure`` whenever the request came over HTTPS (and always
    with ``SESSION_COOKIE_SECURE``), so that a browser never sends it over plain HTTP again."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def init_security(app: Flask) -> None:
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.session_interface = SessionCookie()
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.after_request(_add_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce


def local_path(target: str | None) -> str | None:
    """``target`` if a browser would read it as a path of this site, else None. A browser drops
    tabs and newlines anywhere in a URL, trims spaces and control characters, and reads ``\\``
    as ``/``: so ``/<tab>/evil.example`` and ``/\\evil.example`` mean ``//evil.example``, another
    site. Accepted: one ``/`` then no control character, no whitespace, no backslash, and no
    scheme or host once parsed."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def check_credentials(session, username: str, password: str):
    """:func:`crm.services.users.authenticate` for this request: its address and the configured
    limits (the sign-in page and ``POST /api/v1/auth/tokens`` share them)."""
    from crm.services.users import authenticate
    cfg = current_app.config
    return authenticate(session, username, password, remote_addr=request.remote_addr or "",
                        limit=cfg["LOGIN_ATTEMPTS_LIMIT"], address_limit=cfg["LOGIN_ADDRESS_ATTEMPTS_LIMIT"],
                        window_seconds=cfg["LOGIN_ATTEMPTS_WINDOW_SECONDS"])


# --- secrets at rest --------------------------------------------------------------------------------

def _fernet(purpose: str, app: Flask | None = None):
    """Fernet (AES-128-CBC + HMAC-SHA256) keyed from ``CRM_SECRETS_KEY`` when set (any string; a
    key of its own lets stored secrets survive a change of the session key), else from the app's
    ``SECRET_KEY``; derived with SHA-256 and ``purpose``, so each kind of secret has its own key."""
    from cryptography.fernet import Fernet
    raw = os.environ.get("CRM_SECRETS_KEY")
    if not raw:
        app = app or current_app
        raw = app.config.get("SECRETS_KEY") or app.config["SECRET_KEY"]
    if not raw:
        raise RuntimeError("no key for stored secrets: set CRM_SECRETS_KEY or CRM_SECRET_KEY")
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"crm:{purpose}:{raw}".encode()).digest()))


def encrypt_secret(value: str, purpose: str, app: Flask | None = None) -> str:
    """``value`` encrypted for storage (``""`` stays ``""``); :func:`decrypt_secret` reads it back
    with the same ``purpose`` and key."""
    if not value:
        return ""
    return _fernet(purpose, app).encrypt(value.encode()).decode()


class SecretUnreadable(Exception):
    """A stored secret that the current key cannot decrypt (the key changed): enter it again."""


def decrypt_secret(token: str, purpose: str, app: Flask | None = None) -> str:
    """The value :func:`encrypt_secret` stored; :class:`SecretUnreadable` when the key changed."""
    if not token:
        return ""
    from cryptography.fernet import InvalidToken
    try:
        return _fernet(purpose, app).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(f"the stored {purpose} secret cannot be decrypted with this key "
                               "(was CRM_SECRETS_KEY or CRM_SECRET_KEY changed?): enter it again") from None
