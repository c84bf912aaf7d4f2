"""Faults of the QuickBooks API, injected in the fake, and what the sync does about them."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from accsync_helpers import in_app, links, sync
from crm.db import db
from crm.models import Account, Vendor
from crm.services import accounts, vendors


def _secrets(app):
    from crm_accounting_sync import crypto
    from crm_accounting_sync.models import Connection
    with app.app_context():
        s = db.new_session(app)
        row = s.get(Connection, "qbo")
        raw = row.secrets
        s.close()
        return raw, crypto.decrypt(raw, app)


def test_429_and_5xx_are_retried(app, qbo, catalog):
    qbo.inject(429, times=2, path="/query", retry_after=0)
    qbo.inject(503, times=1, path="/batch")
    qbo.inject(500, times=1, path="/batch")
    run = sync(app, "qbo")
    assert run.status == "done", run
    assert len(qbo.objects("Customer")) == 2 and len(qbo.objects("Item")) == 4
    assert sync(app, "qbo").total("created") == 0


def test_timeout_is_retried(app, qbo, catalog):
    qbo.inject(delay=3, times=1, path="/batch")     # the connection's timeout is 2 s
    run = sync(app, "qbo", ["accounts"])
    assert run.status == "done", run
    assert len(qbo.objects("Customer")) == 1       # a late answer and the retry: one customer (requestid)


def test_401_refreshes_the_token_and_stores_the_rotated_one_encrypted(app, qbo, catalog):
    sync(app, "qbo", ["accounts"])
    raw_before, before = _secrets(app)
    qbo.expire_tokens()
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), {"phone": "+34 1"}))
    run = sync(app, "qbo", ["accounts"])
    assert run.status == "done", run
    raw_after, after = _secrets(app)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["refresh_token"] in qbo.refresh_tokens and before["refresh_token"] not in qbo.refresh_tokens
    assert after["refresh_token"] not in raw_after and "client_secret" not in raw_after   # encrypted at rest
    [customer] = qbo.objects("Customer").values()
    assert customer["PrimaryPhone"]["FreeFormNumber"] == "+34 1"


def test_revoked_refresh_token_fails_the_run_clearly(app, qbo, catalog):
    qbo.refresh_tokens.clear()
    run = sync(app, "qbo", ["accounts"])
    assert run.status == "failed" and "connect again" in run.error


def test_stale_sync_token_rereads_and_merges(app, qbo, catalog):
    sync(app, "qbo", ["accounts"])
    [customer] = qbo.objects("Customer").values()
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), {"phone": "+34 2"}))
    # changed in QuickBooks after the change data capture was read: our update gets 5010
    qbo.inject(path="/cdc", times=1)  # (no fault: just to show the order)
    original = qbo._cdc

    def late_cdc(company, entities, since):
        answer = original(company, entities, since)
        qbo.user_update("Customer", customer["Id"], {"Notes": "changed there"})
        return answer
    qbo._cdc = late_cdc
    run = sync(app, "qbo", ["accounts"])
    qbo._cdc = original
    assert run.status == "done", run
    [customer] = qbo.objects("Customer").values()
    assert customer["PrimaryPhone"]["FreeFormNumber"] == "+34 2" and customer["Notes"] == "changed there"
    assert in_app(app, lambda s: s.get(Account, catalog.account).description) == "changed there"


def test_duplicate_name_is_kept_failed_not_retried(app, qbo, catalog):
    # the same name as our vendor, and the name it would take then
    qbo.user_create("Customer", {"DisplayName": "Suministros Norte"})
    qbo.user_create("Customer", {"DisplayName": "Suministros Norte (vendor)"})
    run = sync(app, "qbo", ["vendors"])
    [record] = [r for r in run.records if r["entity"] == "vendors"]
    assert record["action"] == "failed" and "Duplicate Name" in record["message"]
    posts = qbo.count("/batch") + qbo.count("/vendor")
    again = sync(app, "qbo", ["vendors"])
    assert again.total("failed") == 0 and qbo.count("/batch") + qbo.count("/vendor") == posts
    [link] = links(app, "qbo", "vendors")
    assert link.status == "failed" and "Duplicate Name" in link.error
    # renamed here: sent again, and it goes through
    in_app(app, lambda s: vendors.update_vendor(s, s.get(Vendor, catalog.vendor), {"name": "Suministros Norte SL"}))
    run = sync(app, "qbo", ["vendors"])
    assert run.count("vendors", "to_remote", "created") == 1


def test_answer_lost_after_the_write_creates_nothing_twice(app, qbo, catalog):
    qbo.inject(drop="after", times=1, path="/batch")
    run = sync(app, "qbo", ["accounts", "contacts"])
    assert run.status == "done", run
    assert len(qbo.objects("Customer")) == 2


def test_network_down_mid_run_then_the_next_run_completes(app, qbo, catalog):
    made = in_app(app, lambda s: [vendors.create_vendor(s, {"name": f"Proveedor {n}"}).id for n in range(40)])
    qbo.inject(drop="before", times=20, path="/batch", skip=1)   # the first batch passes, then the line is down
    run = sync(app, "qbo", ["vendors"])
    assert run.status == "failed" and "gave up" in run.error
    assert 0 < len(qbo.objects("Vendor")) < 41
    qbo.faults.clear()
    run = sync(app, "qbo", ["vendors"])
    assert run.status == "done", run
    assert len(qbo.objects("Vendor")) == 41 == len({v["DisplayName"] for v in qbo.objects("Vendor").values()})
    assert all(link.status == "ok" for link in links(app, "qbo", "vendors"))
    del made


def test_cdc_older_than_30_days_reads_everything(app, qbo, catalog):
    from crm_accounting_sync.models import Connection
    sync(app, "qbo", ["accounts"])
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def age(s):
        row = s.get(Connection, "qbo")
        row.state = {**row.state, "cursors": {**row.state["cursors"], "accounts": old}}
    in_app(app, age)
    cdc = qbo.count("/cdc")
    run = sync(app, "qbo", ["accounts"])
    assert run.status == "done" and qbo.count("/cdc") == cdc        # a query instead of the capture
    assert run.total("created") + run.total("updated") == 0


def test_more_than_1000_changes_are_paged(app, qbo, catalog):
    sync(app, "qbo", ["accounts"])
    for n in range(1005):
        qbo.user_create("Customer", {"DisplayName": f"Cliente {n:04d}"})
    run = sync(app, "qbo", ["accounts"])
    assert run.status == "done", run
    assert run.count("accounts", "from_remote", "created") == 1005
    assert in_app(app, lambda s: len(s.scalars(select(Account.id)).all())) == 1006


def test_initial_sync_of_1000_records(app, qbo):
    from sqlalchemy import insert
    def fill(s):
        s.execute(insert(Account), [{"name": f"Empresa {n:04d}", "email": f"e{n}@x.example", "billing_address": {},
                                     "shipping_address": {}, "custom": {}} for n in range(1000)])
    in_app(app, fill)
    run = sync(app, "qbo", ["accounts"])
    assert run.status == "done", run
    assert run.count("accounts", "to_remote", "created") == 1000
    assert len(qbo.objects("Customer")) == 1000
    assert qbo.count("/batch") == 34                               # 30 per batch
    assert sync(app, "qbo", ["accounts"]).total("created") == 0
