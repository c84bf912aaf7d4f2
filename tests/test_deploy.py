"""The deployment guide's files (docs/deploy/) agree with the code: the systemd units run real
``crm`` commands with options that exist and parse, every variable they set is documented, the
proxy forwards to where the web unit listens with the headers the app trusts; and the units'
commands, run here, answer their reload and stop signals as the guide says."""
from __future__ import annotations

import configparser
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "docs" / "deploy"
UNITS = {"web": DEPLOY / "crm-web.service", "worker": DEPLOY / "crm-worker@.service"}
ENV_FILE = DEPLOY / "crm.env"
NGINX = DEPLOY / "nginx.conf"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def crm_command(exec_start: str) -> tuple[list[str], click.Context]:
    """The ``crm`` arguments of a unit's ``ExecStart`` and click's context for them (parsing
    them the way ``crm`` does: an unknown option or a bad value raises)."""
    from crm.cli import cli
    argv = shlex.split(exec_start)
    assert argv[0].endswith("/bin/crm") and argv[0].startswith("/"), argv[0]
    args, command, name = argv[1:], cli, "crm"
    while isinstance(command, click.Group):
        name, args = args[0], args[1:]
        assert name in command.commands, f"crm has no command {name!r}"
        command = command.commands[name]
    return argv[1:], command.make_context(name, list(args))


def env_file() -> dict[str, str]:
    """The variables of crm.env, those commented out included (as systemd reads the others)."""
    found = {}
    for line in ENV_FILE.read_text().splitlines():
        match = re.match(r"#?(CRM_[A-Z0-9_]+)=(.*)$", line.strip())
        if match:
            found[match.group(1)] = shlex.split(match.group(2))[0] if match.group(2) else ""
    return found


def documented_variables() -> set[str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    return set(re.findall(r"^\| `(CRM_[A-Z0-9_]+)`", text, re.M)) | \
        set(re.findall(r"^\| `CRM_[A-Z0-9_]+`, `(CRM_[A-Z0-9_]+)`", text, re.M))


def test_the_units_run_crm_commands_with_options_that_exist():
    web = unit(UNITS["web"])["Service"]
    args, context = crm_command(web["ExecStart"])
    assert args[0] == "serve" and context.params["host"] == "127.0.0.1"
    assert not context.params["with_worker"]  # the workers are units of their own
    assert web["ExecReload"] == "/bin/kill -HUP $MAINPID"  # gunicorn: graceful reload
    assert web["KillSignal"] == "SIGTERM"  # gunicorn: graceful stop
    assert int(web["TimeoutStopSec"]) > 30  # longer than gunicorn's graceful timeout

    worker = unit(UNITS["worker"])["Service"]
    args, context = crm_command(worker["ExecStart"])
    assert args[0] == "worker" and context.params["workers"] >= 1
    assert worker["KillSignal"] == "SIGINT"  # huey: finish the running tasks, then stop
    for service in (web, worker):
        assert service["EnvironmentFile"] == "/etc/crm/crm.env"
        assert service["User"] == "crm" and service["WorkingDirectory"] == "/srv/crm"
    for path in UNITS.values():
        assert unit(path)["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("line, problem", [
    ("/srv/crm/venv/bin/crm serve --port 8000 --wrokers 4", "No such option"),
    ("/srv/crm/venv/bin/crm serve --workers 0", "not between 1 and 64"),
    ("/srv/crm/venv/bin/crm wroker", "no command 'wroker'"),
])
def test_a_wrong_command_in_a_unit_is_caught(line, problem):
    with pytest.raises((click.UsageError, AssertionError), match=problem):
        crm_command(line)


def test_every_variable_the_files_name_is_documented():
    documented = documented_variables()
    assert {"CRM_DATABASE_URL", "CRM_REDIS_URL", "CRM_TRUSTED_PROXIES"} <= documented
    named = set(env_file())
    for path in [*UNITS.values(), NGINX, ROOT / "docs" / "deploy.md"]:
        named |= set(re.findall(r"\bCRM_[A-Z0-9_]+\b", path.read_text()))
    assert named and not named - documented, f"not in docs/configuration.md: {sorted(named - documented)}"
    settings = env_file()
    assert settings["CRM_DATABASE_URL"].startswith("postgresql://") and settings["CRM_REDIS_URL"].startswith("redis://")
    assert settings["CRM_INSTANCE_PATH"].startswith(unit(UNITS["web"])["Service"]["WorkingDirectory"])


def nginx_blocks(text: str) -> dict:
    """nginx's configuration as nested blocks: ``{"directives": [(name, args)], "blocks": [(name,
    args, block)]}``."""
    tokens = re.findall(r'"[^"]*"|[{};]|[^\s{};"]+', re.sub(r"#[^\n]*", "", text))
    position = 0

    def block():
        nonlocal position
        found, words = {"directives": [], "blocks": []}, []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                found["directives"].append((words[0], words[1:]))
                words = []
            elif token == "{":
                found["blocks"].append((words[0], words[1:], block()))
                words = []
            elif token == "}":
                assert not words, words
                return found
            else:
                words.append(token.strip('"'))
        assert not words, words
        return found
    parsed = block()
    assert position == len(tokens), "unbalanced braces"
    return parsed


def directives(block: dict, name: str) -> list[list[str]]:
    return [args for found, args in block["directives"] if found == name]


