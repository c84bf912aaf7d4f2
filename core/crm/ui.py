"""What plugins give the web UI: menu entries, slot content, settings pages, line columns."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import g, url_for
from markupsafe import Markup, escape

from crm.plugins import get_registry


@dataclass(frozen=True)
class MenuItem:
    label: str
    url: str
    order: int = 100         # lower comes first; the core uses 10, 20, ...
    roles: frozenset | None = None  # None: every role
    group: str | None = None  # a heading the entry is shown under (the core's: Sales, Purchasing, ...)


@dataclass(frozen=True)
class SettingsPage:
    label: str
    url: str


@dataclass(frozen=True)
class LineColumn:
    """An extra column of the line editor, the API and the PDF."""

    key: str
    label: str
    type: str = "text"       # number, money, percent, text, date, select
    editable: bool = False
    width: str | None = None
    choices: tuple = ()


def core_menu(user) -> list[MenuItem]:
    """The core's entries, those the user's role may read (see ``crm.permissions.RULES``)."""
    from flask_babel import gettext as _
    from crm.permissions import can
    sales, purchasing, catalog, stock, admin = _("Sales"), _("Purchasing"), _("Catalog"), _("Stock"), _("Admin")
    entries = [
        (None, _("Home"), "home.index", 10, None),
        ("accounts", _("Accounts"), "accounts.index", 20, sales),
        ("accounts", _("Contacts"), "contacts.index", 22, sales),
        ("quotes", _("Quotes"), "quotes.index", 24, sales),
        ("sales_orders", _("Sales orders"), "sales_orders.index", 26, sales),
        ("invoices", _("Invoices"), "invoices.index", 28, sales),
        ("vendors", _("Vendors"), "vendors.index", 40, purchasing),
        ("purchase_orders", _("Purchase orders"), "purchase_orders.index", 42, purchasing),
        ("catalog", _("Products"), "products.index", 60, catalog),
        ("catalog", _("Services"), "services.index", 62, catalog),
        ("catalog", _("Bundles"), "bundles.index", 64, catalog),
        ("catalog", _("Price books"), "price_books.index", 66, catalog),
        ("stock", _("Stock levels"), "stock.index", 80, stock),
        ("stock", _("Stock moves"), "stock.moves", 82, stock),
        (("stock", "write"), _("Adjustments"), "stock.adjust", 84, stock),
        ("reports", _("Reports"), "reports.index", 100, None),
        ("taxes", _("Taxes"), "taxes.index", 860, admin),
        ("custom_fields", _("Custom fields"), "custom_fields.index", 870, admin),
        ("users", _("Users"), "users.index", 880, admin),
        ("settings", _("Settings"), "settings.index", 890, admin),
    ]
    items = []
    for resource, label, endpoint, order, group in entries:
        resource, action = resource if isinstance(resource, tuple) else (resource, "read")
        if resource is not None and not can(user, resource, action):
            continue
        try:
            url = url_for(endpoint)
        except Exception:  # noqa: BLE001  a page not registered (an app without the web UI)
            continue
        items.append(MenuItem(label, url, order, group=group))
    if user.role == "admin":
        items.append(MenuItem(_("Plugins"), url_for("admin.plugins"), 900, group=admin))
    return items


def menu_items() -> list[MenuItem]:
    user = g.get("user")
    if user is None:
        return []
    items = core_menu(user)
    for batch in get_registry().hook.crm_menu_items(user=user):
        items.extend(batch or [])
    return sorted((i for i in items if i.roles is None or user.role in i.roles), key=lambda i: i.order)


def slot(name: str, **context) -> Markup:
    """Render what enabled plugins put into the slot ``name`` of a core page."""
    parts = get_registry().call_in_order("crm_template_slot", slot=name, context=context)
    return Markup("\n").join(escape(p) for p in parts if p)  # plugins return Markup for HTML


#: The slots core pages offer to plugins (``slot(name, **context)``) and what their context holds.
SLOTS = {
    "home_panels": "home page, below the dashboard; context: none",
    "document_panels": "document page, below the lines; context: document, doc_type",
    "document_actions": "document page, beside the status buttons; context: document, doc_type",
    "line_editor_toolbar": "document editor, above the lines; context: document (None when new), doc_type",
    "record_panels": "account, contact, vendor and item pages; context: record, entity",
}


def line_columns(doc_type: str, session, document=None) -> list[LineColumn]:
    """The extra line columns of the enabled plugins for ``doc_type``, in plugin order, as
    shown for ``document`` (None: a new document)."""
    columns = []
    for batch in get_registry().call_in_order("crm_line_columns", doc_type=doc_type, session=session,
                                              document=document):
        columns.extend(batch or [])
    return columns


def settings_pages() -> list[SettingsPage]:
    pages = []
    for batch in get_registry().call_in_order("crm_settings_pages"):
        pages.extend(batch or [])
    return pages


def init_ui(app) -> None:
    app.jinja_env.globals.update(menu_items=menu_items, slot=slot, settings_pages=settings_pages)
