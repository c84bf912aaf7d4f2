"""A pytest plugin for the CRM and its plugins (loaded automatically through the
``pytest11`` entry point).

The database comes from ``CRM_TEST_DATABASE_URL`` (default: SQLite). It is
migrated once per test session (core and every installed plugin), and each test
gets a copy of it: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL.

Fixtures: ``app`` (choose plugins with ``@pytest.mark.crm_plugins("payments")``),
``module_app`` (one app shared by a test module), ``session``, ``catalog`` (a small
catalogue: :class:`Catalog`), ``live_server``, ``api`` (the API as an admin, through Flask's
test client), ``api_as(role)``, ``live_api`` and ``live_api_as(role)`` (the same over real
HTTP), ``make_user``, ``client`` (Flask's test client), ``runner`` (the ``crm`` command line),
``new_page`` and ``page`` (a real browser on the live server; :func:`sign_in`).
``registered_plugin`` registers a plugin object for one block of a test.

``CRM_PLUGINS`` (a comma-separated list of ids) makes the tests run as if only those plugins
were installed (besides ``crm_extra_plugins``): the database has only their tables, apps load
only them, the other plugins' packages cannot be imported, and a test marked ``crm_plugins``
with another one is skipped.

Markers: ``browser`` (added to every test using ``page`` or ``new_page``), ``tryton`` (a real
Tryton server), ``slow``; ``-m "not browser and not tryton and not slow"`` is the fast subset.
"""
from __future__ import annotations

import contextlib
import contextvars
import gc
import os
import re
import shutil
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import pytest

TEST_PASSWORD = "correct horse battery"
#: Debian's chromium: browser tests never download a browser
CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


#: markers of the tests left out of the fast subset (``make check``)
MARKERS = {
    "browser": "drives Debian's chromium (added to every test using the page or new_page fixture)",
    "tryton": "talks to a real Tryton server",
    "slow": "takes several seconds on its own",
}
#: fixtures that mark the tests using them
MARKING_FIXTURES = {"page": "browser", "new_page": "browser"}


def pytest_configure(config):
    config.addinivalue_line("markers", "crm_plugins(*ids): load only these plugins in the app fixture")
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL (row locks, concurrency)")
    config.addinivalue_line("markers", "no_database: touches no database (lint, docs, pure functions): "
                                       "CI runs it once, on SQLite")
    for name, what in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {what}")


def database_url() -> str | None:
    return os.environ.get("CRM_TEST_DATABASE_URL") or None


def is_postgres() -> bool:
    url = database_url() or ""
    return url.startswith("postgres")


def plugins_under_test() -> list[str] | None:
    """The plugin ids of ``CRM_PLUGINS``: tests run as if only these were installed (None: all)."""
    listed = os.environ.get("CRM_PLUGINS")
    return None if listed is None else [p.strip() for p in listed.split(",") if p.strip()]


