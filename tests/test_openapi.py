"""The OpenAPI description (``/api/v1/openapi.json``), core and every plugin: a valid OpenAPI 3
document that describes every endpoint, and true where a client relies on it -- an empty
PATCH is refused as its ``minProperties`` says, every datetime carries its UTC offset on
both databases. That every answer matches its description is tests/test_api_fuzz.py's."""
from __future__ import annotations

import datetime as dt
import json
import re

from openapi_spec_validator import validate
from sqlalchemy import DateTime, literal, select

from crm.db import Model

METHODS = ("get", "put", "post", "patch", "delete")


def _spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return json.loads(response.get_data())  # as any client reads it (the app's own reader makes Decimals)


def _operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def test_the_description_is_valid_openapi(client):
    validate(_spec(client))  # raises, naming what is wrong (a bound written as a string, a bad regex...)


def test_every_api_endpoint_is_described(app, client):
    described = {(method, path) for method, path, _op in _operations(_spec(client))}
    served = {(method.lower(), re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule))
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              and not rule.endpoint.startswith("api-docs.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served - described == set()
    for plugin in ("payments", "item-lookup", "idca", "accounting-sync", "hello"):
        assert any(path.startswith(f"/api/v1/{plugin}/") for _method, path in described), plugin


def test_the_documented_error_body_is_the_one_answered(client, api):
    spec = _spec(client)
    error = spec["components"]["schemas"]["Error"]
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert error["required"] == ["error"]
    assert set(detail["properties"]) == {"code", "message", "fields", "request_id"}
    assert spec["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/Error"}
    answer = api.post("/accounts", json={"name": ""})
    assert answer.status_code == 422 and set(answer.json()) == {"error"}
    assert set(answer.json()["error"]) == {"code", "message", "fields", "request_id"}
    assert answer.json()["error"]["request_id"] == answer.headers["X-Request-ID"]


def test_money_and_quantities_are_described_as_the_decimal_strings_they_are(client, api, catalog):
    spec = _spec(client)
    price = spec["components"]["schemas"]["Product"]["properties"]["unit_price"]
    text, number = price["oneOf"]
    assert text["type"] == "string" and number["type"] == "number"
    assert isinstance(number["maximum"], (int, float)) and number["minimum"] == 0
    product = api.get(f"/products/{catalog.widget}").json()
    assert isinstance(product["unit_price"], str) and re.fullmatch(text["pattern"], product["unit_price"])
    assert api.patch(f"/products/{catalog.widget}", json={"unit_price": 12.5}).json()["unit_price"] == "12.50"


def _body_schema(spec, operation) -> dict:
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    return spec["components"]["schemas"][name] if name else schema


def test_an_empty_patch_is_refused_by_every_endpoint(client, api):
    spec = _spec(client)
    patches = [(path, operation) for method, path, operation in _operations(spec) if method == "patch"]
    assert len(patches) >= 15
    wrong = []
    for path, operation in patches:
        assert operation["requestBody"]["required"] is True
        assert _body_schema(spec, operation)["minProperties"] == 1, path
        url = re.sub(r"\{[^}]+\}", "1", path).removeprefix("/api/v1")
        for body in ({"json": {}}, {}, {"data": "name=x", "headers": {"Content-Type": "text/plain"}}):
            answer = api.patch(url, **body)
            if answer.status_code != 422 or answer.json()["error"]["code"] != "nothing_to_change":
                wrong.append(f"PATCH {url} {body}: {answer.status_code} {answer.text[:200]}")
    assert wrong == []


def test_an_empty_patch_changes_nothing_and_an_anonymous_one_is_told_to_sign_in(api, live_server):
    import requests
    account = api.post("/accounts", json={"name": "Acme"}).json()
    answer = api.patch(f"/accounts/{account['id']}", json={})
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"] == {"_body": [answer.json()["error"]["message"]]}
    assert api.get(f"/accounts/{account['id']}").json()["version"] == account["version"]
    assert requests.patch(f"{live_server}/api/v1/accounts/{account['id']}", json={}, timeout=30).status_code == 401
    assert api.patch(f"/accounts/{account['id']}", json={"phone": "1"}).json()["version"] == account["version"] + 1


def test_every_datetime_column_reads_back_with_its_offset(app, session):
    moment = dt.datetime(2027, 3, 4, 5, 6, 7, 890000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    columns = [column for table in Model.metadata.sorted_tables for column in table.columns
               if isinstance(column.type, DateTime)]
    assert len(columns) > 10
    naive = [f"{column.table.name}.{column.name}" for column in columns if not column.type.timezone]
    assert naive == [], "a datetime column without a time zone reads back naive on PostgreSQL too"
    for column in columns:
        value = session.execute(select(literal(moment, column.type))).scalar_one()
        assert value.tzinfo is not None and value == moment, f"{column.table.name}.{column.name}: {value!r}"


def test_the_api_writes_datetimes_with_their_offset(api):
    tokens = api.get("/auth/tokens").json()["items"]
    for token in tokens:
        assert dt.datetime.fromisoformat(token["created_at"]).utcoffset() is not None
