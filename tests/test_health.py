"""Probes (``/healthz``, ``/readyz``), request ids and the logs' format."""
from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest
from werkzeug.exceptions import InternalServerError

from crm import logs
from crm.db import db
from crm.testing import TEST_PASSWORD
from crm.worker import SILENT_AFTER_SECONDS, beat, worker_status

UNREACHABLE_DATABASES = {
    "postgresql": "postgresql://postgres@127.0.0.1:1/crm",
    "sqlite": "sqlite:////nonexistent-folder-for-probes/crm.db",
}


@pytest.fixture
def queued_app(app, tmp_path):
    """The app with a real queue (the SQLite file of its own instance folder), no worker."""
    app.config["QUEUE_IMMEDIATE"] = False
    app.instance_path = str(tmp_path)
    app.extensions.pop("crm.huey", None)
    return app


def test_ready_when_database_migrations_and_queue_answer(queued_app):
    client = queued_app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.headers["Cache-Control"] == "no-store", ready.get_json()
    assert ready.get_json() == {"status": "ready", "worker": "not running",
                                "checks": {"database": "ok", "migrations": "ok", "queue": "ok"}}


@pytest.mark.parametrize("kind", sorted(UNREACHABLE_DATABASES))
def test_without_the_database_the_process_is_healthy_but_not_ready(app_factory, kind):
    app = app_factory(DATABASE_URL=UNREACHABLE_DATABASES[kind], QUEUE_IMMEDIATE=True)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    signed_in = app.test_client()  # a browser's session cookie must not make the probe read the database
    with signed_in.session_transaction() as session:
        session.update({"_user_id": "1", "crm_session_id": "x", "crm_auth_generation": 0})
    for client in (app.test_client(), signed_in):
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"] == {"database": "unreachable", "migrations": "unknown", "queue": "ok"}
    db.engine(app).dispose()


def test_pending_migrations_make_it_not_ready(app):
    from crm import migrate
    plugins = [target for target in migrate.heads(app) if target != migrate.CORE]
    for target in plugins:   # their tables refer to the core's (the warehouses' to its stock locations)
        migrate.downgrade(app, target)
    migrate.downgrade(app, "core", "core_0007")
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["migrations"] == f"pending: {', '.join(['core', *plugins])} (run crm db upgrade)"
    migrate.upgrade_all(app)
    assert app.test_client().get("/readyz").status_code == 200


def test_an_unreachable_queue_makes_it_not_ready(app_factory):
    app = app_factory(REDIS_URL="redis://127.0.0.1:1/0")
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["queue"] == "unreachable"
    status = worker_status(app)
    assert not status.running and "Error" in status.problem


def test_the_worker_is_running_while_its_heartbeat_is_fresh(queued_app):
    assert worker_status(queued_app).running is False
    beat(queued_app)
    assert queued_app.test_client().get("/readyz").get_json()["worker"] == "running"
    assert worker_status(queued_app).running is True
    assert worker_status(queued_app, now=time.time() + SILENT_AFTER_SECONDS + 1).running is False


# --- request ids ------------------------------------------------------------------------------

@pytest.fixture
def logged(app):
    """What the app logs during the test, one JSON object per line, as ``CRM_LOG_FORMAT=json`` writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    app.logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    app.logger.removeHandler(handler)


def test_every_log_line_of_a_request_carries_its_id(app, logged):
    @app.route("/test-logs")
    def _logs():
        app.logger.warning("first")
        app.logger.error("second")
        return "ok"
    given = app.test_client().get("/test-logs", headers={"X-Request-ID": "abc-123"})
    made = app.test_client().get("/test-logs")
    assert given.headers["X-Request-ID"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert [(e["message"], e["request_id"]) for e in logged()] == [
        ("first", "abc-123"), ("second", "abc-123"),
        ("first", made.headers["X-Request-ID"]), ("second", made.headers["X-Request-ID"])]


@pytest.mark.parametrize("given", ["has spaces", "x" * 129, "semi;colon", "", "ñ"])
def test_an_insane_request_id_is_replaced(client, given):
    answer = client.get("/healthz", headers={"X-Request-ID": given})
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])


def test_every_api_error_names_its_request(app, client, api):
    """Errors of every kind: the guard's 400, 401, 404, 405, 409, 422, and a server error."""
    @app.route("/api/v1/test-crash")
    def _crash():
        raise RuntimeError("boom")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    account = api.post("/accounts", json={"name": "Ana"}).json()
    answers = [
        client.post("/api/v1/accounts", data="{", headers={"Content-Type": "application/json"}),
        client.get("/api/v1/accounts"),
        api.get("/accounts/999999"),
        api.request("PUT", "/accounts"),
        api.patch(f"/accounts/{account['id']}", json={"name": "Ana B", "version": 99}),
        api.post("/accounts", json={"name": ""}),
        api.get("/test-crash"),
    ]
    statuses = []
    for answer in answers:
        body = answer.json() if hasattr(answer, "json") and callable(answer.json) else answer.get_json()
        statuses.append(answer.status_code)
        assert body["error"]["request_id"] == answer.headers["X-Request-ID"], body
    assert statuses == [400, 401, 404, 405, 409, 422, 500]


def test_error_pages_show_the_request_id(app, make_user):
    @app.route("/test-crash")
    def _crash():
        raise InternalServerError()
    user = make_user("sales")
    client = app.test_client()
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    for url, status in (("/no-such-page", 404), ("/admin/plugins/x/enable", 405), ("/users/", 403),
                        ("/test-crash", 500)):
        answer = client.get(url, headers={"X-Request-ID": f"page-{status}"})
        assert answer.status_code == status
        assert f"page-{status}" in answer.get_data(as_text=True), url
