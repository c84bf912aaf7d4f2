"""Workflow rules with real components: rules saved through the API (bad ones refused naming the
field), fired by the core's hooks in the transaction of the change, run by the job's function
(crm.services.workflows.run_due, what the workflow_runs job calls) once per record and trigger;
each action against the real thing: the outbox and a real SMTP server (aiosmtpd), the documents'
and records' services, the audit trail, notifications, and a real webhook receiver on loopback
checking the HMAC signature, with failure injection (5xx, time limits, 4xx) and retries that do
nothing twice."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from crm import hookimpl, mailer
from crm.db import db
from crm.models import AuditEntry, Comment, Document, Notification, WorkflowRule, WorkflowRun
from crm.models.base import utcnow
from crm.services import email, workflows
from tests.email_server import SmtpServer

SENDER = "billing@crm.example"


@pytest.fixture
def wf_app(app, tmp_path):
    """The app; runs are run by calling the job's function (no queue)."""
    app.config["WORKFLOWS_DISPATCH"] = False
    app.config["WORKFLOW_WEBHOOK_ALLOW_PRIVATE"] = True  # the receiver listens on loopback
    app.config["WORKFLOW_WEBHOOK_TIMEOUT"] = 1.0
    app.instance_path = str(tmp_path)
    return app


def run_due(app, now=None):
    return workflows.run_due(app, now=now)


def rows(app, model, *where):
    with app.app_context():
        session = db.new_session(app)
        found = list(session.scalars(select(model).where(*where).order_by(model.id)))
        session.close()
        return found


def rule(api, **fields):
    body = {"name": "Rule", "entity": "accounts", "enabled": True, "trigger": {"event": "created"},
            "conditions": {}, "actions": [{"type": "add_comment", "text": "seen {{ record.name }}"}], **fields}
    answer = api.post("/workflows", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def comments(app, entity, record_id):
    """The record's comments on its timeline, and those recorded in the audit trail once it was deleted."""
    timeline = [c.body for c in rows(app, Comment, Comment.entity == entity, Comment.record_id == record_id)]
    return timeline + [e.changes["comment"] for e in rows(app, AuditEntry, AuditEntry.action == "comment",
                                                          AuditEntry.entity == entity,
                                                          AuditEntry.entity_id == str(record_id))]


# --- triggers and conditions ----------------------------------------------------------------------

def test_a_created_rule_runs_once_per_record_and_not_for_other_events(wf_app, api):
    rule(api, name="On new accounts")
    account = api.post("/accounts", json={"name": "Acme"}).json()
    api.patch(f"/accounts/{account['id']}", json={"phone": "1"})
    assert run_due(wf_app) == {"done": 1}
    assert run_due(wf_app) == {}
    assert comments(wf_app, "accounts", account["id"]) == ["seen Acme"]


def test_an_updated_rule_runs_once_per_record_however_often_it_changes(wf_app, api):
    rule(api, name="On changes", trigger={"event": "updated"})
    account = api.post("/accounts", json={"name": "Acme"}).json()
    for phone in ("1", "2", "3"):
        api.patch(f"/accounts/{account['id']}", json={"phone": phone})
    run_due(wf_app)
    api.patch(f"/accounts/{account['id']}", json={"phone": "4"})
    run_due(wf_app)
    assert comments(wf_app, "accounts", account["id"]) == ["seen Acme"]
    assert len(rows(wf_app, WorkflowRun)) == 1


def test_conditions_decide_and_a_rule_waits_until_they_hold(wf_app, api):
    rule(api, name="Big ones", trigger={"event": "updated"}, conditions={"match": "any", "items": [
        {"field": "name", "op": "contains", "value": "BIG"},
        {"match": "all", "items": [{"field": "website", "op": "is not empty"},
                                   {"field": "phone", "op": "=", "value": "555"}]}]})
    account = api.post("/accounts", json={"name": "Small"}).json()
    api.patch(f"/accounts/{account['id']}", json={"phone": "555"})  # no website: the group fails
    run_due(wf_app)
    assert comments(wf_app, "accounts", account["id"]) == []
    api.patch(f"/accounts/{account['id']}", json={"website": "https://x.example"})  # now it holds
    run_due(wf_app)
    assert comments(wf_app, "accounts", account["id"]) == ["seen Small"]
    other = api.post("/accounts", json={"name": "a big one"}).json()
    api.patch(f"/accounts/{other['id']}", json={"phone": "1"})
    run_due(wf_app)
    assert comments(wf_app, "accounts", other["id"]) == ["seen a big one"]


@pytest.mark.parametrize("op, value, expected", [
    ("=", "10", True), ("!=", "10", False), ("<", "10.01", True), ("<=", "10", True), (">", "10", False),
    (">=", "10.00", True), ("is empty", None, False), ("is not empty", None, True),
])
def test_each_operator_compares_typed_values(op, value, expected):
    from decimal import Decimal
    conditions = workflows.check_conditions("invoices", {"items": [{"field": "balance", "op": op, "value": value}]})
    assert workflows.evaluate("invoices", conditions, {"balance": Decimal("10.00")}) is expected


def test_dates_and_fields_compared_with_fields():
    from decimal import Decimal
    conditions = workflows.check_conditions("items", {"items": [
        {"field": "on_hand", "op": "<=", "value_field": "reorder_level"},
        {"field": "created_at", "op": ">", "value": "2026-01-01T00:00:00"}]})
    values = {"on_hand": Decimal("2"), "reorder_level": Decimal("5"),
              "created_at": dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)}
    assert workflows.evaluate("items", conditions, values)
    assert not workflows.evaluate("items", conditions, {**values, "on_hand": Decimal("6")})


