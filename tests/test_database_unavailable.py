"""The database cannot be reached (a PostgreSQL port nobody listens on, an SQLite file in a
missing folder): every page and endpoint answers 503 with a clear message, every command of
the ``crm`` CLI one line and a non-zero exit, never a traceback."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import click
import pytest
from flask.cli import ScriptInfo

from crm import create_app
from crm.cli import cli
from crm.db import db
from crm.web.health import PROBES

UNREACHABLE = {
    "postgresql": "postgresql://postgres@127.0.0.1:1/crm",
    "sqlite": "sqlite:////nonexistent-folder-{}/crm.db".format(os.getpid()),
}
MESSAGE = "The database cannot be reached"
#: commands that never touch the database (flask-smorest's ``openapi`` prints the description
#: made from the code; ``plugins new`` writes a new plugin's files into a folder), or that serve
#: or loop until stopped
NO_DATABASE = {"openapi", "routes", "run", "serve", "shell", "worker", "new"}


@pytest.fixture(params=sorted(UNREACHABLE))
def unreachable(request, tmp_path, crm_extra_plugins):
    app = create_app({"TESTING": True, "DATABASE_URL": UNREACHABLE[request.param], "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False, "EXTRA_PLUGINS": crm_extra_plugins})
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as a server runs: a failure becomes an answer
    yield app
    db.engine(app).dispose()


def _filled(rule) -> str:
    def value(match):
        converter = match.group(1).rpartition(":")[0]
        return re.findall(r"[\w-]+", converter[4:])[0] if converter.startswith("any(") else "1"
    return re.sub(r"<([^<>]+)>", value, rule.rule)


def test_every_page_and_endpoint_answers_503(unreachable):
    anonymous = unreachable.test_client()
    signed_in = unreachable.test_client()   # a session cookie of a user: loading the user fails too
    with signed_in.session_transaction() as session:
        session.update({"_user_id": "1", "crm_session_id": "x", "crm_auth_generation": 0})
    wrong, checked = [], 0
    for rule in unreachable.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint in PROBES:  # the probes: tests/test_health.py
            continue
        url = _filled(rule)
        api = url.startswith("/api/")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for client, headers in ((anonymous, {}), (signed_in, {"Authorization": "Bearer crm_some-token"})):
                kwargs = {"json": {}} if api and method in {"POST", "PUT", "PATCH"} else {}
                response = client.open(url, method=method, headers=headers, **kwargs)
                checked += 1
                problem = _problem(response, api)
                if problem:
                    wrong.append(f"{method} {url} -> {response.status_code}: {problem}")
    assert checked > 300
    assert wrong == []


def _problem(response, api: bool) -> str | None:
    if response.status_code != 503:
        return "not 503"
    if response.headers.get("Retry-After") is None:
        return "no Retry-After"
    if api:
        error = (response.get_json(silent=True) or {}).get("error", {})
        if error.get("code") != "database_unavailable" or MESSAGE not in error.get("message", ""):
            return f"body {response.get_data(as_text=True)[:200]!r}"
        return None
    page = response.get_data(as_text=True)
    if response.mimetype != "text/html" or MESSAGE not in page or "Service unavailable" not in page:
        return f"page {page[:200]!r}"
    return None


def test_the_page_speaks_the_browsers_language(unreachable):
    response = unreachable.test_client().get("/", headers={"Accept-Language": "es"})
    assert response.status_code == 503
    assert "No se puede acceder a la base de datos" in response.get_data(as_text=True)


def _commands(group, ctx, prefix=()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if name in NO_DATABASE:
            continue
        if isinstance(command, click.Group):
            yield from _commands(command, ctx, (*prefix, name))
        else:
            yield (*prefix, name), command


def _arguments(command) -> list[str]:
    """Values for the required parameters: an installed plugin's id, a choice, a number or a name."""
    args = []
    for param in command.params:
        if not param.required:
            continue
        if isinstance(param.type, click.Choice):
            value = param.type.choices[0]
        elif param.type.name == "integer":  # click's INT and the CLI's whole numbers (an id)
            value = "1"
        else:
            value = "payments"
        if isinstance(param, click.Option):
            args += [param.opts[0], "a-long-enough-password" if "password" in param.name else value]
        else:
            args.append(value)
    return args


def test_every_command_says_so_in_one_line_and_fails(unreachable):
    info = ScriptInfo(create_app=lambda: unreachable)
    runner = unreachable.test_cli_runner()
    with click.Context(cli, obj=info) as ctx:  # closing it pops the app context get_command pushes
        commands = list(_commands(cli, ctx))
    assert len(commands) > 15
    wrong = []
    for path, command in commands:
        args = [*path, *_arguments(command)]
        result = runner.invoke(cli, args, obj=info, input="payments\n")
        lines = [line for line in result.output.splitlines() if line.strip()]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            wrong.append(f"crm {' '.join(args)}: {type(result.exception).__name__}: {result.exception}")
        elif result.exit_code == 0 or not lines or not lines[-1].startswith("Error: the database cannot be reached: "):
            wrong.append(f"crm {' '.join(args)}: exit {result.exit_code}: {result.output!r}")
        elif sum(line.startswith("Error") for line in lines) != 1:
            wrong.append(f"crm {' '.join(args)}: {result.output!r}")
    assert wrong == []


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(UNREACHABLE))
def test_the_crm_command_prints_one_line(kind, tmp_path):
    env = {**os.environ, "CRM_DATABASE_URL": UNREACHABLE[kind], "CRM_INSTANCE_PATH": str(tmp_path)}
    crm = os.path.join(os.path.dirname(sys.executable), "crm")
    result = subprocess.run([crm, "users", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: the database cannot be reached: ")
    where = "127.0.0.1:1" if kind == "postgresql" else "nonexistent-folder"
    assert where in result.stderr
