"""The accounting hooks: a third party's connector (``crm_accounting_connectors``) and the
local entities other plugins contribute (``crm_accounting_entities``: payments), and the
dependency rule (this plugin reaches other plugins only through hooks)."""
from __future__ import annotations

import ast
import itertools
from decimal import Decimal
from pathlib import Path

from accsync_helpers import WITH_PAYMENTS, in_app, sync
from crm import hookimpl
from crm.accounting_connectors import BaseConnector, ChangeSet, LocalEntity, RemoteRecord
from crm.models import Document
from crm.services import documents
from crm.testing import registered_plugin

PACKAGE = Path(__file__).resolve().parent.parent / "crm_accounting_sync"


class LedgerConnector(BaseConnector):
    """A third party's accounting system: accounts only, kept in a dict."""

    name = "ledger"
    label = "Ledger (test)"
    entities = ("accounts",)
    fields = {"accounts": ("name", "email")}
    rows: dict[str, dict] = {}
    ids = itertools.count(1)

    def changes(self, entity, cursor):
        return ChangeSet([RemoteRecord(id=k, version="1", data=dict(v)) for k, v in self.rows.items()], "now",
                         complete=True)

    def fetch(self, entity, remote_id):
        row = self.rows.get(remote_id)
        return RemoteRecord(id=remote_id, version="1", data=dict(row)) if row is not None else None

    def push(self, entity, payload, remote_id, remote_version, *, request_id):
        remote_id = remote_id or str(next(self.ids))
        self.rows[remote_id] = dict(payload)
        return self.fetch(entity, remote_id)

    def delete(self, entity, remote_id, remote_version, *, request_id):
        self.rows.pop(remote_id, None)
        return RemoteRecord(id=remote_id, deleted=True)

    def to_remote(self, entity, record, refs, current=None):
        return {"name": record.get("name"), "email": record.get("email")}

    def from_remote(self, entity, remote, refs):
        return {"name": remote.data.get("name", ""), "email": remote.data.get("email", "")}


class LedgerPlugin:
    @hookimpl
    def crm_accounting_connectors(self):
        return [LedgerConnector]


def test_a_third_party_connector_is_listed_can_be_connected_and_syncs(app, api, catalog):
    LedgerConnector.rows = {}
    with registered_plugin(app, LedgerPlugin(), "ledger_connector"):
        listed = api.get("/accounting-sync/connectors").json()
        assert "ledger" in {c["name"] for c in listed}, listed
        saved = api.put("/accounting-sync/connections/books", json={"connector": "ledger", "settings": {}})
        assert saved.status_code == 200, saved.text
        assert [c["name"] for c in api.get("/accounting-sync/connections").json()] == ["books"]
        run = api.post("/accounting-sync/runs", json={"connection": "books", "background": False})
        assert run.status_code == 201, run.text
        body = run.json()
        assert body["status"] == "done", body
        assert body["counts"]["accounts"]["to_remote"]["created"] == 1
        assert [r["name"] for r in LedgerConnector.rows.values()] == ["Ferretería López S.L."]
        # and the other way
        LedgerConnector.rows["99"] = {"name": "Desde Ledger", "email": "l@ledger.example"}
        again = api.post("/accounting-sync/runs", json={"connection": "books", "background": False}).json()
        assert again["counts"]["accounts"]["from_remote"]["created"] == 1, again
    # the plugin gone, its connector is no more
    assert "ledger" not in {c["name"] for c in api.get("/accounting-sync/connectors").json()}


@WITH_PAYMENTS
def test_payments_adapter_comes_from_the_payments_plugin(app):
    from crm.accounting_connectors import local_entity_adapters
    from crm.plugins import get_registry
    answers = [a for batch in get_registry(app).hook.crm_accounting_entities() for a in batch or ()]
    [payments] = [a for a in answers if a.entity == "payments"]
    assert isinstance(payments, LocalEntity) and type(payments).__module__ == "crm_payments.accounting"
    assert local_entity_adapters(app)["payments"] is not None


def test_this_plugin_imports_no_other_plugin():
    """The dependency rule: the core's public modules only; other plugins through hooks."""
    offending = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offending += [f"{path.name}: {n}" for n in names
                          if n.startswith("crm_") and not n.startswith("crm_accounting_sync")]
    assert offending == []


class LocalNotes(LocalEntity):
    """A plugin's adapter for an entity of the core: ignored (the core's own adapter is kept)."""

    entity = "accounts"


def test_a_plugin_cannot_take_over_a_core_entity(app):
    from crm_accounting_sync.local import Accounts, local_entities

    class Plugin:
        @hookimpl
        def crm_accounting_entities(self):
            return [LocalNotes()]
    with registered_plugin(app, Plugin(), "notes"), app.app_context():
        assert isinstance(local_entities({}, app)["accounts"], Accounts)


def _set_payments_enabled(app, enabled: bool) -> None:
    from crm.db import db
    from crm.plugins import get_registry
    from crm.services.plugin_admin import set_enabled
    with app.app_context():
        s = db.new_session(app)
        set_enabled(s, get_registry(app), "payments", enabled)
        s.commit()
        s.close()


@WITH_PAYMENTS
def test_payments_plugin_disabled_payments_are_skipped_not_a_crash(app, mem, catalog):
    inv = in_app(app, lambda s: documents.create_document(s, "invoice", {
        "account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": Decimal("2")}]}).id)
    in_app(app, lambda s: documents.change_status(s, s.get(Document, inv), "Approved"))
    _set_payments_enabled(app, False)
    run = sync(app, "mem")
    assert run.status == "done", run
    assert run.count("invoices", "to_remote", "created") == 1
    [irid] = mem.live("invoices")
    mem.put("payments", {"invoice_ref": irid, "amount": "96.80", "date": "2030-01-05", "method": None,
                         "reference": "TR-1"})
    run = sync(app, "mem")
    assert run.status == "done", run
    [skip] = [r for r in run.records if r["entity"] == "payments"]
    assert skip["action"] == "skipped" and "not synced" in skip["message"] and "payments plugin" in skip["message"]
    assert "payments" not in (run.counts.get("payments", {}).get("from_remote") or {})
    assert in_app(app, lambda s: s.get(Document, inv).status) == "Approved"
    # enabled again: the payment comes
    _set_payments_enabled(app, True)
    run = sync(app, "mem")
    assert run.count("payments", "from_remote", "created") == 1, run
    assert in_app(app, lambda s: s.get(Document, inv).status) == "Paid"