class _LeftOutPlugins:
    """An import finder that refuses the packages of the installed plugins ``CRM_PLUGINS`` leaves
    out, so that a test importing one fails as it would where that plugin is not installed."""

    def __init__(self, packages: set[str]):
        self.packages = packages

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.packages:
            raise ModuleNotFoundError(f"No module named {name!r} (left out by CRM_PLUGINS)", name=name)
        return None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    listed = plugins_under_test()
    if listed is None:
        return
    from importlib import metadata

    from crm.plugins import ENTRY_POINT_GROUP
    left_out = {ep.module.partition(".")[0] for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
                if ep.name not in listed}
    sys.meta_path.insert(0, _LeftOutPlugins(left_out))


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture in set(MARKING_FIXTURES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(MARKING_FIXTURES[fixture])
    if not is_postgres():
        skip = pytest.mark.skip(reason="needs PostgreSQL: set CRM_TEST_DATABASE_URL")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


#: tests run between two freezes of what is alive (:func:`pytest_runtest_logfinish`)
FREEZE_EVERY = 10
_tests_since_freeze = 0


def pytest_runtest_logfinish(nodeid, location):
    """Every ten tests, collect the garbage and freeze what is left alive (``gc.freeze``).

    A test makes an app of some 20,000 objects and leaves about 70,000 in reference cycles,
    so Python's full collections come every test or two, and each walked every object alive:
    the imported modules and the session's fixtures, which live as long as the run. On a
    2-core machine those walks were a fifth to a third of the suite's time. Frozen objects
    are out of the collector's sight; later collections walk what the tests since made.
    Something frozen that turns into cyclic garbage later (a module's shared app) is not
    freed before the run ends: a few megabytes."""
    global _tests_since_freeze
    _tests_since_freeze += 1
    if _tests_since_freeze >= FREEZE_EVERY:
        _tests_since_freeze = 0
        gc.collect()
        gc.freeze()


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
    #: what the seed of a :func:`seeded_template` returned (the ids of the records it wrote)
    seeded: object = None


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
    app = create_app(_test_config(template.url, PLUGINS=_default_plugins(crm_extra_plugins),
                                  EXTRA_PLUGINS=crm_extra_plugins))
    migrate.upgrade_all(app)
    from crm.db import db
    db.engine(app).dispose()
    yield template
    if pg:
        _postgres_copies.finish(make_url(template.url))
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def database_copy(template: TemplateDatabase, folder):
    """The URL of a new copy of the template database (a file in ``folder`` on SQLite), dropped
    after the block (on PostgreSQL, twenty together). Tests get one each (``crm_database_url``);
    a module may share one."""
    if template.sqlite_file:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "crm.db"
        shutil.copyfile(template.sqlite_file, path)
        yield f"sqlite:///{path}"
        return
    from sqlalchemy.engine import make_url
    source = make_url(template.url)
    name = _postgres_copies.take(source)
    try:
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        _postgres_copies.drop(source, name)


@contextlib.contextmanager
def seeded_template(template: TemplateDatabase, folder, seed, plugins=None, extra=()):
    """A template for the tests of a module that all start from the same records: a copy of
    ``template`` in which ``seed(api)`` writes them once (``api``: an :class:`ApiClient` of an
    administrator, on an app with ``plugins`` and ``extra``, as :func:`app_factory` takes them).
    What ``seed`` returns is the template's ``seeded``. Override ``crm_template_database`` in
    the module with it, and each test's database is a copy of it::

        @pytest.fixture(scope="module")
        def crm_template_database(crm_template_database, tmp_path_factory):
            with seeded_template(crm_template_database, tmp_path_factory.mktemp("seeded"),
                                 seed) as template:
                yield template
    """
    from crm import create_app
    with database_copy(template, folder) as url:
        candidates = list(extra)
        app = create_app(_test_config(url, PLUGINS=_default_plugins(candidates) if plugins is None else plugins,
                                      EXTRA_PLUGINS=candidates))
        seeded = seed(_api_client_factory(app, lambda role: _new_user(app, role), IN_PROCESS, app)("admin"))
        _close_connections(app)   # a template is copied only while nothing is connected to it
        yield TemplateDatabase(url, url.removeprefix("sqlite:///") if template.sqlite_file else None, seeded)
        if not template.sqlite_file:
            from sqlalchemy.engine import make_url
            _postgres_copies.finish(make_url(url))


class _PostgresCopies:
    """Copies of a PostgreSQL template database, made ahead (:attr:`AHEAD`) in a thread of their
    own while tests run, and dropped twenty at a time (:attr:`DROP_TOGETHER`) in another thread,
    so that a test waits for neither."""

    #: copies kept ready: a copy takes 0.1-0.2 s, longer than many tests; those made during
    #: the long tests are there for the short ones after them
    AHEAD = 3

    #: copies dropped together: each ``DROP DATABASE`` makes PostgreSQL write a checkpoint, and
    #: after a checkpoint the first change of every page goes whole into the write-ahead log
    #: again; dropping one after each test made 75 tests take 78-80 s instead of 50-61 s
    DROP_TOGETHER = 20

    def __init__(self):
        self._workers: dict[str, object] = {}   # "create" or "drop" -> its thread
        self._ahead: dict[str, list] = {}   # template name -> Futures of the next copies' names
        self._used: dict[str, list[str]] = {}   # template name -> copies to drop
        self._strategy: str | None = None

    def _run(self, work: str, fn, *args):
        if work not in self._workers:
            from concurrent.futures import ThreadPoolExecutor
            self._workers[work] = ThreadPoolExecutor(1, thread_name_prefix=f"crm-test-database-{work}")
        return self._workers[work].submit(fn, *args)

    @staticmethod
    def _execute(source, *statements: str) -> None:
        from sqlalchemy import text
        with _server_connection(source) as conn:
            for statement in statements:
                conn.execute(text(statement))

    def _create(self, source) -> str:
        """A copy of the template's files, whose commits do not wait for the disk.

        The copy is made file by file (``STRATEGY = FILE_COPY``, PostgreSQL 14's only way) rather
        than page by page through the write-ahead log, PostgreSQL 15's default: that wrote the 11 MB
        template twice, into the log and into the buffers that the next checkpoint (each dropped
        copy makes one) wrote out again. 292 tests on two workers took 54-64 s instead of 76-80 s.

        ``synchronous_commit`` is off: what every connection sees is the same; only a crash of
        PostgreSQL itself could lose the last commits. A commit then takes under a millisecond
        instead of two or three."""
        if self._strategy is None:
            with _server_connection(source) as conn:
                version = int(conn.exec_driver_sql("SHOW server_version_num").scalar())
            self._strategy = " STRATEGY = FILE_COPY" if version >= 150000 else ""
        name = f"{source.database}_{uuid.uuid4().hex[:10]}"
        self._execute(source, f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"{self._strategy}',
                      f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        return name

    def take(self, source) -> str:
        ahead = self._ahead.setdefault(source.database, [])
        name = ahead.pop(0).result() if ahead else self._create(source)
        while len(ahead) < self.AHEAD:
            ahead.append(self._run("create", self._create, source))
        return name

    def drop(self, source, name: str) -> None:
        used = self._used.setdefault(source.database, [])
        used.append(name)
        if len(used) >= self.DROP_TOGETHER:
            self._run("drop", self._drop_all, source, self._used.pop(source.database))

    def _drop_all(self, source, names: list[str]) -> None:
        self._execute(source, *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names))

    def finish(self, source) -> None:
        """Drop the copies of ``source`` left, those made ahead too, and wait for what is left
        to do (before the template itself is dropped)."""
        names = self._used.pop(source.database, [])
        names += [ahead.result() for ahead in self._ahead.pop(source.database, [])]
        if names:
            self._drop_all(source, names)
        for worker in self._workers.values():
            worker.shutdown(wait=True)
        self._workers.clear()


@contextlib.contextmanager
def _server_connection(url):
    """A connection to the server of ``url`` (its ``postgres`` database), out of any transaction:
    databases are created and dropped there."""
    from sqlalchemy import create_engine
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


_postgres_copies = _PostgresCopies()


@pytest.fixture
def crm_database_url(crm_template_database, tmp_path) -> str:
    """An empty, migrated database for this test: a copy of the template."""
    with database_copy(crm_template_database, tmp_path) as url:
        yield url


def _default_plugins(extra) -> list[str] | None:
    """The plugins an app loads unless told otherwise: every installed one (None), or those of
    ``CRM_PLUGINS``, and the extra ones (``crm_extra_plugins``)."""
    listed = plugins_under_test()
    return None if listed is None else listed + [c.id for c in extra]


@pytest.fixture
def crm_plugins(request, crm_extra_plugins):
    """The plugin ids to load (None: all installed), from ``@pytest.mark.crm_plugins``; the test
    is skipped when one of them is left out by ``CRM_PLUGINS``."""
    marker = request.node.get_closest_marker("crm_plugins")
    if marker is None:
        return None
    available = _default_plugins(crm_extra_plugins)
    missing = [p for p in marker.args if available is not None and p not in available]
    if missing:
        pytest.skip(f"CRM_PLUGINS={os.environ['CRM_PLUGINS']} leaves out {', '.join(missing)}, which this test loads")
    return list(marker.args)


def _close_connections(app) -> None:
    """Close the connections of ``app``'s engine, before its database is dropped. One still
    checked out belongs to something left in a reference cycle (a session a test did not close):
    it is collected now, while its database exists. Collected later, its rollback fails on the
    dropped database and the pool logs the error from inside whatever code the garbage collector
    interrupted; on Python 3.11.7 formatting that traceback inside another ``ast.parse`` (werkzeug
    compiles its routes with it) fails that parse with "AST constructor recursion depth
    mismatch"."""
    from crm.db import db
    engine = db.engine(app)
    if engine.pool.checkedout():
        gc.collect()
    engine.dispose()


@pytest.fixture
def app_factory(crm_database_url, crm_extra_plugins):
    """Build apps on this test's database: ``app_factory(plugins=[...], extra=[candidate])``."""
    from crm import create_app
    made = []

    def factory(plugins=None, extra=None, **config):
        candidates = list(crm_extra_plugins) if extra is None else list(extra)
        chosen = _default_plugins(candidates) if plugins is None else plugins
        app = create_app(_test_config(crm_database_url, PLUGINS=chosen, EXTRA_PLUGINS=candidates, **config))
        made.append(app)
        return app

    yield factory
    for app in made:
        _close_connections(app)


@pytest.fixture
def app(app_factory, crm_plugins):
    return app_factory(plugins=crm_plugins)


@pytest.fixture(scope="module")
def module_app(crm_template_database, crm_extra_plugins, tmp_path_factory):
    """One app with every plugin, on a database of its own shared by the tests of a module
    (for tests that make many requests on the same records)."""
    from crm import create_app
    with database_copy(crm_template_database, tmp_path_factory.mktemp("crm-module")) as url:
        app = create_app(_test_config(url, PLUGINS=_default_plugins(crm_extra_plugins),
                                      EXTRA_PLUGINS=list(crm_extra_plugins)))
        yield app
        _close_connections(app)


@pytest.fixture
def session(app):
    """A session on the test database (commit what you want the app to see)."""
    from crm.db import db
    s = db.new_session(app)
    yield s
    s.close()


def in_session(app, fn):
    """``fn(session)`` on a short session of its own, committed; what ``fn`` returns. Tests read
    and write this way while the app serves requests: on SQLite an open transaction, even a
    read, holds the database the app writes."""
    from crm.db import db
    with app.app_context():
        s = db.new_session(app)
        try:
            result = fn(s)
            s.commit()
            return result
        finally:
            s.close()


def all_at_once(count: int, call):
    """``call(0)`` ... ``call(count - 1)``, each in a thread of its own, released together (a
    race); their results in order. An exception of one is raised here."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait()
        return call(i)
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def at_once(*calls):
    """The calls (no arguments), each in a thread of its own, released together; their results
    in order (:func:`all_at_once`)."""
    return all_at_once(len(calls), lambda i: calls[i]())


@pytest.fixture
def look(app):
    """``look(lambda s: ...)``: :func:`in_session` on this test's app."""
    return lambda fn: in_session(app, fn)


@dataclass
class Catalog:
    """The ids of a small catalogue (:func:`make_catalog`)."""

    iva21: int       # IVA 21%, on lines and shipping
    iva10: int       # IVA 10%
    iva4: int        # IVA 4%
    ship21: int      # IVA 21% envío, on shipping only
    account: int     # Ferretería López S.L. (Madrid), its billing address filled in
    contact: int     # Ana López, of that account
    vendor: int      # Suministros Norte
    widget: int      # product W-1, 19.99, IVA 21, cost 12.00, from the vendor
    gadget: int      # product G-1, 7.455, IVA 10, cost 3.00
    consulting: int  # service 40.00, IVA 21
    kit: int         # bundle KIT-1: 2 widgets + 1 gadget, 45.00, IVA 21


def make_catalog(session) -> Catalog:
    """Write the taxes, account, contact, vendor and items of :class:`Catalog` with ``session``
    (committed) and return their ids."""
    from crm.models import Account, BundleComponent, Contact, Item, Tax, Vendor
    iva21 = Tax(name="IVA 21%", rate=Decimal("21"), applies_to="both")
    iva10 = Tax(name="IVA 10%", rate=Decimal("10"))
    iva4 = Tax(name="IVA 4%", rate=Decimal("4"))
    ship21 = Tax(name="IVA 21% envío", rate=Decimal("21"), applies_to="shipping")
    account = Account(name="Ferretería López S.L.", email="compras@lopez.example",
                      billing_address={"street": "Calle Mayor 1", "city": "Madrid", "state": "",
                                       "postal_code": "28013", "country": "ES"})
    vendor = Vendor(name="Suministros Norte", address={"city": "Bilbao", "country": "ES"})
    session.add_all([iva21, iva10, iva4, ship21, account, vendor])
    session.flush()
    contact = Contact(last_name="López", first_name="Ana", account_id=account.id)
    widget = Item(kind="product", name="Widget", sku="W-1", unit_price=Decimal("19.99"),
                  purchase_cost=Decimal("12.00"), category="Hardware", manufacturer="Acme", vendor_id=vendor.id,
                  taxes=[iva21])
    gadget = Item(kind="product", name="Gadget", sku="G-1", unit_price=Decimal("7.455"),
                  purchase_cost=Decimal("3.00"), category="Hardware", manufacturer="Globex", taxes=[iva10])
    consulting = Item(kind="service", name="Consulting hour", unit_price=Decimal("40.00"), taxes=[iva21])
    session.add_all([contact, widget, gadget, consulting])
    session.flush()
    kit = Item(kind="product", name="Starter kit", sku="KIT-1", unit_price=Decimal("45.00"), is_bundle=True,
               taxes=[iva21])
    kit.components = [BundleComponent(component_id=widget.id, quantity=Decimal("2")),
                      BundleComponent(component_id=gadget.id, quantity=Decimal("1"))]
    session.add(kit)
    session.commit()
    return Catalog(iva21.id, iva10.id, iva4.id, ship21.id, account.id, contact.id, vendor.id, widget.id,
                   gadget.id, consulting.id, kit.id)


@pytest.fixture
def catalog(session) -> Catalog:
    """A small catalogue on the test database (:func:`make_catalog`)."""
    return make_catalog(session)


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
    return lambda role="admin", username=None, **kwargs: _new_user(app, role, username, **kwargs)


def _new_user(app, role: str, username: str | None = None, **kwargs):
    """A committed user of ``app`` with that role (password :data:`TEST_PASSWORD`)."""
    from crm.db import db
    from crm.services.users import create_user
    with app.app_context():
        s = db.new_session(app)
        user = create_user(s, username or f"{role}-{uuid.uuid4().hex[:8]}", TEST_PASSWORD, role, **kwargs)
        s.commit()
        s.expunge(user)
        s.close()
        return user


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on 127.0.0.1 (a random port) in a thread."""
    from werkzeug.serving import make_server
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a server error is logged with its traceback
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # a short poll interval: stopping the server waits for one (0.5 s by default, in every test)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


#: ``CRM_SKIP_BROWSER=1`` skips the browser tests (said in the summary); without it, a missing browser fails them
SKIP_BROWSER = "CRM_SKIP_BROWSER"


def skipping_browser() -> bool:
    return os.environ.get(SKIP_BROWSER, "").strip().lower() in ("1", "true", "yes", "on")


def _browser_or_refusal():
    """Playwright's sync API when the browser tests can run; else the test is skipped (opted out
    with ``CRM_SKIP_BROWSER=1``) or fails saying what is missing and how to get it."""
    if skipping_browser():
        pytest.skip(f"{SKIP_BROWSER}=1: browser tests skipped")
    problem = None
    if not os.path.exists(CHROMIUM):
        problem = f"{CHROMIUM} is missing (browser tests use Debian's chromium, never a downloaded one)"
    try:
        from playwright import sync_api
    except ImportError:
        problem = problem or "playwright is not installed (pip install -e '.[test]')"
    if problem:
        pytest.fail(f"{problem}: install it (`make test` runs apt-get install chromium where it can), "
                    f"or set {SKIP_BROWSER}=1 to skip the browser tests", pytrace=False)
    return sync_api


def pytest_terminal_summary(terminalreporter):
    """Browser tests skipped with ``CRM_SKIP_BROWSER=1`` are counted at the end of every run."""
    skipped = [report for report in terminalreporter.stats.get("skipped", [])
               if SKIP_BROWSER in str(getattr(report, "longrepr", ""))]
    if skipped or skipping_browser():
        terminalreporter.write_sep("=", f"{len(skipped)} browser tests skipped: {SKIP_BROWSER}=1 is set",
                                   yellow=True, bold=True)


@pytest.fixture
def new_page(live_server):
    """``new_page(width=1280, height=900, locale="en-GB")`` -> a Playwright page in a fresh
    context of Debian's chromium, its ``base_url`` the live server (``page.goto("/login")``).
    Confirmation dialogs are accepted; a JavaScript error or anything the Content-Security-Policy
    refuses on any page fails the test (:func:`watch_page`). Without chromium or playwright the
    test fails, saying what is missing, unless ``CRM_SKIP_BROWSER=1`` skips browser tests (which
    the summary then says, :func:`pytest_terminal_summary`)."""
    sync_api = _browser_or_refusal()
    errors = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def make(width=1280, height=900, locale="en-GB"):
            context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height},
                                          locale=locale)
            context.set_default_timeout(20_000)
            page = context.new_page()
            watch_page(page, errors)
            page.on("dialog", lambda dialog: dialog.accept())
            return page

        yield make
        browser.close()
    assert errors == [], f"JavaScript errors or Content-Security-Policy violations: {errors}"


def watch_page(page, errors: list) -> None:
    """Add to ``errors`` what must fail a browser test: a JavaScript error, and a script, style or
    anything else the Content-Security-Policy refused (Chromium reports those on the console)."""
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(f"{message.text} ({page.url})")
            if message.type == "error" and "Content Security Policy" in message.text else None)


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


#: the address of an app called in this process (an ``.test`` name never reaches a network)
IN_PROCESS = "http://crm.test"


class ApiClient:
    """A small HTTP client for ``/api/v1`` with a bearer token: ``api.get("/products")`` answers a
    ``requests.Response``. Given ``app``, requests go to that app through Flask's test client
    (no socket; ``base_url`` is then :data:`IN_PROCESS`); otherwise over HTTP to ``base_url``."""

    def __init__(self, base_url: str, token: str | None, app=None):
        import requests
        self.base_url = base_url.rstrip("/")
        self.base = self.base_url + "/api/v1"
        self.app = app
        self.http = requests.Session()
        if app is not None:
            self.http.mount(self.base_url + "/", InProcessAdapter(app))
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def anonymous(self) -> "ApiClient":
        """A client of the same server without a token."""
        return ApiClient(self.base_url, None, self.app)

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


class InProcessAdapter:
    """A ``requests`` transport (``Session.mount``) that hands each request to a Flask app's test
    client, in a fresh context (as a server thread would: nothing of the caller's app context or
    actor leaks in) and answers a ``requests.Response``."""

    def __init__(self, app):
        self.app = app

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        import io

        from requests.models import Response
        from requests.structures import CaseInsensitiveDict
        from requests.utils import get_encoding_from_headers
        answer = contextvars.Context().run(self._call, request)
        response = Response()
        response.status_code = answer.status_code
        response.reason = answer.status.partition(" ")[2]
        response.headers = CaseInsensitiveDict()
        for name, value in answer.headers.items():  # repeated headers joined as over HTTP
            response.headers[name] = f"{response.headers[name]}, {value}" if name in response.headers else value
        response._content = answer.get_data()
        response.raw = io.BytesIO(response._content)
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = request.url
        response.request = request
        return response

    def _call(self, request):
        body = request.body or b""
        return self.app.test_client().open(
            request.url, method=request.method, headers=list(request.headers.items()),
            data=body.encode() if isinstance(body, str) else body)

    def close(self):
        pass


def _api_client_factory(app, make_user, base_url, transport_app):
    from crm.db import db
    from crm.services.users import issue_token

    def make(role="admin", user=None):
        user = user or make_user(role)
        with app.app_context():
            s = db.new_session(app)
            _, plain = issue_token(s, s.merge(user))
            s.commit()
            s.close()
        client = ApiClient(base_url, plain, transport_app)
        client.user = user
        return client
    return make


@pytest.fixture
def api_as(app, make_user):
    """``api_as("warehouse")`` -> an :class:`ApiClient` signed in with a new user of that role
    (or ``user=``), calling the app through Flask's test client."""
    return _api_client_factory(app, make_user, IN_PROCESS, app)


