"""Users: creation, password checks with rate limiting, API tokens."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from crm.errors import Conflict, NotFound, ValidationError
from crm.models import ApiToken, LoginAttempt, ROLES, User
from crm.models.auth import LANGUAGES
from crm.models.base import utcnow

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


def set_password(user: User, password: str) -> None:
    _check_password(password)
    user.password_hash = _hash_password(password)


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
                 limit: int = 5, window_seconds: int = 900) -> User | None:
    """The user if the password is right; None otherwise. After ``limit`` failures
    within the window, every attempt is refused with :class:`TooManyAttempts`
    (the failure is recorded by the caller's transaction, so commit it)."""
    since = utcnow() - dt.timedelta(seconds=window_seconds)
    failures = session.scalar(select(func.count()).select_from(LoginAttempt)
                              .where(LoginAttempt.username == username, LoginAttempt.at >= since))
    if failures >= limit:
        raise TooManyAttempts(_("too many failed logins; try again later"))
    user = session.scalar(select(User).where(User.username == username))
    if user is not None and user.active and check_password_hash(user.password_hash, password or ""):
        session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
        return user
    session.add(LoginAttempt(username=username[:80], remote_addr=remote_addr[:64]))
    return None


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
    """The active user of a valid (known, not revoked, not expired) token; one query."""
    row = session.execute(select(ApiToken.revoked_at, ApiToken.expires_at, User)
                          .join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.token_hash == _hash_token(plain))).first()
    if row is None:
        return None
    revoked_at, expires, user = row
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
