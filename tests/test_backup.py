"""``crm db backup`` and ``crm db restore`` on the test's database (SQLite, or PostgreSQL with
``pg_dump``/``pg_restore``): a backup taken while invoices are being written, restored into a
fresh database, carries on as the original would: the same stock ledger, balances and plugin
records, document numbers continuing after the last one, the queue's pending task run once."""
from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path

import pytest
from flask.cli import ScriptInfo
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm import create_app
from crm.cli import cli
from crm.db import db
from crm.testing import IN_PROCESS, ApiClient, is_postgres


def touch(app, path):
    """A queued task of the test: writes the app's name into ``path``."""
    Path(path).write_text(app.name)


@pytest.fixture
def fresh_database_url(crm_database_url, tmp_path):
    """An empty database of the test's kind, never migrated."""
    if not is_postgres():
        (tmp_path / "fresh").mkdir()
        yield f"sqlite:///{tmp_path / 'fresh' / 'crm.db'}"
        return
    source = make_url(crm_database_url)
    name = f"{source.database}_fresh_{uuid.uuid4().hex[:6]}"
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield source.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _queued(app, folder: Path):
    """``app`` with a real queue in ``folder`` (its instance folder), no worker."""
    folder.mkdir(parents=True, exist_ok=True)
    app.config["QUEUE_IMMEDIATE"] = False
    app.instance_path = str(folder)
    app.extensions.pop("crm.huey", None)
    return app


def _crm(app, *args, **kwargs):
    return app.test_cli_runner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app), **kwargs)


def _state(api, catalog) -> dict:
    """What a user sees of the ledger, the invoices and the payments."""
    listed = api.get("/invoices", params={"per_page": 200, "sort": "number"})
    assert listed.status_code == 200, listed.text
    invoices = listed.json()["items"]
    return {
        "stock": {item: api.get(f"/products/{item}/stock").json() for item in (catalog.widget, catalog.gadget)},
        "moves": api.get("/stock/moves", params={"per_page": 200}).json()["total"],
        "invoices": [(i["number"], i["status"], i["totals"]["grand_total"], i["received"], i["balance"])
                     for i in invoices],
        "payments": [p["amount"] for i in invoices for p in api.get(f"/invoices/{i['id']}/payments").json()["items"]],
    }


def _number(document: dict) -> int:
    return int(re.search(r"(\d+)$", document["number"]).group(1))


def test_a_backup_restored_into_a_fresh_database_carries_on(app, api, catalog, fresh_database_url, tmp_path):
    c = catalog
    _queued(app, tmp_path / "instance")
    po = api.post("/purchase-orders", json={"vendor_id": c.vendor, "lines": [
        {"item_id": c.widget, "quantity": "10"}, {"item_id": c.gadget, "quantity": "5"}]}).json()
    api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"})
    assert api.post(f"/purchase-orders/{po['id']}/receipts").status_code == 200
    order = api.post("/sales-orders", json={"account_id": c.account, "lines": [
        {"item_id": c.widget, "quantity": "4"}, {"item_id": c.gadget, "quantity": "1"}]}).json()
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    api.post(f"/sales-orders/{order['id']}/shipments")
    invoice = api.post(f"/sales-orders/{order['id']}/invoices").json()
    assert api.patch(f"/invoices/{invoice['id']}", json={"status": "Approved"}).status_code == 200
    assert api.post(f"/invoices/{invoice['id']}/payments", json={"amount": "30.00"}).status_code == 201
    marker = tmp_path / "task-ran.txt"
    from crm.worker import enqueue
    enqueue(app, "tests.test_backup:touch", path=str(marker))  # pending: no worker runs it here

    # invoices keep being written while the backup runs
    stop, written = threading.Event(), []

    def write_invoices():
        while not stop.is_set():
            made = api.post("/invoices", json={"account_id": c.account, "lines": [{"item_id": c.consulting}]})
            assert made.status_code == 201, made.text
            written.append(made.json())
    writer = threading.Thread(target=write_invoices)
    writer.start()
    try:
        backup = tmp_path / "crm-backup.tar.gz"
        made = _crm(app, "db", "backup", str(backup))
    finally:
        stop.set()
        writer.join()
    assert made.exit_code == 0, made.output
    assert "1 queued task(s)" in made.output and written
    assert not marker.exists()

    target = _queued(create_app({"TESTING": True, "DATABASE_URL": fresh_database_url, "SECRET_KEY": "test",
                                 "WTF_CSRF_ENABLED": False}), tmp_path / "target-instance")
    try:
        restored = _crm(target, "db", "restore", str(backup), "--yes")
        assert restored.exit_code == 0, restored.output
        assert "restored into" in restored.output and "crm db upgrade" not in restored.output
        target_api = ApiClient(IN_PROCESS, api.http.headers["Authorization"][7:], app=target)
        after = _state(target_api, c)
        copied = [number for number, *_ in after["invoices"]]
        # the snapshot: everything written before it, the writer's invoices up to a point, whole
        assert [(i["number"], i["balance"]) for i in written[:len(copied) - 1]] == \
            [(number, balance) for number, _s, _t, _r, balance in after["invoices"][1:]]
        source_state = _state(api, c)
        assert after["stock"] == source_state["stock"] and after["moves"] == source_state["moves"]
        assert after["invoices"] == source_state["invoices"][:len(copied)]
        assert after["payments"] == ["30.00"] and after["invoices"][0][3] == "30.00"
        assert _crm(target, "stock", "verify").exit_code == 0

        # numbering goes on after the last number in the backup, in both databases alike
        last = max(_number({"number": n}) for n in copied)
        new = target_api.post("/invoices", json={"account_id": c.account, "lines": [{"item_id": c.consulting}]})
        assert new.status_code == 201 and _number(new.json()) == last + 1 and new.json()["number"] not in copied

        # the pending task is in the restored queue, and runs once
        from crm.worker import queue
        huey = queue(target)
        assert huey.pending_count() == 1
        huey.execute(huey.dequeue())
        assert marker.read_text() == "crm" and huey.pending_count() == 0
    finally:
        db.engine(target).dispose()


