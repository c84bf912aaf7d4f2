"""Every role against every endpoint and page, core and plugins: the app does what
``tests/access_matrix.py`` says. The endpoints come from the OpenAPI description and the pages
from the app's URL map, so an endpoint or page without an expectation fails, and so does a
changed decorator (a write downgraded to read, a role added or dropped).

Each is called as each role on real records (an id of a record that exists wherever the path
takes one) with an empty body: a role the table refuses must get 403; a role it allows must get
anything but 401 / 403 (a 422 for the empty body is fine) and, on a page, must not be sent to
sign in. One app for the module; the roles refused are called before the roles allowed, and
what deletes or signs out comes last, so no call spoils the next."""
from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest

from crm.context import set_actor
from crm.db import db
from crm.testing import TEST_PASSWORD, registered_plugin
from tests.access_matrix import ACCESS, EVERYONE, PUBLIC, SIGNED

ROLES = sorted(EVERYONE)
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module", autouse=True)
def _forget_the_actor():
    """Requests through Flask's test client set the acting user in this thread; do not let it leak."""
    yield
    set_actor(None)


# --- what the app serves -------------------------------------------------------------------------

def _openapi_path(rule: str) -> str:
    """A Flask rule in the OpenAPI description's form: ``<int:doc_id>`` -> ``{doc_id}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def _is_exempt(rule) -> bool:
    """Static files and the OpenAPI description are public by design."""
    return rule.endpoint == "static" or rule.endpoint.startswith("api-docs.")


def served(app) -> dict[str, object]:
    """"METHOD path" -> URL rule, for every API endpoint (by its OpenAPI path) and page (by its rule)."""
    found = {}
    for rule in app.url_map.iter_rules():
        if _is_exempt(rule):
            continue
        path = _openapi_path(rule.rule) if rule.rule.startswith("/api/") else rule.rule
        for method in rule.methods & METHODS:
            found[f"{method} {path}"] = rule
    return found


def described(client) -> set[str]:
    """"METHOD path" of every operation of ``/api/v1/openapi.json``."""
    spec = client.get("/api/v1/openapi.json").get_json()
    return {f"{method.upper()} {path}" for path, operations in spec["paths"].items()
            for method in operations if method.upper() in METHODS}


def test_every_endpoint_and_page_has_an_expectation(module_app):
    api = described(module_app.test_client())
    pages = {key for key in served(module_app) if not key.split(" ", 1)[1].startswith("/api/")}
    assert api, "no endpoint in the OpenAPI description?"
    assert {key for key in served(module_app) if key.split(" ", 1)[1].startswith("/api/")} == api, (
        "every endpoint is in the OpenAPI description, and only those")
    assert {"POST /api/v1/sales-orders/{doc_id}/shipments", "GET /api/v1/payments/summary",
            "GET /api/v1/hello/greetings"} <= api  # core and plugin endpoints
    assert {"GET /stock/adjust", "GET /payments/", "GET /hello/"} <= pages
    missing = sorted((api | pages) - set(ACCESS))
    stale = sorted(set(ACCESS) - (api | pages))
    assert missing == [], "say who may use these in tests/access_matrix.py"
    assert stale == [], "tests/access_matrix.py names what the app no longer has"


# --- the records the calls use -------------------------------------------------------------------

@pytest.fixture(scope="module")
def records(module_app):
    """Ids of real records, by the collection the URLs name them after."""
    from crm_accounting_sync.testing.memory import STORES, MemoryPlugin
    module_app.config["QUEUE_IMMEDIATE"] = True  # a sync runs in the request, not in a worker
    module_app.config["PROPAGATE_EXCEPTIONS"] = False  # a server error is an answer (500): it was let in
    with registered_plugin(module_app, MemoryPlugin(), "memory_connector"):
        with module_app.app_context():
            session = db.new_session(module_app)
            try:
                ids = _make_records(session)
            finally:
                session.close()
        yield ids
    STORES.clear()


def _make_records(session) -> dict[str, int]:
    from crm.models import CustomField, PriceBook
    from crm.services import documents
    from crm.services.users import create_user, issue_token
    from crm.testing import make_catalog
    from crm_accounting_sync.connections import save_connection
    from crm_accounting_sync.models import Link, Run
    from crm_payments import services as payments
    from crm_payments.models import Credit
    from crm_warehouses import services as warehouses, transfers

    catalog = make_catalog(session)
    admin = create_user(session, "matrix-admin", TEST_PASSWORD, "admin")
    spare = create_user(session, "matrix-spare", TEST_PASSWORD, "sales")
    session.flush()
    token, _plain = issue_token(session, admin)
    book = PriceBook(name="Matrix prices", currency="EUR")
    field = CustomField(entity="accounts", key="matrix", label="Matrix", type="text")
    session.add_all([book, field])
    def lines(item_id):
        return [{"item_id": item_id, "quantity": Decimal("1"), "unit_price": Decimal("10"), "tax_ids": []}]
    docs = {kind: documents.create_document(session, kind, {"account_id": catalog.account,
                                                             "lines": lines(catalog.widget)})
            for kind in ("quote", "sales_order")}
    docs["purchase_order"] = documents.create_document(session, "purchase_order",
                                                       {"vendor_id": catalog.vendor, "lines": lines(catalog.widget)})
    docs["invoice"] = documents.create_document(session, "invoice", {"account_id": catalog.account,
                                                                     "lines": lines(catalog.consulting)})
    documents.change_status(session, docs["invoice"], "Approved")
    payment = payments.record_payment(session, docs["invoice"].id, {"amount": Decimal("1.00")})
    credit = Credit(account_id=catalog.account, currency="EUR", amount=Decimal("5"), remaining=Decimal("5"))
    session.add(credit)
    save_connection(session, "mem", {"connector": "memory", "settings": {}, "secrets": {}})
    session.flush()
    run = Run(connection="mem", entities=["accounts"], status="done")
    link = Link(connection="mem", entity="accounts", local_id=catalog.account, status="failed")
    session.add_all([run, link])
    from crm.models import EmailMessage
    message = EmailMessage(message_id="<matrix@crm.example>", record_type="document", record_id=docs["invoice"].id,
                           to=["ana@example.com"], subject="Matrix", body="", status="failed", last_response="550")
    session.add(message)
    from crm.models import ImportRun
    imported = ImportRun(entity="products", filename="products.csv", status="done", options={}, errors=[],
                         message="")
    session.add(imported)
    from crm.services import workflows
    rule = workflows.create_rule(session, {"name": "Matrix rule", "entity": "accounts", "trigger": {"event": "created"},
                                           "actions": [{"type": "add_comment", "text": "x"}]})
    from crm.models.views import ListView
    view = ListView(user_id=admin.id, list_key="accounts.index", name="Matrix view", query={}, columns=[], shared=True)
    session.add(view)
    warehouse = warehouses.create_warehouse(session, {"code": "MTX", "name": "Matrix warehouse"})
    other_warehouse = warehouses.create_warehouse(session, {"code": "MTY", "name": "Matrix warehouse 2"})
    transfer = transfers.create_transfer(session, {"from_warehouse_id": warehouse.id,
                                                   "to_warehouse_id": other_warehouse.id,
                                                   "lines": [{"product_id": catalog.widget, "quantity": 1}]})
    from crm_warehouses import bins as warehouse_bins
    bin_ = warehouse_bins.create_bin(session, warehouse, {"kind": "bin", "code": "MTX-1"})
    session.commit()
    return {
        "list-views": view.id, "accounts": catalog.account, "contacts": catalog.contact, "vendors": catalog.vendor,
        "products": catalog.widget, "items": catalog.widget, "services": catalog.consulting,
        "bundles": catalog.kit, "taxes": catalog.iva4, "price-books": book.id, "custom-fields": field.id,
        "quotes": docs["quote"].id, "sales-orders": docs["sales_order"].id,
        "purchase-orders": docs["purchase_order"].id, "invoices": docs["invoice"].id,
        "users": spare.id, "tokens": token.id, "payments": payment.id, "credits": credit.id,
        "statuses": payment.status_id, "methods": payments.list_methods(session)[0].id,
        "runs": run.id, "links": link.id, "emails": message.id, "imports": imported.id, "workflows": rule.id,
        "warehouses": warehouse.id, "transfers": transfer.id, "bins": bin_.id,
    }


#: values of the URL parameters that are not ids
NAMES = {"name": {"reports": "stock-levels", "accounting-sync": "mem", "item-lookup": "picker.js", "imports": "matrix"},
         "path": {"idca": "quotes"}, "doc_type": {"idca": "quote"}, "plugin_id": {"admin": "hello"},
         "action": {"accounting-sync": "retry"}, "entity": {"imports": "products", "workflows": "accounts"}}
#: id parameters named after what they point at
ID_PARAMS = {"invoice_id": "invoices", "product_id": "products", "payment_id": "payments",
             "credit_id": "credits", "status_id": "statuses", "method_id": "methods", "run_id": "runs",
             "link_id": "links", "token_id": "tokens", "user_id": "users", "import_id": "imports",
             "warehouse_id": "warehouses", "document_id": "sales-orders"}


def url_of(rule, ids: dict) -> str:
    """The rule's URL with every parameter filled with a real record of the right kind."""
    segments = [s for s in rule.rule.split("/") if s and s != "api" and s != "v1"]

    def value(match):
        converter, _, name = match.group(1).rpartition(":")
        if converter.startswith("any("):
            return re.findall(r"[\w-]+", converter[4:])[0]
        if name in NAMES:
            return NAMES[name][segments[0]]
        if name in ID_PARAMS:
            return str(ids[ID_PARAMS[name]])
        before = rule.rule.split(match.group(0))[0].rstrip("/").rsplit("/", 1)[-1]
        return str(ids[before])  # doc_id, record_id, item_id...: the collection it follows
    return re.sub(r"<([^<>]+)>", value, rule.rule)


