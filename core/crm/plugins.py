"""The plugin engine: discovery, dependency order, enable/disable, hook calls.

A plugin is a module registered under the entry-point group ``crm.plugins``;
the entry-point name is its id (``[a-z][a-z0-9_]*``), used for its tables
(``<id>_...``), its Alembic version table, its URL prefix, its templates and its
settings. The module may declare ``requires = ["other_id", ...]``.

What the administrator reads about a plugin comes from its distribution's metadata
(:class:`PluginMetadata`: the ``Summary``, ``Author``, ``Home-page`` or first ``Project-URL``,
``Version``), and so do the core versions it supports: its ``Requires-Dist: crm-core<spec>``
(``install_requires = crm-core>=0.1,<0.2``). A plugin whose requirement the installed core
does not meet is not imported: it is listed with the reason (:attr:`Plugin.incompatible`).

Installed is not enabled: the enabled flag lives in the ``plugin_states`` table.
A disabled plugin stays registered (its models exist, its data stays), but its
hooks are not called and its endpoints and pages answer 404.

Hooks run in plugin order: a plugin after every plugin it requires, otherwise by
id. pluggy calls the plugin registered last first, so the registry registers the
plugins in reverse plugin order and every call, ``registry.hook.<name>(...)``, is
in plugin order.
"""
from __future__ import annotations

import graphlib
import importlib
import logging
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pluggy
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from crm import hookspecs

ENTRY_POINT_GROUP = "crm.plugins"
PLUGIN_ID = re.compile(r"^[a-z][a-z0-9_]*$")
#: the core's distribution: a plugin states the versions it supports as a requirement on it
CORE_DISTRIBUTION = "crm-core"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginMetadata:
    """What a plugin's distribution says about it (its ``setup.cfg`` / ``pyproject.toml``)."""

    distribution: str = ""     # the distribution's name, what pip installs and uninstalls
    title: str = ""            # the distribution's name without ``crm-``, humanised
    description: str = ""      # Summary
    author: str = ""           # Author, else Author-email
    home_page: str = ""        # Home-page, else the first Project-URL
    requires_core: str = ""    # the specifier of its ``crm-core`` requirement ("" = any version)

    @classmethod
    def of(cls, dist) -> PluginMetadata:
        """Read ``dist`` (an :class:`importlib.metadata.Distribution`)."""
        meta = dist.metadata
        name = meta.get("Name") or ""
        urls = [u.partition(",")[2].strip() for u in (meta.get_all("Project-URL") or [])]
        home = meta.get("Home-page") or next((u for u in urls if u), "")
        return cls(distribution=name, title=title_of(name), description=(meta.get("Summary") or "").strip(),
                   author=(meta.get("Author") or meta.get("Author-email") or "").strip(),
                   home_page=home if home.startswith(("https://", "http://")) else "",
                   requires_core=core_requirement(dist.requires or []))


def title_of(distribution: str) -> str:
    """``crm-item-lookup`` -> ``Item lookup``."""
    name = re.sub(r"^crm[-_.]", "", distribution, flags=re.I).replace("-", " ").replace("_", " ").strip()
    return name[:1].upper() + name[1:]


def core_requirement(requires: list[str]) -> str:
    """The specifier of the ``crm-core`` requirement among ``requires`` (``Requires-Dist``
    lines), those of extras left out: ``">=0.1,<0.2"``, or "" when it names no versions."""
    for line in requires:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != CORE_DISTRIBUTION:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        return str(requirement.specifier)
    return ""


