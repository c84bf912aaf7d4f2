"""Security properties of every endpoint, core and plugins alike: a permission
declared on every view, 401 / redirect to sign in without a user, CSRF on pages,
escaped templates, and the audit trail. What each role may use (403 for a role without
the right) is tests/test_access_matrix.py's."""
from __future__ import annotations

import re
import types
from decimal import Decimal

import pytest
from flask import Blueprint
from sqlalchemy import select

from crm import hookimpl
from crm.context import acting_as
from crm.db import db
from crm.models import AuditEntry
from crm.plugins import module_candidate
from crm.services import taxes
from crm.services.audit import history
from crm.services.users import issue_token
from crm.testing import TEST_PASSWORD

#: the only views anyone may use without signing in (and the load balancers' probes)
PUBLIC = {("auth.login", "GET"), ("auth.login", "POST"), ("api_auth.Tokens", "POST"),
          ("health.healthz", "GET"), ("health.readyz", "GET")}
BODY_METHODS = {"POST", "PUT", "PATCH"}


@pytest.fixture(autouse=True)
def _forget_the_actor():
    """Requests through Flask's test client run in this thread and set the acting user
    (``crm.context``) without resetting it; do not let it leak into the next test."""
    yield
    from crm.context import set_actor
    set_actor(None)


def _is_exempt(rule) -> bool:
    """Static files and the OpenAPI description are public by design."""
    return rule.endpoint == "static" or rule.endpoint.startswith("api-docs.")


def _views(app):
    """(rule, method, function) for every URL rule and method; for a MethodView,
    the method's own function (that is where ``@require`` sits)."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if _is_exempt(rule):
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            function = view if view_class is None else getattr(view_class, method.lower(), None)
            yield rule, method, function


def unprotected(app) -> list[str]:
    return [f"{method} {rule.rule} ({rule.endpoint})" for rule, method, function in _views(app)
            if getattr(function, "crm_permission", None) is None]


def _fill(rule) -> str:
    """The rule's URL with every parameter filled: 1, or the first choice of an ``any()``."""
    def value(match):
        converter, _, _name = match.group(1).rpartition(":")
        if converter.startswith("any("):
            return re.findall(r"[\w-]+", converter[4:])[0]
        return "1"
    return re.sub(r"<([^<>]+)>", value, rule.rule)


def _is_api(rule) -> bool:
    return rule.rule.startswith("/api/v1/")


def _request(client, method, url, **kwargs):
    if method in BODY_METHODS:
        kwargs.setdefault("json", {})
    return client.open(url, method=method, **kwargs)


# --- a permission on every view ---------------------------------------------------

def test_every_endpoint_declares_its_permission(app):
    views = list(_views(app))
    endpoints = {rule.endpoint for rule, _, _ in views}
    assert {"home.index", "api_taxes.TaxById", "hello.index", "hello_api.Greetings",
            "payments_api.Statuses"} <= endpoints  # core and plugin views are all checked
    assert unprotected(app) == [], "add @crm.permissions.require(...) to these views"


def test_only_the_sign_in_views_are_public(app):
    public = {(rule.endpoint, method) for rule, method, function in _views(app)
              if getattr(function, "crm_permission", None) == "public"}
    assert public == PUBLIC


def test_the_permission_check_finds_a_new_unprotected_endpoint(app_factory):
    from flask.views import MethodView
    from flask_smorest import Blueprint as ApiBlueprint

    from crm.permissions import require

    def api_blueprints():
        blp = ApiBlueprint("leaky_api", __name__, url_prefix="/api/v1/leaky")

        @blp.route("/things")
        class Things(MethodView):
            @require()
            @blp.response(200)
            def get(self):
                return {}

            @blp.response(201)
            def post(self):  # forgot @require
                return {}
        return [blp]

    def web_blueprints():
        bp = Blueprint("leaky", __name__, url_prefix="/leaky")
        bp.add_url_rule("/", "index", lambda: "open to all")  # forgot @require
        return [bp]

    leaky = types.SimpleNamespace(crm_api_blueprints=hookimpl(api_blueprints),
                                  crm_web_blueprints=hookimpl(web_blueprints))
    app = app_factory(extra=[module_candidate("leaky", leaky)])
    assert sorted(unprotected(app)) == ["GET /leaky/ (leaky.index)", "POST /api/v1/leaky/things (leaky_api.Things)"]


# --- no user: 401 on the API, sign-in page for the web UI -----------------------------

def test_every_api_endpoint_answers_401_without_a_token(app, client):
    wrong = []
    for rule, method, _function in _views(app):
        if not _is_api(rule) or (rule.endpoint, method) in PUBLIC:
            continue
        url = _fill(rule)
        for headers in ({}, {"Authorization": "Bearer crm_not-a-real-token"}):
            response = _request(client, method, url, headers=headers)
            body = response.get_json(silent=True) or {}
            if response.status_code != 401 or body.get("error", {}).get("code") != "unauthorized":
                wrong.append(f"{method} {url} {headers and 'bad token' or 'no token'} -> {response.status_code}")
    assert wrong == []


