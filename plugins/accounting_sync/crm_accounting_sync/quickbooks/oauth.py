"""QuickBooks' OAuth 2 consent ("Connect to QuickBooks"), on intuit-oauth's ``AuthClient``.

1. :func:`authorization_url` -> Intuit's consent screen, with a ``state`` the caller binds
   to the user's session (``secrets.token_urlsafe``; compared in constant time on return).
2. Intuit sends the browser back to the ``redirect_uri`` with ``code``, ``state`` and
   ``realmId`` (or ``error=access_denied``); :func:`exchange` trades the code for the
   access and refresh tokens (``authorization_code`` grant).
3. :func:`revoke` revokes the refresh token ("Disconnect").

The endpoints come from the OpenID discovery document named by the connection's
``environment`` ("production" or "sandbox") or ``discovery_url`` (a local fake's).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import os
import secrets as _secrets
from urllib.parse import urlsplit

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

SCOPES = [Scopes.ACCOUNTING]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class OAuthError(Exception):
    """The consent could not be started or finished; ``message`` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def new_state() -> str:
    return _secrets.token_urlsafe(32)


def same_state(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def discovery(settings: dict) -> str:
    """What intuit-oauth's ``environment`` gets: the setting ``discovery_url`` (an OpenID discovery
    document: a local fake's), else ``environment`` ("production" or "sandbox"; one stored as a
    URL before it became a choice still counts as the discovery URL)."""
    return settings.get("discovery_url") or settings.get("environment") or "production"


def _client(settings: dict, secrets: dict, redirect_uri: str, **tokens) -> AuthClient:
    if not settings.get("client_id"):
        raise OAuthError("the connection has no client_id (the Intuit app's Client ID)")
    if not secrets.get("client_secret"):
        raise OAuthError("the connection has no client_secret (the Intuit app's Client Secret)")
    environment = discovery(settings)
    if environment.startswith("http://") and (urlsplit(environment).hostname or "") not in LOOPBACK:
        raise OAuthError("discovery_url must be an https address (plain http only on this machine)")
    if environment.startswith("http://"):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # a local fake on this machine only
    try:
        return AuthClient(settings["client_id"], secrets["client_secret"], redirect_uri, environment, **tokens)
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise OAuthError(f"Intuit's OpenID discovery document could not be read: {exc.__class__.__name__}") from None


def authorization_url(settings: dict, secrets: dict, redirect_uri: str, state: str) -> str:
    client = _client(settings, secrets, redirect_uri)
    try:
        return client.get_authorization_url(SCOPES, state_token=state)
    finally:
        client.close()


def refresh_expiry(client: AuthClient) -> str | None:
    """When the refresh token ``client`` holds lapses (UTC, ISO): Intuit says how many seconds it
    has left (``x_refresh_token_expires_in``) with every token it gives; None when it did not say."""
    seconds = getattr(client, "x_refresh_token_expires_in", None)
    if not seconds:
        return None
    moment = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=int(seconds))
    return moment.isoformat(timespec="seconds")


def exchange(settings: dict, secrets: dict, redirect_uri: str, code: str, realm_id: str) -> dict:
    """The tokens for an authorization code: {"access_token", "refresh_token",
    "refresh_token_expires_at"}."""
    client = _client(settings, secrets, redirect_uri)
    with _asking(client, "Intuit refused the authorization code", "token service"):
        client.get_bearer_token(code, realm_id=realm_id)
    if not client.refresh_token or not client.access_token:
        raise OAuthError("Intuit's answer carried no tokens")
    return {"access_token": client.access_token, "refresh_token": client.refresh_token,
            "refresh_token_expires_at": refresh_expiry(client)}


def revoke(settings: dict, secrets: dict, redirect_uri: str) -> None:
    token = secrets.get("refresh_token") or secrets.get("access_token")
    if not token:
        return
    client = _client(settings, secrets, redirect_uri)
    with _asking(client, "Intuit refused to revoke the token", "revocation service"):
        client.revoke(token=token)


@contextlib.contextmanager
def _asking(client: AuthClient, refused: str, service: str):
    """A call to Intuit: its refusal (``refused``, with the status and reason) or an unreachable
    ``service`` becomes an :class:`OAuthError`; the client is closed either way."""
    try:
        yield
    except AuthClientError as exc:
        raise OAuthError(f"{refused} ({exc.status_code}): {_reason(exc)}") from None
    except requests.RequestException as exc:
        raise OAuthError(f"Intuit's {service} could not be reached: {exc.__class__.__name__}") from None
    finally:
        client.close()


def _reason(exc: AuthClientError) -> str:
    try:
        body = exc.response.json()
        return str(body.get("error_description") or body.get("error") or body)
    except ValueError:  # not JSON
        return exc.response.text[:200]
