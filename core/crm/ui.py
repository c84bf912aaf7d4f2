"""What plugins give the web UI: menu entries, slot content, settings pages, line columns."""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import flash, g, url_for
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


@dataclass(frozen=True)
class ExtraTotal:
    """An informative total a plugin adds to a document (``document.extra_totals[key]``),
    as the document page and the editor show it (``crm_extra_totals``)."""

    key: str
    label: str
    type: str = "money"      # money, number, percent
    visible: bool = True


def core_menu(user) -> list[MenuItem]:
    """The core's entries, those the user's role may read (see ``crm.permissions.RESOURCES``)."""
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
        ("users", _("Roles"), "admin.roles", 885, admin),
        ("settings", _("Settings"), "settings.index", 890, admin),
        (("settings", "write"), _("Workflows"), "workflows.index", 893, admin),
        ("jobs", _("Background jobs"), "admin.jobs", 895, admin),
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
    batches, _failed = get_registry().call_contained("crm_menu_items", user=user)  # a failing plugin's entries are left out
    for batch in batches:
        items.extend(batch or [])
    return sorted((i for i in items if i.roles is None or user.role in i.roles), key=lambda i: i.order)


def slot(name: str, **context) -> Markup:
    """Render what enabled plugins put into the slot ``name`` of a core page. A plugin that
    raises is shown as a notice in its place (the error is logged with its id)."""
    parts, failed = get_registry().call_contained("crm_template_slot", slot=name, context=context)
    shown = [escape(p) for p in parts if p]  # plugins return Markup for HTML
    shown += [failure_notice(plugin_id) for plugin_id in failed]
    return Markup("\n").join(shown)


def failure_notice(plugin_id: str) -> Markup:
    """What a page shows where a plugin failed to render its part."""
    return Markup('<p class="flash error plugin-failure" role="alert" data-plugin="{}">{}</p>').format(
        plugin_id, _failure_text(plugin_id))


def _failure_text(plugin_id: str) -> str:
    from flask_babel import gettext as _
    return _("The plugin %(plugin)s could not show this part of the page; the error was logged.", plugin=plugin_id)


#: The slots core pages offer to plugins (``slot(name, **context)``) and what their context holds.
SLOTS = {
    "home_panels": "home page, below the dashboard, full width; context: none",
    "document_panels": "document page, below the lines, in the left column beside the totals (under the "
                       "Payment received form); context: document, doc_type",
    "document_actions": "document page, in the bar of action buttons, after the core's; context: document, doc_type",
    "line_editor_toolbar": "document editor, in the toolbar above the lines, after Add line / Add section / "
                           "Add note; context: document (None when new), doc_type",
    "record_panels": "the page of an account, contact, vendor, product, service, bundle, price book, tax or "
                     "custom field, below its details and related records, above its history; context: record, "
                     "entity",
}


def line_columns(doc_type: str, session, document=None, contained: bool = False) -> list[LineColumn]:
    """The extra line columns of the enabled plugins for ``doc_type``, in plugin order, as
    shown for ``document`` (None: a new document). ``contained`` (a page that only shows the
    lines: the document page): a plugin that raises is left out, the page says so and the error
    is logged with its id. Otherwise (the editor, reading a submitted form) its error stops the
    request: an editor without a plugin's columns could save the lines without their values."""
    registry = get_registry()
    kwargs = {"doc_type": doc_type, "session": session, "document": document}
    if contained:
        batches, failed = registry.call_contained("crm_line_columns", **kwargs)
        for plugin_id in failed:
            flash(_failure_text(plugin_id), "error")
    else:
        batches = registry.hook.crm_line_columns(**kwargs)
    columns = []
    for batch in batches:
        columns.extend(batch or [])
    return columns


#: the built-in line columns a plugin may arrange (``crm_builtin_line_columns``), in their default order
BUILTIN_LINE_COLUMNS = ("item", "description", "quantity", "unit_price", "discount", "net", "tax", "total")
#: what the line editor always shows (needed to enter a line), whatever an arrangement says
EDITOR_REQUIRED_COLUMNS = ("item", "quantity", "unit_price")
#: a column width the pages accept as a CSS length (anything else, which could smuggle CSS, is ignored)
CSS_WIDTH = re.compile(r"\d{1,4}(\.\d{1,2})?(px|mm|cm|pt|em|rem|ch|%)")
#: the columns of the document page that only a sales / purchase order has, always after the line columns
STATUS_COLUMNS = {"sales_order": ("qty_reserved", "qty_shipped", "qty_invoiced"), "purchase_order": ("qty_received",)}
NUMERIC_KEYS = {"quantity", "unit_price", "discount", "net", "tax", "total",
                "qty_reserved", "qty_shipped", "qty_invoiced", "qty_received"}


@dataclass(frozen=True)
class ShownColumn:
    """A column of the document page or the line editor, resolved by :func:`line_table`."""

    key: str
    label: str               # plain text (user text when a plugin relabels): templates escape it
    builtin: bool = True     # False: a plugin's column (``column`` is its LineColumn)
    visible: bool = True
    width: str | None = None  # a checked CSS length, or None
    column: LineColumn | None = None

    @property
    def numeric(self) -> bool:
        return self.builtin and self.key in NUMERIC_KEYS