# --- the calls -----------------------------------------------------------------------------------

#: what ends a session: called last, a page on a session of its own
SIGN_OUTS = {"POST /logout": 3, "DELETE /api/v1/auth/tokens/{token_id}": 3,
             "POST /profile/sign-out-everywhere": 4}  # ends every session and token of the user


def _order(key: str) -> tuple:
    """Reading first, then changing, then deleting, then signing out, so nothing spoils a later call."""
    method, path = key.split(" ", 1)
    if key in SIGN_OUTS:
        rank = SIGN_OUTS[key]
    elif method == "DELETE" or path.endswith("/delete"):
        rank = 2
    else:
        rank = 0 if method == "GET" else 1
    return rank, key


@pytest.fixture(scope="module")
def callers(module_app, records):
    """role -> call(method, url, own_session=False) -> response: a bearer token on the API, a
    signed-in session on pages (``own_session``: a new one, for what signs out)."""
    from crm.services.users import create_user, issue_token
    app = module_app
    tokens, usernames = {}, {}
    with app.app_context():
        session = db.new_session(app)
        for role in ROLES:
            user = create_user(session, f"matrix-{role}-{uuid.uuid4().hex[:6]}", TEST_PASSWORD, role)
            session.flush()
            tokens[role] = issue_token(session, user)[1]
            usernames[role] = user.username
        session.commit()
        session.close()

    def signed_in(role):
        client = app.test_client()
        response = client.post("/login", data={"username": usernames[role], "password": TEST_PASSWORD})
        assert response.status_code == 302, f"{role} could not sign in"
        return client

    api = app.test_client()
    pages = {role: signed_in(role) for role in ROLES}

    def caller(role):
        def call(method, url, own_session=False):
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            if url.startswith("/api/"):
                return api.open(url, method=method, headers={"Authorization": f"Bearer {tokens[role]}"}, **body)
            client = signed_in(role) if own_session else pages[role]
            return client.open(url, method=method, data={} if body else None)
        return call
    return {role: caller(role) for role in ROLES}