def test_a_status_change_to_a_value_notifies_a_role_once(wf_app, api, api_as, catalog, make_user):
    seller = make_user("sales")
    rule(api, name="Approved", entity="invoices", trigger={"event": "status_changed", "to_status": "Approved"},
         actions=[{"type": "notify", "role": "sales", "title": "{{ document.number }} approved",
                   "message": "for {{ party.name }}"}])
    invoice = api.post("/invoices", json={"account_id": catalog.account,
                                          "lines": [{"item_id": catalog.consulting, "quantity": "1"}]}).json()
    api.patch(f"/invoices/{invoice['id']}", json={"status": "Sent"})  # another status: nothing
    run_due(wf_app)
    assert rows(wf_app, Notification, Notification.user_id == seller.id) == []
    api.patch(f"/invoices/{invoice['id']}", json={"status": "Approved"})
    api.patch(f"/invoices/{invoice['id']}", json={"status": "Sent"})
    api.patch(f"/invoices/{invoice['id']}", json={"status": "Approved"})  # again: already ran
    run_due(wf_app)
    got = rows(wf_app, Notification, Notification.user_id == seller.id)
    assert [(n.title, n.body, n.link) for n in got] == [
        (f"{invoice['number']} approved", "for Ferretería López S.L.", f"/invoices/{invoice['id']}")]


def test_a_deleted_record_fires_with_its_last_values(wf_app, api):
    rule(api, name="Gone", trigger={"event": "deleted"},
         conditions={"items": [{"field": "name", "op": "contains", "value": "old"}]},
         actions=[{"type": "add_comment", "text": "{{ record.name }} was deleted"}])
    keep = api.post("/accounts", json={"name": "Current"}).json()
    gone = api.post("/accounts", json={"name": "Old Co"}).json()
    assert api.delete(f"/accounts/{keep['id']}").status_code == 204
    assert api.delete(f"/accounts/{gone['id']}").status_code == 204
    assert run_due(wf_app) == {"done": 1}
    assert comments(wf_app, "accounts", gone["id"]) == ["Old Co was deleted"]


def test_a_rule_that_is_off_does_not_fire(wf_app, api):
    rule(api, name="Off", enabled=False)
    api.post("/accounts", json={"name": "Acme"})
    assert rows(wf_app, WorkflowRun) == []


# --- saving rules: bad input refused naming the field ----------------------------------------------

