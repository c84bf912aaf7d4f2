"""An in-memory accounting system and its connector (name ``memory``), for tests.

The "remote" records are canonical records whose references are remote ids
(``account_ref``, ``vendor_ref``, ``invoice_ref``, lines' ``item_ref``), with a
version counter and a clock. Faults are injected with :meth:`MemoryStore.fail_next`.
Register it for a test with ``crm.testing.registered_plugin(app, MemoryPlugin())``.
"""
from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading

from crm import hookimpl
from crm.accounting_connectors import ENTITIES, BaseConnector, ChangeSet, NotFoundError, RemoteRecord, StaleVersionError

STORES: dict[str, "MemoryStore"] = {}
REFS = {"account_id": "accounts", "vendor_id": "vendors", "invoice_id": "invoices", "contact_id": "contacts"}
FIELDS = {
    "accounts": ("name", "email", "phone", "website", "tax_id", "billing_address", "shipping_address",
                 "description", "active"),
    "contacts": ("first_name", "last_name", "email", "phone", "title", "account_id", "active"),
    "vendors": ("name", "email", "phone", "website", "address", "description", "active"),
    "items": ("kind", "name", "sku", "unit_price", "purchase_cost", "description", "active"),
    "quotes": ("number", "account_id", "due_date", "subject", "lines", "total"),
    "sales-orders": ("number", "account_id", "due_date", "subject", "lines", "total"),
    "purchase-orders": ("number", "vendor_id", "due_date", "subject", "lines", "total"),
    "invoices": ("number", "account_id", "date", "due_date", "subject", "lines", "total"),
    "payments": ("invoice_id", "amount", "date", "method", "reference"),
}


class MemoryStore:
    def __init__(self):
        self.records: dict[str, dict[str, dict]] = {e: {} for e in ENTITIES}
        self.ids = itertools.count(1)
        self.clock = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
        self.faults: list[tuple[str, Exception]] = []
        self.calls: list[tuple] = []
        self.requests: dict[str, RemoteRecord] = {}
        self.lock = threading.Lock()

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(seconds=1)
        return self.clock

    def fail_next(self, operation: str, error: Exception, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` ("changes", "push", "fetch", "delete", "*") raise ``error``."""
        self.faults.extend([(operation, error)] * times)

    def _fault(self, operation: str) -> None:
        for n, (op, error) in enumerate(self.faults):
            if op in (operation, "*"):
                del self.faults[n]
                raise error

    def put(self, entity: str, data: dict, remote_id: str | None = None) -> RemoteRecord:
        """Create or change a record "on the remote side" (what a user there would do)."""
        rid = remote_id or str(next(self.ids))
        old = self.records[entity].get(rid)
        version = str(int(old["version"]) + 1) if old else "0"
        row = {"data": {**(old["data"] if old else {}), **copy.deepcopy(data)}, "version": version,
               "updated": self.tick(), "deleted": False}
        self.records[entity][rid] = row
        return self.get(entity, rid)

    def remove(self, entity: str, remote_id: str) -> None:
        row = self.records[entity][remote_id]
        row["deleted"], row["updated"] = True, self.tick()
        row["version"] = str(int(row["version"]) + 1)

    def get(self, entity: str, remote_id: str) -> RemoteRecord | None:
        row = self.records[entity].get(str(remote_id))
        if row is None:
            return None
        return RemoteRecord(id=str(remote_id), version=row["version"], updated_at=row["updated"],
                            deleted=row["deleted"], data=copy.deepcopy(row["data"]))

    def live(self, entity: str) -> dict[str, dict]:
        return {rid: row["data"] for rid, row in self.records[entity].items() if not row["deleted"]}


def store(name: str = "default") -> MemoryStore:
    if name not in STORES:
        STORES[name] = MemoryStore()
    return STORES[name]


class MemoryConnector(BaseConnector):
    name = "memory"
    label = "In-memory test system"
    entities = ENTITIES
    fields = FIELDS
    deactivate_only = frozenset({"accounts", "contacts", "vendors", "items"})
    settings_keys = ("store", "batch")
    secret_keys = ("token",)

    def __init__(self, settings, secrets, save_secrets=None):
        super().__init__(settings, secrets, save_secrets)
        self.store = store(self.settings.get("store", "default"))
        self.batch_size = int(self.settings.get("batch", 1))
        self.http_calls = 0

    def _call(self, op, *args):
        self.http_calls += 1
        self.store.calls.append((op,) + args)
        self.store._fault(op)

    def changes(self, entity, cursor):
        self._call("changes", entity, cursor)
        since = dt.datetime.fromisoformat(cursor) if cursor else None
        now = self.store.clock
        records = [self.store.get(entity, rid) for rid, row in self.store.records[entity].items()
                   if since is None or row["updated"] > since]
        if since is None:
            records = [r for r in records if not r.deleted]
        return ChangeSet(records, now.isoformat(), complete=since is None)

    def fetch(self, entity, remote_id):
        self._call("fetch", entity, remote_id)
        return self.store.get(entity, remote_id)

    def push(self, entity, payload, remote_id, remote_version, *, request_id):
        self._call("push", entity, remote_id)
        if request_id in self.store.requests:
            return self.store.requests[request_id]
        if remote_id is not None:
            row = self.store.records[entity].get(remote_id)
            if row is None or row["deleted"]:
                raise NotFoundError(f"{entity} {remote_id} not found")
            if remote_version is not None and row["version"] != remote_version:
                raise StaleVersionError("stale version", code="stale")
        rec = self.store.put(entity, payload, remote_id)
        self.store.requests[request_id] = rec
        return rec

    def delete(self, entity, remote_id, remote_version, *, request_id):
        self._call("delete", entity, remote_id)
        row = self.store.records[entity].get(remote_id)
        if row is None:
            raise NotFoundError(f"{entity} {remote_id} not found")
        if entity in self.deactivate_only:
            return self.store.put(entity, {"active": False}, remote_id)
        self.store.remove(entity, remote_id)
        return self.store.get(entity, remote_id)

    def to_remote(self, entity, record, refs, current=None):
        out = {}
        for key, value in record.items():
            if key in REFS:
                out[key.replace("_id", "_ref")] = refs.remote(REFS[key], value)
            elif key == "lines":
                out["lines"] = [{**{k: v for k, v in line.items() if k != "item_id"},
                                 "item_ref": refs.remote("items", line.get("item_id"))} for line in value]
            elif key == "custom":
                continue
            else:
                out[key] = copy.deepcopy(value)
        return out

    def from_remote(self, entity, remote, refs):
        out = {}
        for key, value in remote.data.items():
            if key.endswith("_ref") and key.replace("_ref", "_id") in REFS:
                name = key.replace("_ref", "_id")
                out[name] = refs.local(REFS[name], value)
            elif key == "lines":
                out["lines"] = [{**{k: v for k, v in line.items() if k != "item_ref"},
                                 "item_id": refs.local("items", line.get("item_ref"))} for line in value]
            elif key == "extra":
                continue
            else:
                out[key] = copy.deepcopy(value)
        return out

    def refresh_auth(self):
        self._call("refresh_auth")
        self.save_secrets({"token": f"token-{self.http_calls}"})


class MemoryPlugin:
    """Register with ``registered_plugin(app, MemoryPlugin(), "memory_connector")``."""

    @hookimpl
    def crm_accounting_connectors(self):
        return [MemoryConnector]
