"""The engine never leaves a record out silently: every record of ours that a run does not send,
and every change there that it does not apply, is a record of the run's log saying why (a record
created after a deletion once never synced while the run said done)."""
from __future__ import annotations

from sqlalchemy import select

from accsync_helpers import in_app, sync
from crm.models import Vendor
from crm.services import vendors
from crm_accounting_sync.models import Link

#: what can keep a linked record from being sent: the link's status (and its error)
HELD = {"deleted": "closed link (its record there deleted, or an id a deleted record had)",
        "conflict": "changed on both sides: name (choose which side wins)"}


def _hold(app, local_id, status, error):
    def change(s):
        link = s.scalar(select(Link).where(Link.connection == "mem", Link.entity == "vendors",
                                           Link.local_id == local_id))
        link.status, link.error, link.pending, link.resolution = status, error, None, None
    in_app(app, change)


def test_every_linked_record_not_sent_is_in_the_run_log_with_why(app, mem, catalog):
    ids = {status: in_app(app, lambda s, n=status: vendors.create_vendor(s, {"name": f"Proveedor {n}"}).id)
           for status in HELD}
    assert sync(app, "mem").status == "done"
    for status, error in HELD.items():
        _hold(app, ids[status], status, error)
        in_app(app, lambda s, i=ids[status]: vendors.update_vendor(s, s.get(Vendor, i), {"phone": "+34 900"}))
    run = sync(app, "mem", ["vendors"])
    assert run.status == "done", run
    for status, local_id in ids.items():
        [record] = [r for r in run.records if r["local_id"] == local_id and r["side"] == "to_remote"]
        assert record["action"] in ("failed", "waiting", "skipped"), (status, record)
        assert record["message"].startswith("not sent") and HELD[status].split(" (")[0] in record["message"]
    assert not any(v.get("phone") == "+34 900" for v in mem.live("vendors").values())


def test_a_change_there_to_a_record_deleted_here_is_in_the_run_log(app, mem, catalog):
    local_id = in_app(app, lambda s: vendors.create_vendor(s, {"name": "Proveedor borrado"}).id)
    assert sync(app, "mem").status == "done"
    in_app(app, lambda s: vendors.delete_vendor(s, s.get(Vendor, local_id)))
    assert sync(app, "mem", ["vendors"]).status == "done"
    [remote_id] = [rid for rid, row in mem.records["vendors"].items() if row["data"]["name"] == "Proveedor borrado"]
    mem.put("vendors", {"email": "changed@there.example"}, remote_id)
    run = sync(app, "mem", ["vendors"])
    [record] = [r for r in run.records if r["remote_id"] == remote_id]
    assert record["action"] == "skipped" and "not applied" in record["message"], run
    assert sync(app, "mem", ["vendors"]).records == []   # said once, not on every run
