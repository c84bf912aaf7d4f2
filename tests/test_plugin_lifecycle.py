"""A plugin's life for the administrator: what its distribution says about it, a plugin made for
another core left unloaded, the Plugins page (state, what it adds in words, migrations pending,
enable running them, purge with the plugin's name typed back and its refusals)."""
from __future__ import annotations

import shutil
import time
import types
from importlib import metadata

import pytest
from sqlalchemy import text

from crm import hookimpl, migrate
from crm.db import db
from crm.plugins import (
    PluginMetadata,
    core_requirement,
    core_version,
    incompatibility,
    installed_candidates,
    module_candidate,
)
from crm.services import plugin_admin
from crm.testing import TEST_PASSWORD


def sign_in(app, make_user):
    user = make_user("admin")
    client = app.test_client()
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    return client


def crm(app, *args):
    """``crm ARGS`` on ``app``."""
    from crm.cli import cli
    from crm.testing import _script_info
    return app.test_cli_runner().invoke(cli, list(args), obj=_script_info(app))


def html(response) -> str:
    return response.get_data(as_text=True)


def _row(page: str, plugin_id: str) -> str:
    """The Plugins page's row of ``plugin_id``."""
    start = page.index(f'data-plugin="{plugin_id}"')
    return page[start:page.index("</tr>", start)]


# --- metadata -------------------------------------------------------------------------------

def test_metadata_comes_from_the_installed_distribution():
    dist = metadata.distribution("crm-payments")
    meta = PluginMetadata.of(dist)
    assert meta.distribution == "crm-payments"
    assert meta.title == "Payments"
    assert meta.description == dist.metadata["Summary"] and meta.description
    assert PluginMetadata.of(metadata.distribution("crm-item-lookup")).title == "Item lookup"
    assert meta.author == "CRM maintainers" and meta.requires_core == "<0.2,>=0.1"


def _distribution(folder, lines: list[str]) -> metadata.Distribution:
    info = folder / "crm_fox-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("\n".join(["Metadata-Version: 2.1", "Name: crm-fox", "Version: 1.0", *lines]) + "\n",
                                   encoding="utf-8")
    return metadata.PathDistribution(info)


def test_a_plugin_installed_or_removed_while_the_process_runs_is_what_the_next_app_finds(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))

    def found():
        return {candidate.id for candidate in installed_candidates()}
    assert "fox" not in found() and "payments" in found()
    time.sleep(0.05)  # the folder's change gets a time of its own
    info = tmp_path / "crm_fox-1.0.dist-info"
    _distribution(tmp_path, ["Summary: Foxes"])
    (info / "entry_points.txt").write_text("[crm.plugins]\nfox = crm_fox\n", encoding="utf-8")
    assert "fox" in found()
    time.sleep(0.05)
    shutil.rmtree(info)
    assert "fox" not in found() and "payments" in found()


def test_author_and_home_page_fall_back_to_author_email_and_the_first_project_url(tmp_path):
    full = PluginMetadata.of(_distribution(tmp_path / "a", [
        "Summary: Foxes", "Author: Ana López", "Home-page: https://example.com/fox", "Requires-Dist: crm-core>=0.1"]))
    assert (full.author, full.home_page, full.requires_core) == ("Ana López", "https://example.com/fox", ">=0.1")
    modern = PluginMetadata.of(_distribution(tmp_path / "b", [
        "Author-email: Ana <ana@example.com>", "Project-URL: Homepage, https://example.com/fox2",
        "Project-URL: Issues, https://example.com/fox2/issues"]))
    assert (modern.author, modern.home_page) == ("Ana <ana@example.com>", "https://example.com/fox2")
    unsafe = PluginMetadata.of(_distribution(tmp_path / "c", ["Home-page: javascript:alert(1)"]))
    assert unsafe.home_page == "" and unsafe.author == ""


def test_the_page_shows_each_plugins_author_and_home_page(app_factory, make_user):
    meta = PluginMetadata(distribution="crm-hello", title="Hello", description="Greetings",
                          author="Ana López", home_page="https://example.com/crm-hello")
    app = app_factory(extra=[module_candidate("hello", "crm_hello.plugin", "1.2.0", meta)])
    hello = _row(html(sign_in(app, make_user).get("/admin/plugins")), "hello")
    assert "By Ana López" in hello and 'href="https://example.com/crm-hello"' in hello and "1.2.0" in hello


