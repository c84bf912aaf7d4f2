"""The sync engine against the in-memory accounting system."""
from __future__ import annotations

from decimal import Decimal

import pytest

from accsync_helpers import WITH_PAYMENTS, configure, in_app, links, sync
from crm.accounting_connectors import AuthenticationError, DuplicateError, RemoteValidationError, RetryableError
from crm.models import Account, Document, Vendor
from crm.services import accounts, documents, vendors


@WITH_PAYMENTS
def test_initial_push_then_idempotent(app, mem, catalog):
    run = sync(app, "mem")
    assert run.status == "done", run
    assert run.count("accounts", "to_remote", "created") == 1
    assert run.count("contacts", "to_remote", "created") == 1
    assert run.count("vendors", "to_remote", "created") == 1
    assert run.count("items", "to_remote", "created") == 4       # a bundle goes as a product of its own
    assert len(mem.live("accounts")) == 1
    [remote] = mem.live("accounts").values()
    assert remote["name"] == "Ferretería López S.L."
    calls = len(mem.calls)
    again = sync(app, "mem")
    assert again.status == "done"
    assert again.total("created") == again.total("updated") == again.total("failed") == 0
    assert [c[0] for c in mem.calls[calls:]] == ["changes"] * 9   # reads only, nothing sent


def test_local_change_goes_through_outbox(app, mem, catalog):
    sync(app, "mem")
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), {"phone": "+34 600"}))
    run = sync(app, "mem")
    assert run.actions("accounts") == [("accounts", "to_remote", "updated", catalog.account, "1")]
    [remote] = mem.live("accounts").values()
    assert remote["phone"] == "+34 600"


@WITH_PAYMENTS
def test_remote_change_is_applied_and_does_not_bounce(app, mem, catalog):
    sync(app, "mem")
    [(rid, _)] = mem.live("accounts").items()
    mem.put("accounts", {"email": "new@lopez.example"}, rid)
    run = sync(app, "mem")
    assert run.actions("accounts") == [("accounts", "from_remote", "updated", catalog.account, rid)]
    assert in_app(app, lambda s: s.get(Account, catalog.account).email) == "new@lopez.example"
    calls = len(mem.calls)
    again = sync(app, "mem")
    assert again.total() - again.total("skipped") == 0
    assert [c[0] for c in mem.calls[calls:]] == ["changes"] * 9


def test_remote_new_records_are_created_here(app, mem, catalog):
    acc = mem.put("accounts", {"name": "Nuevo Cliente", "email": "n@x.example", "active": True})
    item = mem.put("items", {"kind": "service", "name": "Soporte", "unit_price": "55.5", "active": True})
    mem.put("invoices", {"account_ref": acc.id, "date": "2030-01-02", "due_date": "2030-02-01", "subject": "S",
                         "lines": [{"item_ref": item.id, "quantity": "2", "unit_price": "55.5", "description": "x",
                                    "taxes": []}]})
    run = sync(app, "mem")
    assert run.status == "done", run
    assert run.count("invoices", "from_remote", "created") == 1, run

    def check(s):
        from sqlalchemy import select
        inv = s.scalar(select(Document).where(Document.doc_type == "invoice"))
        assert inv.account.name == "Nuevo Cliente"
        assert inv.grand_total == Decimal("111.00")
        assert inv.status == "Approved"
    in_app(app, check)


def _both_edit(app, mem, catalog, ours: dict, theirs: dict):
    sync(app, "mem")
    [(rid, _)] = mem.live("accounts").items()
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), dict(ours)))
    mem.put("accounts", theirs, rid)
    return rid


@pytest.mark.parametrize("policy,winner", [("ours", "ours"), ("theirs", "theirs"), ("newest", "theirs")])
def test_conflict_policies(app, mem, catalog, policy, winner):
    configure(app, "mem", entities={"accounts": {"direction": "both", "policy": policy}})
    rid = _both_edit(app, mem, catalog, {"phone": "111", "website": "w"}, {"phone": "222", "email": "e@x.example"})
    run = sync(app, "mem")
    assert run.status == "done", run
    account = in_app(app, lambda s: s.get(Account, catalog.account))
    remote = mem.live("accounts")[rid]
    expected = "111" if winner == "ours" else "222"
    assert account.phone == remote["phone"] == expected
    assert account.email == remote["email"] == "e@x.example"      # changed there only: merged
    assert account.website == remote["website"] == "w"             # changed here only: merged
    again = sync(app, "mem")
    assert again.total("updated") == 0 and again.total("failed") == 0


