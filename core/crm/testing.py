"""A pytest plugin for the CRM and its plugins (loaded automatically through the
``pytest11`` entry point).

The database comes from ``CRM_TEST_DATABASE_URL`` (default: SQLite). It is
migrated once per test session (core and every installed plugin), and each test
gets a copy of it: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL.

Fixtures: ``app`` (choose plugins with ``@pytest.mark.crm_plugins("payments")``),
``session``, ``live_server``, ``api`` (real HTTP with an admin token),
``api_as(role)``, ``make_user``, ``client`` (Flask's test client), ``runner``
(the ``crm`` command line), ``new_page`` and ``page`` (a real browser on the live
server; :func:`sign_in`). ``registered_plugin`` registers a plugin object for
one block of a test.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import threading
import uuid
from dataclasses import dataclass

import pytest

TEST_PASSWORD = "correct horse battery"
#: Debian's chromium: browser tests never download a browser
CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def pytest_configure(config):
    config.addinivalue_line("markers", "crm_plugins(*ids): load only these plugins in the app fixture")
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL (row locks, concurrency)")


def database_url() -> str | None:
    return os.environ.get("CRM_TEST_DATABASE_URL") or None


def is_postgres() -> bool:
    url = database_url() or ""
    return url.startswith("postgres")


def pytest_collection_modifyitems(config, items):
    if not is_postgres():
        skip = pytest.mark.skip(reason="needs PostgreSQL: set CRM_TEST_DATABASE_URL")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


def _test_config(url: str, **extra) -> dict:
    return {"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", **extra}


@pytest.fixture(scope="session")
def crm_extra_plugins() -> list:
    """Plugins to load that are not installed as distributions (a list of
    :func:`crm.plugins.module_candidate`); override it in your ``conftest.py``."""
    return []


@dataclass
class TemplateDatabase:
    url: str
    sqlite_file: str | None = None


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def crm_template_database(tmp_path_factory, crm_extra_plugins) -> TemplateDatabase:
    """A database migrated once for the session, with every plugin's tables."""
    from crm import create_app, migrate
    pg = database_url() if is_postgres() else None
    if pg:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
        from crm.config import normalise_database_url
        base = make_url(normalise_database_url(pg))
        name = f"{base.database or 'crm'}_test_{_worker_suffix()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        template = TemplateDatabase(base.set(database=name).render_as_string(hide_password=False))
    else:
        path = tmp_path_factory.mktemp("crm-template") / "template.db"
        template = TemplateDatabase(f"sqlite:///{path}", str(path))
    app = create_app(_test_config(template.url, EXTRA_PLUGINS=crm_extra_plugins))
    migrate.upgrade_all(app)
    from crm.db import db
    db.engine(app).dispose()
    yield template
    if pg:
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def crm_database_url(crm_template_database, tmp_path) -> str:
    """An empty, migrated database for this test: a copy of the template."""
    if crm_template_database.sqlite_file:
        path = tmp_path / "crm.db"
        shutil.copyfile(crm_template_database.sqlite_file, path)
        yield f"sqlite:///{path}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    template = make_url(crm_template_database.url)
    name = f"{template.database}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(template.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    yield template.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def crm_plugins(request):
    """The plugin ids to load (None: all installed), from ``@pytest.mark.crm_plugins``."""
    marker = request.node.get_closest_marker("crm_plugins")
    return list(marker.args) if marker else None


@pytest.fixture
def app_factory(crm_database_url, crm_extra_plugins):
    """Build apps on this test's database: ``app_factory(plugins=[...], extra=[candidate])``."""
    from crm import create_app
    from crm.db import db
    made = []

    def factory(plugins=None, extra=None, **config):
        candidates = list(crm_extra_plugins) if extra is None else list(extra)
        app = create_app(_test_config(crm_database_url, PLUGINS=plugins, EXTRA_PLUGINS=candidates, **config))
        made.append(app)
        return app

    yield factory
    for app in made:
        db.engine(app).dispose()