@pytest.fixture
def api(api_as):
    """An :class:`ApiClient` signed in as an admin (through Flask's test client)."""
    return api_as("admin")


@pytest.fixture
def live_api_as(app, live_server, make_user):
    """:func:`api_as` over real HTTP to :func:`live_server` (requests in parallel threads or
    processes, anything that needs a socket)."""
    return _api_client_factory(app, make_user, live_server, None)


@pytest.fixture
def live_api(live_api_as):
    """An admin's :class:`ApiClient` over real HTTP."""
    return live_api_as("admin")


@contextlib.contextmanager
def registered_plugin(app, plugin, plugin_id: str = "test_plugin"):
    """Register ``plugin`` (a module or object with hook implementations) on
    ``app`` for the duration of the block, as the last plugin in plugin order."""
    from crm.plugins import get_registry
    registry = get_registry(app)
    registry.add(plugin_id, plugin)
    try:
        yield plugin
    finally:
        registry.remove(plugin_id)


# --- edit forms: found in the URL map, submitted as a browser would ------------------------------

#: words of an endpoint or URL that make a page (or a form's target) an edit form
EDIT_WORDS = ("edit", "update", "settings")


@dataclass(frozen=True)
class EditForm:
    """A page that shows a form editing something that exists (``page``: a GET rule), or the
    target of such a form shown on another page (a POST-only rule)."""

    rule: str                 # the URL rule, e.g. ``/products/<int:record_id>/edit``
    endpoint: str
    owner: str | None         # the plugin that owns its blueprint; None: the core
    page: bool


