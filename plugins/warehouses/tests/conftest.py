"""Fixtures of the warehouses plugin's tests (the rest come from ``crm.testing``).

While the plugin is not installed (it is being built), its folder goes on ``sys.path`` and it is
offered to every app of these tests as an extra plugin. These tests then get a template database
of their own (with the plugin's tables), so that the repository's run, whose other tests do not
load the plugin, can collect them too; and the plugin's tables leave the shared metadata when a
module of them ends, so that the core's tests that run afterwards in the same process (the
migration and storage checks) do not take them for core tables. Once the plugin is installed
(``pip install -e plugins/warehouses``) none of this applies: it is loaded like the others."""
from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

INSTALLED = any(ep.name == "warehouses" for ep in metadata.entry_points(group="crm.plugins"))

if not INSTALLED:
    PLUGIN_FOLDER = str(Path(__file__).resolve().parent.parent)
    if PLUGIN_FOLDER not in sys.path:
        sys.path.insert(0, PLUGIN_FOLDER)

    @pytest.fixture(scope="session")
    def crm_extra_plugins(crm_extra_plugins):
        from crm.plugins import module_candidate
        return [*crm_extra_plugins, module_candidate("warehouses", "crm_warehouses.plugin")]

    @pytest.fixture(scope="session")
    def crm_template_database(tmp_path_factory, crm_extra_plugins):
        """``crm.testing``'s template database, made with this folder's plugins."""
        from crm import testing
        yield from testing.crm_template_database.__wrapped__(tmp_path_factory, crm_extra_plugins)

    @pytest.fixture(autouse=True, scope="module")
    def _warehouses_tables_in_metadata():
        """The plugin's tables are in ``crm.db.Model.metadata`` while a module of these tests runs."""
        from crm.db import Model
        from crm_warehouses import models
        own = list(models.TABLES)
        for table in own:
            if table.key not in Model.metadata.tables:
                Model.metadata._add_table(table.name, table.schema, table)
        yield
        for table in own:
            if table.key in Model.metadata.tables:
                Model.metadata.remove(table)