@pytest.mark.parametrize("change, field", [
    ({"conditions": {"items": [{"field": "colour", "op": "=", "value": "red"}]}}, "conditions.items[0].field"),
    ({"conditions": {"items": [{"field": "balance", "op": "=", "value": "lots"}]}, "entity": "invoices"},
     "conditions.items[0].value"),
    ({"conditions": {"items": [{"field": "name", "op": "<", "value": "x"}]}}, "conditions.items[0].op"),
    ({"actions": [{"type": "webhook", "url": "ftp://example.com/hook"}]}, "actions[0].url"),
    ({"actions": [{"type": "webhook", "url": "http://user:pw@example.com/"}]}, "actions[0].url"),
    ({"actions": [{"type": "add_comment", "text": "{{ record.colour }}"}]}, "actions[0].text"),
    ({"actions": [{"type": "add_comment", "text": "{{ record.name "}]}, "actions[0].text"),
    ({"actions": [{"type": "send_email", "to": ["party"], "subject": "{{ 'x' * 100000 }}", "body": ""}]},
     "actions[0].subject"),
    ({"actions": [{"type": "send_email", "to": ["not an address"], "subject": "Hi", "body": ""}]}, "actions[0].to"),
    ({"actions": [{"type": "update_field", "field": "id", "value": "3"}]}, "actions[0].field"),
    ({"actions": [{"type": "notify", "role": "kings", "title": "x"}]}, "actions[0].role"),
    ({"actions": [{"type": "explode"}]}, "actions[0].type"),
    ({"actions": []}, "actions"),
    ({"trigger": {"event": "date", "field": "name"}}, "trigger.event"),
    ({"entity": "invoices", "trigger": {"event": "date", "field": "subject"}}, "trigger.field"),
    ({"entity": "invoices", "trigger": {"event": "status_changed", "to_status": "Gone"}}, "trigger.to_status"),
    ({"entity": "planets"}, "entity"),
])
def test_bad_rules_are_refused_naming_the_field_and_nothing_is_saved(wf_app, api, change, field):
    body = {"name": "Bad", "entity": "accounts", "trigger": {"event": "created"},
            "actions": [{"type": "add_comment", "text": "x"}], **change}
    answer = api.post("/workflows", json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["error"]["fields"], answer.json()
    assert rows(wf_app, WorkflowRule, WorkflowRule.name == "Bad") == []


@pytest.mark.parametrize("change", [
    {"trigger": {"event": ["created"]}}, {"trigger": {"event": {"x": 1}}}, {"trigger": "created"},
    {"trigger": {"event": "date", "field": ["due_date"], "offset_days": {"a": 1}}},
    {"conditions": {"items": [{"field": ["name"], "op": "=", "value": "x"}]}},
    {"conditions": {"items": [{"field": "name", "op": ["="], "value": "x"}]}},
    {"conditions": {"items": [{"field": "name", "op": "=", "value_field": {"a": 1}}]}},
    {"conditions": {"match": ["all"], "items": "x"}}, {"conditions": [1, 2]},
    {"actions": [{"type": ["webhook"]}]}, {"actions": [["webhook"]]}, {"actions": "webhook"},
    {"actions": [{"type": "update_field", "field": ["name"], "value": [1]}]},
    {"actions": [{"type": "notify", "role": ["sales"], "title": "x"}]},
    {"actions": [{"type": "notify", "user_id": [1], "title": "x"}]},
    {"actions": [{"type": "send_email", "to": {"a": 1}, "subject": ["x"], "language": ["en"]}]},
    {"actions": [{"type": "webhook", "url": ["http://x.example"]}]},
])
def test_values_of_the_wrong_shape_are_refused_never_a_500(wf_app, api, change):
    body = {"name": "Odd", "entity": "accounts", "trigger": {"event": "created"},
            "actions": [{"type": "add_comment", "text": "x"}], **change}
    answer = api.post("/workflows", json=body)
    assert answer.status_code == 422, answer.text


def test_rules_are_for_administrators_only(wf_app, api_as):
    for role in ("sales", "accounting"):
        client = api_as(role)
        assert client.get("/workflows").status_code == 403
        assert client.post("/workflows", json={"name": "x"}).status_code == 403


def test_the_shipped_examples_are_listed_off_and_their_definitions_are_valid(wf_app, api):
    found = {r["example"]: r for r in api.get("/workflows").json()["items"]}
    assert set(found) == {"overdue_invoice_reminder", "payment_receipt", "low_stock_alert"}
    assert not any(r["enabled"] for r in found.values())
    assert len(api.get("/workflows").json()["items"]) == 3  # listed again: not added twice


def test_patch_with_a_stale_version_is_refused(wf_app, api):
    made = rule(api)
    assert api.patch(f"/workflows/{made['id']}", json={"enabled": False, "version": made["version"]}).status_code == 200
    assert api.patch(f"/workflows/{made['id']}", json={"enabled": True, "version": made["version"]}).status_code == 409


# --- actions --------------------------------------------------------------------------------------

def test_update_field_goes_through_the_records_service_and_its_rules(wf_app, api, catalog):
    rule(api, name="Approve", entity="invoices", trigger={"event": "created"},
         actions=[{"type": "update_field", "field": "status", "value": "Approved"},
                  {"type": "update_field", "field": "status", "value": "Paid"},  # automatic: refused
                  {"type": "update_field", "field": "subject", "value": "checked"}])
    invoice = api.post("/invoices", json={"account_id": catalog.account,
                                          "lines": [{"item_id": catalog.consulting, "quantity": "1"}]}).json()
    assert run_due(wf_app) == {"failed": 1}
    got = api.get(f"/invoices/{invoice['id']}").json()
    assert (got["status"], got["subject"]) == ("Approved", "checked")
    run = rows(wf_app, WorkflowRun)[0]
    assert [s["status"] for s in run.steps] == ["done", "failed", "done"]
    assert "payments" in run.steps[1]["detail"]


def test_a_comment_lands_on_the_documents_timeline_and_its_mention_notifies(wf_app, api, catalog, make_user):
    boss = make_user("accounting", username="boss")
    rule(api, name="Flag", entity="invoices", actions=[{"type": "add_comment",
                                                        "text": "@boss please check {{ document.number }}"}])
    invoice = api.post("/invoices", json={"account_id": catalog.account,
                                          "lines": [{"item_id": catalog.consulting, "quantity": "1"}]}).json()
    assert run_due(wf_app) == {"done": 1}
    assert comments(wf_app, "documents", invoice["id"]) == [f"@boss please check {invoice['number']}"]
    assert [n.link for n in rows(wf_app, Notification, Notification.user_id == boss.id)] == [
        f"/invoices/{invoice['id']}"]


def test_the_payments_plugins_trigger_runs_once_per_payment(wf_app, api, catalog):
    if "payment_recorded" not in workflows_events(wf_app, "invoices"):
        pytest.skip("the payments plugin is not loaded")
    rule(api, name="Receipt", entity="invoices", trigger={"event": "payment_recorded"},
         actions=[{"type": "add_comment", "text": "payment on {{ document.number }}"}])
    invoice = api.post("/invoices", json={"account_id": catalog.account,
                                          "lines": [{"item_id": catalog.consulting, "quantity": "2"}]}).json()
    api.patch(f"/invoices/{invoice['id']}", json={"status": "Approved"})
    for amount in ("10.00", "20.00"):
        assert api.post(f"/invoices/{invoice['id']}/payments", json={"amount": amount}).status_code == 201
    assert run_due(wf_app) == {"done": 2}
    assert len(comments(wf_app, "documents", invoice["id"])) == 2


def workflows_events(app, entity):
    with app.app_context():
        return workflows.events_for(entity)


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def configure_smtp(app, port):
    with app.app_context():
        session = db.new_session(app)
        email.save_smtp_settings(session, {"host": "127.0.0.1", "port": port, "security": "none", "sender": SENDER,
                                           "sender_name": "Demo Trading", "timeout": 5})
        session.commit()
        session.close()


def test_the_overdue_reminder_reaches_each_overdue_customer_once_with_the_pdf(wf_app, api, catalog, smtp):
    configure_smtp(wf_app, smtp.port)
    api.patch(f"/accounts/{catalog.account}", json={"email": "pay@lopez.example"})
    today = dt.date.today()
    made = {}
    for label, due in (("overdue", today - dt.timedelta(days=10)), ("recent", today - dt.timedelta(days=3)),
                       ("cancelled", today - dt.timedelta(days=30))):
        made[label] = api.post("/invoices", json={"account_id": catalog.account, "due_date": due.isoformat(),
                                                  "lines": [{"item_id": catalog.consulting, "quantity": "1"}]}).json()
        api.patch(f"/invoices/{made[label]['id']}", json={"status": "Approved"})
    api.patch(f"/invoices/{made['cancelled']['id']}", json={"status": "Cancelled"})
    example = next(r for r in api.get("/workflows").json()["items"] if r["example"] == "overdue_invoice_reminder")
    assert api.patch(f"/workflows/{example['id']}", json={"enabled": True}).status_code == 200
    for _day in range(2):  # the hourly job, twice
        with wf_app.app_context():
            session = db.new_session(wf_app)
            workflows.scan_dates(session, today)
            session.commit()
            session.close()
        run_due(wf_app)
        mailer.send_due(wf_app)
    assert len(smtp.messages) == 1
    message = smtp.messages[0].message
    assert message["To"] == "pay@lopez.example"
    assert message["Subject"] == f"Reminder: invoice {made['overdue']['number']} is overdue"
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == f"{made['overdue']['number']}.pdf"
    assert attachment.get_content()[:5] == b"%PDF-"


def test_an_email_without_smtp_settings_is_a_failed_run_with_the_reason(wf_app, api):
    rule(api, name="Welcome", actions=[{"type": "send_email", "to": ["party"], "subject": "Welcome",
                                        "body": "Hello {{ record.name }}"},
                                       {"type": "add_comment", "text": "welcomed"}])
    account = api.post("/accounts", json={"name": "Acme", "email": "a@acme.example"}).json()
    assert run_due(wf_app) == {"failed": 1}
    run = rows(wf_app, WorkflowRun)[0]
    assert run.steps[0]["status"] == "failed" and "not set up" in run.steps[0]["detail"]
    assert comments(wf_app, "accounts", account["id"]) == ["welcomed"]  # the next action still ran


def test_low_stock_alert_notifies_purchasing_once_a_day(wf_app, api, catalog, make_user):
    buyer = make_user("purchasing")
    api.patch(f"/products/{catalog.widget}", json={"reorder_level": "5"})
    example = next(r for r in api.get("/workflows").json()["items"] if r["example"] == "low_stock_alert")
    api.patch(f"/workflows/{example['id']}", json={"enabled": True})
    for quantity in ("10", "-7", "-1"):  # 10 (fine), 3 (low), 2 (low again the same day)
        assert api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": quantity,
                                                    "reason": "count_correction"}).status_code == 201, quantity
    run_due(wf_app)
    got = rows(wf_app, Notification, Notification.user_id == buyer.id)
    assert [n.title for n in got] == ["Low stock: Widget"] or len(got) == 1
    assert "3" in got[0].body


