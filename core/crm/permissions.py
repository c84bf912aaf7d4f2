"""Who may do what. Every page and endpoint declares what it needs with
:func:`require`; a test checks that no view is left without a declaration.

Everyone signed in may read business records; writing is limited by role.
"""
from __future__ import annotations

from functools import wraps

from flask import g
from flask_babel import gettext as _

from crm.errors import PermissionDenied
from crm.models.auth import ROLES

EVERYONE = frozenset(ROLES)

#: resource -> (roles that may read, roles that may write)
RULES: dict[str, tuple[frozenset, frozenset]] = {
    "accounts": (EVERYONE, frozenset({"admin", "sales", "accounting"})),
    "vendors": (EVERYONE, frozenset({"admin", "purchasing", "accounting"})),
    "catalog": (EVERYONE, frozenset({"admin", "purchasing"})),        # products, services, bundles, price books
    "taxes": (EVERYONE, frozenset({"admin", "accounting"})),
    "custom_fields": (EVERYONE, frozenset({"admin"})),
    "quotes": (EVERYONE, frozenset({"admin", "sales"})),
    "sales_orders": (EVERYONE, frozenset({"admin", "sales"})),
    "purchase_orders": (EVERYONE, frozenset({"admin", "purchasing"})),
    "invoices": (EVERYONE, frozenset({"admin", "sales", "accounting"})),
    "shipments": (EVERYONE, frozenset({"admin", "warehouse", "sales"})),
    "receipts": (EVERYONE, frozenset({"admin", "warehouse", "purchasing"})),
    "stock": (EVERYONE, frozenset({"admin", "warehouse"})),
    "reports": (EVERYONE, frozenset({"admin"})),
    "users": (frozenset({"admin"}), frozenset({"admin"})),
    "plugins": (EVERYONE, frozenset({"admin"})),
    "settings": (EVERYONE, frozenset({"admin"})),
}


class NotSignedIn(Exception):
    """No user: the API answers 401, the web UI sends to the login page."""


def allowed_roles(resource: str, action: str = "read") -> frozenset:
    read, write = RULES[resource]
    return read if action == "read" else write


def can(user, resource: str, action: str = "read") -> bool:
    return user is not None and user.role in allowed_roles(resource, action)


def check(roles) -> None:
    user = g.get("user")
    if user is None:
        raise NotSignedIn()
    if user.role not in roles:
        raise PermissionDenied(_("your role (%(role)s) may not do this", role=user.role))


def require(resource: str | None = None, action: str = "read", *, roles=None, public: bool = False):
    """Decorate a view: ``@require("quotes", "write")``, ``@require(roles={"admin"})``,
    or ``@require(public=True)`` for the few views anyone may see (the login page)."""
    if resource is not None:
        if resource not in RULES:
            raise KeyError(f"unknown resource {resource!r}")
        roles = allowed_roles(resource, action)
    roles = frozenset(roles) if roles is not None else EVERYONE

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not public:
                check(roles)
            return view(*args, **kwargs)
        wrapper.crm_permission = "public" if public else sorted(roles)
        return wrapper
    return decorate
