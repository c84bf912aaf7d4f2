"""The REST API, the pages, the schedule and the worker."""
from __future__ import annotations

from accsync_helpers import in_app, qbo_settings, sync
from crm.models import Account
from crm.services import accounts
from crm.testing import TEST_PASSWORD


def _connect_api(api, fake):
    return api.put("/accounting-sync/connections/books", json={
        "connector": "quickbooks",
        "settings": {**qbo_settings(fake), "retry": {"base_seconds": 0}},
        "secrets": {"client_secret": fake.client_secret, "refresh_token": fake.issue_refresh_token(),
                    "webhook_verifier_token": fake.verifier_token}})


def test_connection_settings_never_show_secrets(api, api_as, qbo):
    response = _connect_api(api, qbo)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["secrets_set"] == ["client_secret", "refresh_token", "webhook_verifier_token"]
    assert qbo.client_secret not in response.text and "secrets" not in body
    got = api.get("/accounting-sync/connections/books").json()
    assert got["settings"]["realm_id"] == qbo.realm and got["entities"]["invoices"]["direction"] == "both"
    assert qbo.client_secret not in api.get("/accounting-sync/connections").text
    bad = api.put("/accounting-sync/connections/books", json={"settings": {"entities": {"invoices": {"policy": "x"}}}})
    assert bad.status_code == 422 and "settings.entities.invoices.policy" in bad.json()["error"]["fields"]
    assert api.get("/accounting-sync/connections/nope").status_code == 404
    assert api_as("sales").get("/accounting-sync/connections/books").status_code == 403
    assert api_as("accounting").put("/accounting-sync/connections/books", json={}).status_code == 403
    check = api.post("/accounting-sync/connections/books/check").json()
    assert check == {"ok": True, "company": "Fake Company (QuickBooks fake)", "message": "connected"}


def test_sync_now_inline_and_in_the_background(app, api, qbo, catalog):
    _connect_api(api, qbo)
    first = api.post("/accounting-sync/runs", json={"connection": "books"})   # a first run: the worker
    assert first.status_code == 202, first.text
    run = api.get(f"/accounting-sync/runs/{first.json()['id']}").json()
    assert run["status"] == "done" and run["mode"] == "background"               # QUEUE_IMMEDIATE in tests
    assert run["counts"]["accounts"]["to_remote"]["created"] == 1
    assert {r["entity"] for r in run["records"]} >= {"accounts", "contacts", "vendors", "items"}
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), {"phone": "+34 5"}))
    small = api.post("/accounting-sync/runs", json={"connection": "books", "entities": ["accounts"]})
    assert small.status_code == 201, small.text
    body = small.json()
    assert body["mode"] == "inline" and body["counts"]["accounts"]["to_remote"]["updated"] == 1
    assert body["records"][0]["message"] == "changed here"
    links = api.get("/accounting-sync/links", params={"connection": "books", "entity": "accounts"}).json()
    assert links["total"] == 1 and links["items"][0]["local_id"] == catalog.account
    assert links["items"][0]["remote_hash"] and links["items"][0]["status"] == "ok"
    bad = api.post("/accounting-sync/runs", json={"connection": "books", "entities": ["planets"]})
    assert bad.status_code == 422
    assert api.get("/accounting-sync/runs/999999").status_code == 404
    assert api.get("/accounting-sync/runs").json()["total"] == 2


def test_webhooks_both_formats_signed(app, api, qbo, catalog):
    _connect_api(api, qbo)
    api.post("/accounting-sync/runs", json={"connection": "books"})
    [customer] = [c for c in qbo.objects("Customer").values() if not c.get("ParentRef")]
    qbo.user_update("Customer", customer["Id"], {"Notes": "from a webhook"})
    for fmt in ("classic", "cloudevents"):
        body = qbo.webhook_body([("Customer", customer["Id"], "Update")], fmt=fmt)
        unsigned = api.http.post(api.url("/accounting-sync/webhooks/books"), data=body)
        assert unsigned.status_code == 401
        forged = api.http.post(api.url("/accounting-sync/webhooks/books"), data=body,
                               headers={"intuit-signature": qbo.sign(body, "wrong")})
        assert forged.status_code == 401
        ok = api.http.post(api.url("/accounting-sync/webhooks/books"), data=body,
                           headers={"intuit-signature": qbo.sign(body), "Authorization": ""})
        assert ok.status_code == 200, ok.text
        assert ok.json()["events"] == 1
    assert in_app(app, lambda s: s.get(Account, catalog.account).description) == "from a webhook"