def test_the_proxy_forwards_to_the_web_unit_with_the_headers_the_app_trusts():
    _, context = crm_command(unit(UNITS["web"])["Service"]["ExecStart"])
    config = nginx_blocks(NGINX.read_text())
    upstreams = {args[0]: block for name, args, block in config["blocks"] if name == "upstream"}
    assert [args[0] for args in directives(upstreams["crm_web"], "server")] == \
        [f"{context.params['host']}:{context.params['port']}"]
    servers = [block for name, _, block in config["blocks"] if name == "server"]
    tls = [s for s in servers if any("443" in args and "ssl" in args for args in directives(s, "listen"))]
    assert len(tls) == 1 and directives(tls[0], "ssl_certificate") and directives(tls[0], "ssl_certificate_key")
    plain = [s for s in servers if s not in tls]
    assert plain and all("return" in str(s) and "https://" in str(s) for s in plain)  # HTTP: redirected
    locations = [block for name, _, block in tls[0]["blocks"] if name == "location"]
    assert locations
    for location in locations:
        assert directives(location, "proxy_pass") == [["http://crm_web"]]
    main = next(block for name, args, block in tls[0]["blocks"] if name == "location" and args == ["/"])
    headers = {args[0]: args[1] for args in directives(main, "proxy_set_header")}
    assert headers["X-Forwarded-Proto"] == "$scheme" and headers["X-Forwarded-For"] == "$remote_addr"
    assert headers["Host"] == "$host"
    assert env_file()["CRM_TRUSTED_PROXIES"] == "1"  # one proxy sets them: the app reads them
    timeout = int(directives(main, "proxy_read_timeout")[0][0].rstrip("s"))
    assert timeout > context.params["timeout"]  # gunicorn answers (or replaces its process) first


def test_the_guide_links_its_files_and_the_readme_the_guide():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for path in [*UNITS.values(), ENV_FILE, NGINX]:
        assert f"](deploy/{path.name})" in guide, path.name
    assert "](docs/deploy.md)" in (ROOT / "README.md").read_text()


# --- the units' commands, run here ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (requests.RequestException, OSError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    return None


def as_run_here(exec_start: str, **changes: str) -> list[str]:
    """A unit's command as this checkout runs it (``python -m crm.cli``), options changed."""
    args = shlex.split(exec_start)[1:]
    for option, value in changes.items():
        args[args.index(f"--{option}") + 1] = value
    return [sys.executable, "-m", "crm.cli", *args]


def web_processes(master: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    found.add(int(entry.name))
            except (OSError, IndexError):
                continue
    return found


def finish_later(app, path, seconds):
    """A task for the test below: takes ``seconds``, then writes ``path``."""
    time.sleep(seconds)
    Path(path).write_text("finished")


@pytest.mark.slow
def test_the_units_commands_reload_and_stop_as_the_guide_says(app, crm_database_url, tmp_path):
    settings = {key: value for key, value in env_file().items()
                if key not in ("CRM_DATABASE_URL", "CRM_REDIS_URL", "CRM_INSTANCE_PATH")}
    env = {**os.environ, **settings, "CRM_DATABASE_URL": crm_database_url, "CRM_INSTANCE_PATH": str(tmp_path),
           "CRM_SECRET_KEY": "deploy-test",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "docs" / "example-plugin")])}
    for unset in ("CRM_REDIS_URL", "CRM_WEB_WORKERS", "CRM_WITH_WORKER"):
        env.pop(unset, None)
    port = free_port()
    web_log, worker_log = (tmp_path / "web.log").open("w"), (tmp_path / "worker.log").open("w")
    web = subprocess.Popen(as_run_here(unit(UNITS["web"])["Service"]["ExecStart"], port=str(port), workers="2"),
                           env=env, cwd=tmp_path, stdout=web_log, stderr=subprocess.STDOUT)
    worker = subprocess.Popen(as_run_here(unit(UNITS["worker"])["Service"]["ExecStart"]),
                              env=env, cwd=tmp_path, stdout=worker_log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        ready = wait_for(lambda: (r := requests.get(base + "/readyz", timeout=5)).json()["worker"] == "running" and r,
                         90)
        assert ready and ready.status_code == 200, (tmp_path / "web.log").read_text()

        # ExecReload: new web processes, the server answering throughout
        before = web_processes(web.pid)
        reload_signal = "SIG" + unit(UNITS["web"])["Service"]["ExecReload"].split()[1].lstrip("-")  # -HUP
        web.send_signal(signal.Signals[reload_signal])
        assert wait_for(lambda: len(now := web_processes(web.pid)) == 2 and not now & before, 60)
        assert requests.get(base + "/healthz").status_code == 200

        # the worker's KillSignal while it runs a task: the task finishes, then the worker stops
        from crm.worker import enqueue
        app.config["QUEUE_IMMEDIATE"] = False
        app.instance_path = str(tmp_path)
        app.extensions.pop("crm.huey", None)
        marker = tmp_path / "finished.txt"
        enqueue(app, "tests.test_deploy:finish_later", path=str(marker), seconds=3)
        assert wait_for(lambda: "finish_later) started" in (tmp_path / "worker.log").read_text(), 30)
        worker.send_signal(signal.Signals[unit(UNITS["worker"])["Service"]["KillSignal"]])
        assert worker.wait(int(unit(UNITS["worker"])["Service"]["TimeoutStopSec"])) == 0
        assert marker.read_text() == "finished"

        # the web unit's KillSignal: a graceful stop
        web.send_signal(signal.Signals[unit(UNITS["web"])["Service"]["KillSignal"]])
        assert web.wait(int(unit(UNITS["web"])["Service"]["TimeoutStopSec"])) == 0
    finally:
        for process in (web, worker):
            if process.poll() is None:
                process.kill()
                process.wait()
        web_log.close()
        worker_log.close()