def edit_forms(app) -> list[EditForm]:
    """Every edit form of ``app`` found in its URL map (the API and static files left out): a
    page whose endpoint or URL says edit / update / settings, or whose URL also takes a POST
    (the form posts back to it), except the forms of new records (endpoint ``*.new``); and a
    POST-only rule that says edit / update / settings at a URL that is not a page."""
    owners = app.extensions.get("crm.blueprint_owners", {})
    rules = [r for r in app.url_map.iter_rules() if not r.rule.startswith(("/api/", "/static/"))]
    posted = {r.rule for r in rules if "POST" in r.methods}
    pages = {r.rule for r in rules if "GET" in r.methods}
    found = {}
    for r in rules:
        words = set(re.split(r"[/_.<>:-]+", r.endpoint.rsplit(".", 1)[-1] + "/" + r.rule))
        said = bool(words & set(EDIT_WORDS))
        if "GET" in r.methods:
            if r.endpoint.endswith(".new") or not (said or r.rule in posted):
                continue
        elif not said or r.rule in pages:
            continue
        owner = owners.get(r.endpoint.split(".", 1)[0]) if "." in r.endpoint else None
        found[r.rule] = EditForm(r.rule, r.endpoint, owner, "GET" in r.methods)
    return sorted(found.values(), key=lambda f: f.rule)


