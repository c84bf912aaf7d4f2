"""A record created after the newest one was deleted is a new record to the sync, never the
deleted one's twin (SQLite used to give it the deleted record's id, which a link remembered:
the new vendor never reached QuickBooks and the run said it was done)."""
from __future__ import annotations

from accsync_helpers import in_app, links, sync
from crm.models import Vendor
from crm.services import vendors


def test_a_vendor_created_after_deleting_the_newest_one_reaches_quickbooks(app, qbo, catalog):
    last = in_app(app, lambda s: vendors.create_vendor(s, {"name": "Proveedor de paso"}).id)
    assert sync(app, "qbo").status == "done"
    deleted_twin = next(link.remote_id for link in links(app, "qbo", "vendors") if link.local_id == last)

    in_app(app, lambda s: vendors.delete_vendor(s, s.get(Vendor, last)))
    new = in_app(app, lambda s: vendors.create_vendor(s, {"name": "Proveedor nuevo"}).id)
    run = sync(app, "qbo")

    assert run.status == "done", run
    pushed = {v["DisplayName"]: v for v in qbo.objects("Vendor").values()}
    assert "Proveedor nuevo" in pushed, "the new vendor never reached QuickBooks"
    link = next(link for link in links(app, "qbo", "vendors") if link.local_id == new)
    assert link.remote_id != deleted_twin, "the new vendor took over the deleted one's QuickBooks vendor"
    assert link.remote_id == pushed["Proveedor nuevo"]["Id"]
    assert qbo.objects("Vendor")[deleted_twin]["DisplayName"] == "Proveedor de paso"
    assert qbo.objects("Vendor")[deleted_twin]["Active"] is False   # the deleted one is deactivated there
    assert new > last
