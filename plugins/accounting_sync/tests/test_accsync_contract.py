"""The plugin contract: loads, owns its tables, migrations round-trip and match the models;
secrets encrypted at rest; the outbox is written in the transaction of the change."""
from __future__ import annotations

from sqlalchemy import func, inspect, select

from accsync_helpers import in_app, sync
from crm import migrate
from crm.db import Model, db
from crm.models import Account
from crm.services import accounts


def test_plugin_contract(app):
    info = {p["name"]: p for p in app.extensions["crm.plugins"].describe()}
    assert info["accounting_sync"]["error"] is None and info["accounting_sync"]["enabled"]
    assert "crm_accounting_connectors" in info["accounting_sync"]["hooks"]
    own = {t for t in Model.metadata.tables if t.startswith("accounting_sync_")}
    assert own == {"accounting_sync_connections", "accounting_sync_links", "accounting_sync_outbox",
                   "accounting_sync_runs", "accounting_sync_run_records"}
    assert migrate.schema_differences(app, "accounting_sync") == []
    migrate.downgrade(app, "accounting_sync", "base")
    assert not own & set(inspect(db.engine(app)).get_table_names())
    migrate.upgrade(app, "accounting_sync")
    assert own | {"alembic_version_accounting_sync"} <= set(inspect(db.engine(app)).get_table_names())
    assert migrate.schema_differences(app, "accounting_sync") == []


def test_outbox_is_transactional_and_remote_changes_do_not_bounce(app, mem, catalog):
    from crm_accounting_sync.models import Outbox
    count = lambda: in_app(app, lambda s: s.scalar(select(func.count()).select_from(Outbox)))  # noqa: E731
    sync(app, "mem")
    assert count() == 0

    def change_then_fail(s):
        accounts.update_account(s, s.get(Account, catalog.account), {"phone": "1"})
        assert s.scalar(select(func.count()).select_from(Outbox)) == 1
        s.rollback()                              # the change is rolled back: so is its outbox row
    in_app(app, change_then_fail)
    assert count() == 0
    [(rid, _)] = mem.live("accounts").items()
    mem.put("accounts", {"phone": "2"}, rid)
    sync(app, "mem")
    assert in_app(app, lambda s: s.get(Account, catalog.account).phone) == "2"
    assert count() == 0                           # applied from the remote: nothing to send back


def test_connector_contract_is_in_the_core():
    from crm.accounting_connectors import BaseConnector, Connector
    from crm_accounting_sync.quickbooks import QuickBooksConnector
    from crm_accounting_sync.testing.memory import MemoryConnector
    for cls in (QuickBooksConnector, MemoryConnector):
        assert issubclass(cls, BaseConnector)
        for name in ("changes", "fetch", "push", "push_batch", "delete", "to_remote", "from_remote"):
            assert callable(getattr(cls, name)), name
        assert set(cls.entities) <= set(cls.fields) | {"contacts"}
    assert Connector.__doc__


def test_an_import_queues_each_record_once_with_one_insert_a_batch(app, mem, catalog):
    """An import tells the plugin of a batch at once (``crm_records_saved``): one outbox row per
    imported product, written with one INSERT a batch, and the sync sends them all."""
    import csv
    import io

    from sqlalchemy import event

    from crm.models import Item
    from crm.services import import_files, imports
    from crm_accounting_sync.models import Outbox
    sync(app, "mem")
    rows = imports.BATCH + 3
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["Name", "SKU", "Unit price"], *([f"Synced {n}", f"SY-{n}", "2.5"]
                                                                    for n in range(rows))])
    inserts = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT INTO ACCOUNTING_SYNC_OUTBOX"):
            inserts.append(statement)
    event.listen(db.engine(app), "before_cursor_execute", seen)
    try:
        with app.app_context(), db.transaction() as s:
            sheet = import_files.read(buffer.getvalue().encode(), "products.csv")
            run = imports.new_run(s, "products", "products.csv")
            imports.perform(s, run, sheet, imports.options_from(s, "products", sheet))
    finally:
        event.remove(db.engine(app), "before_cursor_execute", seen)
    assert len(inserts) == 2   # two batches: one INSERT each, not one per record
    imported = set(in_app(app, lambda s: s.scalars(select(Item.id).where(Item.sku.like("SY-%"))).all()))
    queued = in_app(app, lambda s: s.execute(select(Outbox.connection, Outbox.entity, Outbox.local_id, Outbox.op)
                                             .where(Outbox.entity == "items")).all())
    assert len(imported) == rows and sorted(r.local_id for r in queued) == sorted(imported)
    assert {(r.connection, r.op) for r in queued} == {("mem", "saved")}
    sync(app, "mem")
    assert {r["name"] for r in mem.live("items").values()} >= {f"Synced {n}" for n in range(rows)}
