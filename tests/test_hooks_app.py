"""Behavioural tests of the hooks the core calls today: application, CLI, user
interface and jobs. Each test implements a hook (mostly through the spy plugin,
``tests/plugins/spy_plugin.py``) and checks what a user of the CRM sees."""
from __future__ import annotations

import datetime as dt
import importlib.util
import os
import subprocess
import sys
import textwrap
import types
import uuid
from pathlib import Path

import pytest
from flask import Blueprint, g, render_template_string
from markupsafe import Markup

from crm import hookimpl
from crm.db import db
from crm.errors import ValidationError
from crm.jobs import ScheduledJob
from crm.permissions import require
from crm.plugins import get_registry, module_candidate
from crm.services import plugin_admin
from crm.services.settings import get_setting, set_setting
from crm.services.users import create_user, issue_token
from crm.testing import TEST_PASSWORD, registered_plugin
from crm.ui import MenuItem, SettingsPage


def _load_spy_plugin_class():
    """``tests/plugins/spy_plugin.py`` by path (``tests`` is not a package)."""
    name = "crm_tests_spy_plugin"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "plugins" / "spy_plugin.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module.SpyPlugin


SpyPlugin = _load_spy_plugin_class()
HELLO = module_candidate("hello", "crm_hello.plugin")


@pytest.fixture(autouse=True)
def _forget_the_actor():
    """Requests through Flask's test client run in this thread and set the acting user
    (``crm.context``) without resetting it; do not let it leak into the next test."""
    yield
    from crm.context import set_actor
    set_actor(None)


# --- helpers -------------------------------------------------------------------

def _new_user(app, role: str):
    with app.app_context():
        session = db.new_session(app)
        user = create_user(session, f"{role}-{uuid.uuid4().hex[:8]}", TEST_PASSWORD, role)
        _, plain = issue_token(session, user)
        session.commit()
        username = user.username
        session.close()
    return username, plain


def _bearer(app, role: str = "admin") -> dict:
    _, plain = _new_user(app, role)
    return {"Authorization": f"Bearer {plain}"}


def _signed_in_client(app, role: str = "sales"):
    username, _ = _new_user(app, role)
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client, username


def _set_enabled(app, plugin_id: str, enabled: bool) -> None:
    with app.app_context():
        with db.transaction() as session:
            plugin_admin.set_enabled(session, get_registry(app), plugin_id, enabled)


# --- application -----------------------------------------------------------------

def test_crm_startup_is_called_once_with_the_app_after_plugins_and_routes_exist(app_factory):
    seen = {}

    def on_startup(app):
        seen["order"] = list(get_registry(app).order)
        seen["blueprints"] = set(app.blueprints)
        app.extensions["spy.ready"] = True

    spy = SpyPlugin(crm_startup=on_startup)
    app = app_factory(extra=[HELLO, module_candidate("spy", spy)])
    calls = spy.calls_of("crm_startup")
    assert len(calls) == 1 and calls[0]["app"] is app
    assert {"spy", "hello", "payments"} <= set(seen["order"])
    assert {"home", "hello", "hello_api"} <= seen["blueprints"]  # core and plugin routes exist already
    assert app.extensions["spy.ready"] is True


def _spy_api_blueprint():
    from flask.views import MethodView
    from flask_smorest import Blueprint as ApiBlueprint

    blp = ApiBlueprint("spy_api", __name__, url_prefix="/api/v1/spy", description="Spy plugin")

    @blp.route("/ping")
    class Ping(MethodView):
        @require()
        @blp.response(200)
        def get(self):
            return {"pong": g.user.username}

    return blp


def test_crm_api_blueprints_serve_under_api_v1_with_auth_and_404_when_disabled(app_factory):
    spy = SpyPlugin(crm_api_blueprints=lambda: [_spy_api_blueprint()])
    app = app_factory(extra=[module_candidate("spy", spy)])
    client = app.test_client()
    assert client.get("/api/v1/spy/ping").status_code == 401
    username, plain = _new_user(app, "warehouse")
    headers = {"Authorization": f"Bearer {plain}"}
    response = client.get("/api/v1/spy/ping", headers=headers)
    assert response.status_code == 200 and response.get_json() == {"pong": username}
    assert "/api/v1/spy/ping" in client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "crm_api_blueprints" in get_registry(app).hooks_of("spy")

    _set_enabled(app, "spy", False)
    assert client.get("/api/v1/spy/ping", headers=headers).status_code == 404
    _set_enabled(app, "spy", True)
    assert client.get("/api/v1/spy/ping", headers=headers).status_code == 200


