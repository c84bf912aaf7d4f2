"""A plugin's life in an installation: enabling it (its migrations first), installing, upgrading
and uninstalling its distribution with pip, and telling a running ``crm serve`` to reload.

``crm plugins install|uninstall|enable`` and the Plugins page call these. pip runs as
``sys.executable -m pip``: the plugin goes into the environment the CRM runs in. The migrations
of a plugin just installed or upgraded run in a new ``crm`` process (``crm plugins enable``),
which imports the code pip installed rather than what this process imported before.
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from flask import Flask
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from sqlalchemy import select

from crm import migrate
from crm.db import db
from crm.errors import CRMError, NotFound
from crm.models import PluginState
from crm.plugins import ENTRY_POINT_GROUP, get_registry
from crm.services import plugin_admin


class PluginLifecycleError(CRMError):
    """A refusal or failure of install, uninstall or enable: nothing half-done is left."""

    code = "plugin"


def _message(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


# --- enabling ------------------------------------------------------------------------------

def enable(app: Flask, plugin_id: str) -> list[str]:
    """Run the plugin's pending migrations (one transaction: all or none), then enable it.
    Returns the targets migrated ([] when it was up to date). A failed migration is rolled
    back and the plugin stays as it was, disabled if it was."""
    registry = get_registry(app)
    plugin_admin.check_can_switch(registry, plugin_id, True)
    migrated = []
    db.session.rollback()  # the caller's transaction (a request's) must not hold the database the migration writes
    if plugin_id in migrate.pending(app):
        try:
            migrate.upgrade(app, plugin_id)
        except Exception as exc:  # noqa: BLE001  any failure of the plugin's own migration code
            raise PluginLifecycleError(
                f"the migrations of plugin {plugin_id!r} failed and were rolled back; it stays disabled: "
                f"{_message(exc)}") from exc
        migrated.append(plugin_id)
    with db.transaction() as session:
        plugin_admin.set_enabled(session, registry, plugin_id, True)
    return migrated


def migrations_pending(app: Flask) -> set[str]:
    """The plugins whose migrations have not all run (empty when the database cannot say)."""
    try:
        return {target for target in migrate.pending(app) if target != migrate.CORE}
    except Exception:  # noqa: BLE001  e.g. a plugin whose migration folder is broken: the page still shows
        logging.getLogger(__name__).exception("could not tell which plugins' migrations are pending")
        return set()


def _store_disabled(app: Flask, plugin_ids: list[str]) -> None:
    """Record ``plugin_ids`` as disabled (whether this app knows them or not)."""
    with app.app_context(), db.transaction() as session:
        for plugin_id in plugin_ids:
            state = session.get(PluginState, plugin_id)
            if state is None:
                session.add(PluginState(id=plugin_id, enabled=False))
            else:
                state.enabled = False


def _stored_states(app: Flask, plugin_ids: list[str]) -> dict[str, bool]:
    with app.app_context():
        rows = db.session.execute(select(PluginState.id, PluginState.enabled).where(PluginState.id.in_(plugin_ids)))
        return {plugin_id: enabled for plugin_id, enabled in rows}


# --- pip -----------------------------------------------------------------------------------

def pip(*args: str) -> subprocess.CompletedProcess:
    """Run pip of the CRM's own Python on ``args`` (output captured)."""
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)


def _pip_failed(action: str, result: subprocess.CompletedProcess) -> PluginLifecycleError:
    lines = [line for line in (result.stderr or result.stdout).strip().splitlines() if line.strip()]
    return PluginLifecycleError(f"pip could not {action}: " + ("\n  ".join(lines[-6:]) or f"exit {result.returncode}"))


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def plugin_ids_of(distribution: str) -> list[str]:
    """The plugin ids (``crm.plugins`` entry points) the installed ``distribution`` declares."""
    wanted = canonicalize_name(distribution)
    for dist in metadata.distributions():
        if canonicalize_name(dist.metadata.get("Name") or "") == wanted:
            return sorted(ep.name for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP)
    return []


def distribution_of(plugin_id: str) -> str | None:
    """The installed distribution declaring the plugin ``plugin_id``."""
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP, name=plugin_id):
        if ep.dist is not None:
            return ep.dist.metadata.get("Name")
    return None


# --- installing ----------------------------------------------------------------------------