def _verdict(key: str, expected, role: str, response) -> str | None:
    """What is wrong with ``response`` to ``role`` (None: as expected)."""
    status = response.status_code
    if expected == SIGNED:
        return None if status == 401 else f"{status}, expected 401 without the signature"
    if expected == PUBLIC:  # a 401 here is a wrong password, not a refusal
        return None if status != 403 else "403, expected to be let in"
    if role not in expected:
        return None if status == 403 else f"{status}, expected 403"
    if status in (401, 403):
        return f"{status}, expected to be let in"
    if response.headers.get("Location", "").startswith("/login?next="):
        return "sent to sign in, expected to be let in"
    return None


@pytest.mark.slow
def test_every_role_gets_what_the_matrix_says(module_app, records, callers):
    rules = served(module_app)
    wrong, calls = [], 0
    for key in sorted(set(ACCESS) & set(rules), key=_order):
        expected = ACCESS[key]
        method = key.split(" ", 1)[0]
        url = url_of(rules[key], records)
        refused_first = sorted(ROLES, key=lambda role: expected in (PUBLIC, SIGNED) or role in expected)
        for role in refused_first:
            response = callers[role](method, url, own_session=key in SIGN_OUTS)
            calls += 1
            problem = _verdict(key, expected, role, response)
            if problem:
                wrong.append(f"{role}: {method} {url} ({key}) -> {problem}")
    assert calls >= 5 * 300
    assert not wrong, f"{len(wrong)} of {calls} calls not as tests/access_matrix.py says:\n" + "\n".join(wrong)