def test_conflict_resolution_through_the_api(app, api, mem, catalog):
    from accsync_helpers import configure
    configure(app, "mem", entities={"accounts": {"policy": "manual"}})
    sync(app, "mem")
    [(rid, _)] = mem.live("accounts").items()
    in_app(app, lambda s: accounts.update_account(s, s.get(Account, catalog.account), {"phone": "1"}))
    mem.put("accounts", {"phone": "2"}, rid)
    sync(app, "mem")
    [link] = api.get("/accounting-sync/links", params={"status": "conflict"}).json()["items"]
    assert link["conflict"] == {"fields": ["phone"], "ours": {"phone": "1"}, "theirs": {"phone": "2"}}
    assert api.post(f"/accounting-sync/links/{link['id']}/resolve", json={"keep": "maybe"}).status_code == 422
    assert api.post(f"/accounting-sync/links/{link['id']}/resolve", json={"keep": "ours"}).status_code == 200
    sync(app, "mem")
    assert mem.live("accounts")[rid]["phone"] == "1"
    assert api.post(f"/accounting-sync/links/{link['id']}/skip").status_code == 409   # in sync now


def test_schedule_runs_due_syncs(app, runner, mem, catalog):
    from accsync_helpers import configure
    configure(app, "mem", schedule_minutes=60)
    result = runner.invoke(["jobs", "run-due"])
    assert result.exit_code == 0, result.output
    assert len(mem.live("accounts")) == 1
    calls = len(mem.calls)
    runner.invoke(["jobs", "run-due"])                      # not due again within the hour
    assert len(mem.calls) == calls
    result = runner.invoke(["accounting-sync", "run", "mem"])
    assert result.exit_code == 0 and "run " in result.output


def test_pages_in_both_languages(app, client, make_user, mem, catalog):
    sync(app, "mem")
    for language, words in (("en", ("Accounting sync", "Sync now", "created")),
                            ("es", ("Sincronización contable", "Sincronizar ahora", "creado"))):
        user = make_user("admin", language=language)
        c = app.test_client()
        assert c.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
        html = c.get("/accounting-sync/").get_data(as_text=True)
        assert words[0] in html and words[1] in html, html[:3000]
        run_html = c.get("/accounting-sync/runs/1").get_data(as_text=True)
        assert words[2] in run_html
        assert c.get("/accounting-sync/settings/mem").status_code == 200
        assert c.get("/accounting-sync/links?status=failed").status_code == 200
        assert words[0] in c.get("/").get_data(as_text=True)          # the menu entry
    sales = make_user("sales")
    c = app.test_client()
    c.post("/login", data={"username": sales.username, "password": TEST_PASSWORD})
    assert c.get("/accounting-sync/").status_code == 403


def test_sync_now_from_the_page(app, make_user, mem, catalog):
    user = make_user("accounting")
    c = app.test_client()
    c.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    response = c.post("/accounting-sync/sync", data={"connection": "mem", "entity": "accounts"})
    assert response.status_code == 302 and "/accounting-sync/runs/" in response.headers["Location"]
    assert len(mem.live("accounts")) == 1


def test_changes_pulled_by_a_run_are_the_syncs_not_the_admins_who_started_it(app, api, mem, catalog):
    """Sync now, pressed by an administrator over the API: the audit trail and the records
    created from the other side name the connection's sync, never that administrator."""
    from sqlalchemy import select

    from crm.models import AuditEntry, User
    sync(app, "mem")
    [(rid, _)] = mem.live("accounts").items()
    mem.put("accounts", {"email": "pulled@lopez.example"}, rid)
    mem.put("accounts", {"name": "Cliente Nuevo", "email": "n@x.example", "active": True})
    response = api.post("/accounting-sync/runs", json={"connection": "mem", "background": False})
    assert response.status_code in (200, 201), response.text

    def who(s):
        actor = s.scalar(select(User).where(User.username == "sync-mem"))
        changed = s.scalars(select(AuditEntry).where(AuditEntry.entity == "accounts",
                                                     AuditEntry.entity_id == str(catalog.account),
                                                     AuditEntry.action == "update")).all()
        created = s.scalar(select(Account).where(Account.name == "Cliente Nuevo"))
        return actor, [e.user_id for e in changed], created
    actor, changers, created = in_app(app, who)
    assert actor is not None and actor.full_name == "Mem sync" and not actor.active
    assert changers and set(changers) == {actor.id}
    assert created is not None and getattr(created, "created_by_id", actor.id) == actor.id
    signed_in = api.post("/auth/tokens", json={"username": "sync-mem", "password": ""})
    assert signed_in.status_code in (401, 422)  # the sync's user never signs in