def test_the_core_requirement_is_read_from_requires_dist_and_checked_against_the_core():
    assert core_requirement(["cachetools>=5", "crm-core<0.2,>=0.1", 'simpleeval>=1.0; extra == "test"']) == "<0.2,>=0.1"
    assert core_requirement(["Crm_Core"]) == ""
    assert core_requirement(['crm-core>=9; extra == "future"']) == ""   # an extra's requirement does not count
    assert incompatibility("<0.2,>=0.1", "0.1.0") is None
    assert incompatibility("", "0.1.0") is None
    assert incompatibility(">=0.2", "0.1.0") == "built for crm-core >=0.2; this is crm-core 0.1.0"
    assert incompatibility("==nonsense", "0.1.0") == "its core requirement '==nonsense' cannot be read"


def _incompatible_candidate(imported: list):
    def load():
        imported.append(True)
        return types.SimpleNamespace()
    from crm.plugins import Candidate
    return Candidate("future", load, "2.0.0", PluginMetadata(distribution="crm-future", title="Future",
                                                             description="Made for a later core",
                                                             requires_core=">=99"))


def test_a_plugin_built_for_another_core_is_not_loaded_and_the_page_and_the_cli_say_why(
        app_factory, crm_extra_plugins, make_user):
    imported = []
    app = app_factory(extra=[*crm_extra_plugins, _incompatible_candidate(imported)])
    plugin = app.extensions["crm.plugins"].plugins["future"]
    assert imported == [] and not plugin.loaded        # its code was not even imported
    assert plugin.incompatible == (">=99", core_version())
    row = _row(html(sign_in(app, make_user).get("/admin/plugins")), "future")
    assert "Not compatible" in row and f"Built for core versions &gt;=99; this is version {core_version()}" in row
    assert "Made for a later core" in row
    listed = crm(app, "plugins", "list")
    line = next(line for line in listed.output.splitlines() if line.startswith("future\t"))
    assert line.split("\t")[2] == "incompatible"
    assert f"error: built for crm-core >=99; this is crm-core {core_version()}: not loaded" in listed.output
    refused = crm(app, "plugins", "enable", "future")
    assert refused.exit_code == 1 and "failed to load" in refused.output


# --- the Plugins page --------------------------------------------------------------------------

def test_the_page_is_for_administrators_only(app, make_user):
    for role in ("sales", "accounting"):
        user = make_user(role)
        client = app.test_client()
        client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
        assert client.get("/admin/plugins").status_code == 403
        assert client.post("/admin/plugins/hello/disable").status_code == 403
        assert client.get("/admin/plugins/hello/purge").status_code == 403


def test_the_page_says_what_each_plugin_adds_in_words_and_links_its_settings(app, make_user):
    page = html(sign_in(app, make_user).get("/admin/plugins"))
    hello = _row(page, "hello")
    for phrase in ("pages", "API endpoints", "menu entries", "panels and buttons on pages"):
        assert f"<li>{phrase}</li>" in hello
    assert "crm_" not in hello                       # no hook names
    if "payments" in app.extensions["crm.plugins"].enabled:
        payments = _row(page, "payments")
        assert "scheduled jobs" in payments and "Many payments per invoice" in payments
        assert 'href="/payments/settings' in payments or "/settings" in payments


def test_every_hook_has_words_for_the_page(app):
    from crm import hookspecs
    specs = [name for name in dir(hookspecs) if name.startswith("crm_")]
    with app.test_request_context():
        words = plugin_admin.what_it_adds(specs)
        phrases = plugin_admin._hook_phrases()
        missing = [name for name in specs if name not in plugin_admin.SILENT_HOOKS and name not in phrases]
    assert not missing, f"hooks without words on the Plugins page: {missing}"
    assert len(words) == len(set(words))