def core_version() -> str:
    """The installed core's version."""
    try:
        return metadata.version(CORE_DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0"


def incompatibility(requires_core: str, core: str) -> str | None:
    """Why a plugin requiring ``crm-core<requires_core>`` cannot run on core version ``core``
    (None: it can)."""
    if not requires_core:
        return None
    try:
        if SpecifierSet(requires_core).contains(Version(core), prereleases=True):
            return None
    except (InvalidSpecifier, InvalidVersion):
        return f"its core requirement {requires_core!r} cannot be read"
    return f"built for crm-core {requires_core}; this is crm-core {core}"


@dataclass
class Plugin:
    """One installed plugin, loaded or not."""

    id: str
    version: str = ""
    module: ModuleType | None = None
    requires: tuple[str, ...] = ()
    error: str | None = None
    blueprints: list = field(default_factory=list)
    meta: PluginMetadata = field(default_factory=PluginMetadata)
    #: (its core requirement, the installed core's version) when it was not loaded for that
    incompatible: tuple[str, str] | None = None

    @property
    def loaded(self) -> bool:
        return self.module is not None and self.error is None

    def _beside_module(self, name: str) -> Path | None:
        if self.module is None or not getattr(self.module, "__file__", None):
            return None
        return Path(self.module.__file__).parent / name

    @property
    def migrations_dir(self) -> Path | None:
        """The plugin's Alembic folder: ``migrations/`` beside its module, if it has one."""
        path = self._beside_module("migrations")
        return path if path is not None and (path / "env.py").exists() else None

    @property
    def translations_dir(self) -> Path | None:
        """The plugin's message catalogues: ``translations/`` beside its module, if it has one."""
        path = self._beside_module("translations")
        return path if path is not None and path.is_dir() else None


@dataclass(frozen=True)
class Candidate:
    """Something that may become a plugin: an id and a way to import it."""

    id: str
    load: object  # callable returning the module
    version: str = ""
    meta: PluginMetadata = PluginMetadata()


#: (what :func:`_path_stamp` gave, the plugins installed then)
_installed: tuple[tuple, list[Candidate]] | None = None


def installed_candidates() -> list[Candidate]:
    """Every plugin installed in this environment, from entry points. Read again only when a
    folder of ``sys.path`` changed (a distribution installed, upgraded or removed), as Python's
    own ``importlib.metadata`` does: an app of a process after the first then finds them at once."""
    global _installed
    stamp = _path_stamp()
    if _installed is None or _installed[0] != stamp:
        _installed = (stamp, _read_installed_candidates())
    return list(_installed[1])


def _path_stamp() -> tuple:
    """The folders of ``sys.path`` with the time each was last changed."""
    stamps = []
    for entry in sys.path:
        try:
            stamps.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            stamps.append((entry, None))
    return tuple(stamps)


def _read_installed_candidates() -> list[Candidate]:
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        version = ep.dist.version if ep.dist is not None else ""
        meta = PluginMetadata.of(ep.dist) if ep.dist is not None else PluginMetadata(title=title_of(ep.name))
        found.append(Candidate(ep.name, ep.load, version, meta))
    return found


def module_candidate(plugin_id: str, module: ModuleType | str, version: str = "0",
                     meta: PluginMetadata | None = None) -> Candidate:
    """A plugin given directly as a module (tests, examples); ``meta`` stands for the metadata
    of the distribution it would be in."""
    def load():
        return importlib.import_module(module) if isinstance(module, str) else module
    return Candidate(plugin_id, load, version, meta or PluginMetadata(title=title_of(plugin_id)))


class PluginRegistry:
    """The plugins of one app: its own pluggy manager, load order and enabled set."""

    def __init__(self, candidates: list[Candidate], only: list[str] | None = None,
                 core_tables: set[str] = frozenset()):
        self.pm = pluggy.PluginManager("crm")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, Plugin] = {}
        self.disabled: frozenset[str] = frozenset()
        self._refreshed_at = float("-inf")  # when ``disabled`` was last read (time.monotonic)
        self._load(candidates, only, core_tables)
        self.pm.check_pending()
        self._subset_cache: dict[frozenset, object] = {}

    # -- loading ---------------------------------------------------------------

    def _load(self, candidates, only, core_tables) -> None:
        seen: dict[str, Candidate] = {}
        for cand in candidates:
            if only is not None and cand.id not in only:
                continue
            if cand.id in seen:
                self.plugins[cand.id] = Plugin(cand.id, cand.version,
                                               error=f"duplicate plugin id {cand.id!r}: refused")
                seen[cand.id] = None
                continue
            seen[cand.id] = cand

        modules: dict[str, Plugin] = {}
        core = core_version()
        for plugin_id, cand in seen.items():
            if cand is None:
                continue
            plugin = Plugin(plugin_id, cand.version, meta=cand.meta)
            self.plugins[plugin_id] = plugin
            problem = self._id_problem(plugin_id, core_tables)
            if problem:
                plugin.error = problem
                continue
            problem = incompatibility(cand.meta.requires_core, core)
            if problem:  # not imported: its code may not even import on this core
                plugin.error = problem + ": not loaded"
                plugin.incompatible = (cand.meta.requires_core, core)
                continue
            try:
                plugin.module = cand.load()
                plugin.requires = tuple(getattr(plugin.module, "requires", ()))
            except Exception:  # a broken plugin must not stop the app
                plugin.error = _short_traceback()
                continue
            modules[plugin_id] = plugin

        order = self._dependency_order(modules)
        for plugin_id in order:  # registering checks the hook implementations against the specs
            plugin = modules[plugin_id]
            missing = [r for r in plugin.requires if not self._ok(r)]
            if missing:
                plugin.error = "requires missing or broken plugin(s): " + ", ".join(missing)
                continue
            try:
                self.pm.register(plugin.module, name=plugin_id)
            except Exception:
                plugin.error = _short_traceback()

        self.order = [p for p in order if self._ok(p)]
        self._register_in_order()

    def _register_in_order(self) -> None:
        """Register the plugins again, last in :attr:`order` first: pluggy calls the plugin
        registered last first, so every hook call then runs in plugin order (dependencies
        before the plugins that require them), whatever the installation order."""
        for plugin_id in self.order:
            self.pm.unregister(name=plugin_id)
        for plugin_id in reversed(self.order):
            self.pm.register(self.plugins[plugin_id].module, name=plugin_id)

    def add(self, plugin_id: str, plugin, version: str = "test") -> None:
        """Register ``plugin`` (a module or object with hook implementations) as the last
        plugin in plugin order: what tests use to add a plugin to a running app."""
        self.plugins[plugin_id] = Plugin(plugin_id, version, module=plugin)
        self.order.append(plugin_id)
        self._register_in_order()

    def remove(self, plugin_id: str) -> None:
        """Undo :meth:`add`."""
        self.pm.unregister(name=plugin_id)
        self.plugins.pop(plugin_id, None)
        self.order.remove(plugin_id)

    def _ok(self, plugin_id: str) -> bool:
        plugin = self.plugins.get(plugin_id)
        return plugin is not None and plugin.loaded

    @staticmethod
    def _id_problem(plugin_id: str, core_tables) -> str | None:
        if not PLUGIN_ID.match(plugin_id):
            return f"invalid plugin id {plugin_id!r}: use lower case letters, digits and _"
        clash = sorted(t for t in core_tables if t.startswith(plugin_id + "_"))
        if clash:
            return f"plugin id {plugin_id!r} clashes with core table {clash[0]!r}"
        return None

    def _dependency_order(self, modules: dict[str, Plugin]) -> list[str]:
        sorter = graphlib.TopologicalSorter()
        for plugin_id in sorted(modules):
            sorter.add(plugin_id, *[r for r in modules[plugin_id].requires if r in modules])
        try:
            sorter.prepare()
            order = []
            while sorter.is_active():  # each batch whose requirements are met, by id
                ready = sorted(sorter.get_ready())
                order.extend(ready)
                sorter.done(*ready)
            return order
        except graphlib.CycleError as exc:
            for plugin_id in exc.args[1]:
                if plugin_id in modules:
                    modules[plugin_id].error = "circular plugin dependency: " + " -> ".join(exc.args[1])
            return sorted(p for p in modules if modules[p].error is None)

    # -- enabled state ---------------------------------------------------------

    def refresh(self, session) -> None:
        """Read which plugins are disabled (one small table). The CLI, the admin
        pages and the jobs call this after a change, so it always reads."""
        from crm.models.plugin_state import PluginState
        try:
            rows = session.execute(select(PluginState.id).where(PluginState.enabled.is_(False))).scalars()
            self.disabled = frozenset(rows)
        except SQLAlchemyError:  # tables not created yet: everything counts as enabled
            session.rollback()
            self.disabled = frozenset()
        self._refreshed_at = time.monotonic()

    def refresh_if_stale(self, session, max_age: float) -> None:
        """:meth:`refresh` unless it ran less than ``max_age`` seconds ago: what every
        request calls. A change made through this registry (``crm plugins enable``,
        the admin page) shows at once; one made by another process shows within
        ``max_age`` seconds. ``max_age <= 0`` reads on every call."""
        if max_age <= 0 or time.monotonic() - self._refreshed_at >= max_age:
            self.refresh(session)

    def is_enabled(self, plugin_id: str) -> bool:
        return self._ok(plugin_id) and plugin_id not in self.disabled

    @property
    def enabled(self) -> list[str]:
        return [p for p in self.order if p not in self.disabled]

    # -- calling hooks ---------------------------------------------------------

    @property
    def hook(self):
        """Hook callers that skip disabled plugins: ``registry.hook.crm_menu_items(user=u)``.
        Implementations run in plugin order (see :meth:`_register_in_order`), so a result
        that depends on order (totals stages, template slots, columns) does not depend on
        installation; ``tryfirst``/``trylast`` move an implementation as pluggy documents."""
        if not self.disabled:
            return self.pm.hook
        key = self.disabled
        relay = self._subset_cache.get(key)
        if relay is None:
            relay = _SubsetRelay(self.pm, [self.plugins[p].module for p in key if self._ok(p)])
            self._subset_cache[key] = relay
        return relay

    def call_contained(self, hook_name: str, **kwargs) -> tuple[list, list[str]]:
        """Call the enabled plugins' implementations of ``hook_name`` one at a time, in plugin
        order, containing failures: returns the answers (None left out) and the ids of the
        plugins that raised, whose errors are logged with the plugin's id. For what a page
        shows (template slots, menu entries, settings pages): a failing plugin must not break
        the page. Hooks that change data are called with :attr:`hook`, so that an error
        aborts the transaction."""
        caller = getattr(self.hook, hook_name)
        answers, failed = [], []
        for impl in reversed(caller.get_hookimpls()):  # pluggy calls the last registered first
            if impl.hookwrapper or impl.wrapper:
                continue
            try:
                answer = impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception:  # noqa: BLE001  contained: logged with the plugin's id
                log.exception("plugin %s failed in %s", impl.plugin_name, hook_name,
                              extra={"plugin": impl.plugin_name, "hook": hook_name})
                failed.append(impl.plugin_name)
                continue
            if answer is not None:
                answers.append(answer)
        return answers, failed

    def call_one(self, plugin_id: str, hook_name: str, **kwargs):
        """One plugin's answer to a hook (None if it does not implement it)."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name == plugin_id:
                return impl.function(**{name: kwargs[name] for name in impl.argnames})
        return None

    def fail(self, plugin_id: str, error: str) -> None:
        """Record that a plugin failed after loading, and stop calling it."""
        plugin = self.plugins[plugin_id]
        plugin.error = error
        if self.pm.is_registered(plugin.module):
            self.pm.unregister(plugin.module)
        self.order = [p for p in self.order if p != plugin_id]

    def hooks_of(self, plugin_id: str) -> list[str]:
        plugin = self.plugins.get(plugin_id)
        if plugin is None or not plugin.loaded:
            return []
        return sorted(caller.name for caller in self.pm.get_hookcallers(plugin.module) or [])

    def describe(self) -> list[dict]:
        """What ``crm plugins list`` and ``GET /api/v1/plugins`` show."""
        return [
            {
                "name": plugin_id,
                "version": plugin.version,
                "title": plugin.meta.title,
                "description": plugin.meta.description,
                "author": plugin.meta.author,
                "home_page": plugin.meta.home_page,
                "distribution": plugin.meta.distribution,
                "requires_core": plugin.meta.requires_core,
                "enabled": self.is_enabled(plugin_id),
                "hooks": self.hooks_of(plugin_id),
                "requires": list(plugin.requires),
                "error": plugin.error,
                "incompatible": plugin.incompatible is not None,
            }
            for plugin_id, plugin in sorted(self.plugins.items())
        ]


class _SubsetRelay:
    def __init__(self, pm: pluggy.PluginManager, removed: list):
        self._pm = pm
        self._removed = removed
        self._callers: dict[str, object] = {}

    def __getattr__(self, name: str):
        caller = self._callers.get(name)
        if caller is None:
            caller = self._pm.subset_hook_caller(name, remove_plugins=self._removed)
            self._callers[name] = caller
        return caller


def _short_traceback() -> str:
    lines = traceback.format_exc().strip().splitlines()
    return lines[-1] if lines else "unknown error"


def get_registry(app=None) -> PluginRegistry:
    from flask import current_app
    return (app or current_app).extensions["crm.plugins"]