# --- webhooks against a real receiver ---------------------------------------------------------------

class Receiver:
    """An HTTP server on loopback: answers ``answers`` in turn (a status, or ``"slow"`` to wait past
    the client's time limit and then answer 200), then 200; records every call."""

    def __init__(self, answers=()):
        self.answers, self.calls = list(answers), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                answer = receiver.answers.pop(0) if receiver.answers else 200
                if answer == "slow":
                    time.sleep(1.5)
                    answer = 200
                self.send_response(answer)
                self.end_headers()
                self.wfile.write(b"ok" if answer == 200 else b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(answers=()):
        made.append(Receiver(answers))
        return made[-1]
    yield make
    for one in made:
        one.stop()


def secret_of(app, rule_id):
    with app.app_context():
        session = db.new_session(app)
        secret = workflows.webhook_secret(session.get(WorkflowRule, rule_id))
        session.close()
        return secret


def test_a_webhook_is_signed_and_carries_the_record(wf_app, api, receiver):
    hook = receiver()
    made = rule(api, name="Hook", actions=[{"type": "webhook", "url": hook.url}])
    account = api.post("/accounts", json={"name": "Acme"}).json()
    assert run_due(wf_app) == {"done": 1}
    (headers, body), = hook.calls
    secret = secret_of(wf_app, made["id"])
    assert secret and made["has_webhook_secret"]
    assert headers["X-CRM-Signature"] == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    payload = json.loads(body)
    assert (payload["event"], payload["entity"], payload["record_id"], payload["record"]["name"]) == (
        "created", "accounts", account["id"], "Acme")
    assert headers["X-CRM-Delivery"] == payload["delivery"]
    assert headers["Content-Type"] == "application/json"


def test_a_failing_webhook_is_retried_with_backoff_and_nothing_before_it_is_done_twice(wf_app, api, receiver):
    hook = receiver([500, "slow", 200])
    rule(api, name="Hook", actions=[{"type": "add_comment", "text": "before"},
                                    {"type": "webhook", "url": hook.url},
                                    {"type": "add_comment", "text": "after"}])
    account = api.post("/accounts", json={"name": "Acme"}).json()
    assert run_due(wf_app) == {"retry": 1}  # 500
    assert run_due(wf_app) == {}  # not due yet: backoff
    run = rows(wf_app, WorkflowRun)[0]
    assert run.next_attempt_at > utcnow() + dt.timedelta(seconds=50)
    assert run_due(wf_app, now=utcnow() + dt.timedelta(minutes=2)) == {"retry": 1}  # the time limit
    assert run_due(wf_app, now=utcnow() + dt.timedelta(hours=1)) == {"done": 1}
    assert comments(wf_app, "accounts", account["id"]) == ["before", "after"]
    assert len(hook.calls) == 3
    assert len({headers["X-CRM-Delivery"] for headers, _ in hook.calls}) == 1  # one delivery, tried 3 times
    assert len({body for _, body in hook.calls}) == 1
    run = rows(wf_app, WorkflowRun)[0]
    assert run.steps[1]["attempts"] == 3 and run.steps[1]["status"] == "done"


def test_a_4xx_fails_at_once_and_a_receiver_down_is_tried_until_the_last_attempt(wf_app, api, receiver):
    hook = receiver([404])
    rule(api, name="Hook", actions=[{"type": "webhook", "url": hook.url}])
    api.post("/accounts", json={"name": "Acme"})
    assert run_due(wf_app) == {"failed": 1}
    assert "404" in rows(wf_app, WorkflowRun)[0].steps[0]["detail"]
    assert len(hook.calls) == 1
    hook.stop()
    api.post("/accounts", json={"name": "Beta"})
    moment = utcnow()
    for _attempt in range(workflows.WEBHOOK_ATTEMPTS):
        moment += dt.timedelta(days=1)
        run_due(wf_app, now=moment)
    run = rows(wf_app, WorkflowRun)[1]
    assert run.status == "failed" and run.steps[0]["attempts"] == workflows.WEBHOOK_ATTEMPTS
    assert run_due(wf_app, now=moment + dt.timedelta(days=1)) == {}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_addresses_are_refused_when_connecting_unless_allowed(wf_app, api, receiver, host):
    hook = receiver()
    wf_app.config["WORKFLOW_WEBHOOK_ALLOW_PRIVATE"] = False
    rule(api, name="Hook", actions=[{"type": "webhook", "url": hook.url.replace("127.0.0.1", host)}])
    api.post("/accounts", json={"name": "Acme"})
    assert run_due(wf_app) == {"failed": 1}
    assert "private" in rows(wf_app, WorkflowRun)[0].steps[0]["detail"]
    assert hook.calls == []
    wf_app.config["WORKFLOW_WEBHOOK_ALLOW_PRIVATE"] = True
    api.post("/accounts", json={"name": "Beta"})
    assert run_due(wf_app) == {"done": 1} and len(hook.calls) == 1


def test_the_public_only_connection_connects_to_the_address_it_checked(monkeypatch):
    """A name that resolves to a public address when checked and to loopback a moment later
    (DNS rebinding) cannot reach loopback: the socket is opened to the address checked, not to
    the name resolved again."""
    import socket as socket_module

    import requests
    from urllib3.util import connection
    answers = iter(["93.184.216.34"] + ["127.0.0.1"] * 5)
    real = socket_module.getaddrinfo
    opened = []

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            return [(socket_module.AF_INET, socket_module.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, port, *args, **kwargs)

    def refuse(address, *args, **kwargs):
        opened.append(address)
        raise ConnectionRefusedError("not in a test")
    monkeypatch.setattr(socket_module, "getaddrinfo", rebinding)
    monkeypatch.setattr(connection, "create_connection", refuse)
    with pytest.raises(requests.ConnectionError):
        workflows._public_only_session().post("http://rebind.example:8081/hook", data=b"{}", timeout=1)
    assert opened == [("93.184.216.34", 8081)]
    with pytest.raises(workflows.WebhookRefused):  # resolved again, to loopback: refused
        workflows._public_only_session().post("http://rebind.example:8081/hook", data=b"{}", timeout=1)
    assert len(opened) == 1


def test_two_workers_run_a_run_once(wf_app, api, receiver):
    hook = receiver()
    rule(api, name="Hook", actions=[{"type": "webhook", "url": hook.url}])
    api.post("/accounts", json={"name": "Acme"})
    run_id = rows(wf_app, WorkflowRun)[0].id
    results = []
    threads = [threading.Thread(target=lambda: results.append(workflows.execute(wf_app, run_id))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results).count("done") == 1 and len(hook.calls) == 1


# --- pages ----------------------------------------------------------------------------------------

def test_the_rule_page_shows_its_run_log_and_the_bell_counts_notifications(wf_app, api, client, make_user):
    from crm.testing import TEST_PASSWORD
    admin = make_user("admin")
    made = rule(api, name="Tell me", actions=[{"type": "notify", "user_id": admin.id, "title": "New {{ record.name }}"}])
    api.post("/accounts", json={"name": "Acme"})
    run_due(wf_app)
    client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD})
    page = client.get(f"/admin/workflows/{made['id']}").get_data(as_text=True)
    assert "Tell me" in page and "1 users notified" in page
    home = client.get("/notifications/").get_data(as_text=True)
    assert "New Acme" in home and 'id="notifications-count">1<' in home
    client.post("/notifications/read", data={})
    assert 'id="notifications-count"' not in client.get("/notifications/").get_data(as_text=True)
    assert client.get("/admin/workflows/").status_code == 200


def test_the_form_lists_what_a_plugins_trigger_adds_to_its_templates(wf_app, client, make_user):
    if "payment_failed" not in workflows_events(wf_app, "invoices"):
        pytest.skip("the payments plugin gives its rules the payment")
    from crm.testing import TEST_PASSWORD
    admin = make_user("admin")
    client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD})
    page = client.get("/admin/workflows/new").get_data(as_text=True)
    assert "<dt>A payment fails</dt><dd>payment.amount, payment.date, payment.method, payment.status, " \
           "payment.reference, payment.note</dd>" in page