def _tag(element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _text_of(element) -> str:
    return "".join(element.itertext())


def _option_value(option) -> str:
    value = option.get("value")
    return value if value is not None else " ".join(_text_of(option).split())


def _sanitized(kind: str, value: str) -> str:
    """An input's value as the browser keeps it (HTML's value sanitization algorithm)."""
    import datetime as dt
    if kind in ("text", "search", "tel", "password", "url", "email"):
        value = value.replace("\r", "").replace("\n", "")
    if kind in ("url", "email"):
        value = value.strip(" \t\n\f\r")
    if kind == "number" and not re.fullmatch(r"-?(\d+(\.\d+)?|\.\d+)([eE][-+]?\d+)?", value):
        return ""
    if kind == "date":
        try:
            valid = bool(re.fullmatch(r"\d{4,}-\d\d-\d\d", value)) and dt.date.fromisoformat(value)
        except ValueError:
            valid = False
        return value if valid else ""
    return value


class _Page:
    """A parsed page: each element's ancestors, the form it belongs to, whether it is disabled."""

    def __init__(self, html: str, url: str):
        import tinyhtml5
        self.root = tinyhtml5.parse(html)
        self.url = url
        self.parents = {child: parent for parent in self.root.iter() for child in parent}
        self.by_id = {e.get("id"): e for e in self.root.iter() if e.get("id")}

    def ancestors(self, element):
        while element in self.parents:
            element = self.parents[element]
            yield element

    def target(self, form) -> str:
        """Where ``form`` posts: a path and query."""
        from urllib.parse import urljoin, urlsplit
        parts = urlsplit(urljoin(self.url, form.get("action") or self.url))
        return parts.path + ("?" + parts.query if parts.query else "")

    def owner(self, element):
        if element.get("form") is not None:
            return self.by_id.get(element.get("form"))
        return next((a for a in self.ancestors(element) if _tag(a) == "form"), None)

    def disabled(self, element) -> bool:
        if element.get("disabled") is not None:
            return True
        child = element
        for a in self.ancestors(element):
            if _tag(a) == "fieldset" and a.get("disabled") is not None:
                legend = next((c for c in a if _tag(c) == "legend"), None)
                if legend is None or child is not legend:
                    return True
            child = a
        return False

    def chosen_options(self, select) -> list:
        """The options a select submits: the selected enabled ones; a single select with none
        selected, its first enabled option."""
        options = [o for o in select.iter() if _tag(o) == "option"]
        enabled = [o for o in options if o.get("disabled") is None and not any(
            _tag(a) == "optgroup" and a.get("disabled") is not None for a in self.ancestors(o))]
        if select.get("multiple") is not None:
            return [o for o in enabled if o.get("selected") is not None]
        picked = [o for o in options if o.get("selected") is not None][-1:] or enabled[:1]
        return [o for o in picked if o in enabled]


def form_entries(html: str, page_url: str, action: str | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The form of ``html`` that posts to ``action`` (default: back to ``page_url``) as a browser
    submits it when its first submit button is clicked, untouched: ``(url, [(name, value), ...])``.

    Follows HTML's "constructing the entry list": the controls of the form (inside it, or
    anywhere with ``form="<its id>"``), not those in a ``<template>``, disabled ones (also by a
    disabled fieldset) or unnamed ones; checked boxes only (value ``on`` by default); the
    selected options of a select, and a single select with none selected submits its first
    enabled option; values sanitized by input type; line breaks sent as CRLF."""
    page = _Page(html, page_url)
    wanted = page.target({"action": action} if action else {})
    forms = [f for f in page.root.iter() if _tag(f) == "form" and (f.get("method") or "get").lower() == "post"
             and page.target(f) == wanted]
    if len(forms) != 1:
        raise AssertionError(f"{len(forms)} forms post to {wanted} on {page_url}")
    controls = [e for e in page.root.iter() if _tag(e) in ("input", "select", "textarea", "button")
                and not any(_tag(a) == "template" for a in page.ancestors(e)) and page.owner(e) is forms[0]]
    submitter = next((e for e in controls if not page.disabled(e) and (
        (_tag(e) == "button" and (e.get("type") or "submit").lower() == "submit")
        or (_tag(e) == "input" and (e.get("type") or "").lower() in ("submit", "image")))), None)
    entries = [entry for e in controls if e.get("name") and not page.disabled(e)
               for entry in _entries_of(page, e, submitter)]
    crlf = [(n, v.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")) for n, v in entries]
    return wanted, crlf


def _entries_of(page: _Page, control, submitter) -> list[tuple[str, str]]:
    """What a named, enabled control of the form submits."""
    name, tag = control.get("name"), _tag(control)
    if tag == "textarea":
        return [(name, _text_of(control))]
    if tag == "select":
        return [(name, _option_value(o)) for o in page.chosen_options(control)]
    kind = "submit" if tag == "button" else (control.get("type") or "text").lower()
    if kind in ("checkbox", "radio"):
        return [(name, control.get("value", "on"))] if control.get("checked") is not None else []
    if kind in ("submit", "image", "reset", "button"):
        return [(name, control.get("value") or "")] if control is submitter else []
    if kind == "file":
        return []
    return [(name, _sanitized(kind, control.get("value") or ""))]


def submit_unchanged(client, page_url: str, action: str | None = None):
    """Open ``page_url`` with ``client`` (a signed-in Flask test client), submit its form that
    posts to ``action`` untouched (see :func:`form_entries`) and return the response."""
    from werkzeug.datastructures import MultiDict
    page = client.get(page_url)
    assert page.status_code == 200, f"GET {page_url} -> {page.status_code}"
    url, entries = form_entries(page.get_data(as_text=True), page_url, action)
    return client.post(url, data=MultiDict(entries))


#: what saving a record changes even when nothing else does
BOOKKEEPING = ("version", "updated_at", "updated_by_id")


def comparable(data, ignore=BOOKKEEPING):
    """``data`` (JSON or a row as a dict) without the bookkeeping keys, at any depth."""
    if isinstance(data, dict):
        return {k: comparable(v, ignore) for k, v in data.items() if k not in ignore}
    if isinstance(data, list):
        return [comparable(v, ignore) for v in data]
    return data


def check_round_trip(client, page_url: str, read, action: str | None = None) -> None:
    """Open the edit form at ``page_url``, submit it untouched (:func:`submit_unchanged`) and
    check that it was accepted (a redirect to a page without an error message) and that
    ``read()`` (the record through the API or its service) gives the same before and after."""
    before = read()
    response = submit_unchanged(client, page_url, action)
    text = response.get_data(as_text=True)
    refusal = re.search(r'<div class="flash error"[^>]*>(.*?)</div>', text, re.S)
    assert response.status_code in (302, 303), \
        f"{page_url} saved unchanged -> {response.status_code}: {refusal.group(1).strip() if refusal else text[:500]}"
    landing = client.get(response.headers["Location"]).get_data(as_text=True)
    refusal = re.search(r'<div class="flash error"[^>]*>(.*?)</div>', landing, re.S)
    assert refusal is None, f"{page_url} saved unchanged -> {refusal.group(1).strip()}"
    changed = differences(before, read())
    assert changed == [], f"{page_url} saved unchanged changed " + "; ".join(changed)


def differences(before, after, path: str = "") -> list[str]:
    """``["lines.1.tax_ids: [1, 3] -> []", ...]``: where ``after`` differs from ``before``."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [d for key in sorted(set(before) | set(after), key=str)
                for d in differences(before.get(key, "<missing>"), after.get(key, "<missing>"),
                                     f"{path}.{key}" if path else str(key))]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [d for index, (b, a) in enumerate(zip(before, after))
                for d in differences(b, a, f"{path}.{index}" if path else str(index))]
    return [] if before == after else [f"{path or '.'}: {before!r} -> {after!r}"]
