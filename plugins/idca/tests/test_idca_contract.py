"""The plugin contract: loads without error, owns only ``idca_`` tables, its migrations agree
with its models and round-trip (``idca_0001`` then ``idca_0002``), every view declares a
permission, and the layout data survives a downgrade of ``idca_0002`` only for the tables 0001 had."""
from __future__ import annotations

from sqlalchemy import inspect, text

from crm import migrate
from crm.db import Model, db

OWN = {"idca_layouts", "idca_layout_versions", "idca_document_layouts"}


def test_the_plugin_loads_and_keeps_the_contract(app):
    info = {p["name"]: p for p in app.extensions["crm.plugins"].describe()}
    assert info["idca"]["error"] is None and info["idca"]["enabled"]
    assert {t for t in Model.metadata.tables if t.startswith("idca_")} == OWN
    assert migrate.schema_differences(app, "idca") == []
    tables = set(inspect(db.engine(app)).get_table_names())
    assert OWN | {"alembic_version_idca"} <= tables


def test_migrations_round_trip_and_0002_keeps_the_layouts_of_0001(app, put_layout):
    put_layout("quotes", [{"key": "m", "label": "M", "type": "money", "formula": "net"}])
    engine = db.engine(app)
    migrate.downgrade(app, "idca", "idca_0001")
    tables = set(inspect(engine).get_table_names())
    assert "idca_layouts" in tables and not {"idca_layout_versions", "idca_document_layouts"} & tables
    with engine.begin() as connection:       # a layout keyed by its API path, as the skeleton did
        connection.execute(text("UPDATE idca_layouts SET doc_type = 'quotes'"))
    migrate.upgrade(app, "idca")
    assert migrate.schema_differences(app, "idca") == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT doc_type, version FROM idca_layouts")).all() == [("quote", 1)]
        assert connection.execute(text("SELECT doc_type, version FROM idca_layout_versions")).all() == [("quote", 1)]
    migrate.downgrade(app, "idca", "base")
    assert not OWN & set(inspect(engine).get_table_names())
    migrate.upgrade(app, "idca")
    assert OWN <= set(inspect(engine).get_table_names())


def test_every_view_of_the_plugin_declares_a_permission(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if not (rule.endpoint.startswith("idca") or rule.rule.startswith("/api/v1/idca")):
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            function = view if view_class is None else getattr(view_class, method.lower(), None)
            if getattr(function, "crm_permission", None) is None:
                missing.append(f"{method} {rule.rule}")
    assert missing == []
