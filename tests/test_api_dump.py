"""Every API answer is what marshmallow's own dumping gives. ``crm.api.schemas.Schema`` reads
each field's attribute its own, faster way; so every GET endpoint of the core and the plugins
(from the OpenAPI description, each record endpoint with a record of its collection) is asked
twice, once as it answers and once dumped by marshmallow's ``Schema``, on records of every kind:
a bundle, documents with lines, a shipment, a payment."""
from __future__ import annotations

import re

import marshmallow

from crm.api import schemas


def _records(api, catalog) -> None:
    """A little of everything, through the API."""
    lines = [{"item_id": catalog.widget, "quantity": "2", "discount_percent": "5"},
             {"item_id": catalog.kit, "quantity": "1"}, {"item_id": catalog.consulting, "quantity": "1.5"}]
    api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": "10", "reason": "found"})
    api.post("/stock/adjustments", json={"product_id": catalog.gadget, "quantity": "10", "reason": "found"})
    api.post("/quotes", json={"account_id": catalog.account, "contact_id": catalog.contact, "lines": lines})
    order = api.post("/sales-orders", json={"account_id": catalog.account, "lines": lines}).json()
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    assert api.post(f"/sales-orders/{order['id']}/shipments", json={}).status_code in (200, 201)
    invoice = api.post(f"/sales-orders/{order['id']}/invoices").json()
    api.post("/payments", json={"invoice_id": invoice["id"], "amount": "10", "method": "cash"})
    api.post("/purchase-orders", json={"vendor_id": catalog.vendor,
                                       "lines": [{"item_id": catalog.widget, "quantity": "3"}]})


def _answers(api, paths: list[str]) -> dict[str, tuple[int, object]]:
    answers: dict[str, tuple[int, object]] = {}
    for path in paths:
        r = api.get(path)
        body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else r.content
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            body["error"].pop("request_id", None)   # each request's own
        answers[path] = (r.status_code, body)
    return answers


def test_every_get_endpoint_answers_as_marshmallow_dumps(api, catalog, monkeypatch):
    _records(api, catalog)
    spec = api.get("/openapi.json").json()
    base = spec["servers"][0]["url"].rstrip("/") if spec.get("servers") else ""
    paths = [f"/products/{catalog.kit}", f"/items/{catalog.consulting}"]   # a bundle, a service
    for path, operations in spec["paths"].items():
        if "get" not in operations:
            continue
        path = path.removeprefix(base).removeprefix("/api/v1")
        first = re.search(r"\{[^}]+\}", path)
        if first is None:
            paths.append(path)
            continue
        listed = api.get(path[:first.start()].rstrip("/"))
        items = listed.json().get("items") if listed.status_code == 200 and listed.content[:1] == b"{" else None
        if items and "id" in items[0]:   # a record of the collection, for every parameter of the path
            paths.append(re.sub(r"\{[^}]+\}", str(items[0]["id"]), path))
    faster = _answers(api, paths)
    monkeypatch.setattr(schemas.Schema, "_serialize", marshmallow.Schema._serialize)
    assert _answers(api, paths) == faster
    dumped = {path for path, (status, body) in faster.items() if status == 200 and body}
    assert {"/products", f"/products/{catalog.kit}", f"/items/{catalog.consulting}", "/sales-orders", "/invoices",
            "/purchase-orders", "/accounts", "/contacts", "/vendors", "/taxes"} <= dumped
    assert any(re.fullmatch(r"/sales-orders/\d+", path) for path in dumped)
    assert len(dumped) > 60, sorted(dumped)


class _Plain:
    def __init__(self, **values):
        self.__dict__.update(values)


class _Part(schemas.Schema):
    name = marshmallow.fields.String()


class IdsOfParts(marshmallow.fields.List):
    """A field with a ``get_value`` of its own."""

    def __init__(self):
        super().__init__(marshmallow.fields.String())

    def get_value(self, obj, attr, accessor=None, default=marshmallow.missing):
        return [_value(part, "name") for part in _value(obj, "parts")]


class _Every(schemas.Schema):
    """A field of each way of reading a value."""

    text = marshmallow.fields.String()
    absent = marshmallow.fields.String()
    absent_default = marshmallow.fields.String(dump_default="none")
    renamed = marshmallow.fields.Integer(data_key="number")
    elsewhere = marshmallow.fields.String(attribute="other")
    dotted = marshmallow.fields.String(attribute="part.name")
    nothing = marshmallow.fields.String(allow_none=True)
    computed = marshmallow.fields.Function(lambda obj: _value(obj, "text").upper())
    method = marshmallow.fields.Method("twice")
    parts = marshmallow.fields.List(marshmallow.fields.Nested(_Part))
    part = marshmallow.fields.Nested(_Part, allow_none=True)
    ids = IdsOfParts()

    def twice(self, obj):
        return _value(obj, "renamed") * 2


def _value(obj, name):
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def test_each_way_of_reading_a_value_dumps_as_marshmallow_does(monkeypatch):
    objects = [
        _Plain(text="a", renamed=1, other="o", part=_Plain(name="p"), nothing=None, parts=[_Plain(name="x")],
               ids=["not", "read"], computed="not read"),   # read by the fields' own ways instead
        _Plain(text="b", renamed=2, other=None, part=None, nothing="n", parts=[]),   # None on the dotted path
        {"text": "c", "renamed": 3, "other": "d", "part": {"name": "q"}, "parts": []},   # a mapping
    ]
    ours = _Every().dump(objects, many=True)
    monkeypatch.setattr(schemas.Schema, "_serialize", marshmallow.Schema._serialize)
    assert ours == _Every().dump(objects, many=True)
    assert ours[0] == {"text": "a", "absent_default": "none", "number": 1, "elsewhere": "o", "dotted": "p",
                       "nothing": None, "computed": "A", "method": 2, "parts": [{"name": "x"}],
                       "part": {"name": "p"}, "ids": ["x"]}
    assert "dotted" not in ours[1] and ours[1]["elsewhere"] is None and ours[1]["part"] is None