def test_the_form_refuses_an_unknown_field_next_to_its_input(wf_app, client, make_user):
    from crm.testing import TEST_PASSWORD
    admin = make_user("admin")
    client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD})
    answer = client.post("/admin/workflows/new", data={
        "name": "Form", "entity": "invoices", "event": "created", "match": "all",
        "c0_field": "colour", "c0_op": "=", "c0_value": "red", "a0_type": "add_comment", "a0_body": "x"})
    assert answer.status_code == 422
    assert "unknown field colour" in answer.get_data(as_text=True)
    assert rows(wf_app, WorkflowRule, WorkflowRule.name == "Form") == []
    assert any(d.doc_type for d in rows(wf_app, Document)) is False


# --- plugins' triggers and actions ------------------------------------------------------------------

class TaggingPlugin:
    """A plugin declaring a trigger (fired by hand below) and an action that tags the account."""

    @staticmethod
    def _check(config):
        from crm.errors import ValidationError
        if not str(config.get("tag") or "").strip():
            raise ValidationError.for_field("tag", "a tag is required")
        return {"tag": config["tag"]}

    @staticmethod
    def _run(session, record, config, context):
        record.description = f"{record.description} #{config['tag']}".strip()
        session.flush()
        return f"tagged {context['record']['name']}"

    @hookimpl
    def crm_workflow_triggers(self):
        return [workflows.WorkflowTrigger("tagging_reviewed", "accounts", "Reviewed")]

    @hookimpl
    def crm_workflow_actions(self):
        return [workflows.WorkflowAction("tagging_tag", "Tag", self._check, self._run)]


