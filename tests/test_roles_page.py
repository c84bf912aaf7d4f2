"""The admin's roles page (``/admin/roles``): every role and every resource, core and enabled
plugins, each cell as the declarations of ``crm.permissions`` (and the plugins' resources)
say, in the user's language. What the roles may really do is tests/test_access_matrix.py's."""
from __future__ import annotations

import re

import pytest

from crm.db import db
from crm.models.auth import ROLES
from crm.permissions import RESOURCES, Resource, plugin_resources
from crm.plugins import get_registry
from crm.services import plugin_admin
from crm.testing import TEST_PASSWORD


def _signed_in(app, make_user, role="admin", **kwargs):
    client = app.test_client()
    user = make_user(role, **kwargs)
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    return client


def _cells(html: str) -> dict[tuple[str, str], str]:
    """(resource, role) -> "write" | "read" | "none", read from the page's table."""
    cells = {}
    for resource, row in re.findall(r'<tr data-resource="([\w-]+)">(.*?)</tr>', html, re.S):
        for role, access in re.findall(r'<td data-role="(\w+)">\s*<span[^>]*data-access="(\w+)"', row):
            cells[(resource, role)] = access
    return cells


def _declared(resources) -> dict[tuple[str, str], str]:
    return {(r.name, role): "write" if role in r.write else "read" if role in r.read else "none"
            for r in resources for role in ROLES}


def test_the_roles_page_shows_what_is_declared_for_every_role_and_resource(app, make_user):
    html = _signed_in(app, make_user).get("/admin/roles").get_data(as_text=True)
    with app.app_context():
        plugins = plugin_resources(app)
    assert {plugin_id for plugin_id, _ in plugins} >= {"payments", "accounting_sync", "hello"}
    assert _cells(html) == _declared(list(RESOURCES.values()) + [r for _, r in plugins])
    # the warehouse ships, receives and adjusts stock; sales reads them
    assert [_cells(html)[(name, role)] for name in ("shipments", "receipts", "stock")
            for role in ("warehouse", "sales")] == ["write", "read"] * 3
    for plugin_id, resource in plugins:  # under the plugin's heading
        group = re.search(rf'<tbody data-plugin="{plugin_id}">(.*?)</tbody>', html, re.S).group(1)
        assert f'data-resource="{resource.name}"' in group
    assert "Shipping sales orders (stock out)" in html and ">Administrator</th>" in html


def test_the_roles_page_speaks_the_users_language(app, make_user):
    html = _signed_in(app, make_user, language="es").get("/admin/roles").get_data(as_text=True)
    assert "Roles y permisos" in html
    assert ">Almacén</th>" in html and "Envíos" in html and "Lectura y escritura" in html and "Sin acceso" in html
    assert "Pagos de facturas, calendarios de pago y créditos" in html  # a plugin's resource


def test_a_disabled_plugins_resources_leave_the_page(app, make_user):
    client = _signed_in(app, make_user)
    assert 'data-resource="payments"' in client.get("/admin/roles").get_data(as_text=True)
    with app.app_context(), db.transaction() as session:
        plugin_admin.set_enabled(session, get_registry(app), "payments", False)
    html = client.get("/admin/roles").get_data(as_text=True)
    assert 'data-resource="payments"' not in html and 'data-resource="shipments"' in html


def test_the_menu_and_the_users_page_lead_to_it_for_the_admin_only(app, make_user):
    admin = _signed_in(app, make_user).get("/users/").get_data(as_text=True)
    assert 'href="/admin/roles"' in admin
    for role in set(ROLES) - {"admin"}:
        assert 'href="/admin/roles"' not in _signed_in(app, make_user, role).get("/").get_data(as_text=True)


def test_plugins_name_their_resources_after_themselves(app):
    with app.app_context():
        plugins = plugin_resources(app)
    names = [resource.name for _, resource in plugins]
    assert len(names) == len(set(names)), f"two plugins declare the same resource: {sorted(names)}"
    wrong = [f"{plugin_id}: {resource.name}" for plugin_id, resource in plugins
             if resource.name != plugin_id and not resource.name.startswith(f"{plugin_id}_")]
    assert wrong == [], "a plugin's resource is named <plugin id> or <plugin id>_<thing>"


def test_a_resource_refuses_unknown_roles_and_writers_who_cannot_read():
    with pytest.raises(ValueError, match="unknown roles"):
        Resource("x_things", "Things", read={"admin", "cashier"}, write={"admin"})
    with pytest.raises(ValueError, match="must read too"):
        Resource("x_things", "Things", read={"admin"}, write={"admin", "sales"})


def test_the_documentation_states_the_declared_rights(app):
    """docs/permissions.md's table says what the core and the plugins declare."""
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "docs" / "permissions.md").read_text(encoding="utf-8")
    documented = {}
    for name, cells in re.findall(r"^\| `(\w+)`[^|]*\|[^|]*\|(.*)\|$", text, re.M):
        words = [cell.strip() for cell in cells.split("|")]
        documented.update({(name, role): {"—": "none"}.get(word, word) for role, word in zip(ROLES, words)})
    with app.app_context():
        declared = _declared(list(RESOURCES.values()) + [r for _, r in plugin_resources(app)
                                                           if not r.name.startswith("hello")])
    assert documented == declared
