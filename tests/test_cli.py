"""The ``crm`` command line: help for every command, clear errors, non-zero exit
codes, and nothing changed by a command that fails."""
from __future__ import annotations

import json

import click
import pytest
from sqlalchemy import func, inspect, select

from crm.cli import cli
from crm.db import db
from crm.models import PluginState, Setting, User

INSTALLED = {"payments", "item_lookup", "idca", "accounting_sync", "warehouses"}


def _command_paths(group: click.Group, prefix: tuple = ()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from _command_paths(command, prefix + (name,))


COMMANDS = dict(_command_paths(cli))


def _count_users(app, username: str) -> int:
    with app.app_context():
        session = db.new_session(app)
        try:
            return session.scalar(select(func.count()).select_from(User).where(User.username == username))
        finally:
            session.close()


def _tables(app) -> set[str]:
    return set(inspect(db.engine(app)).get_table_names())


# --- help -------------------------------------------------------------------------

def test_crm_help_lists_the_command_groups(runner):
    result = runner.invoke(["--help"])
    assert result.exit_code == 0, result.output
    for name in ("db", "users", "demo", "run", "plugins", "jobs"):
        assert f"  {name} " in result.output, f"{name} missing from crm --help"


def test_the_documented_commands_exist():
    documented = {("db", "upgrade"), ("db", "pending"), ("db", "current"), ("db", "downgrade"), ("db", "revision"),
                  ("users", "create"), ("users", "list"), ("demo",), ("run",),
                  ("plugins", "list"), ("plugins", "enable"), ("plugins", "disable"), ("plugins", "purge"),
                  ("plugins", "install"), ("plugins", "uninstall"), ("plugins", "new"),
                  ("jobs", "run-due"), ("jobs", "list")}
    assert documented <= set(COMMANDS), sorted(documented - set(COMMANDS))


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_help(runner, path):
    assert (COMMANDS[path].help or "").strip(), f"crm {' '.join(path)} has no help text"
    result = runner.invoke([*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ") and f" {' '.join(path)} [OPTIONS]" in result.output.splitlines()[0]
    assert COMMANDS[path].help.strip().splitlines()[0][:30] in result.output


def test_unknown_command_exits_2(runner):
    result = runner.invoke(["frobnicate"])
    assert result.exit_code == 2 and "No such command 'frobnicate'" in result.output


# --- users ------------------------------------------------------------------------

def test_users_create_and_list(app, runner):
    result = runner.invoke(["users", "create", "bob", "--role", "sales", "--password", "longenough"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "created user bob (sales)"
    listed = runner.invoke(["users", "list"])
    assert listed.exit_code == 0 and "bob\tsales\tactive" in listed.output.splitlines()


@pytest.mark.parametrize("args, exit_code, message", [
    (["--role", "king", "--password", "longenough"], 2, "Invalid value for '--role': 'king' is not one of"),
    (["--role", "sales", "--password", "short"], 1, "password: must have at least 8 characters"),
    (["--password", "longenough"], 2, "Missing option '--role'"),
    (["--role", "sales"], 2, "Missing option '--password'"),
    (["--role", "sales", "--password", "longenough", "--language", "fr"], 2, "Invalid value for '--language'"),
], ids=["bad-role", "short-password", "no-role", "no-password", "bad-language"])
def test_users_create_refuses_bad_input_clearly_and_creates_nothing(app, runner, args, exit_code, message):
    result = runner.invoke(["users", "create", "carol", *args])
    assert result.exit_code == exit_code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert _count_users(app, "carol") == 0


def test_users_create_refuses_a_blank_username(app, runner):
    result = runner.invoke(["users", "create", "   ", "--role", "sales", "--password", "longenough"])
    assert result.exit_code == 1 and "username: must be 1 to 80 characters" in result.output


def test_users_create_refuses_a_duplicate(app, runner):
    assert runner.invoke(["users", "create", "dave", "--role", "sales", "--password", "longenough"]).exit_code == 0
    again = runner.invoke(["users", "create", "dave", "--role", "admin", "--password", "otherpassword"])
    assert again.exit_code == 1
    assert "user 'dave' already exists" in again.output
    assert _count_users(app, "dave") == 1
    assert "dave\tsales\tactive" in runner.invoke(["users", "list"]).output.splitlines()


# --- plugins ----------------------------------------------------------------------

def test_plugins_list_shows_the_installed_plugins_enabled(runner):
    result = runner.invoke(["plugins", "list"])
    assert result.exit_code == 0, result.output
    rows = {line.split("\t")[0]: line.split("\t") for line in result.output.splitlines() if not line.startswith("\t")}
    assert INSTALLED <= set(rows)
    for plugin_id in INSTALLED:
        name, version, state, hooks = rows[plugin_id]
        assert version and state == "enabled" and "crm_api_blueprints" in hooks, rows[plugin_id]
    as_json = {p["name"]: p for p in json.loads(runner.invoke(["plugins", "list", "--json"]).output)}
    assert all(as_json[p]["enabled"] and as_json[p]["error"] is None for p in INSTALLED)


def test_plugins_disable_shows_in_the_list_and_enable_restores(runner):
    assert runner.invoke(["plugins", "disable", "idca"]).output.strip() == "idca: disabled"
    rows = {line.split("\t")[0]: line.split("\t") for line in runner.invoke(["plugins", "list"]).output.splitlines()}
    assert rows["idca"][2] == "disabled"
    assert runner.invoke(["plugins", "enable", "idca"]).exit_code == 0
    rows = {line.split("\t")[0]: line.split("\t") for line in runner.invoke(["plugins", "list"]).output.splitlines()}
    assert rows["idca"][2] == "enabled"


@pytest.mark.parametrize("args, message", [
    (["plugins", "enable", "nope"], "plugin 'nope' is not installed"),
    (["plugins", "disable", "nope"], "plugin 'nope' is not installed"),
    (["plugins", "purge", "nope", "--confirm", "nope"], "no tables of plugin 'nope' in the database"),
    (["db", "downgrade", "nope"], "no migrations for 'nope'"),
    (["jobs", "run-due", "--job", "nope"], "unknown job 'nope'"),
])
def test_commands_refuse_unknown_names_with_exit_1(runner, args, message):
    result = runner.invoke(args)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


def _seed_hello(app):
    """A greeting, a plugin setting and a plugin state row: everything purge must remove."""
    from crm_hello.models import Greeting
    with app.app_context():
        session = db.new_session(app)
        session.add(Greeting(text="hola"))
        session.add(Setting(namespace="hello", key="colour", value="blue"))
        session.add(Setting(namespace="core", key="hello_kept", value=True))
        session.add(PluginState(id="hello", enabled=False))
        session.commit()
        session.close()


def _hello_rows(app):
    """(greetings, settings of the hello namespace, a core setting kept, hello's state row kept)"""
    from crm_hello.models import Greeting
    with app.app_context():
        session = db.new_session(app)
        try:
            greetings = session.scalar(select(func.count()).select_from(Greeting))
            settings = session.scalar(select(func.count()).select_from(Setting).where(Setting.namespace == "hello"))
            core_kept = session.get(Setting, ("core", "hello_kept")) is not None
            state = session.get(PluginState, "hello") is not None
            return greetings, settings, core_kept, state
        finally:
            session.close()


def test_plugins_purge_refuses_without_the_typed_confirmation(app, runner):
    _seed_hello(app)
    refused = runner.invoke(["plugins", "purge", "hello"], input="no\n")
    assert refused.exit_code == 1
    assert "This drops 2 table(s) of hello: alembic_version_hello (1 rows), hello_greetings (1 rows)" in refused.output
    assert "Type hello to confirm" in refused.output
    assert "confirmation did not match; nothing was dropped" in refused.output
    wrong = runner.invoke(["plugins", "purge", "hello", "--confirm", "helo"])
    assert wrong.exit_code == 1 and "nothing was dropped" in wrong.output
    assert {"hello_greetings", "alembic_version_hello"} <= _tables(app)
    assert _hello_rows(app) == (1, 1, True, True)


@pytest.mark.parametrize("how", ["prompt", "option"])
def test_plugins_purge_drops_the_tables_and_settings_and_db_upgrade_recreates_them_empty(app, runner, how):
    _seed_hello(app)
    if how == "prompt":
        result = runner.invoke(["plugins", "purge", "hello"], input="hello\n")
    else:
        result = runner.invoke(["plugins", "purge", "hello", "--confirm", "hello"])
    assert result.exit_code == 0, result.output
    assert "dropped alembic_version_hello, hello_greetings" in result.output
    tables = _tables(app)
    assert "hello_greetings" not in tables and "alembic_version_hello" not in tables
    assert {"users", "payments_statuses", "alembic_version"} <= tables  # nothing else dropped
    with app.app_context():
        session = db.new_session(app)
        assert session.scalar(select(func.count()).select_from(Setting).where(Setting.namespace == "hello")) == 0
        assert session.get(Setting, ("core", "hello_kept")) is not None
        assert session.get(PluginState, "hello") is None
        session.close()

    again = runner.invoke(["plugins", "purge", "hello", "--confirm", "hello"])
    assert again.exit_code == 1 and "no tables of plugin 'hello'" in again.output

    upgraded = runner.invoke(["db", "upgrade"])
    assert upgraded.exit_code == 0 and "hello: up to date" in upgraded.output
    assert {"hello_greetings", "alembic_version_hello"} <= _tables(app)
    assert _hello_rows(app)[0] == 0


# --- jobs -------------------------------------------------------------------------

@pytest.mark.parametrize("day", ["notadate", "2027-02-30", "31/01/2027"])
def test_jobs_run_due_refuses_a_bad_date(runner, day):
    result = runner.invoke(["jobs", "run-due", "--today", day])
    assert result.exit_code == 2
    assert "Invalid value for '--today': use YYYY-MM-DD" in result.output


def test_jobs_run_due_accepts_a_date(runner):
    result = runner.invoke(["jobs", "run-due", "--today", "2027-01-31"])
    assert result.exit_code == 0, result.output


def test_purging_a_plugin_whose_tables_point_at_core_tables_keeps_the_core_tables(app, runner):
    core_before = {t for t in _tables(app) if not t.startswith("payments_") and t != "alembic_version_payments"}
    result = runner.invoke(["plugins", "purge", "payments", "--confirm", "payments"])
    assert result.exit_code == 0, result.output
    tables = _tables(app)
    assert not {t for t in tables if t.startswith("payments_")}
    assert tables == core_before          # documents, accounts and users, which payments point at, stay