def test_every_page_sends_a_signed_out_visitor_to_sign_in(app, client):
    wrong = []
    for rule, method, _function in _views(app):
        if _is_api(rule) or (rule.endpoint, method) in PUBLIC:
            continue
        url = _fill(rule)
        response = _request(client, method, url)
        if response.status_code != 302 or not response.headers["Location"].startswith("/login"):
            wrong.append(f"{method} {url} -> {response.status_code} {response.headers.get('Location')}")
    assert wrong == []


# --- CSRF ---------------------------------------------------------------------------

def _csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_pages_refuse_a_post_without_the_csrf_token(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    user = make_user("admin")
    client = app.test_client()
    refused = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert refused.status_code == 400
    assert client.get("/").status_code == 302  # not signed in

    token = _csrf_token(client.get("/login").get_data(as_text=True))
    signed_in = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                            "csrf_token": token})
    assert signed_in.status_code == 302 and client.get("/").status_code == 200

    assert client.post("/admin/plugins/hello/disable").status_code == 400
    assert client.post("/logout").status_code == 400
    page = client.get("/admin/plugins").get_data(as_text=True)
    assert "Disable" in page and client.get("/hello/").status_code == 200  # nothing changed
    assert client.post("/admin/plugins/hello/disable", data={"csrf_token": _csrf_token(page)}).status_code == 302
    assert client.get("/hello/").status_code == 404


def test_the_api_uses_tokens_not_the_session_cookie_so_it_needs_no_csrf(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    user = make_user("admin")
    client = app.test_client()
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": token})
    assert client.get("/").status_code == 200
    assert client.post("/api/v1/hello/greetings", json={"text": "cookie only"}).status_code == 401
    with app.app_context():
        session = db.new_session(app)
        plain = issue_token(session, session.merge(user))[1]
        session.commit()
        session.close()
    created = client.post("/api/v1/hello/greetings", json={"text": "with a token"},
                          headers={"Authorization": f"Bearer {plain}"})
    assert created.status_code == 201


# --- escaping -------------------------------------------------------------------------

def test_templates_escape_what_users_typed(app, api, client, make_user):
    script = "<script>alert('x')</script>"
    assert api.post("/hello/greetings", json={"text": script}).status_code == 201
    user = make_user("sales", username="<b>eve</b>")
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    html = client.get("/hello/").get_data(as_text=True)
    assert script not in html and "<b>eve</b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;eve&lt;/b&gt;" in html


# --- audit trail ----------------------------------------------------------------------

def _audit_entries(app, **where) -> list[AuditEntry]:
    with app.app_context():
        session = db.new_session(app)
        try:
            stmt = select(AuditEntry).filter_by(**where).order_by(AuditEntry.id)
            return list(session.scalars(stmt))
        finally:
            session.close()


def test_audit_trail_records_who_created_changed_and_deleted_a_record(app, make_user):
    actor = make_user("accounting")
    with app.app_context():
        session = db.new_session(app)
        with acting_as(None):  # no user: the system (jobs, the CLI)
            taxes.create_tax(session, {"name": "By the system", "rate": Decimal("5"), "active": True,
                                       "applies_to": "items"})
            session.commit()
        with acting_as(actor):
            tax = taxes.create_tax(session, {"name": "Audited", "rate": Decimal("21"), "active": True,
                                             "applies_to": "items"})
            session.commit()
            taxes.update_tax(session, tax, {"rate": Decimal("10"), "name": "Audited 10"})
            session.commit()
            taxes.delete_tax(session, tax)
            session.commit()
        entries = history(session, "taxes", tax.id)
        session.close()
    assert [(e.action, e.user_id) for e in entries] == [
        ("create", actor.id), ("update", actor.id), ("delete", actor.id)]
    changes = entries[1].changes
    assert set(changes) == {"rate", "name"}
    assert [Decimal(v) for v in changes["rate"]] == [Decimal("21"), Decimal("10")]
    assert changes["name"] == ["Audited", "Audited 10"]
    created = _audit_entries(app, entity="taxes", action="create")
    assert [e.user_id for e in created] == [None, actor.id]


def test_audit_trail_records_the_api_user_and_a_refused_change_leaves_no_entry(app, api_as):
    api = api_as("accounting")
    tax = api.post("/taxes", json={"name": "VAT audited", "rate": "21"}).json()
    assert api.patch(f"/taxes/{tax['id']}", json={"rate": "10", "version": tax["version"]}).status_code == 200
    stale = api.patch(f"/taxes/{tax['id']}", json={"rate": "5", "version": tax["version"]})
    assert stale.status_code == 409
    bad = api.patch(f"/taxes/{tax['id']}", json={"rate": "500"})
    assert bad.status_code == 422
    entries = _audit_entries(app, entity="taxes", entity_id=str(tax["id"]))
    assert [(e.action, e.user_id) for e in entries] == [("create", api.user.id), ("update", api.user.id)]
    assert {k: [Decimal(v) for v in pair] for k, pair in entries[1].changes.items()} == {
        "rate": [Decimal("21"), Decimal("10")]}