@pytest.fixture
def app(app_factory, crm_plugins):
    return app_factory(plugins=crm_plugins)


@pytest.fixture
def session(app):
    """A session on the test database (commit what you want the app to see)."""
    from crm.db import db
    s = db.new_session(app)
    yield s
    s.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    from crm.cli import cli
    runner = app.test_cli_runner()

    class Runner:
        def invoke(self, args, **kwargs):
            return runner.invoke(cli, args, obj=_script_info(app), **kwargs)
    return Runner()


def _script_info(app):
    from flask.cli import ScriptInfo
    return ScriptInfo(create_app=lambda: app)


@pytest.fixture
def make_user(app):
    """``make_user("sales")`` -> a committed user with that role (password TEST_PASSWORD)."""
    from crm.db import db
    from crm.services.users import create_user

    def make(role="admin", username=None, **kwargs):
        with app.app_context():
            s = db.new_session(app)
            user = create_user(s, username or f"{role}-{uuid.uuid4().hex[:8]}", TEST_PASSWORD, role, **kwargs)
            s.commit()
            s.expunge(user)
            s.close()
            return user
    return make


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on 127.0.0.1 (a random port) in a thread."""
    from werkzeug.serving import make_server
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a server error is logged with its traceback
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def new_page(live_server):
    """``new_page(width=1280, height=900, locale="en-GB")`` -> a Playwright page in a fresh
    context of Debian's chromium, its ``base_url`` the live server (``page.goto("/login")``).
    Confirmation dialogs are accepted; a JavaScript error on any page fails the test. Skipped
    when chromium or playwright is missing."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (browser tests never download one)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    errors = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def make(width=1280, height=900, locale="en-GB"):
            context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height},
                                          locale=locale)
            context.set_default_timeout(20_000)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("dialog", lambda dialog: dialog.accept())
            return page

        yield make
        browser.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def page(new_page):
    """One :func:`new_page`."""
    return new_page()


def sign_in(page, user, password: str = TEST_PASSWORD) -> None:
    """Sign ``user`` (a user or a username) in on ``page`` and wait until the sign-in page is left."""
    page.goto("/login")
    page.fill('input[name="username"]', getattr(user, "username", user))
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(lambda url: "/login" not in url)


class ApiClient:
    """A small HTTP client for ``/api/v1`` with a bearer token: ``api.get("/products")``."""

    def __init__(self, base_url: str, token: str | None):
        import requests
        self.base = base_url.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + (path if path.startswith("/") else "/" + path)

    def request(self, method: str, path: str, **kwargs):
        return self.http.request(method, self.url(path), timeout=60, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def api_as(app, live_server, make_user):
    """``api_as("warehouse")`` -> an :class:`ApiClient` signed in with a new user of that role."""
    from crm.db import db
    from crm.services.users import issue_token

    def make(role="admin", user=None):
        user = user or make_user(role)
        with app.app_context():
            s = db.new_session(app)
            _, plain = issue_token(s, s.merge(user))
            s.commit()
            s.close()
        client = ApiClient(live_server, plain)
        client.user = user
        return client
    return make


@pytest.fixture
def api(api_as):
    """An :class:`ApiClient` signed in as an admin."""
    return api_as("admin")


@contextlib.contextmanager
def registered_plugin(app, plugin, plugin_id: str = "test_plugin"):
    """Register ``plugin`` (a module or object with hook implementations) on
    ``app`` for the duration of the block."""
    from crm.plugins import Plugin, get_registry
    registry = get_registry(app)
    registry.pm.register(plugin, name=plugin_id)
    registry.plugins[plugin_id] = Plugin(plugin_id, "test", module=plugin)
    registry.order.append(plugin_id)
    try:
        yield plugin
    finally:
        registry.pm.unregister(name=plugin_id)
        registry.plugins.pop(plugin_id, None)
        registry.order.remove(plugin_id)