def test_a_plugins_trigger_and_action_are_checked_fired_and_run(wf_app, api):
    from crm.testing import registered_plugin
    with registered_plugin(wf_app, TaggingPlugin(), "tagging"):
        refused = api.post("/workflows", json={"name": "Tag", "entity": "accounts",
                                               "trigger": {"event": "tagging_reviewed"},
                                               "actions": [{"type": "tagging_tag", "tag": " "}]})
        assert refused.status_code == 422 and "actions[0].tag" in refused.json()["error"]["fields"]
        rule(api, name="Tag", trigger={"event": "tagging_reviewed"}, actions=[{"type": "tagging_tag", "tag": "vip"}])
        account = api.post("/accounts", json={"name": "Acme"}).json()
        with wf_app.app_context():
            session = db.new_session(wf_app)
            from crm.models import Account
            record = session.get(Account, account["id"])
            assert len(workflows.fire(session, "tagging_reviewed", "accounts", record, period="2027-Q1")) == 1
            assert workflows.fire(session, "tagging_reviewed", "accounts", record, period="2027-Q1") == []
            session.commit()
            session.close()
        assert run_due(wf_app) == {"done": 1}
    assert api.get(f"/accounts/{account['id']}").json()["description"] == "#vip"
    assert rows(wf_app, WorkflowRun)[0].steps[0]["detail"] == "tagged Acme"