@dataclass(frozen=True)
class LineTable:
    """The line columns of a document as the page and the editor show them.

    ``page``: the document page's columns, in order, visible ones only: built-in keys (the
    item cell carries the description unless arranged: then ``description`` is a column of
    its own, or hidden), the ``taxes`` column (the names of the line's taxes; only without an
    arrangement -- arranged, the names are shown under the ``tax`` amount), the plugins'
    columns, and the order columns (``qty_reserved`` ... of sales orders, ``qty_received``
    of purchase orders), always last.
    ``editor``: the editor's built-in columns by key (``item``, ``quantity``, ``unit_price``,
    ``discount``, ``tax`` -- its taxes inputs --, ``net``, ``total``) with label, width and
    visibility; the editor keeps its order. ``custom``: the plugins' columns (``crm_line_columns``).
    ``arranged``: whether a plugin arranged the built-in columns (``crm_builtin_line_columns``).
    """

    page: list
    editor: dict
    custom: list
    arranged: bool = False


def builtin_arrangement(doc_type: str, session, document=None) -> dict | None:
    """What the first enabled plugin that answers ``crm_builtin_line_columns`` says about the
    built-in columns of ``document`` (None for a new one): ``{key: {"label", "visible", "width",
    "position"}}``, or None (the core's presentation)."""
    answer = get_registry().hook.crm_builtin_line_columns(doc_type=doc_type, session=session, document=document)
    return answer if isinstance(answer, dict) and answer else None


def _width(value) -> str | None:
    return value if isinstance(value, str) and CSS_WIDTH.fullmatch(value) else None


def _entry(arrangement: dict | None, key: str) -> dict:
    entry = (arrangement or {}).get(key)
    return entry if isinstance(entry, dict) else {}


def _core_labels() -> dict:
    from flask_babel import gettext as _
    return {"item": _("Item"), "description": _("Description"), "quantity": _("Quantity"),
            "unit_price": _("Unit price"), "discount": _("Discount"), "taxes": _("Taxes"), "net": _("Net"),
            "tax": _("Tax"), "total": _("Total"), "qty_reserved": _("Reserved"), "qty_shipped": _("Shipped"),
            "qty_invoiced": _("Invoiced"), "qty_received": _("Received")}


def line_table(doc_type: str, session, document=None, contained: bool = False) -> LineTable:
    """The line columns of ``document`` (None: a new one) for the document page and the editor:
    the built-in columns as a plugin arranged them (hidden, relabelled, resized, moved), the
    plugins' columns, and the order columns. Without an arrangement: the core's presentation."""
    labels = _core_labels()
    custom = line_columns(doc_type, session, document, contained=contained)
    shown_custom = [ShownColumn(c.key, c.label, builtin=False, width=_width(c.width), column=c) for c in custom]
    status = [ShownColumn(key, labels[key]) for key in STATUS_COLUMNS.get(doc_type, ())]
    arrangement = builtin_arrangement(doc_type, session, document)
    entries = {key: _entry(arrangement, key) for key in BUILTIN_LINE_COLUMNS}

    def builtin(key: str, label_key: str | None = None) -> ShownColumn:
        entry = entries[key]
        label = entry.get("label")
        return ShownColumn(key, str(label) if label else labels[label_key or key],
                           visible=entry.get("visible", True) is not False, width=_width(entry.get("width")))

    editor = {key: builtin(key) for key in ("item", "quantity", "unit_price", "discount", "net", "total")}
    editor["tax"] = builtin("tax", "taxes")   # the editor's taxes inputs: "Taxes" unless relabelled
    for key in EDITOR_REQUIRED_COLUMNS:
        editor[key] = ShownColumn(key, editor[key].label, width=editor[key].width)
    if arrangement is None:
        page = [builtin(k) for k in ("item", "quantity", "unit_price", "discount")]
        page += [ShownColumn("taxes", labels["taxes"])] + shown_custom + status + [builtin(k) for k in ("net", "tax", "total")]
        return LineTable(page=page, editor=editor, custom=custom)
    default_place = {key: index for index, key in enumerate(BUILTIN_LINE_COLUMNS)}
    candidates = [builtin(k) for k in BUILTIN_LINE_COLUMNS] + shown_custom

    def place(pair):
        index, column = pair
        position = _entry(arrangement, column.key).get("position")
        if isinstance(position, int) and not isinstance(position, bool):
            return (0, position, index)
        return (1, default_place.get(column.key, len(default_place)), index)

    ordered = [c for _i, c in sorted(enumerate(candidates), key=place) if c.visible]
    return LineTable(page=ordered + status, editor=editor, custom=custom, arranged=True)


def extra_totals(doc_type: str, session, document, values: dict | None) -> list[tuple[ExtraTotal, object]]:
    """The plugins' informative totals ``values`` (a document's ``extra_totals``, computed for
    ``document``: None for a new one) as ``(ExtraTotal, value)`` pairs: in the order, with the
    labels and types the plugins give (``crm_extra_totals``), hidden ones left out; a total no
    plugin describes shows its key, humanised."""
    values = values or {}
    described: dict[str, ExtraTotal] = {}
    for batch in get_registry().hook.crm_extra_totals(doc_type=doc_type, session=session, document=document):
        for total in batch or []:
            described.setdefault(total.key, total)
    shown = [total for key, total in described.items() if key in values]
    shown += [ExtraTotal(key, key.replace("_", " ").capitalize()) for key in values if key not in described]
    return [(total, values[total.key]) for total in shown if total.visible]


def settings_pages() -> list[SettingsPage]:
    pages = []
    batches, _failed = get_registry().call_contained("crm_settings_pages")
    for batch in batches:
        pages.extend(batch or [])
    return pages


def init_ui(app) -> None:
    app.jinja_env.globals.update(menu_items=menu_items, slot=slot, settings_pages=settings_pages)
