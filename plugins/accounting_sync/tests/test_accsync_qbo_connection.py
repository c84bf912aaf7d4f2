"""Keeping a QuickBooks connection working: "Check" refreshes an expired access token; the refresh
token's expiry is kept and a reconnect is asked for before it lapses; a run that crashed does not
hold its connection; a scheduled run that fails is told to the administrators; the runs list sorts
by its fields."""
from __future__ import annotations

import datetime as dt

from accsync_helpers import configure, in_app, sync
from crm.models.base import utcnow


def test_check_refreshes_an_expired_access_token(app, api, qbo):
    assert sync(app, "qbo", ["vendors"]).status == "done"       # an access token is stored
    qbo.expire_tokens()
    answer = api.post("/accounting-sync/connections/qbo/check")
    assert answer.status_code == 200 and answer.json()["ok"] is True, answer.text


def test_the_refresh_tokens_expiry_is_kept_and_a_reconnect_asked_before_it_lapses(app, qbo, make_user):
    from test_accsync_settings_form import html, signed_in
    client = signed_in(app, make_user)
    assert sync(app, "qbo", ["vendors"]).status == "done"
    page = html(client.get("/accounting-sync/settings/qbo"))
    lasts = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=qbo.refresh_lifetime)).date().isoformat()
    assert f"The authorization lasts until {lasts}." in page and "Connect again" not in page
    qbo.refresh_lifetime = 5 * 86400                              # Intuit says: 5 days left
    qbo.expire_tokens()
    assert sync(app, "qbo", ["vendors"]).status == "done"        # refreshed: the new expiry is kept
    lapses = (dt.date.today() + dt.timedelta(days=4)).isoformat()
    page = html(client.get("/accounting-sync/settings/qbo"))
    expiry = page.split('id="refresh-expiry"')[1].split("</p>")[0]
    assert lapses in expiry or (dt.date.today() + dt.timedelta(days=5)).isoformat() in expiry
    assert "Connect again before then" in expiry and ">Connect again</button>" in page
    assert "connect again before then" in html(client.get("/accounting-sync/"))


def _running(app, minutes_ago: int) -> int:
    from crm_accounting_sync.models import Run
    beat = (utcnow() - dt.timedelta(minutes=minutes_ago)).isoformat()
    return in_app(app, lambda s: _add(s, Run(connection="qbo", entities=[], trigger="manual", mode="background",
                                               status="running", counts={}, progress={"heartbeat": beat},
                                               http_calls=0, error="", started_at=utcnow())))


def _add(s, run):
    s.add(run)
    s.flush()
    return run.id


def test_a_run_that_stopped_without_finishing_does_not_hold_its_connection(app, api, qbo, catalog):
    alive = _running(app, 2)
    answer = api.post("/accounting-sync/runs", json={"connection": "qbo", "background": False})
    assert answer.status_code == 409, answer.text                   # a live run holds it
    in_app(app, lambda s: s.execute(__import__("sqlalchemy").text(
        "UPDATE accounting_sync_runs SET status = 'done' WHERE id = :id"), {"id": alive}))
    crashed = _running(app, 45)                                     # no heartbeat for 45 minutes
    answer = api.post("/accounting-sync/runs", json={"connection": "qbo", "entities": ["vendors"],
                                                     "background": False})
    assert answer.status_code == 201, answer.text
    old = api.get(f"/accounting-sync/runs/{crashed}").json()
    assert old["status"] == "failed" and "stopped without finishing" in old["error"]


def test_a_failed_scheduled_run_is_told_to_the_administrators(app, qbo, catalog, make_user, caplog):
    from crm.db import db
    from crm_accounting_sync.runner import run_due
    from test_accsync_settings_form import html, signed_in
    configure(app, "qbo", schedule_minutes=5)
    admin = make_user("admin")
    qbo.company().sandbox = True                                   # every run fails: 403 3100
    with app.app_context():
        s = db.new_session(app)
        said = run_due(s, dt.date.today())
        s.close()
    assert "failed" in said

    def notified(s):
        from sqlalchemy import select

        from crm.models import Notification
        return [(n.user_id, n.title, n.link) for n in s.scalars(select(Notification))]
    [(user_id, title, link)] = in_app(app, notified)
    assert user_id == admin.id and "scheduled accounting sync of qbo failed" in title
    assert link.startswith("/accounting-sync/runs/")
    assert any(r.levelname == "ERROR" and "scheduled accounting sync run" in r.getMessage() for r in caplog.records)
    page = html(signed_in(app, make_user).get("/accounting-sync/"))
    assert "The scheduled sync failed" in page and "3100" in page
    # fixed: the next run that ends done clears it
    qbo.company().sandbox = False
    assert sync(app, "qbo", ["vendors"]).status == "done"
    assert "The scheduled sync failed" not in html(signed_in(app, make_user).get("/accounting-sync/"))


def test_the_runs_list_sorts_by_its_fields(app, api, qbo, catalog):
    first = sync(app, "qbo", ["vendors"]).id
    second = sync(app, "qbo", ["accounts"]).id
    answer = api.get("/accounting-sync/runs", params={"sort": "-id"})
    assert answer.status_code == 200, answer.text
    ids = [r["id"] for r in answer.json()["items"]]
    assert ids.index(second) < ids.index(first)
    for field in ("id", "connection", "status", "trigger", "mode", "http_calls", "created_at", "started_at",
                  "finished_at"):
        assert api.get("/accounting-sync/runs", params={"sort": field}).status_code == 200, field
    refused = api.get("/accounting-sync/runs", params={"sort": "nonsense"})
    assert refused.status_code == 422 and "finished_at" in refused.text
