"""The activity timeline of records: comments with @mentions (each mentioned user notified),
changes from the audit trail, a document's status changes and emails, and the payments
plugin's payments (hook crm_timeline_events), in one stream, newest first; through the API and
on the record pages; bad comments refused naming the field."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm import hookimpl
from crm.db import db
from crm.models import Notification
from crm.testing import TEST_PASSWORD, registered_plugin
from tests.email_server import SmtpServer
from tests.test_email import configure


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def notifications(app, user_id):
    with app.app_context():
        session = db.new_session(app)
        found = [(n.title, n.body, n.link, n.source.split(":")[0])
                 for n in session.scalars(select(Notification).where(Notification.user_id == user_id)
                                          .order_by(Notification.id))]
        session.close()
        return found


@pytest.mark.crm_plugins("payments")
def test_an_invoices_timeline_merges_comments_changes_statuses_emails_and_payments(
        app, api, api_as, make_user, catalog, smtp, tmp_path):
    app.config["QUEUE_IMMEDIATE"] = True
    app.instance_path = str(tmp_path)
    configure(app, smtp.port)
    seller = make_user("sales", username="sara", full_name="Sara Seller")
    invoice = api.post("/invoices", json={"account_id": catalog.account, "subject": "March",
                                          "lines": [{"item_id": catalog.consulting, "quantity": "2"}]}).json()
    api.patch(f"/invoices/{invoice['id']}", json={"subject": "March work"})
    api.patch(f"/invoices/{invoice['id']}", json={"status": "Approved"})
    assert api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]}).status_code == 201
    paid = api.post(f"/invoices/{invoice['id']}/payments", json={"amount": "50.00", "reference": "TR-1"})
    assert paid.status_code == 201, paid.text
    comment = api.post(f"/invoices/{invoice['id']}/comments", json={
        "body": "@Sara please call them; cc @nobody and ana@lopez.example"})
    assert comment.status_code == 201, comment.text
    assert comment.json()["mentions"] == [seller.id]

    events = api.get(f"/invoices/{invoice['id']}/timeline").json()["items"]
    kinds = [e["kind"] for e in events]
    assert sorted(set(kinds)) == ["changed", "comment", "created", "email", "payment", "status"]
    assert [e["at"] for e in events] == sorted((e["at"] for e in events), reverse=True)      # newest first
    by_kind = {}
    for event in events:
        by_kind.setdefault(event["kind"], event)                            # the newest of each kind
    assert by_kind["comment"]["text"].startswith("@Sara please call them")
    assert by_kind["changed"]["changes"] == {"subject": ["March", "March work"]}   # computed columns left out
    statuses = [e["title"] for e in events if e["kind"] == "status"]
    assert statuses == ["Status: Sent → Partially Paid", "Status: Approved → Sent", "Status: Created → Approved"]
    sent = next(e for e in events if e["title"] == "Status: Approved → Sent")
    assert sent["user_id"] and sent["text"].startswith("sent by email")
    assert by_kind["email"]["title"] == "Email to ana@lopez.example (Sent)"
    assert by_kind["payment"]["title"].startswith("Payment of €50.00") and "TR-1" in by_kind["payment"]["text"]
    assert by_kind["payment"]["source"] == "payments"

    [(title, body, link, source)] = notifications(app, seller.id)
    assert title.endswith(f"mentioned you on {invoice['number']}") and link == f"/invoices/{invoice['id']}"
    assert body.startswith("@Sara please") and source == "mention"
    sara = api_as(user=seller)
    sara.post(f"/invoices/{invoice['id']}/comments", json={"body": "Done, @sara here"})   # herself: no notification
    assert len(notifications(app, seller.id)) == 1


@pytest.mark.parametrize("body, status, field", [
    ({"body": ""}, 422, "body"), ({"body": "x" * 10_001}, 422, "body"), ({"body": "a\x00b"}, 422, "body"),
    ({}, 422, "body"), ({"body": "   "}, 422, "body")])
def test_bad_comments_are_refused_naming_the_field(api, catalog, body, status, field):
    response = api.post(f"/accounts/{catalog.account}/comments", json=body)
    assert response.status_code == status
    assert field in response.json()["error"]["fields"]
    assert [e["kind"] for e in api.get(f"/accounts/{catalog.account}/timeline").json()["items"]] == ["created"]


def test_unknown_records_and_documents_of_another_type_are_404(api, catalog):
    quote = api.post("/quotes", json={"account_id": catalog.account, "lines": [{"item_id": catalog.widget}]}).json()
    assert api.get("/accounts/999999/timeline").status_code == 404
    assert api.post("/contacts/999999/comments", json={"body": "hi"}).status_code == 404
    assert api.get(f"/invoices/{quote['id']}/timeline").status_code == 404
    assert api.post(f"/invoices/{quote['id']}/comments", json={"body": "hi"}).status_code == 404
    assert api.get(f"/quotes/{quote['id']}/timeline").status_code == 200


def test_every_role_that_reads_a_record_comments_on_it(api, api_as, catalog):
    warehouse = api_as("warehouse")
    assert warehouse.post(f"/items/{catalog.widget}/comments", json={"body": "Shelf 3"}).status_code == 201
    assert warehouse.post(f"/vendors/{catalog.vendor}/comments", json={"body": "Late again"}).status_code == 201
    events = api.get(f"/items/{catalog.widget}/timeline").json()["items"]
    assert events[0]["kind"] == "comment" and events[0]["text"] == "Shelf 3"


def test_the_record_page_shows_the_activity_and_posts_comments_escaped(app, client, make_user, api, catalog):
    admin = make_user("admin", username="boss")
    colleague = make_user("accounting", username="carla")
    api.patch(f"/accounts/{catalog.account}", json={"phone": "+34 600 000 000"})
    assert client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD}).status_code == 302
    answer = client.post(f"/timeline/accounts/{catalog.account}/comments",
                         data={"body": "<script>alert(1)</script> ask @carla"}, follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert 'id="activity"' in page and "Comment added." in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ask @carla" in page and "<script>alert(1)" not in page
    assert "+34 600 000 000" in page and 'data-kind="changed"' in page and 'data-kind="created"' in page
    assert notifications(app, colleague.id)[0][2] == f"/accounts/{catalog.account}"
    refused = client.post(f"/timeline/accounts/{catalog.account}/comments", data={"body": " "},
                          headers={"Referer": f"/accounts/{catalog.account}"}, follow_redirects=True)
    assert refused.status_code == 200 and "a comment cannot be empty" in refused.get_data(as_text=True)
    invoice = api.post("/invoices", json={"account_id": catalog.account,
                                          "lines": [{"item_id": catalog.consulting}]}).json()
    client.post(f"/timeline/invoices/{invoice['id']}/comments", data={"body": "Checked"})
    document_page = client.get(f"/invoices/{invoice['id']}").get_data(as_text=True)
    assert 'id="activity"' in document_page and "Checked" in document_page
    assert client.post(f"/timeline/quotes/{invoice['id']}/comments", data={"body": "x"}).status_code == 302
    assert [e["text"] for e in api.get(f"/invoices/{invoice['id']}/timeline").json()["items"]
            if e["kind"] == "comment"] == ["Checked"]


class CallLog:
    """A plugin adding a phone call to accounts' timelines (naive datetimes are UTC; a date is its midnight)."""

    @hookimpl
    def crm_timeline_events(self, session, entity, record_id):
        if entity != "accounts":
            return None
        return [{"at": dt.datetime(2099, 1, 2, 9, 30), "kind": "call", "title": "Called <them>", "text": "OK",
                 "source": "calls"},
                {"at": dt.date(1999, 1, 1), "kind": "call", "title": "First call"}]


def test_plugins_add_their_events_to_the_timeline(app, api, catalog):
    with registered_plugin(app, CallLog(), "calls"):
        events = api.get(f"/accounts/{catalog.account}/timeline").json()["items"]
        vendor_events = api.get(f"/vendors/{catalog.vendor}/timeline").json()["items"]
    assert [(e["kind"], e["title"], e["source"]) for e in events] == [
        ("call", "Called <them>", "calls"), ("created", "Created", "core"), ("call", "First call", "plugin")]
    assert events[0]["at"].startswith("2099-01-02T09:30:00") and events[0]["at"].endswith("+00:00")
    assert events[-1]["at"].startswith("1999-01-01T00:00:00")
    assert [e["kind"] for e in vendor_events] == ["created"]