@dataclass
class Installed:
    """What :func:`install` did."""

    distribution: str
    version: str
    previous_version: str | None     # the version it replaced (None: a new installation)
    plugin_ids: list[str]
    migrated: list[str] = field(default_factory=list)


def install(app: Flask, spec: str, echo: Callable[[str], None] = print) -> Installed:
    """Install (or upgrade) the distribution ``spec`` names -- a name on the package index, a
    wheel file or a folder -- with pip, then run its plugins' migrations and enable them.

    Refused, with the distribution uninstalled again if it was new: something that declares no
    ``crm.plugins`` entry point. Migrations that fail are rolled back and the plugin is left
    disabled (upgraded, its previous data is untouched)."""
    before = {canonicalize_name(d.metadata.get("Name") or ""): d.version for d in metadata.distributions()}
    with tempfile.TemporaryDirectory() as folder:
        report_file = Path(folder) / "report.json"
        target = str(Path(spec).resolve()) if Path(spec).exists() else spec
        echo(f"installing {spec} with pip...")
        result = pip("install", "--upgrade", "--disable-pip-version-check", "--report", str(report_file), target)
        if result.returncode != 0:
            raise _pip_failed(f"install {spec}", result)
        report = json.loads(report_file.read_text(encoding="utf-8")) if report_file.exists() else {}
    importlib.invalidate_caches()
    requested = [item["metadata"] for item in report.get("install", []) if item.get("requested")]
    pip_did_nothing = not requested
    if pip_did_nothing:  # already installed at that version: carry on with its plugins
        name = _requested_name(spec)
        version = installed_version(name) if name else None
        if not name or version is None:
            raise PluginLifecycleError(f"pip installed nothing for {spec}")
        requested = [{"name": name, "version": version}]
    name, version = requested[0]["name"], requested[0]["version"]
    previous = before.get(canonicalize_name(name))
    ids = plugin_ids_of(name)
    if not ids:
        if previous is None:
            undo = pip("uninstall", "-y", "--disable-pip-version-check", name)
            undone = "it was uninstalled again" if undo.returncode == 0 else "uninstalling it failed too"
        else:
            undone = f"the previous version {previous} was replaced: reinstall it"
        raise PluginLifecycleError(f"{name} {version} is not a CRM plugin (it declares no {ENTRY_POINT_GROUP!r} "
                                   f"entry point): refused; {undone}")
    done = Installed(name, version, previous, ids)
    if pip_did_nothing:
        echo(f"{name} {version} was already installed: plugin(s) {', '.join(ids)}")
    else:
        echo(f"installed {name} {version}" + (f" (was {previous})" if previous else "") + f": plugin(s) {', '.join(ids)}")
    states = _stored_states(app, ids)
    new = [p for p in ids if p not in states]
    if new:  # a plugin without a stored state counts as enabled: not before its tables exist
        _store_disabled(app, new)
    for plugin_id in ids:
        outcome = run_crm(app, "plugins", "enable", plugin_id)
        if outcome.returncode != 0:
            _store_disabled(app, [plugin_id])
            detail = (outcome.stderr or outcome.stdout).strip().removeprefix("Error: ")
            raise PluginLifecycleError(f"{name} {version} is installed but plugin {plugin_id!r} is disabled: {detail}")
        done.migrated.append(plugin_id)
        echo(outcome.stdout.strip())
    return done


def _requested_name(spec: str) -> str | None:
    """The distribution ``spec`` names: a folder's project, a wheel file's name, or the name of a
    requirement such as ``crm-payments`` or ``crm-payments==0.2``."""
    path = Path(spec)
    if path.is_dir():
        return _project_name(path)
    if path.suffix == ".whl":
        try:
            return parse_wheel_filename(path.name)[0]
        except InvalidWheelFilename:
            return None
    if path.exists():
        return None
    try:
        return Requirement(spec).name
    except InvalidRequirement:
        return None


def _project_name(folder: Path) -> str | None:
    """The distribution name a source folder declares (pyproject.toml's [project] or setup.cfg)."""
    import configparser
    import tomllib
    pyproject = folder / "pyproject.toml"
    if pyproject.exists():
        name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
        if name:
            return name
    setup_cfg = folder / "setup.cfg"
    if setup_cfg.exists():
        parser = configparser.ConfigParser()
        parser.read(setup_cfg, encoding="utf-8")
        return parser.get("metadata", "name", fallback=None)
    return None


