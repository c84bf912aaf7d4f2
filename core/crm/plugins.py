"""The plugin engine: discovery, dependency order, enable/disable, hook calls.

A plugin is a module registered under the entry-point group ``crm.plugins``;
the entry-point name is its id (``[a-z][a-z0-9_]*``), used for its tables
(``<id>_...``), its Alembic version table, its URL prefix, its templates and its
settings. The module may declare ``requires = ["other_id", ...]``.

Installed is not enabled: the enabled flag lives in the ``plugin_states`` table.
A disabled plugin stays registered (its models exist, its data stays), but its
hooks are not called and its endpoints and pages answer 404.
"""
from __future__ import annotations

import graphlib
import importlib
import re
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pluggy
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from crm import hookspecs

ENTRY_POINT_GROUP = "crm.plugins"
PLUGIN_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class Plugin:
    """One installed plugin, loaded or not."""

    id: str
    version: str = ""
    module: ModuleType | None = None
    requires: tuple[str, ...] = ()
    error: str | None = None
    blueprints: list = field(default_factory=list)

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


def installed_candidates() -> list[Candidate]:
    """Every plugin installed in this environment, from entry points."""
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        version = ep.dist.version if ep.dist is not None else ""
        found.append(Candidate(ep.name, ep.load, version))
    return found


def module_candidate(plugin_id: str, module: ModuleType | str, version: str = "0") -> Candidate:
    """A plugin given directly as a module (tests, examples)."""
    def load():
        return importlib.import_module(module) if isinstance(module, str) else module
    return Candidate(plugin_id, load, version)


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
        for plugin_id, cand in seen.items():
            if cand is None:
                continue
            plugin = Plugin(plugin_id, cand.version)
            self.plugins[plugin_id] = plugin
            problem = self._id_problem(plugin_id, core_tables)
            if problem:
                plugin.error = problem
                continue
            try:
                plugin.module = cand.load()
                plugin.requires = tuple(getattr(plugin.module, "requires", ()))
            except Exception:  # a broken plugin must not stop the app
                plugin.error = _short_traceback()
                continue
            modules[plugin_id] = plugin

        for plugin_id in self._dependency_order(modules):
            plugin = modules[plugin_id]
            missing = [r for r in plugin.requires if not self._ok(r)]
            if missing:
                plugin.error = "requires missing or broken plugin(s): " + ", ".join(missing)
                continue
            try:
                self.pm.register(plugin.module, name=plugin_id)
            except Exception:
                plugin.error = _short_traceback()

        self.order = [p for p in self._dependency_order(modules) if self._ok(p)]

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
        """Hook callers that skip disabled plugins: ``registry.hook.crm_menu_items(user=u)``."""
        if not self.disabled:
            return self.pm.hook
        key = self.disabled
        relay = self._subset_cache.get(key)
        if relay is None:
            relay = _SubsetRelay(self.pm, [self.plugins[p].module for p in key if self._ok(p)])
            self._subset_cache[key] = relay
        return relay

    def call_in_order(self, hook_name: str, **kwargs) -> list:
        """Call a hook's implementations in plugin dependency order (then by id),
        never in registration order: used where the result depends on the order."""
        impls = {impl.plugin_name: impl for impl in getattr(self.pm.hook, hook_name).get_hookimpls()}
        results = []
        for plugin_id in self.enabled:
            impl = impls.get(plugin_id)
            if impl is None:
                continue
            args = {name: kwargs[name] for name in impl.argnames}
            result = impl.function(**args)
            if result is not None:
                results.append(result)
        return results

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
                "enabled": self.is_enabled(plugin_id),
                "hooks": self.hooks_of(plugin_id),
                "requires": list(plugin.requires),
                "error": plugin.error,
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
