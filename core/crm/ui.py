"""What plugins give the web UI: menu entries, slot content, settings pages, line columns."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import g, url_for
from markupsafe import Markup

from crm.plugins import get_registry


@dataclass(frozen=True)
class MenuItem:
    label: str
    url: str
    order: int = 100         # lower comes first; the core uses 10, 20, ...
    roles: frozenset | None = None  # None: every role


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
    from flask_babel import gettext as _
    items = [MenuItem(_("Home"), url_for("home.index"), 10)]
    if user.role == "admin":
        items.append(MenuItem(_("Plugins"), url_for("admin.plugins"), 900))
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
    return Markup("\n").join(Markup(p) for p in parts if p)


def settings_pages() -> list[SettingsPage]:
    pages = []
    for batch in get_registry().call_in_order("crm_settings_pages"):
        pages.extend(batch or [])
    return pages


def init_ui(app) -> None:
    app.jinja_env.globals.update(menu_items=menu_items, slot=slot, settings_pages=settings_pages)