def test_newest_wins_ours_when_ours_is_later(app, mem, catalog):
    sync(app, "mem")
    [(rid, _)] = mem.live("accounts").items()
    mem.put("accounts", {"phone": "222"}, rid)
    mem.clock = mem.clock.replace(year=2000)   # their change is older than ours
    mem.put("accounts", {"phone": "223"}, rid)
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), {"phone": "111"}))
    sync(app, "mem")
    assert mem.live("accounts")[rid]["phone"] == "111"


def test_manual_conflict_waits_for_a_choice(app, mem, catalog):
    configure(app, "mem", entities={"accounts": {"direction": "both", "policy": "manual"}})
    rid = _both_edit(app, mem, catalog, {"phone": "111"}, {"phone": "222"})
    run = sync(app, "mem")
    assert ("accounts", "from_remote", "conflict", catalog.account, rid) in run.actions("accounts")
    [link] = links(app, "mem", "accounts")
    assert link.status == "conflict" and link.conflict["fields"] == ["phone"]
    assert link.conflict["ours"] == {"phone": "111"} and link.conflict["theirs"] == {"phone": "222"}
    again = sync(app, "mem")  # still waiting: nothing changes
    assert in_app(app, lambda s: s.get(Account, catalog.account).phone) == "111"
    assert mem.live("accounts")[rid]["phone"] == "222"
    from crm_accounting_sync.services import resolve_conflict
    in_app(app, lambda s: resolve_conflict(s, link.id, "theirs"))
    sync(app, "mem")
    assert in_app(app, lambda s: s.get(Account, catalog.account).phone) == "222"
    [link] = links(app, "mem", "accounts")
    assert link.status == "ok" and link.conflict is None
    del again


def test_deletions_both_ways(app, mem, catalog):
    made = in_app(app, lambda s: vendors.create_vendor(s, {"name": "Temporal"}).id)
    sync(app, "mem")
    vlink = {link.local_id: link for link in links(app, "mem", "vendors")}[made]
    in_app(app, lambda s: vendors.delete_vendor(s, s.get(Vendor, made)))
    run = sync(app, "mem")
    assert ("vendors", "to_remote", "deleted", made, vlink.remote_id) in run.actions("vendors")
    assert mem.live("vendors")[vlink.remote_id]["active"] is False          # vendors are only deactivated there
    # deleted there: our account is still used by a contact, so it is deactivated
    [(rid, _)] = mem.live("accounts").items()
    mem.remove("accounts", rid)
    run = sync(app, "mem")
    assert run.count("accounts", "from_remote", "deleted") == 1
    assert in_app(app, lambda s: s.get(Account, catalog.account).active) is False
    assert sync(app, "mem").total("deleted") == 0


def test_direction_from_remote_only_sends_nothing(app, mem, catalog):
    configure(app, "mem", entities={e: {"direction": "from_remote"} for e in ("accounts", "contacts", "vendors",
                                                                           "items", "quotes", "sales-orders",
                                                                           "purchase-orders", "invoices",
                                                                           "payments")})
    mem.put("accounts", {"name": "Solo Allí", "active": True})
    run = sync(app, "mem")
    assert run.count("accounts", "from_remote", "created") == 1
    assert not [c for c in mem.calls if c[0] == "push"]
    from sqlalchemy import func, select

    from crm_accounting_sync.models import Outbox
    assert in_app(app, lambda s: s.scalar(select(func.count()).select_from(Outbox))) == 0


def test_custom_field_mapping_with_value_map(app, mem, catalog):
    from crm.services.custom_fields import create_field
    in_app(app, lambda s: create_field(s, {"entity": "accounts", "key": "region", "label": "Region", "type": "select",
                                           "choices": ["north", "south"]}))
    configure(app, "mem", mappings=[{"entity": "accounts", "local": "custom.region", "remote": "extra.zone",
                                      "map": {"north": "N", "south": "S"}}])
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), {"custom": {"region": "north"}}))
    sync(app, "mem")
    [(rid, remote)] = mem.live("accounts").items()
    assert remote["extra"] == {"zone": "N"}
    mem.put("accounts", {"extra": {"zone": "S"}}, rid)
    sync(app, "mem")
    assert in_app(app, lambda s: s.get(Account, catalog.account).custom) == {"region": "south"}


