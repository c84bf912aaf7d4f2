"""Changing users from the web UI: an admin edits a user, a user edits their
own profile (name, email, language, password). Session first, never commits."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from crm.errors import Conflict, ValidationError
from crm.models import ROLES, User
from crm.models.auth import LANGUAGES
from crm.services.users import set_password


def _check_text(data: dict, name: str, max_length: int) -> None:
    value = data.get(name)
    if value is not None and (len(value) > max_length or "\x00" in value):
        raise ValidationError.for_field(name, _("at most %(length)s characters", length=max_length))


def update_user(session: Session, user: User, data: dict, *, acting: User | None = None) -> User:
    """Change ``full_name``, ``email``, ``role``, ``language``, ``active`` and (when given) ``password``.
    An admin cannot take away their own admin role or deactivate themselves, and the
    last active admin stays an active admin."""
    for name, length in (("full_name", 200), ("email", 200)):
        _check_text(data, name, length)
    if "role" in data and data["role"] not in ROLES:
        raise ValidationError.for_field("role", _("must be one of %(choices)s", choices=", ".join(ROLES)))
    if "language" in data and data["language"] not in LANGUAGES:
        raise ValidationError.for_field("language", _("must be one of %(choices)s", choices=", ".join(LANGUAGES)))
    losing_admin = user.role == "admin" and user.active and (
        data.get("role", "admin") != "admin" or data.get("active", True) is False)
    if losing_admin:
        if acting is not None and acting.id == user.id:
            raise Conflict(_("you cannot remove your own administrator rights or deactivate yourself"),
                           {"role": [_("not your own")]})
        admins = session.execute(select(func.count()).select_from(User)
                                 .where(User.role == "admin", User.active.is_(True))).scalar_one()
        if admins <= 1:
            raise Conflict(_("the last active administrator must stay one"), {"role": [_("last admin")]})
    for name in ("full_name", "email", "role", "language", "active"):
        if name in data:
            setattr(user, name, data[name])
    if data.get("password"):
        set_password(session, user, data["password"])
    session.flush()
    return user


def update_profile(session: Session, user: User, data: dict) -> User:
    """A user's own changes: name, email, language; a new password needs the current one."""
    allowed = {k: v for k, v in data.items() if k in ("full_name", "email", "language")}
    if data.get("new_password"):
        if not check_password_hash(user.password_hash, data.get("current_password") or ""):
            raise ValidationError.for_field("current_password", _("is not your current password"))
        allowed["password"] = data["new_password"]
    return update_user(session, user, allowed)