def test_crm_api_blueprints_failure_is_recorded_and_the_app_still_starts(app_factory):
    def broken():
        raise RuntimeError("no blueprints today")

    spy = SpyPlugin(crm_api_blueprints=broken)
    app = app_factory(extra=[HELLO, module_candidate("spy", spy)])
    registry = get_registry(app)
    info = {p["name"]: p for p in registry.describe()}
    assert info["spy"]["error"] == "crm_api_blueprints: RuntimeError: no blueprints today"
    assert info["spy"]["enabled"] is False
    assert info["hello"]["error"] is None
    assert not registry.pm.is_registered(spy)  # its other hooks are not called any more
    assert spy.calls_of("crm_web_blueprints") == []
    assert app.test_client().get("/api/v1/hello/greetings", headers=_bearer(app)).status_code == 200


def _spy_web_blueprint():
    bp = Blueprint("spy", __name__, url_prefix="/spy")

    @bp.route("/")
    @require()
    def index():
        return render_template_string(
            '{% extends "base.html" %}{% block content %}'
            '<p id="spy">spy page for {{ g.user.username }}</p>{% endblock %}')

    return bp


def test_crm_web_blueprints_serve_pages_behind_sign_in_and_404_when_disabled(app_factory):
    spy = SpyPlugin(crm_web_blueprints=lambda: [_spy_web_blueprint()])
    app = app_factory(extra=[module_candidate("spy", spy)])
    anonymous = app.test_client().get("/spy/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    client, username = _signed_in_client(app, "purchasing")
    page = client.get("/spy/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'<p id="spy">spy page for {username}</p>' in html
    assert ">Home</a>" in html  # the page extends the core's base.html (menu included)
    assert app.extensions["crm.blueprint_owners"]["spy"] == "spy"

    _set_enabled(app, "spy", False)
    assert client.get("/spy/").status_code == 404
    _set_enabled(app, "spy", True)
    assert client.get("/spy/").status_code == 200


# --- command line ------------------------------------------------------------------

COMMAND_PLUGIN = '''
import click
from flask.cli import with_appcontext

from crm import hookimpl


@hookimpl
def crm_register_commands(cli):
    @cli.group("spycmd")
    def spycmd():
        """Commands of the spycmd test plugin."""

    @spycmd.command("greet")
    @click.argument("name")
    @with_appcontext
    def greet(name):
        """Greet NAME."""
        from crm.plugins import get_registry
        click.echo(f"hello {name}; spycmd loaded: {'spycmd' in get_registry().order}")
'''


def _install_plugin(root: Path, source: str) -> None:
    """A real installed distribution ``crm-spycmd`` with a ``crm.plugins`` entry point."""
    (root / "crm_spycmd.py").write_text(textwrap.dedent(source))
    info = root / "crm_spycmd-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crm-spycmd\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[crm.plugins]\nspycmd = crm_spycmd\n")


def _crm(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from crm.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=180)


@pytest.mark.slow
def test_crm_register_commands_adds_commands_to_the_crm_command_line(tmp_path, crm_database_url):
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site, COMMAND_PLUGIN)
    env = {k: v for k, v in os.environ.items() if k != "CRM_PLUGINS"}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])),
               CRM_DATABASE_URL=crm_database_url, CRM_INSTANCE_PATH=str(tmp_path / "instance"),
               CRM_SECRET_KEY="test")

    top = _crm(["--help"], env)
    assert top.returncode == 0, top.stderr
    assert "spycmd" in top.stdout and "Commands of the spycmd test plugin." in top.stdout
    run = _crm(["spycmd", "greet", "Ana"], env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "hello Ana; spycmd loaded: True"

    missing = _crm(["spycmd", "greet", "Ana"], {**env, "CRM_PLUGINS": "payments"})  # not loaded
    assert missing.returncode == 2 and "No such command 'spycmd'" in missing.stderr


# --- user interface ------------------------------------------------------------------

def test_crm_menu_items_adds_entries_for_the_user_s_role_in_order(app):
    spy = SpyPlugin(crm_menu_items=lambda user: [
        MenuItem("Spy reports", "/spy-reports", order=15),
        MenuItem("Spy admin", "/spy-admin", order=16, roles=frozenset({"admin"})),
    ])
    client, username = _signed_in_client(app, "sales")
    admin_client, _ = _signed_in_client(app, "admin")
    with registered_plugin(app, spy, "spy"):
        page = client.get("/").get_data(as_text=True)
        admin_page = admin_client.get("/").get_data(as_text=True)
    assert 'href="/spy-reports"' in page and "Spy admin" not in page
    assert page.index(">Home</a>") < page.index(">Spy reports</a>") < page.index(">Greetings</a>")
    assert 'href="/spy-admin"' in admin_page
    assert username in {call["user"].username for call in spy.calls_of("crm_menu_items")}
    assert "Spy reports" not in client.get("/").get_data(as_text=True)  # unregistered: gone


def test_crm_menu_items_of_a_disabled_plugin_are_not_shown(app):
    client, _ = _signed_in_client(app, "sales")
    assert ">Greetings</a>" in client.get("/").get_data(as_text=True)
    _set_enabled(app, "hello", False)
    assert ">Greetings</a>" not in client.get("/").get_data(as_text=True)


def _slot_plugin(plugin_id: str, requires=()):
    module = types.ModuleType(f"slot_plugin_{plugin_id}")
    module.requires = list(requires)

    @hookimpl
    def crm_template_slot(slot, context):
        if slot == "home_panels":
            return Markup('<p class="slot-order">{}</p>').format(plugin_id)

    module.crm_template_slot = crm_template_slot
    return module_candidate(plugin_id, module)


def _slot_order(app) -> list[str]:
    import re
    client, _ = _signed_in_client(app, "sales")
    html = client.get("/").get_data(as_text=True)
    return re.findall(r'<p class="slot-order">(\w+)</p>', html)


def test_crm_template_slot_content_comes_in_plugin_order_never_registration_order(app_factory):
    independent = [_slot_plugin("slot_c"), _slot_plugin("slot_a"), _slot_plugin("slot_b")]
    assert _slot_order(app_factory(extra=independent)) == ["slot_a", "slot_b", "slot_c"]
    assert _slot_order(app_factory(extra=independent[::-1])) == ["slot_a", "slot_b", "slot_c"]

    # slot_a depends on slot_z: the dependency goes first although its id sorts last
    dependent = [_slot_plugin("slot_a", requires=["slot_z"]), _slot_plugin("slot_z")]
    assert _slot_order(app_factory(extra=dependent)) == ["slot_z", "slot_a"]
    assert _slot_order(app_factory(extra=dependent[::-1])) == ["slot_z", "slot_a"]


def _answering_plugin(plugin_id: str, requires=(), broken=False):
    """A plugin whose ``crm_settings_pages`` answers its own id (``broken``: an implementation
    with an argument the spec lacks, which pluggy refuses when it is registered)."""
    module = types.ModuleType(f"answering_plugin_{plugin_id}")
    module.requires = list(requires)

    if broken:
        @hookimpl
        def crm_settings_pages(nonsense):
            return plugin_id
    else:
        @hookimpl
        def crm_settings_pages():
            return plugin_id

    module.crm_settings_pages = crm_settings_pages
    return module_candidate(plugin_id, module)


def test_pluggy_calls_the_plugins_in_dependency_order_whatever_the_installation_order():
    from crm.plugins import PluginRegistry
    plugins = [_answering_plugin("zeta"), _answering_plugin("alpha", requires=["zeta"]),
               _answering_plugin("beta"), _answering_plugin("gamma", requires=["alpha", "beta"]),
               _answering_plugin("delta")]
    expected = ["beta", "delta", "zeta", "alpha", "gamma"]  # requirements first, then by id
    for installed in (plugins, plugins[::-1], plugins[2:] + plugins[:2]):
        registry = PluginRegistry(installed)
        assert registry.order == expected
        assert registry.pm.hook.crm_settings_pages() == expected  # pluggy's own call
        registry.disabled = frozenset({"delta"})
        assert registry.hook.crm_settings_pages() == ["beta", "zeta", "alpha", "gamma"]
        registry.add("added", _answering_plugin("added").load())
        assert registry.pm.hook.crm_settings_pages() == expected + ["added"]
        registry.remove("added")
        registry.fail("beta", "broke at start-up")
        assert registry.pm.hook.crm_settings_pages() == ["delta", "zeta", "alpha", "gamma"]

    # a requirement pluggy refuses to register takes the plugins requiring it down with it
    registry = PluginRegistry([_answering_plugin("child", requires=["base"]), _answering_plugin("base", broken=True),
                               _answering_plugin("other")])
    assert registry.order == ["other"] and registry.pm.hook.crm_settings_pages() == ["other"]
    assert "base" in registry.plugins["child"].error


def test_crm_template_slot_receives_the_slot_name_and_context(app):
    spy = SpyPlugin(crm_template_slot=lambda slot, context: Markup("<i>spied</i>") if slot == "home_panels" else None)
    client, _ = _signed_in_client(app, "sales")
    with registered_plugin(app, spy, "spy"):
        html = client.get("/").get_data(as_text=True)
    assert "<i>spied</i>" in html
    assert {"slot": "home_panels", "context": {}} in spy.calls_of("crm_template_slot")


def test_crm_settings_pages_are_listed_on_the_settings_page_and_a_disabled_plugin_s_are_not(app):
    spy = SpyPlugin(crm_settings_pages=lambda: [SettingsPage("Spy settings", "/spy/settings")])
    link = '<a href="/spy/settings">Spy settings</a>'
    listing = '{% for p in settings_pages() %}<a href="{{ p.url }}">{{ p.label }}</a>{% endfor %}'
    client, _ = _signed_in_client(app, "admin")
    assert link not in client.get("/settings/").get_data(as_text=True)
    with app.test_request_context("/"):
        before = render_template_string(listing)
    with registered_plugin(app, spy, "spy"):  # registered last: the last plugin in plugin order
        page = client.get("/settings/")
        assert page.status_code == 200 and link in page.get_data(as_text=True)
        with app.test_request_context("/"):
            assert render_template_string(listing) == before + link
        _set_enabled(app, "spy", False)
        assert link not in client.get("/settings/").get_data(as_text=True)
    assert len(spy.calls_of("crm_settings_pages")) == 2


# --- jobs ---------------------------------------------------------------------------

def test_crm_scheduled_jobs_run_due_runs_each_job_for_the_given_day(app, runner):
    ran = []

    def spy_job(session, today):
        ran.append(today)
        set_setting(session, "last_run", today.isoformat(), namespace="spy")
        return f"ran for {today.isoformat()}"

    def other_job(session, today):
        ran.append(("other", today))
        return "other done"

    spy = SpyPlugin(crm_scheduled_jobs=lambda: [ScheduledJob("spy_job", spy_job, every_minutes=30),
                                                ScheduledJob("spy_other", other_job)])
    with registered_plugin(app, spy, "spy"):
        listed = runner.invoke(["jobs", "list"])
        assert listed.exit_code == 0 and "spy_job\tevery 30 min" in listed.output
        result = runner.invoke(["jobs", "run-due", "--today", "2027-01-31"])
        assert result.exit_code == 0, result.output
        assert "spy_job: ran for 2027-01-31" in result.output
        assert ran == [dt.date(2027, 1, 31), ("other", dt.date(2027, 1, 31))]

        ran.clear()
        only = runner.invoke(["jobs", "run-due", "--today", "2027-02-01", "--job", "spy_other"])
        assert only.exit_code == 0 and ran == [("other", dt.date(2027, 2, 1))]
    with app.app_context():
        session = db.new_session(app)
        assert get_setting(session, "last_run", namespace="spy") == "2027-01-31"  # committed
        session.close()


def test_crm_scheduled_jobs_failure_exits_1_and_rolls_its_work_back(app, runner):
    def refusing_job(session, today):
        set_setting(session, "half_done", True, namespace="spy")
        session.flush()
        raise ValidationError("the spy job refuses to run")

    spy = SpyPlugin(crm_scheduled_jobs=lambda: [ScheduledJob("spy_job", refusing_job)])
    with registered_plugin(app, spy, "spy"):
        result = runner.invoke(["jobs", "run-due", "--today", "2027-01-31"])
    assert result.exit_code == 1
    assert "the spy job refuses to run" in result.output
    with app.app_context():
        session = db.new_session(app)
        assert get_setting(session, "half_done", namespace="spy") is None
        session.close()


def test_crm_scheduled_jobs_of_a_disabled_plugin_do_not_run(app, runner):
    ran = []
    spy = SpyPlugin(crm_scheduled_jobs=lambda: [ScheduledJob("spy_job", lambda session, today: ran.append(today))])
    with registered_plugin(app, spy, "spy"):
        _set_enabled(app, "spy", False)
        result = runner.invoke(["jobs", "run-due", "--today", "2027-01-31"])
        assert result.exit_code == 0 and "spy_job" not in result.output
        unknown = runner.invoke(["jobs", "run-due", "--job", "spy_job"])
        assert unknown.exit_code == 1 and "unknown job 'spy_job'" in unknown.output
    assert ran == []
