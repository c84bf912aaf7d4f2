"""Users: creation, passwords, sign-in with rate limits, browser sessions, API tokens."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import zlib

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, delete, func, select, text, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from crm.errors import Conflict, NotFound, ValidationError
from crm.models import ROLES, ApiToken, LoginAttempt, RevokedSession, User
from crm.models.auth import LANGUAGES
from crm.models.base import utcnow
from crm.services.records import CONFIG_STAMP, note_config_stamp

MIN_PASSWORD_LENGTH = 8


class TooManyAttempts(Conflict):
    code = "too_many_attempts"


def create_user(session: Session, username: str, password: str, role: str, *,
                full_name: str = "", email: str = "", language: str = "en") -> User:
    username = (username or "").strip()
    if not username or len(username) > 80:
        raise ValidationError.for_field("username", _("must be 1 to 80 characters"))
    if role not in ROLES:
        raise ValidationError.for_field("role", _("must be one of %(choices)s", choices=", ".join(ROLES)))
    if language not in LANGUAGES:
        raise ValidationError.for_field("language", _("must be one of %(choices)s", choices=", ".join(LANGUAGES)))
    _check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(_("user %(username)s already exists", username=repr(username)),
                       {"username": [_("already exists")]})
    user = User(username=username, password_hash=_hash_password(password), role=role,
                full_name=full_name, email=email, language=language)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """A new password ends every session and API token the user had (:func:`end_all_sessions`):
    whoever knew the old one is out. A caller that keeps the current browser session signed in
    stores the new ``auth_generation`` in it."""
    _check_password(password)
    user.password_hash = _hash_password(password)
    end_all_sessions(session, user)


# --- browser sessions ------------------------------------------------------------------------
# A browser session (Flask's signed cookie) carries a random session id and the user's
# ``auth_generation`` at sign-in. It is refused once its id is in ``revoked_sessions`` (signed
# out) or once the user's generation has gone up (password changed, signed out everywhere).

def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_is_valid(session: Session, user: User, session_id: str | None, generation: object) -> bool:
    """Whether a browser session of ``user`` with this id and generation may go on."""
    if not user.active or not session_id or generation != user.auth_generation:
        return False
    revoked = select(RevokedSession.id).where(RevokedSession.session_id == session_id)
    return session.scalar(revoked) is None


def end_session(session: Session, session_id: str, *, cookie_lifetime: dt.timedelta) -> None:
    """Sign one browser session out: its id is refused from now on. Records older than the
    cookie's lifetime go: a cookie signed before them is refused by its age anyway."""
    session.execute(delete(RevokedSession).where(RevokedSession.revoked_at < utcnow() - cookie_lifetime))
    session.add(RevokedSession(session_id=session_id[:64]))
    session.flush()


def end_all_sessions(session: Session, user: User) -> None:
    """Sign the user out everywhere: every browser session (the generation goes up) and every
    API token (revoked)."""
    user.auth_generation = (user.auth_generation or 0) + 1
    session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))
    session.flush()


def _hash_password(password: str) -> str:
    """werkzeug's scrypt; tests may choose a cheaper method through ``PASSWORD_HASH_METHOD``."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


def _check_password(password: str) -> None:
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError.for_field("password", _("must have at least %(length)s characters",
                                                      length=MIN_PASSWORD_LENGTH))
    if len(password) > 1000:
        raise ValidationError.for_field("password", _("is too long"))


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("user %(id)s not found", id=user_id))
    return user


def authenticate(session: Session, username: str, password: str, *, remote_addr: str = "",
                 limit: int = 5, address_limit: int = 20, window_seconds: int = 900) -> User | None:
    """The user if the password is right; None otherwise (the failure is recorded by the
    caller's transaction, so commit it). Refused with :class:`TooManyAttempts` once ``limit``
    failures for the username, or ``address_limit`` failures from ``remote_addr`` (any
    usernames), fall within the window.

    Attempts at one username and from one address run one at a time (:func:`_serialise`), so
    that parallel requests cannot all pass the count before any failure is recorded. A right
    password clears the username's failures, never the address's."""
    username, remote_addr = username[:80], remote_addr[:64]
    _serialise(session, "username", username)
    if remote_addr:
        _serialise(session, "address", remote_addr)
    since = utcnow() - dt.timedelta(seconds=window_seconds)
    if (_failures(session, LoginAttempt.username == username, since) >= limit
            or (remote_addr and _failures(session, LoginAttempt.remote_addr == remote_addr, since) >= address_limit)):
        raise TooManyAttempts(_("too many failed logins; try again later"))
    user = session.scalar(select(User).where(User.username == username))
    if user is not None and user.active and check_password_hash(user.password_hash, password or ""):
        session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
        return user
    session.add(LoginAttempt(username=username, remote_addr=remote_addr))
    session.flush()
    return None


#: advisory lock spaces of :func:`_serialise` (PostgreSQL's two-key advisory locks)
_LOCK_SPACES = {"username": 1_714_001, "address": 1_714_002}


def _serialise(session: Session, space: str, key: str) -> None:
    """Hold a lock on ``key`` until the transaction ends. PostgreSQL: an advisory lock on the
    key's CRC-32 (a collision only makes two keys wait for each other). SQLite: nothing to do,
    the transaction's ``BEGIN IMMEDIATE`` already runs writers one at a time. Callers take the
    username's lock before the address's, so two sign-ins never wait for each other in a circle."""
    if session.get_bind().dialect.name != "postgresql":
        return
    crc = zlib.crc32(key.encode())
    session.execute(text("SELECT pg_advisory_xact_lock(CAST(:space AS integer), CAST(:key AS integer))"),
                    {"space": _LOCK_SPACES[space], "key": crc - 2**32 if crc >= 2**31 else crc})


def _failures(session: Session, which: ColumnElement[bool], since: dt.datetime) -> int:
    return session.execute(select(func.count()).select_from(LoginAttempt)
                           .where(which, LoginAttempt.at >= since)).scalar_one()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, *, name: str = "", lifetime_days: int = 365) -> tuple[ApiToken, str]:
    """A new API token; the plain token is returned once and never stored."""
    plain = "crm_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=_hash_token(plain), name=name[:100],
                     expires_at=utcnow() + dt.timedelta(days=lifetime_days))
    session.add(token)
    session.flush()
    return token, plain


def user_for_token(session: Session, plain: str) -> User | None:
    """The active user of a valid (known, not revoked, not expired) token; one query, which also
    reads the configuration's change stamp (:func:`crm.services.records.note_config_stamp`)."""
    row = session.execute(select(ApiToken.revoked_at, ApiToken.expires_at, User, CONFIG_STAMP)
                          .join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.token_hash == _hash_token(plain))).first()
    if row is None:
        return None
    revoked_at, expires, user, stamp = row
    note_config_stamp(session, stamp)
    if revoked_at is not None:
        return None
    if expires is not None and _aware(expires) < utcnow():
        return None
    return user if user.active else None


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != user.id and user.role != "admin"):
        raise NotFound(_("token %(id)s not found", id=token_id))
    token.revoked_at = token.revoked_at or utcnow()
    return token


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def system_user(session: Session, username: str, full_name: str, role: str = "admin") -> User:
    """The user automated work acts as (an accounting sync, an import), so that the audit trail
    and ``created_by`` name it instead of whoever started it. It never signs in: it is
    inactive and its password is unknowable. Created on first use."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, full_name=full_name, role=role, active=False,
                    password_hash="!" + secrets.token_hex(32))  # matches no password hash format
        session.add(user)
        session.flush()
    return user