def test_the_payment_receipt_reaches_the_customer_once_when_the_invoice_is_paid(wf_app, api, catalog, smtp):
    if "payment_recorded" not in workflows_events(wf_app, "invoices"):
        pytest.skip("the payments plugin records what is received")
    configure_smtp(wf_app, smtp.port)
    api.patch(f"/accounts/{catalog.account}", json={"email": "pay@lopez.example"})
    example = next(r for r in api.get("/workflows").json()["items"] if r["example"] == "payment_receipt")
    api.patch(f"/workflows/{example['id']}", json={"enabled": True})
    invoice = api.post("/invoices", json={"account_id": catalog.account,
                                          "lines": [{"item_id": catalog.consulting, "quantity": "1"}]}).json()
    api.patch(f"/invoices/{invoice['id']}", json={"status": "Approved"})
    half = "24.20"
    assert api.post(f"/invoices/{invoice['id']}/payments", json={"amount": half}).status_code == 201
    assert run_due(wf_app) == {}  # partly paid: nothing yet
    assert api.post(f"/invoices/{invoice['id']}/payments", json={"amount": half}).status_code == 201
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Paid"
    assert run_due(wf_app) == {"done": 1}
    mailer.send_due(wf_app)
    [received] = smtp.messages
    assert received.message["Subject"] == f"Payment received for invoice {invoice['number']}"
    assert "€48.40" in received.message.get_content()


def test_a_failed_payment_emails_the_customer_once_however_often_the_payment_is_saved(wf_app, api, catalog, smtp):
    if "payment_failed" not in workflows_events(wf_app, "invoices"):
        pytest.skip("the payments plugin says when a payment fails")
    configure_smtp(wf_app, smtp.port)
    api.patch(f"/accounts/{catalog.account}", json={"email": "pay@lopez.example"})
    rule(api, name="Payment failed", entity="invoices", trigger={"event": "payment_failed"},
         actions=[{"type": "send_email", "to": ["party"], "language": "en", "attach_pdf": False,
                   "subject": "Your payment for invoice {{ document.number }} did not go through",
                   "body": "Your payment of {{ payment.amount }} of {{ payment.date }} ({{ payment.reference }}) "
                           "is {{ payment.status }}. Please pay the {{ document.balance }} still open."},
                  {"type": "add_comment", "text": "{{ payment.amount }} {{ payment.status }} {{ payment.note }}"}])
    invoice = api.post("/invoices", json={"account_id": catalog.account,
                                          "lines": [{"item_id": catalog.consulting, "quantity": "1"}]}).json()
    api.patch(f"/invoices/{invoice['id']}", json={"status": "Approved"})

    def deliver():
        run_due(wf_app)
        mailer.send_due(wf_app)
        return [m.message["Subject"] for m in smtp.messages]

    card = api.post(f"/invoices/{invoice['id']}/payments", json={"amount": "48.40", "status": "Pending",
                                                                  "reference": "TX-77", "date": "2027-03-05"}).json()
    assert deliver() == []                                              # pending: nothing failed yet
    assert api.patch(f"/payments/{card['id']}", json={"status": "Failed"}).status_code == 200
    subject = f"Your payment for invoice {invoice['number']} did not go through"
    assert deliver() == [subject]
    for change in ({"note": "card declined twice"}, {"status": "Pending"}, {"status": "Failed"}):
        assert api.patch(f"/payments/{card['id']}", json={**change}).status_code == 200   # saved again
    assert deliver() == [subject]
    check = api.post(f"/invoices/{invoice['id']}/payments", json={"amount": "48.40", "status": "Failed",
                                                                   "note": "cheque bounced"})
    assert check.status_code == 201                                     # another payment recorded as failed
    assert deliver() == [subject, subject]
    assert smtp.messages[0].rcpt_tos == ["pay@lopez.example"]
    assert "Your payment of €48.40 of March 5, 2027 (TX-77) is Failed. Please pay the €48.40 still open." \
        in smtp.messages[0].message.get_content()                      # the payment, and nothing was received
    assert api.get(f"/invoices/{invoice['id']}").json()["received"] == "0.00"
    # each run sees its own payment
    assert sorted(comments(wf_app, "documents", invoice["id"])) == ["€48.40 Failed", "€48.40 Failed cheque bounced"]