def run_crm(app: Flask, *args: str) -> subprocess.CompletedProcess:
    """Run ``crm ARGS`` in a new process on this app's database."""
    env = {**os.environ, "CRM_DATABASE_URL": app.config["DATABASE_URL"], "CRM_INSTANCE_PATH": app.instance_path}
    return subprocess.run([sys.executable, "-m", "crm.cli", *args], capture_output=True, text=True, env=env,
                          check=False)


# --- uninstalling --------------------------------------------------------------------------

def uninstall(app: Flask, plugin_id: str, purge: bool = False, echo: Callable[[str], None] = print) -> str:
    """Disable the plugin, drop its tables if ``purge`` (refused while anything depends on
    them), and uninstall its distribution. Returns the distribution's name."""
    registry = get_registry(app)
    distribution = distribution_of(plugin_id)
    if distribution is None:
        raise NotFound(f"plugin {plugin_id!r} is not installed")
    if plugin_id in registry.plugins:
        with app.app_context():
            plugin_admin.check_can_switch(registry, plugin_id, False)
    if purge:
        with db.engine(app).connect() as connection:
            plan = plugin_admin.purge_plan(connection, registry, plugin_id)
        if plan.blockers:
            raise PluginLifecycleError(f"purging plugin {plugin_id!r} is refused: " + "; ".join(plan.blockers))
    others = [p for p in plugin_ids_of(distribution) if p != plugin_id]
    _store_disabled(app, [plugin_id, *others])
    registry.refresh(db.session)
    db.session.rollback()  # SQLite: the session's transaction would keep the purge waiting
    echo(f"{plugin_id}: disabled")
    if purge:
        with db.engine(app).begin() as connection:
            dropped = plugin_admin.purge(connection, plugin_id)
        echo(f"{plugin_id}: dropped {', '.join(dropped) or 'no tables'}")
    result = pip("uninstall", "-y", "--disable-pip-version-check", distribution)
    if result.returncode != 0:
        raise _pip_failed(f"uninstall {distribution}", result)
    echo(f"uninstalled {distribution}")
    return distribution


# --- telling the server --------------------------------------------------------------------

def pid_file(instance_path: str, port: int) -> str:
    """Where ``crm serve`` on ``port`` writes its master's pid: ``CRM_PID_FILE``, or
    ``crm-serve-<port>.pid`` in the instance folder (one per port: servers of one instance folder
    on several ports do not refuse each other's file)."""
    return os.environ.get("CRM_PID_FILE") or os.path.join(instance_path, f"crm-serve-{port}.pid")


def _is_crm_serve(pid: int) -> bool:
    """Whether ``pid`` runs ``crm serve`` (a stale pid file's number may belong to another
    process by now, which ``HUP`` could stop). Read from ``/proc``: elsewhere, never."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in argv and any(arg.endswith(b"crm") or arg == b"crm.cli" for arg in argv)


def reload_server(app: Flask) -> list[int]:
    """Send ``HUP`` to every running ``crm serve`` whose pid file is in this app's instance folder
    (or is ``CRM_PID_FILE``): its web processes (and background worker) are replaced gracefully.
    Returns their pids ([] when none runs)."""
    named = os.environ.get("CRM_PID_FILE")
    files = [Path(named)] if named else sorted(Path(app.instance_path).glob("crm-serve-*.pid"))
    signalled = []
    for path in files:
        try:
            pid = int(path.read_text(encoding="ascii").strip())
            if _is_crm_serve(pid):
                os.kill(pid, signal.SIGHUP)
                signalled.append(pid)
        except (OSError, ValueError):
            continue
    return signalled


def restart_advice(app: Flask, upgraded: bool) -> str:
    """Reload a running ``crm serve`` and say so, or say what to restart."""
    pids = [] if upgraded else reload_server(app)
    if pids:
        return (f"crm serve (pid {', '.join(map(str, pids))}) is reloading its web processes and worker: "
                "the change is live in a moment")
    return ("restart `crm serve` and every `crm worker` to load the change"
            + (" (an upgraded plugin's code is replaced only by a restart, not by HUP)" if upgraded else ""))
