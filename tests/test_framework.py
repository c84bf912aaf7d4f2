"""The application factory, auth, the plugin engine and the CLI, as users meet them."""
from __future__ import annotations

import types

import pytest
from markupsafe import Markup

from crm import hookimpl
from crm.plugins import module_candidate
from crm.testing import TEST_PASSWORD, registered_plugin

INSTALLED = {"payments", "item_lookup", "idca", "accounting_sync", "warehouses"}


def test_api_needs_a_token(live_server):
    import requests
    response = requests.get(live_server + "/api/v1/plugins")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_token_from_password_then_revoked(live_server, make_user):
    import requests
    make_user("sales", username="maria")
    bad = requests.post(live_server + "/api/v1/auth/tokens", json={"username": "maria", "password": "nope"})
    assert bad.status_code == 401
    ok = requests.post(live_server + "/api/v1/auth/tokens", json={"username": "maria", "password": TEST_PASSWORD})
    assert ok.status_code == 201
    token = ok.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(live_server + "/api/v1/plugins", headers=headers).status_code == 200
    token_id = ok.json()["id"]
    assert requests.delete(live_server + f"/api/v1/auth/tokens/{token_id}", headers=headers).status_code == 204
    assert requests.get(live_server + "/api/v1/plugins", headers=headers).status_code == 401


def test_login_is_rate_limited(live_server, make_user):
    import requests
    make_user("sales", username="pepe")
    for _ in range(5):
        r = requests.post(live_server + "/api/v1/auth/tokens", json={"username": "pepe", "password": "wrong-password"})
        assert r.status_code == 401
    r = requests.post(live_server + "/api/v1/auth/tokens", json={"username": "pepe", "password": TEST_PASSWORD})
    assert r.status_code == 429


def test_token_request_with_bad_input_names_the_field(api):
    r = api.post("/auth/tokens", json={"username": "x"})
    assert r.status_code == 422
    assert "password" in r.json()["error"]["fields"]


def test_plugins_endpoint_lists_the_installed_plugins(api):
    body = api.get("/plugins").json()
    names = {p["name"] for p in body["items"]}
    assert INSTALLED <= names
    for p in body["items"]:
        if p["name"] in INSTALLED:
            assert p["enabled"] and p["error"] is None and p["version"]
            assert "crm_api_blueprints" in p["hooks"]


def test_disabled_plugin_answers_404_and_keeps_its_data(app, api, runner):
    assert api.post("/hello/greetings", json={"text": "hola"}).status_code == 201
    result = runner.invoke(["plugins", "disable", "hello"])
    assert result.exit_code == 0, result.output
    assert api.get("/hello/greetings").status_code == 404
    listed = {p["name"]: p for p in api.get("/plugins").json()["items"]}
    assert listed["hello"]["enabled"] is False
    assert runner.invoke(["plugins", "enable", "hello"]).exit_code == 0
    greetings = api.get("/hello/greetings").json()["items"]
    assert [g["text"] for g in greetings] == ["hola"]


def test_disabling_a_core_plugin_hides_its_endpoint(api, runner):
    assert api.get("/payments/statuses").status_code == 200
    assert runner.invoke(["plugins", "disable", "payments"]).exit_code == 0
    assert api.get("/payments/statuses").status_code == 404
    assert runner.invoke(["plugins", "enable", "payments"]).exit_code == 0
    names = [s["name"] for s in api.get("/payments/statuses").json()["items"]]
    assert names[:2] == ["Paid", "Pending"]


def test_disabled_plugin_hooks_are_not_called(app, client, make_user, runner):
    user = make_user("sales")
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert "Hello from the example plugin" in client.get("/").get_data(as_text=True)
    runner.invoke(["plugins", "disable", "hello"])
    assert "Hello from the example plugin" not in client.get("/").get_data(as_text=True)


def test_cli_refuses_unknown_plugin(runner):
    result = runner.invoke(["plugins", "disable", "nope"])
    assert result.exit_code != 0
    assert "not installed" in result.output


def test_broken_plugin_is_recorded_and_app_still_starts(app_factory):
    def boom():
        raise RuntimeError("cannot import me")
    from crm.plugins import Candidate
    app = app_factory(extra=[Candidate("broken", boom, "1.0")])
    info = {p["name"]: p for p in app.extensions["crm.plugins"].describe()}
    assert "cannot import me" in info["broken"]["error"]
    assert info["broken"]["enabled"] is False
    assert info["payments"]["error"] is None


def test_duplicate_plugin_ids_are_refused(app_factory):
    mod = types.ModuleType("dup")
    app = app_factory(extra=[module_candidate("dup", mod), module_candidate("dup", mod)])
    info = {p["name"]: p for p in app.extensions["crm.plugins"].describe()}
    assert "duplicate" in info["dup"]["error"]


def test_plugin_dependencies_are_honoured(app_factory):
    base = types.ModuleType("base_plugin")
    child = types.ModuleType("child_plugin")
    child.requires = ["base_plugin"]
    orphan = types.ModuleType("orphan_plugin")
    orphan.requires = ["missing_plugin"]
    app = app_factory(extra=[module_candidate("child_plugin", child), module_candidate("base_plugin", base),
                             module_candidate("orphan_plugin", orphan)])
    registry = app.extensions["crm.plugins"]
    assert registry.order.index("base_plugin") < registry.order.index("child_plugin")
    assert "missing_plugin" in registry.plugins["orphan_plugin"].error


def test_misspelt_hook_is_caught_by_check_pending(app_factory):
    mod = types.ModuleType("typo")

    @hookimpl
    def crm_menu_itemz(user):  # misspelt
        return []
    mod.crm_menu_itemz = crm_menu_itemz
    from pluggy import PluginValidationError
    with pytest.raises(PluginValidationError):
        app_factory(extra=[module_candidate("typo", mod)])


def test_crm_plugins_loads_a_subset(app_factory):
    app = app_factory(plugins=["payments"])
    assert set(app.extensions["crm.plugins"].plugins) == {"payments"}


def test_registered_plugin_context_manager(app, client, make_user):
    class Slot:
        @hookimpl
        def crm_template_slot(self, slot, context):
            return Markup("<b>temporary</b>") if slot == "home_panels" else None
    user = make_user("sales")
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    with registered_plugin(app, Slot(), "temp"):
        assert "<b>temporary</b>" in client.get("/").get_data(as_text=True)
    assert "<b>temporary</b>" not in client.get("/").get_data(as_text=True)


def test_openapi_is_served(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/auth/tokens" in spec["paths"]
    assert "/api/v1/payments/statuses" in spec["paths"]


def test_web_pages_need_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_sign_in_page_and_wrong_password(client, make_user):
    make_user("sales", username="ana")
    assert client.get("/login").status_code == 200
    r = client.post("/login", data={"username": "ana", "password": "wrong-one"})
    assert r.status_code == 401 and "Wrong username or password" in r.get_data(as_text=True)
    r = client.post("/login", data={"username": "ana", "password": TEST_PASSWORD})
    assert r.status_code == 302


def test_plugins_admin_page_is_for_admins(client, make_user):
    make_user("sales", username="sam")
    client.post("/login", data={"username": "sam", "password": TEST_PASSWORD})
    assert client.get("/admin/plugins").status_code == 403
    assert client.post("/admin/plugins/hello/disable").status_code == 403