def test_restoring_over_the_database_it_came_from_undoes_later_changes(app, api, catalog, tmp_path):
    _queued(app, tmp_path / "instance")
    first = api.post("/invoices", json={"account_id": catalog.account, "lines": [{"item_id": catalog.consulting}]})
    backup = tmp_path / "b.tar.gz"
    assert _crm(app, "db", "backup", str(backup)).exit_code == 0
    later = api.post("/invoices", json={"account_id": catalog.account, "lines": [{"item_id": catalog.widget}]})
    adjusted = api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": "5", "reason": "found"})
    assert adjusted.status_code == 201, adjusted.text
    assert api.get(f"/products/{catalog.widget}/stock").json()["on_hand"] == "5"
    from crm.worker import enqueue, queue
    enqueue(app, "tests.test_backup:touch", path=str(tmp_path / "later.txt"))   # queued after the backup

    restored = _crm(app, "db", "restore", str(backup), "--yes")
    assert restored.exit_code == 0, restored.output
    numbers = [i["number"] for i in api.get("/invoices").json()["items"]]
    assert numbers == [first.json()["number"]]
    assert api.get(f"/products/{catalog.widget}/stock").json()["on_hand"] == "0"
    assert queue(app).pending_count() == 0                                       # the backup's queue: empty
    again = api.post("/invoices", json={"account_id": catalog.account, "lines": [{"item_id": catalog.gadget}]})
    assert again.json()["number"] == later.json()["number"]   # the number after the backup's last one


def test_refusals_are_one_line_and_change_nothing(app, catalog, tmp_path):
    _queued(app, tmp_path / "instance")
    missing = _crm(app, "db", "restore", str(tmp_path / "nope.tar.gz"), "--yes")
    assert missing.exit_code == 1 and "nope.tar.gz: no such backup file" in missing.output
    junk = tmp_path / "junk.tar.gz"
    junk.write_text("not a backup")
    refused = _crm(app, "db", "restore", str(junk), "--yes")
    assert refused.exit_code == 1 and "is not a backup of this CRM" in refused.output
    nowhere = _crm(app, "db", "backup", str(tmp_path / "no-such-folder" / "b.tar.gz"))
    assert nowhere.exit_code == 1 and "does not exist: create the folder first" in nowhere.output
    backup = tmp_path / "b.tar.gz"
    assert _crm(app, "db", "backup", str(backup)).exit_code == 0
    declined = _crm(app, "db", "restore", str(backup), input="n\n")
    assert declined.exit_code == 1 and "nothing was restored" in declined.output


def test_a_backup_restores_only_into_the_same_kind_of_database(app, tmp_path, monkeypatch):
    from crm import backup as backups
    _queued(app, tmp_path / "instance")
    made = tmp_path / "b.tar.gz"
    assert _crm(app, "db", "backup", str(made)).exit_code == 0
    kind = "sqlite" if is_postgres() else "postgresql"
    monkeypatch.setattr(backups, "_kind", lambda _app: kind)
    refused = _crm(app, "db", "restore", str(made), "--yes")
    assert refused.exit_code == 1 and f"the database to restore into is {kind}" in refused.output


@pytest.mark.skipif(not is_postgres(), reason="pg_dump is PostgreSQL's")
def test_without_pg_dump_the_backup_says_what_to_install(app, tmp_path, monkeypatch):
    _queued(app, tmp_path / "instance")
    monkeypatch.setenv("PATH", str(tmp_path))
    refused = _crm(app, "db", "backup", str(tmp_path / "b.tar.gz"))
    assert refused.exit_code == 1
    assert "pg_dump is not installed: install PostgreSQL's client tools" in refused.output
    assert not (tmp_path / "b.tar.gz").exists()