def test_a_plugin_that_failed_to_load_is_shown_with_its_error(app_factory, crm_extra_plugins, make_user):
    def broken():
        raise ImportError("No module named 'crm_missing_dependency'")
    app = app_factory(extra=[*crm_extra_plugins, _candidate("broken", broken)])
    row = _row(html(sign_in(app, make_user).get("/admin/plugins")), "broken")
    assert "Failed to load" in row and "No module named &#39;crm_missing_dependency&#39;" in row
    assert "Enable" not in row


def _candidate(plugin_id, load):
    from crm.plugins import Candidate
    return Candidate(plugin_id, load, "1.0")


def test_pending_migrations_are_shown_and_enabling_runs_them_keeping_the_data(app, make_user, session):
    admin = sign_in(app, make_user)
    assert admin.post("/admin/plugins/hello/disable").status_code == 302
    migrate.downgrade(app, "hello", "hello_0001")        # the plugin's second migration is pending
    row = _row(html(admin.get("/admin/plugins")), "hello")
    assert "Migrations pending" in row and "Disabled" in row
    session.execute(text("INSERT INTO hello_greetings (text) VALUES ('kept')"))
    session.commit()
    listed = crm(app, "plugins", "list")
    assert "hello\t0\tdisabled, migrations pending" in listed.output
    assert admin.post("/admin/plugins/hello/enable").status_code == 302
    assert "its tables were brought up to date" in html(admin.get("/admin/plugins"))
    assert "hello" not in migrate.pending(app)
    assert app.extensions["crm.plugins"].is_enabled("hello")
    assert session.execute(text("SELECT text FROM hello_greetings")).scalars().all() == ["kept"]


def test_enable_and_disable_keep_the_data(app, make_user, session):
    session.execute(text("INSERT INTO hello_greetings (text) VALUES ('hola')"))
    session.commit()
    admin = sign_in(app, make_user)
    admin.post("/admin/plugins/hello/disable")
    assert "Disabled" in _row(html(admin.get("/admin/plugins")), "hello")
    assert admin.get("/hello/").status_code == 404
    admin.post("/admin/plugins/hello/enable")
    assert "Enabled" in _row(html(admin.get("/admin/plugins")), "hello")
    assert session.execute(text("SELECT text FROM hello_greetings")).scalars().all() == ["hola"]


# --- purging ---------------------------------------------------------------------------------

def test_purge_lists_the_tables_and_rows_and_needs_the_name_typed_back(app, make_user, session):
    session.execute(text("INSERT INTO hello_greetings (text) VALUES ('a'), ('b')"))
    session.commit()
    admin = sign_in(app, make_user)
    admin.post("/admin/plugins/hello/disable")
    page = html(admin.get("/admin/plugins/hello/purge"))
    assert "<code>hello_greetings</code></td><td class=\"num\">2</td>" in page
    assert "<code>alembic_version_hello</code>" in page
    wrong = admin.post("/admin/plugins/hello/purge", data={"confirm": "helo"})
    assert wrong.status_code == 422 and "nothing was dropped" in html(wrong)
    assert session.execute(text("SELECT count(*) FROM hello_greetings")).scalar_one() == 2
    session.rollback()
    done = admin.post("/admin/plugins/hello/purge", data={"confirm": "hello"})
    assert done.status_code == 302
    with db.engine(app).connect() as connection:
        assert plugin_admin.plugin_tables(connection, "hello") == []
    row = _row(html(admin.get("/admin/plugins")), "hello")
    assert "Disabled" in row and "Migrations pending" in row    # enabling it creates its tables again, empty
    admin.post("/admin/plugins/hello/enable")
    session.rollback()
    assert session.execute(text("SELECT count(*) FROM hello_greetings")).scalar_one() == 0