def test_faults_retry_refresh_and_keep_failures(app, mem, catalog):
    mem.fail_next("changes", RetryableError("429 too many requests", status=429, retry_after=0), times=2)
    mem.fail_next("push", AuthenticationError("401"), times=1)
    mem.fail_next("push", RemoteValidationError("name is too long", code="6000"), times=1)
    run = sync(app, "mem")
    assert run.status == "done", run
    assert ("refresh_auth",) in mem.calls
    [failed] = [r for r in run.records if r["action"] == "failed"]
    assert failed["message"] == "name is too long" and failed["entity"] == "accounts"
    # the contact waits for its account
    assert ("contacts", "to_remote", "waiting", catalog.contact, None) in run.actions("contacts")
    # the contact keeps waiting; the account is not retried blindly, only when asked (or changed)
    run = sync(app, "mem")
    assert run.count("accounts", "to_remote", "created") == 0
    assert run.count("contacts", "to_remote", "failed") == 1
    from crm_accounting_sync.services import retry_link
    [account_link] = links(app, "mem", "accounts")
    assert account_link.status == "failed" and account_link.error == "name is too long"
    in_app(app, lambda s: retry_link(s, account_link.id))
    run = sync(app, "mem")
    assert run.count("accounts", "to_remote", "created") == 1 and run.count("contacts", "to_remote", "created") == 1
    assert all(link.status == "ok" for link in links(app, "mem") if link.entity != "items" or link.remote_id)


def test_duplicate_is_not_retried(app, mem, catalog):
    mem.fail_next("push", DuplicateError("Duplicate Name Exists Error", code="6240"), times=1)
    run = sync(app, "mem", ["accounts"])
    assert run.count("accounts", "to_remote", "failed") == 1
    assert len([c for c in mem.calls if c[0] == "push"]) == 1


def test_network_drop_mid_run_loses_nothing(app, mem, catalog):
    made = in_app(app, lambda s: [vendors.create_vendor(s, {"name": f"V{n}"}).id for n in range(5)])
    mem.fail_next("push", RetryableError("connection reset"), times=50)
    calls_before = 0
    run = sync(app, "mem")
    assert run.status == "failed" and "connection reset" in run.error
    mem.faults.clear()
    run = sync(app, "mem")
    assert run.status == "done", run
    assert len(mem.live("vendors")) == 6 and len(mem.live("accounts")) == 1 and len(mem.live("items")) == 4
    assert sync(app, "mem").total("created") == 0
    del made, calls_before


def test_stale_version_rereads_and_merges(app, mem, catalog):
    sync(app, "mem")
    [(rid, _)] = mem.live("accounts").items()
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), {"phone": "999"}))
    # changed there after our last read, but the change data capture has not shown it to us yet
    mem.records["accounts"][rid]["data"]["email"] = "late@x.example"
    mem.records["accounts"][rid]["version"] = "7"
    run = sync(app, "mem", ["accounts"])
    assert run.status == "done", run
    assert mem.live("accounts")[rid]["phone"] == "999"
    assert in_app(app, lambda s: s.get(Account, catalog.account).email) == "late@x.example"


@WITH_PAYMENTS
def test_documents_and_payments_both_ways(app, api, mem, catalog):
    inv = in_app(app, lambda s: documents.create_document(s, "invoice", {
        "account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": Decimal("2")}]}).id)
    in_app(app, lambda s: documents.change_status(s, s.get(Document, inv), "Approved"))
    sync(app, "mem")
    [(irid, remote)] = mem.live("invoices").items()
    assert remote["total"] == "96.8" and remote["lines"][0]["quantity"] == "2"
    # paid there
    mem.put("payments", {"invoice_ref": irid, "amount": "96.80", "date": "2030-01-05", "method": None,
                         "reference": "TR-1"})
    run = sync(app, "mem")
    assert run.count("payments", "from_remote", "created") == 1, run
    assert in_app(app, lambda s: s.get(Document, inv).status) == "Paid"
    # and a payment here goes there
    inv2 = in_app(app, lambda s: documents.create_document(s, "invoice", {
        "account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": Decimal("1")}]}).id)
    in_app(app, lambda s: documents.change_status(s, s.get(Document, inv2), "Sent"))
    # through the payments plugin's API (this plugin reaches payments only through hooks)
    assert api.post(f"/invoices/{inv2}/payments", json={"amount": "10.00"}).status_code == 201
    run = sync(app, "mem")
    assert run.count("invoices", "to_remote", "created") == 1
    assert run.count("payments", "to_remote", "created") == 1
    assert sorted(p["amount"] for p in mem.live("payments").values()) == ["10", "96.80"]
    assert sync(app, "mem").total("created") + sync(app, "mem").total("updated") == 0
