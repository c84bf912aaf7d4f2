"""Who may do what. Every page and endpoint declares what it needs with
:func:`require`; a test checks that no view is left without a declaration, and
``tests/access_matrix.py`` states what every role may use.

Rights are given per *resource* (accounts, quotes, stock, ...): the roles that may read it
and those that may write it. Everyone signed in may read business records; writing is
limited by role, after the duties of each team (sales sells and invoices its orders,
purchasing buys and keeps the catalogue, the warehouse moves stock in and out, accounting
keeps taxes and payments). The core's resources are :data:`RESOURCES`; a plugin declares its
own :class:`Resource` and passes it to :func:`require`. The roles page (``/admin/roles``)
shows both, from these declarations.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import g
from flask_babel import gettext as _, lazy_gettext as _l

from crm.errors import PermissionDenied
from crm.models.auth import ROLES

EVERYONE = frozenset(ROLES)


@dataclass(frozen=True)
class Resource:
    """What the roles may do with one kind of record or action: ``read`` and ``write`` are the
    roles allowed (whoever may write may read). ``label`` and ``description`` are shown on the
    roles page in the user's language (pass ``lazy_gettext`` strings)."""

    name: str
    label: str
    read: frozenset
    write: frozenset
    description: str = ""

    def __post_init__(self):
        read, write = frozenset(self.read), frozenset(self.write)
        unknown = (read | write) - EVERYONE
        if unknown:
            raise ValueError(f"resource {self.name!r}: unknown roles {sorted(unknown)}")
        if not write <= read:
            raise ValueError(f"resource {self.name!r}: roles that write must read too: {sorted(write - read)}")
        object.__setattr__(self, "read", read)
        object.__setattr__(self, "write", write)

    def roles(self, action: str = "read") -> frozenset:
        if action not in ("read", "write"):
            raise ValueError(f"unknown action {action!r}")
        return self.read if action == "read" else self.write


def _resource(name, label, write, description, read=EVERYONE) -> Resource:
    return Resource(name, label, read, frozenset(write), description)


#: the core's resources, in the order of the roles page
RESOURCES: dict[str, Resource] = {r.name: r for r in (
    _resource("accounts", _l("Accounts and contacts"), {"admin", "sales", "accounting"},
              _l("Customers and their contacts")),
    _resource("quotes", _l("Quotes"), {"admin", "sales"}, _l("Quotes and their statuses")),
    _resource("sales_orders", _l("Sales orders"), {"admin", "sales"}, _l("Sales orders and their statuses")),
    _resource("invoices", _l("Invoices"), {"admin", "sales", "accounting"},
              _l("Invoices, also those made from a quote or a sales order")),
    _resource("vendors", _l("Vendors"), {"admin", "purchasing", "accounting"}, _l("Suppliers of products and services")),
    _resource("purchase_orders", _l("Purchase orders"), {"admin", "purchasing"},
              _l("Purchase orders, also those made from a sales order")),
    _resource("catalog", _l("Catalog"), {"admin", "purchasing"},
              _l("Products, services, bundles and price books")),
    _resource("shipments", _l("Shipments"), {"admin", "warehouse"}, _l("Shipping sales orders (stock out)")),
    _resource("receipts", _l("Receipts"), {"admin", "warehouse"}, _l("Receiving purchase orders (stock in)")),
    _resource("stock", _l("Stock"), {"admin", "warehouse"}, _l("Stock levels, moves and adjustments")),
    _resource("taxes", _l("Taxes"), {"admin", "accounting"}, _l("Tax rates")),
    _resource("reports", _l("Reports"), set(), _l("Reports and their CSV files")),
    _resource("custom_fields", _l("Custom fields"), {"admin"}, _l("The extra fields of records and lines")),
    _resource("settings", _l("Settings"), {"admin"}, _l("Company settings and the settings of plugins")),
    _resource("plugins", _l("Plugins"), {"admin"}, _l("Enabling and disabling plugins")),
    _resource("users", _l("Users"), {"admin"}, _l("Users, their roles and this page"), read={"admin"}),
    _resource("jobs", _l("Background jobs"), set(), _l("The scheduled jobs' runs and the background worker"),
              read={"admin"}),
)}


class NotSignedIn(Exception):
    """No user: the API answers 401, the web UI sends to the login page."""


def resource_of(resource: str | Resource) -> Resource:
    """A :class:`Resource`, or the core's resource of that name (KeyError when there is none)."""
    if isinstance(resource, Resource):
        return resource
    if resource not in RESOURCES:
        raise KeyError(f"unknown resource {resource!r}")
    return RESOURCES[resource]


def allowed_roles(resource: str | Resource, action: str = "read") -> frozenset:
    return resource_of(resource).roles(action)


def can(user, resource: str | Resource, action: str = "read") -> bool:
    return user is not None and user.role in allowed_roles(resource, action)


def check(roles) -> None:
    user = g.get("user")
    if user is None:
        raise NotSignedIn()
    if user.role not in roles:
        raise PermissionDenied(_("your role (%(role)s) may not do this", role=user.role))


def require(resource: str | Resource | None = None, action: str = "read", *, roles=None, public: bool = False):
    """Decorate a view: ``@require("quotes", "write")`` (a core resource), ``@require(MY_RESOURCE,
    "write")`` (a plugin's :class:`Resource`), ``@require(roles={"admin"})``, ``@require()`` (every
    signed-in user) or ``@require(public=True)`` for the few views anyone may see (the login page)."""
    if resource is not None:
        resource = resource_of(resource)
        roles = resource.roles(action)
    roles = frozenset(roles) if roles is not None else EVERYONE

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not public:
                check(roles)
            return view(*args, **kwargs)
        wrapper.crm_permission = "public" if public else sorted(roles)
        wrapper.crm_resource = resource
        return wrapper
    return decorate


# --- the roles page -----------------------------------------------------------------------------

def view_functions(app):
    """(endpoint, function) of every view; for a class-based view, each of its methods."""
    for endpoint, view in app.view_functions.items():
        view_class = getattr(view, "view_class", None)
        if view_class is None:
            yield endpoint, view
            continue
        for method in sorted(getattr(view_class, "methods", None) or ()):
            function = getattr(view_class, method.lower(), None)
            if function is not None:
                yield endpoint, function


def plugin_resources(app) -> list[tuple[str, Resource]]:
    """(plugin id, resource) of the resources the enabled plugins' views declare (those not of
    the core), in plugin order then by name."""
    from crm.plugins import get_registry
    registry = get_registry(app)
    owners = app.extensions.get("crm.blueprint_owners", {})
    found: dict[int, tuple[str, Resource]] = {}
    for endpoint, function in view_functions(app):
        resource = getattr(function, "crm_resource", None)
        owner = owners.get(endpoint.rpartition(".")[0])
        if resource is None or owner is None or resource is RESOURCES.get(resource.name) \
                or not registry.is_enabled(owner):
            continue
        found.setdefault(id(resource), (owner, resource))
    order = {plugin_id: index for index, plugin_id in enumerate(registry.order)}
    return sorted(found.values(), key=lambda pair: (order.get(pair[0], len(order)), pair[1].name))