@pytest.mark.parametrize("fan_enabled", [True, False])
def test_purge_is_refused_while_an_installed_plugin_requires_it(app_factory, crm_extra_plugins, make_user,
                                                                fan_enabled):
    fan = types.ModuleType("hellofan")   # a module, as plugins are (pluggy keeps the disabled ones in a set)
    fan.requires, fan.crm_menu_items = ["hello"], hookimpl(lambda user: [])
    app = app_factory(extra=[*crm_extra_plugins, module_candidate("hellofan", fan)])
    admin = sign_in(app, make_user)
    if not fan_enabled:
        assert admin.post("/admin/plugins/hellofan/disable").status_code == 302
    page = html(admin.get("/admin/plugins/hello/purge"))
    assert "installed plugin(s) hellofan require it: uninstall them first" in page and 'name="confirm"' not in page
    refused = admin.post("/admin/plugins/hello/purge", data={"confirm": "hello"})
    assert refused.status_code == 422
    with db.engine(app).connect() as connection:
        assert "hello_greetings" in plugin_admin.plugin_tables(connection, "hello")
    cli = crm(app, "plugins", "purge", "hello", "--confirm", "hello")
    assert cli.exit_code == 1 and "installed plugin(s) hellofan require it" in cli.output


def test_purge_is_refused_while_other_records_refer_to_its_rows(app, make_user, session):
    session.execute(text("INSERT INTO hello_greetings (id, text) VALUES (7, 'x')"))
    session.execute(text("CREATE TABLE notes_of_greetings (id INTEGER PRIMARY KEY, "
                         "greeting_id INTEGER REFERENCES hello_greetings (id))"))
    session.execute(text("INSERT INTO notes_of_greetings (id, greeting_id) VALUES (1, 7)"))
    session.commit()
    admin = sign_in(app, make_user)
    admin.post("/admin/plugins/hello/disable")
    page = html(admin.get("/admin/plugins/hello/purge"))
    assert "1 row(s) of notes_of_greetings refer to its table hello_greetings" in page
    assert admin.post("/admin/plugins/hello/purge", data={"confirm": "hello"}).status_code == 422
    assert session.execute(text("SELECT count(*) FROM hello_greetings")).scalar_one() == 1
    session.execute(text("UPDATE notes_of_greetings SET greeting_id = NULL"))
    session.commit()
    assert admin.post("/admin/plugins/hello/purge", data={"confirm": "hello"}).status_code == 302


@pytest.mark.parametrize("path", ["/admin/plugins/nope/purge", "/admin/plugins/Bad-Id/purge"])
def test_purging_what_has_no_tables_is_not_found(app, make_user, path):
    assert sign_in(app, make_user).get(path).status_code == 404


# --- telling a running server --------------------------------------------------------------

def test_a_running_crm_serve_is_sent_hup_through_its_pid_file(app, tmp_path, monkeypatch):
    import subprocess
    import sys
    import time

    from crm import plugin_tools
    marker = tmp_path / "hup"
    child = subprocess.Popen([sys.executable, "-c", textwrap_hup(marker), "crm", "serve"], stdout=subprocess.PIPE)
    other = subprocess.Popen([sys.executable, "-c", textwrap_hup(tmp_path / "not-crm")], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"ready" and other.stdout.readline().strip() == b"ready"
        monkeypatch.setenv("CRM_PID_FILE", str(tmp_path / "crm-serve.pid"))
        assert "restart `crm serve`" in plugin_tools.restart_advice(app, upgraded=False)   # no pid file
        (tmp_path / "crm-serve.pid").write_text(f"{other.pid}\n")   # stale: its pid now runs something else
        assert "restart `crm serve`" in plugin_tools.restart_advice(app, upgraded=False)
        (tmp_path / "crm-serve.pid").write_text(f"{child.pid}\n")
        assert f"crm serve (pid {child.pid}) is reloading" in plugin_tools.restart_advice(app, upgraded=False)
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists()
        # an upgrade asks for a restart: HUP would not replace code the master already imported
        assert "replaced only by a restart" in plugin_tools.restart_advice(app, upgraded=True)
        assert not (tmp_path / "not-crm").exists()
    finally:
        for process in (child, other):
            process.kill()
            process.wait()


def textwrap_hup(marker) -> str:
    """A process that writes ``marker`` when it gets HUP (a stand-in for gunicorn's master)."""
    return (f"import signal, sys, time\n"
            f"signal.signal(signal.SIGHUP, lambda *a: open({str(marker)!r}, 'w').close())\n"
            f"print('ready', flush=True)\n"
            f"time.sleep(30)\n")