def test_only_a_payment_trigger_gives_its_rules_the_payment(wf_app, api):
    if "payment_failed" not in workflows_events(wf_app, "invoices"):
        pytest.skip("the payments plugin says when a payment fails")
    action = {"type": "add_comment", "text": "{{ payment.amount }}"}
    refused = api.post("/workflows", json={"name": "No payment here", "entity": "invoices", "enabled": True,
                                           "trigger": {"event": "updated"}, "actions": [action]})
    assert refused.status_code == 422, refused.text
    assert "actions[0].text" in refused.json()["error"]["fields"]
    unknown = api.post("/workflows", json={"name": "Unknown", "entity": "invoices", "enabled": True,
                                           "trigger": {"event": "payment_failed"},
                                           "actions": [{**action, "text": "{{ payment.colour }}"}]})
    assert unknown.status_code == 422 and "actions[0].text" in unknown.json()["error"]["fields"]
    for event in ("payment_recorded", "payment_failed", "payment_overdue"):
        rule(api, name=f"On {event}", entity="invoices", trigger={"event": event}, actions=[action])


def test_a_rule_turned_off_before_its_run_does_nothing_and_says_so(wf_app, api):
    made = rule(api, name="Soon off")
    account = api.post("/accounts", json={"name": "Acme"}).json()
    api.patch(f"/workflows/{made['id']}", json={"enabled": False})
    assert run_due(wf_app) == {"failed": 1}
    assert comments(wf_app, "accounts", account["id"]) == []
    assert "turned off" in api.get(f"/workflows/{made['id']}/runs").json()["items"][0]["error"]


def test_the_fields_of_an_entity_and_an_unknown_entity(wf_app, api):
    got = api.get("/workflows/fields/invoices").json()
    assert got["fields"]["due_date"] == "date" and got["fields"]["balance"] == "number"
    assert "status_changed" in got["events"] and "date" in got["events"] and "status" in got["updatable"]
    assert api.get("/workflows/fields/planets").status_code == 404
    assert api.get("/workflows/999999").status_code == 404


class _FormReader(HTMLParser):
    """What a browser would send for the rule form of a page, unchanged (``values``)."""

    def __init__(self, html: str):
        super().__init__()
        self.values: dict[str, str] = {}
        self.select = self.textarea = None
        self.in_form = self.done = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.in_form = self.in_form or (tag == "form" and a.get("id") == "workflow-form")
        if not self.in_form or self.done:
            return
        if tag == "input" and a.get("name"):
            self._input(a)
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "option" and self.select and ("selected" in a or self.select not in self.values):
            self.values[self.select] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a.get("name")
            self.values[self.textarea] = ""

    def _input(self, a):
        if a.get("type") != "checkbox":
            self.values[a["name"]] = a.get("value") or ""
        elif "checked" in a:
            self.values[a["name"]] = a.get("value", "on")

    def handle_endtag(self, tag):
        if tag in ("select", "textarea"):
            self.select = self.textarea = None
        elif tag == "form" and self.in_form:
            self.done = True

    def handle_data(self, data):
        if self.textarea and not self.done:
            self.values[self.textarea] += data


def test_each_example_saved_unchanged_through_its_form_keeps_its_definition(wf_app, api, client, make_user):
    from crm.testing import TEST_PASSWORD
    admin = make_user("admin")
    client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD})
    for example in api.get("/workflows").json()["items"]:
        page = client.get(f"/admin/workflows/{example['id']}/edit").get_data(as_text=True)
        answer = client.post(f"/admin/workflows/{example['id']}/edit", data=_FormReader(page).values)
        assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
        saved = api.get(f"/workflows/{example['id']}").json()
        for key in ("name", "entity", "trigger", "conditions", "actions", "enabled"):
            assert saved[key] == example[key], (example["name"], key)
