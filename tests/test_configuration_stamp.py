"""What a process keeps of the configuration across requests (``crm.services.records.
once_per_configuration``): the settings, the workflow rules, the IDCA layouts' versions and the
accounting sync's connections are read once per change of the configuration's stamp, which a
trigger on each of their tables replaces (``crm.migrate.watch_configuration``), whoever changes
them: another process, a command, plain SQL."""
from __future__ import annotations

import pytest
from sqlalchemy import event, inspect, text

from crm.db import db, make_engine
from crm.services import records

EVERY_PLUGIN = ("payments", "warehouses", "idca", "accounting_sync", "item_lookup")


def _elsewhere(app, sql: str, **params) -> None:
    """``sql`` run and committed on a connection of its own, as another process would."""
    other = make_engine(app.config["DATABASE_URL"])
    try:
        with other.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        other.dispose()


def _order(api, catalog, quantity: str) -> int:
    answer = api.post("/sales-orders", json={"account_id": catalog.account,
                                             "lines": [{"item_id": catalog.widget, "quantity": quantity}]})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


@pytest.mark.crm_plugins(*EVERY_PLUGIN)
def test_an_approval_reads_no_configuration_once_the_process_has(app, api, catalog):
    """A second approval sends no query to the configuration tables (the first one read them)."""
    api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": "10", "reason": "found"})
    orders = [_order(api, catalog, "1") for _ in range(2)]
    assert api.patch(f"/sales-orders/{orders[0]}", json={"status": "Approved"}).status_code == 200
    tables = {model.__table__.name for model in records._CONFIGURATION_MODELS}
    assert {"settings", "workflow_rules", "idca_layouts", "accounting_sync_connections"} <= tables
    sent: list[str] = []
    engine = db.engine(app)
    listen = lambda _c, _cur, statement, *_a: sent.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        assert api.patch(f"/sales-orders/{orders[1]}", json={"status": "Approved"}).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert sent and not [s for s in sent if any(f"FROM {table}" in s for table in tables)]


@pytest.mark.crm_plugins(*EVERY_PLUGIN)
def test_a_setting_changed_elsewhere_is_seen_by_the_next_request(app, api, catalog):
    """Another process allows backorders: the next approval of a short order reserves what there is
    instead of refusing it, as the first one did."""
    api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": "2", "reason": "found"})
    order = _order(api, catalog, "5")
    assert api.patch(f"/sales-orders/{order}", json={"status": "Approved"}).status_code == 409
    _elsewhere(app, "INSERT INTO settings (namespace, key, value) VALUES ('core', 'allow_backorders', 'true')")
    approved = api.patch(f"/sales-orders/{order}", json={"status": "Approved"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["lines"][0]["backorder"] == "3"
    _elsewhere(app, "DELETE FROM settings WHERE namespace = 'core' AND key = 'allow_backorders'")
    assert api.patch(f"/sales-orders/{_order(api, catalog, '5')}", json={"status": "Approved"}).status_code == 409


@pytest.mark.crm_plugins(*EVERY_PLUGIN)
def test_a_workflow_rule_added_elsewhere_runs_at_the_next_request(app, api, catalog):
    """Another process enables a rule on sales order approvals: the next approval runs it."""
    api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": "10", "reason": "found"})
    first = _order(api, catalog, "1")
    assert api.patch(f"/sales-orders/{first}", json={"status": "Approved"}).status_code == 200
    rule = api.post("/workflows", json={"name": "Seen", "entity": "sales-orders", "enabled": True,
                                        "trigger": {"event": "status_changed", "to_status": "Approved"},
                                        "conditions": {}, "actions": [{"type": "add_comment", "text": "seen"}]})
    assert rule.status_code == 201, rule.text
    _elsewhere(app, "UPDATE workflow_rules SET enabled = :off", off=False)
    second = _order(api, catalog, "1")
    assert api.patch(f"/sales-orders/{second}", json={"status": "Approved"}).status_code == 200
    _elsewhere(app, "UPDATE workflow_rules SET enabled = :on", on=True)
    third = _order(api, catalog, "1")
    assert api.patch(f"/sales-orders/{third}", json={"status": "Approved"}).status_code == 200
    runs = api.get(f"/workflows/{rule.json()['id']}/runs").json()["items"]
    assert sorted(run["record_id"] for run in runs) == [third]


@pytest.mark.crm_plugins(*EVERY_PLUGIN)
def test_every_configuration_table_is_watched(app):
    """Each table whose rows a process keeps has the trigger that replaces the stamp, and a change
    to its rows by plain SQL replaces it."""
    engine = db.engine(app)
    names = inspect(engine).get_table_names()
    with engine.connect() as connection:
        for model in records._CONFIGURATION_MODELS:
            table = model.__table__.name
            assert table in names
            if engine.dialect.name == "postgresql":
                triggers = connection.execute(text(
                    "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE c.relname = :t AND NOT t.tgisinternal"), {"t": table}).scalars().all()
                assert f"{table}_config_changed" in triggers, table
            else:
                triggers = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                                   "AND tbl_name = :t"), {"t": table}).scalars().all()
                assert {f"{table}_config_changed_{e}" for e in ("insert", "update", "delete")} <= set(triggers), table
    before = _stamp(engine)
    _elsewhere(app, "UPDATE settings SET value = value")
    _elsewhere(app, "INSERT INTO settings (namespace, key, value) VALUES ('core', 'company_name', '\"Nueva\"')")
    assert _stamp(engine) != before


def _stamp(engine) -> str:
    with engine.connect() as connection:
        return connection.execute(text("SELECT stamp FROM config_stamp")).scalar_one()
