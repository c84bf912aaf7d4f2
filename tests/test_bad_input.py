"""Bad input of every kind is refused with a 4xx that names what is wrong -- never a server
error, never accepted and stored as something else (issue 14, items 3, 11 and 12):

* a NUL character in any query parameter, path parameter or JSON string;
* a JSON body nested thousands of levels deep, a number thousands of digits long;
* a number written ``"1_000"``, ``"1e3"``, in Arabic-Indic or full-width digits (Python reads them);
* a date outside 1900-01-01..2999-12-31 (``crm.dates``);
* an amount or quantity beyond the bounds of ``crm.money`` (the columns hold NUMERIC(18,4) and
  NUMERIC(18,3)), also when every line is in range but the document's total is not.

The endpoints, their parameters and the fields of their bodies are read from the OpenAPI
description (the plugins' included) and the pages from the URL map, so a new endpoint, field
or page is covered without changing this file. Real HTTP on a live server; run on SQLite and
on PostgreSQL (``CRM_TEST_DATABASE_URL``), where NUL characters and overflowing numbers used
to be server errors.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from crm import dates, money
from crm.context import acting_as
from crm.models import Document, User
from crm.services import documents
from crm.testing import TEST_PASSWORD, registered_plugin
from tests.plugins.spy_plugin import SpyPlugin

NUL = "a\x00b"
#: numbers Python's Decimal() or int() would read, that a user never means as numbers
NOT_NUMBERS = ["1_000", "1e3", "\u0661\u0662", "\uff11\uff12"]   # underscore, exponent, Arabic-Indic, full width
OUT_OF_RANGE_DATES = ["0001-01-01", "9999-12-31"]
TOO_LARGE = "1" + "0" * 16   # above every bound of crm.money, well within the columns' digits and 40 characters
WRITE_METHODS = ("post", "patch", "put")


# --- reading the OpenAPI description ------------------------------------------------------------

def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    for key in ("allOf", "anyOf", "oneOf"):   # a nullable reference: {"anyOf": [{"$ref"}, {"type": "null"}]}
        if key in schema:
            options = [_resolve(option, spec) for option in schema[key]]
            return next((o for o in options if o.get("type") != "null"), options[0])
    return schema


def _fields(schema: dict, spec: dict, prefix: str = "", depth: int = 0):
    """``(dotted name, property schema)`` of every field a body may carry, nested objects and
    the first item of lists included (``lines.0.quantity``, ``tax_ids.0``)."""
    schema = _resolve(schema, spec)
    if depth > 4:
        return
    if schema.get("type") == "array" and "items" in schema:
        yield from _fields(schema["items"], spec, f"{prefix}.0" if prefix else "0", depth + 1)
        return
    properties = schema.get("properties")
    if not properties:
        if prefix:
            yield prefix, schema
        return
    for name, prop in properties.items():
        if prop.get("readOnly"):
            continue
        yield from _fields(prop, spec, f"{prefix}.{name}" if prefix else name, depth + 1)


def _is_number(prop: dict) -> bool:
    return prop.get("type") in ("number", "integer") or prop.get("format") == "decimal"


def _is_decimal(prop: dict) -> bool:
    return prop.get("type") == "number" or prop.get("format") == "decimal"


def _body(name: str, value):
    """``"lines.0.quantity"`` -> ``{"lines": [{"quantity": value}]}``."""
    body = value
    for part in reversed(name.split(".")):
        body = [body] if part.isdigit() else {part: body}
    return body


def _operations(spec: dict, methods):
    for path, operations in spec["paths"].items():
        for method in methods:
            if method in operations:
                yield method, path, operations[method], operations.get("parameters", [])


def _write_operations(spec: dict):
    for method, path, operation, _shared in _operations(spec, WRITE_METHODS):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            yield method, path, content["application/json"]["schema"]


@pytest.fixture
def world(app, session, catalog):
    """The catalogue and one document of each type; ``world["url"](path)`` fills an OpenAPI path
    with ids of records that exist (a refusal must come from the input, not from a 404)."""
    admin = session.scalar(select(User).where(User.role == "admin"))
    lines = [{"item_id": catalog.widget, "quantity": Decimal("1")}]
    with app.app_context(), acting_as(admin):
        ids = {path: documents.create_document(session, doc_type, {party: party_id, "lines": lines}).id
               for path, doc_type, party, party_id in (
                   ("quotes", "quote", "account_id", catalog.account),
                   ("sales-orders", "sales_order", "account_id", catalog.account),
                   ("purchase-orders", "purchase_order", "vendor_id", catalog.vendor),
                   ("invoices", "invoice", "account_id", catalog.account))}
        session.commit()
    by_param = {"tax_id": catalog.iva21, "account_id": catalog.account, "contact_id": catalog.contact,
                "vendor_id": catalog.vendor, "item_id": catalog.widget, "product_id": catalog.widget,
                "invoice_id": ids["invoices"], "doc_type": "quotes", "name": "stock-levels"}

    def url(path: str, value=None) -> str:
        path = path.removeprefix("/api/v1")
        first = path.strip("/").split("/")[0]

        def fill(match):
            param = match.group(1)
            if value is not None:
                return value
            if param == "doc_id":
                return str(ids[first])
            return str(by_param.get(param, 1))
        return re.sub(r"\{(\w+)\}", fill, path)
    return {"url": url, "catalog": catalog, "ids": ids}


@pytest.fixture
def spec(api):
    return api.get("/openapi.json").json()


def _documents(session) -> int:
    """How many documents are stored (the read is ended at once: SQLite's write lock)."""
    count = session.scalar(select(func.count()).select_from(Document))
    session.rollback()
    return count


def _refused(response, field: str | None = None, status=None) -> str | None:
    """Why ``response`` is not a refusal naming ``field`` (None when it is)."""
    if not 400 <= response.status_code < 500 or (status and response.status_code != status):
        return f"{response.status_code} {response.text[:200]}"
    if field is not None:
        fields = (response.json().get("error") or {}).get("fields") or {}
        if field not in fields:
            return f"{response.status_code}, {field} not named: {response.text[:300]}"
    return None


# --- item 11: NUL characters, deep JSON, long numbers -------------------------------------------

def test_a_nul_character_in_any_query_or_path_parameter_of_any_get_endpoint_is_a_422_naming_it(api, spec, world):
    wrong = []
    for _method, path, operation, shared in _operations(spec, ("get",)):
        for parameter in operation.get("parameters", []) + shared:
            if parameter["in"] == "query":
                response = api.get(world["url"](path), params={parameter["name"]: NUL})
            elif parameter["in"] == "path" and parameter.get("schema", {}).get("type") == "string":
                response = api.get(world["url"](path, value=NUL))
                if "enum" in parameter["schema"] and response.status_code == 404:
                    continue   # one of a few names: any other path does not exist
            else:
                continue
            problem = _refused(response, parameter["name"], status=422)
            if problem:
                wrong.append(f"GET {path} {parameter['name']}: {problem}")
    assert wrong == []


def test_every_write_endpoint_refuses_nul_strings_deep_nesting_and_long_numbers(api, spec, world):
    deep = '{"a": ' + "[" * 5000 + "]" * 5000 + "}"
    long_number = '{"a": 1' + "0" * 5000 + "}"
    headers = {"Content-Type": "application/json"}
    wrong = []
    for method, path, schema in _write_operations(spec):
        url = world["url"](path)
        for body, message in ((deep, "nested too deeply"), (long_number, "longer than 40 characters")):
            response = api.request(method.upper(), url, data=body, headers=headers)
            if response.status_code != 400 or message not in response.json()["error"]["message"]:
                wrong.append(f"{method.upper()} {path} {message}: {response.status_code} {response.text[:200]}")
        for name, prop in _fields(schema, spec):
            if prop.get("type") in ("string", None) and prop.get("format") not in ("date", "date-time"):
                problem = _refused(api.request(method.upper(), url, json=_body(name, NUL)), name, status=422)
                if problem:
                    wrong.append(f"{method.upper()} {path} {name}: {problem}")
    assert wrong == []


# --- item 12: numbers in other notations, dates out of range ------------------------------------

def test_every_numeric_field_refuses_numbers_written_otherwise(api, spec, world):
    wrong = []
    for method, path, schema in _write_operations(spec):
        for name, prop in _fields(schema, spec):
            if not _is_number(prop):
                continue
            for text in NOT_NUMBERS:
                problem = _refused(api.request(method.upper(), world["url"](path), json=_body(name, text)), name)
                if problem:
                    wrong.append(f"{method.upper()} {path} {name}={text!r}: {problem}")
    for _method, path, operation, shared in _operations(spec, ("get",)):
        for parameter in operation.get("parameters", []) + shared:
            if parameter["in"] == "query" and _is_number(_resolve(parameter.get("schema", {}), spec)):
                for text in NOT_NUMBERS:
                    problem = _refused(api.get(world["url"](path), params={parameter["name"]: text}),
                                       parameter["name"])
                    if problem:
                        wrong.append(f"GET {path} {parameter['name']}={text!r}: {problem}")
    assert wrong == []


def test_every_date_field_and_parameter_refuses_dates_outside_the_accepted_range(api, spec, world):
    message = f"must be between {dates.MIN_DATE} and {dates.MAX_DATE}"
    wrong, checked = [], 0
    for method, path, schema in _write_operations(spec):
        for name, prop in _fields(schema, spec):
            if prop.get("format") == "date":
                for day in OUT_OF_RANGE_DATES:
                    checked += 1
                    response = api.request(method.upper(), world["url"](path), json=_body(name, day))
                    problem = _refused(response, name, status=422)
                    if problem or message not in response.json()["error"]["fields"][name]:
                        wrong.append(f"{method.upper()} {path} {name}={day}: {problem or response.text[:200]}")
    for _method, path, operation, shared in _operations(spec, ("get",)):
        for parameter in operation.get("parameters", []) + shared:
            if parameter["in"] == "query" and _resolve(parameter.get("schema", {}), spec).get("format") == "date":
                for day in OUT_OF_RANGE_DATES:
                    checked += 1
                    problem = _refused(api.get(world["url"](path), params={parameter["name"]: day}),
                                       parameter["name"], status=422)
                    if problem:
                        wrong.append(f"GET {path} {parameter['name']}={day}: {problem}")
    assert wrong == []
    assert checked > 20   # the documents' dates, the recurring schedule's, payments', reports' periods


# --- item 3: amounts and quantities beyond the bounds -------------------------------------------

def test_every_decimal_field_refuses_amounts_beyond_the_bounds(api, spec, world):
    wrong, checked = [], 0
    for method, path, schema in _write_operations(spec):
        for name, prop in _fields(schema, spec):
            if _is_decimal(prop):
                for text in (TOO_LARGE, "-" + TOO_LARGE):
                    checked += 1
                    problem = _refused(api.request(method.upper(), world["url"](path), json=_body(name, text)),
                                       name, status=422)
                    if problem:
                        wrong.append(f"{method.upper()} {path} {name}={text}: {problem}")
    assert wrong == []
    assert checked > 40


BIG = str(money.MAX_AMOUNT)          # 999999999999.99
HALF = "600000000000.00"


@pytest.mark.parametrize("lines, header, field", [
    # one line: the largest quantity times the largest price
    ([{"quantity": str(money.MAX_QUANTITY), "unit_price": BIG}], {}, "lines.0.quantity"),
    # one line in range whose tax takes it over
    ([{"quantity": "1", "unit_price": "900000000000.00", "tax_ids": ["iva21"]}], {}, "lines.0.unit_price"),
    # two lines in range, their sum is not
    ([{"quantity": "1", "unit_price": HALF}, {"quantity": "1", "unit_price": HALF}], {}, "lines"),
    # lines in range, the shipping takes the total over
    ([{"quantity": "1", "unit_price": HALF}], {"shipping_amount": HALF}, "shipping_amount"),
    ([{"quantity": "1", "unit_price": HALF}], {"adjustment": HALF}, "adjustment"),
    # group taxes on a total in range
    ([{"quantity": "1", "unit_price": "900000000000.00"}], {"tax_mode": "group", "group_tax_ids": ["iva21"]},
     "group_tax_ids"),
])
def test_a_document_whose_amounts_would_pass_the_largest_amount_is_refused_naming_what_pushes_it_over(
        api, catalog, session, lines, header, field):
    def taxes(ids):
        return [getattr(catalog, t) for t in ids]
    body = {"account_id": catalog.account, **{k: taxes(v) if k.endswith("tax_ids") else v for k, v in header.items()},
            "lines": [{"item_id": catalog.consulting, "tax_ids": [], **{k: taxes(v) if k == "tax_ids" else v
                                                                         for k, v in line.items()}}
                      for line in lines]}
    response = api.post("/invoices", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["fields"], response.text
    assert "more than the largest amount 999999999999.99" in response.json()["error"]["message"]
    assert _documents(session) == 0
    # the same lines, each at most the largest amount on its own, are fine on their own document
    small = {"account_id": catalog.account, "lines": [{**body["lines"][0], "quantity": "1", "unit_price": "1.00"}]}
    assert api.post("/invoices", json=small).status_code == 201


def test_the_largest_amounts_are_stored_and_read_back_exactly(api, catalog):
    largest = {"account_id": catalog.account, "lines": [
        {"item_id": catalog.consulting, "quantity": "1", "unit_price": "999999999999.98", "tax_ids": []}],
        "adjustment": "0.01"}
    created = api.post("/invoices", json=largest)
    assert created.status_code == 201, created.text
    again = api.get(f"/invoices/{created.json()['id']}").json()
    assert again["totals"]["grand_total"] == "999999999999.99" == again["balance"]
    assert again["lines"][0]["unit_price"] == "999999999999.98"
    quantity = {"account_id": catalog.account, "lines": [
        {"item_id": catalog.consulting, "quantity": "999999999", "unit_price": "0.01", "tax_ids": []}]}
    created = api.post("/quotes", json=quantity)
    assert created.status_code == 201, created.text
    assert api.get(f"/quotes/{created.json()['id']}").json()["lines"][0]["quantity"] == "999999999"


def test_services_refuse_amounts_beyond_the_bounds_from_callers_without_the_api(app, session, catalog):
    """The accounting sync and the pages call the services directly: the bounds hold there too."""
    from crm.errors import ValidationError
    from crm.services import items, stock
    with app.app_context():
        with pytest.raises(ValidationError) as refused:
            documents.create_document(session, "quote", {"account_id": catalog.account, "lines": [
                {"item_id": catalog.widget, "quantity": Decimal("0"), "unit_price": Decimal("1e20")}]})
        assert "lines.0.unit_price" in refused.value.fields
        session.rollback()
        with pytest.raises(ValidationError) as refused:
            items.update_item(session, items.get_item(session, catalog.widget), {"purchase_cost": Decimal("1e15")})
        assert "purchase_cost" in refused.value.fields
        session.rollback()
        with pytest.raises(ValidationError) as refused:
            stock.adjust(session, catalog.widget, quantity=Decimal("1e12"), reason="found")
        assert "quantity" in refused.value.fields
        session.rollback()


# --- item 12: a line's custom values ------------------------------------------------------------

def test_a_lines_custom_takes_only_the_keys_of_plugin_columns_with_bounded_values(app, api, catalog):
    from crm.ui import LineColumn
    spy = SpyPlugin(
        crm_line_columns=lambda doc_type, session, document: [LineColumn("spy_note", "Note", editable=True),
                                                              LineColumn("spy_weight", "Weight", type="number")],
        crm_line_custom_keys=lambda doc_type, session, document: {"spy_hidden": True, "spy_warnings": False})
    line = {"item_id": catalog.widget, "quantity": "1"}
    with registered_plugin(app, spy, "spy"):
        def post(custom):
            return api.post("/quotes", json={"account_id": catalog.account, "lines": [{**line, "custom": custom}]})

        for custom, field in (({"nope": "x"}, "lines.0.custom.nope"),
                              ({"spy_note": "x" * 1_000_000}, "lines.0.custom.spy_note"),
                              ({"spy_note": {"nested": ["value"]}}, "lines.0.custom.spy_note"),
                              ({"spy_hidden": 1.5}, "lines.0.custom.spy_hidden")):   # a float: decimals are text
            refused = post(custom)
            assert refused.status_code == 422, refused.text
            assert list(refused.json()["error"]["fields"]) == [field]
        created = post({"spy_note": "fragile", "spy_hidden": "7", "spy_weight": "999", "spy_warnings": ["x"]})
        assert created.status_code == 201, created.text
        quote = created.json()
        assert quote["lines"][0]["custom"] == {"spy_note": "fragile", "spy_hidden": "7"}   # computed keys ignored
        assert spy.calls_of("crm_line_custom_keys")[-1]["doc_type"] == "quote"
    # without the plugin its keys are unknown: sent back unchanged they stay, changed they are refused,
    # null clears them (as a record's custom field that was removed)
    sent = {"id": quote["lines"][0]["id"], "custom": {"spy_note": "fragile", "spy_hidden": None}}
    kept = api.patch(f"/quotes/{quote['id']}", json={"lines": [sent]})
    assert kept.status_code == 200, kept.text
    assert kept.json()["lines"][0]["custom"] == {"spy_note": "fragile"}
    changed = api.patch(f"/quotes/{quote['id']}", json={"lines": [{**sent, "custom": {"spy_note": "other"}}]})
    assert changed.status_code == 422 and "lines.0.custom.spy_note" in changed.json()["error"]["fields"]


# --- the pages and the command line -------------------------------------------------------------

@pytest.fixture
def browser_session(live_server, make_user):
    """A ``requests`` session signed in on the live server's pages as an admin."""
    user = make_user("admin")
    http = requests.Session()
    signed_in = http.post(f"{live_server}/login", data={"username": user.username, "password": TEST_PASSWORD},
                          allow_redirects=False)
    assert signed_in.status_code == 302
    http.base = live_server
    return http


#: the query parameters the pages read (lists' search, sort, page and filters; reports' periods)
PAGE_PARAMETERS = ("q", "sort", "status", "kind", "category", "method", "from", "to", "as_of", "currency", "letter",
                   "next")
#: those read as whole numbers (page numbers, ids)
PAGE_NUMBERS = ("page", "per_page", "account_id", "vendor_id", "product_id", "invoice_id", "doc_id", "price_book_id")


@pytest.mark.slow
def test_no_page_answers_a_server_error_to_nul_characters_or_odd_digits_in_its_query(app, browser_session, world):
    """Every page of the URL map (plugins' included) that answers GET, with each query
    parameter the pages read set to a NUL character (refused: 422 naming it) or to digits
    Python reads but ``int()`` does not (``"²"``) or should not (``"١٢"``)."""
    wrong, pages = [], 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/static", "/logout")) or \
                rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", lambda m: str(world["ids"]["quotes"]) if "int:" in m.group(0) else "x",
                      rule.rule)
        pages += 1
        for name in PAGE_PARAMETERS + PAGE_NUMBERS:
            for value, expect in ((NUL, 422), *((("\u00b2", None), ("\u0661\u0662", None)) if name in PAGE_NUMBERS
                                                else ())):
                response = browser_session.get(browser_session.base + path, params={name: value},
                                               allow_redirects=False)
                if response.status_code >= 500 or (expect and response.status_code != expect):
                    wrong.append(f"{rule.rule}?{name}={value!r}: {response.status_code}")
    assert wrong == []
    assert pages > 30


def test_the_pages_forms_refuse_what_the_api_refuses(app, browser_session, catalog, session):
    from tests.test_web_pages import editor_form
    http, base = browser_session, browser_session.base
    line = {"item_id": str(catalog.widget), "quantity": "1"}
    for lines, header, field in (
            ([{**line, "quantity": "\u0661\u0662"}], {}, "quantity"),
            ([{**line, "quantity": "1_000"}], {}, "quantity"),
            ([{**line, "unit_price": "99999999999999"}], {}, "unit_price"),
            ([{**line, "quantity": "999999999", "unit_price": BIG}], {}, "quantity"),
            ([line], {"valid_until": "9999-12-31"}, "valid_until"),
            ([line], {"valid_until": "0001-01-01"}, "valid_until")):
        refused = http.post(f"{base}/quotes/new", data=editor_form("account_id", catalog.account, lines, **header),
                            allow_redirects=False)
        assert refused.status_code == 422, (lines, header, refused.status_code)
        marked = rf'id="[^"]*{field}"[^>]*aria-invalid="true"|id="err-[^"]*{field}"'   # the input, or its message
        assert re.search(marked, refused.text), (lines, header)
    assert _documents(session) == 0
    refused = http.post(f"{base}/stock/adjust", data={"product_id": str(catalog.widget), "mode": "change",
                                                      "quantity": "1" + "0" * 20, "reason": "found"})
    assert refused.status_code == 422


def test_the_command_line_refuses_dates_and_numbers_outside_what_it_takes(runner):
    for args, message in ((["jobs", "run-due", "--today", "9999-12-31"], "must be between 1900-01-01 and 2999-12-31"),
                          (["jobs", "run-due", "--today", "\u0662\u0660\u0662\u0665-01-01"], "YYYY-MM-DD"),
                          (["worker", "--workers", "\u0663"], "is not a whole number"),
                          (["worker", "--workers", "1_0"], "is not a whole number")):
        result = runner.invoke(args)
        assert result.exit_code != 0, (args, result.output)
        assert message in result.output, (args, result.output)
