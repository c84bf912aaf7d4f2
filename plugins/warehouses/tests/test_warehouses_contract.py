"""The plugin contract (docs/writing-plugins.md, section 10): it loads, its migrations round-trip
and agree with its models, its edit forms round-trip, disabled it answers 404 and keeps its data."""
from __future__ import annotations

from sqlalchemy import inspect

from crm import migrate
from crm.db import Model, db
from crm.testing import check_round_trip, edit_forms
from warehouses_helpers import add_warehouse, signed_in


def test_the_plugin_loads_and_its_migrations_round_trip(app):
    info = {p["name"]: p for p in app.extensions["crm.plugins"].describe()}
    assert info["warehouses"]["error"] is None and info["warehouses"]["enabled"]
    own = {t for t in Model.metadata.tables if t.startswith("warehouses_")}
    assert own
    migrate.downgrade(app, "warehouses", "base")
    assert not own & set(inspect(db.engine(app)).get_table_names())
    migrate.upgrade(app, "warehouses")
    assert own | {"alembic_version_warehouses"} <= set(inspect(db.engine(app)).get_table_names())
    assert migrate.schema_differences(app, "warehouses") == []


def test_every_edit_form_round_trips(app, api, make_user):
    assert {f.rule for f in edit_forms(app) if f.owner == "warehouses"} == {"/warehouses/<int:warehouse_id>/edit"}
    made = add_warehouse(api, "MAD", "Madrid", address="Calle Mayor 1\nMadrid 28013")
    client = signed_in(app.test_client(), make_user("admin"))
    check_round_trip(client, f"/warehouses/{made['id']}/edit", lambda: api.get(f"/warehouses/{made['id']}").json())
    inactive = add_warehouse(api, "BCN", active=False)
    check_round_trip(client, f"/warehouses/{inactive['id']}/edit",
                     lambda: api.get(f"/warehouses/{inactive['id']}").json())


def test_disabled_it_answers_404_and_keeps_its_warehouses(api, runner):
    add_warehouse(api, "MAD")
    assert runner.invoke(["plugins", "disable", "warehouses"]).exit_code == 0
    assert api.get("/warehouses").status_code == 404
    assert runner.invoke(["plugins", "enable", "warehouses"]).exit_code == 0
    assert [w["code"] for w in api.get("/warehouses").json()["items"]] == ["MAD"]


def test_upgrading_gives_the_warehouses_made_before_their_stock_locations(app):
    from sqlalchemy import text
    migrate.downgrade(app, "warehouses", "warehouses_0002")
    with db.engine(app).begin() as connection:
        connection.execute(text("INSERT INTO warehouses_warehouses (code, name, address, active) "
                                "VALUES ('MAD', 'Madrid', '', true), ('BCN', 'Barcelona', '', false)"))
    migrate.upgrade(app, "warehouses")
    with db.engine(app).connect() as connection:
        rows = connection.execute(text(
            "SELECT w.code, l.plugin, l.code, l.name FROM warehouses_warehouses w "
            "JOIN stock_locations l ON l.id = w.location_id ORDER BY w.code")).all()
    assert [tuple(r) for r in rows] == [("BCN", "warehouses", "BCN", "Barcelona"), ("MAD", "warehouses", "MAD", "Madrid")]
    assert migrate.schema_differences(app, "warehouses") == []


def test_the_plugins_page_and_list_describe_it(app, make_user, runner):
    html = signed_in(app.test_client(), make_user("admin")).get("/admin/plugins").get_data(as_text=True)
    row = html[html.index('<tr id="plugin-warehouses"'):]
    assert "<b>Warehouses</b> <code>warehouses</code>" in row and '<span class="badge ok">Enabled</span>' in row
    assert "<li>API endpoints</li>" in row and "<li>pages</li>" in row
    listed = runner.invoke(["plugins", "list"])
    assert listed.exit_code == 0 and "warehouses" in listed.output and "error" not in listed.output.lower()


def test_the_demo_adds_two_warehouses_once(api, runner, look):
    from sqlalchemy import select

    from crm.models import User
    from crm_warehouses import services
    assert runner.invoke(["demo"]).exit_code == 0
    worker = look(lambda s: services.user_default(s, s.scalar(select(User.id).where(User.username == "warehouse"))))
    assert worker.code == "MAD"
    assert [(w["code"], w["name"]) for w in api.get("/warehouses").json()["items"]] == [("BCN", "Barcelona"),
                                                                                        ("MAD", "Madrid")]
    assert runner.invoke(["demo"]).exit_code == 0
    assert api.get("/warehouses").json()["total"] == 2
