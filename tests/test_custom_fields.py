"""Custom fields through the API, and the validation of the values records carry."""
from __future__ import annotations

import pytest

from crm.db import db
from crm.errors import ValidationError
from crm.services import custom_fields

#: path, custom field entity, a minimal valid body
RESOURCES = [
    ("/accounts", "accounts", {"name": "López"}),
    ("/contacts", "contacts", {"last_name": "López"}),
    ("/vendors", "vendors", {"name": "Norte"}),
    ("/products", "items", {"name": "Widget", "unit_price": "1"}),
    ("/services", "items", {"name": "Consulting", "unit_price": "1"}),
]
FIELDS = [
    {"key": "note", "label": "Note", "type": "text"},
    {"key": "size", "label": "Size", "type": "number"},
    {"key": "ratio", "label": "Ratio", "type": "decimal"},
    {"key": "since", "label": "Customer since", "type": "date"},
    {"key": "vip", "label": "VIP", "type": "boolean"},
    {"key": "tier", "label": "Tier", "type": "select", "choices": ["gold", "silver"]},
]


def _define(api, entity, **field):
    r = api.post("/custom-fields", json={"entity": entity, **field})
    assert r.status_code == 201, r.text
    return r.json()


def test_create_list_get_patch_delete_custom_field(api):
    r = api.post("/custom-fields", json={"entity": "accounts", "key": "tier", "label": "Tier", "type": "select",
                                         "choices": ["gold", "silver"]})
    assert r.status_code == 201, r.text
    field = r.json()
    assert field["required"] is False and field["active"] is True and field["position"] == 0
    _define(api, "items", key="tier", label="Tier", type="text", position=1)
    assert api.get(f"/custom-fields/{field['id']}").json() == field
    listed = api.get("/custom-fields?entity=accounts").json()
    assert listed["total"] == 1 and listed["items"] == [field]
    assert api.get("/custom-fields").json()["total"] == 2
    assert [f["entity"] for f in api.get("/custom-fields?type=text").json()["items"]] == ["items"]

    r = api.patch(f"/custom-fields/{field['id']}", json={"label": "Customer tier", "choices": ["gold", "bronze"],
                                                         "required": True, "position": 3, "active": False,
                                                         "key": "tier", "entity": "accounts", "type": "select"})
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("label", "choices", "required", "position", "active")} == {
        "label": "Customer tier", "choices": ["gold", "bronze"], "required": True, "position": 3, "active": False}
    for body, name in [({"key": "level"}, "key"), ({"entity": "vendors"}, "entity"), ({"type": "text"}, "type"),
                       ({"choices": []}, "choices"), ({"label": ""}, "label"), ({"position": -1}, "position"),
                       ({"id": 9}, "id")]:
        r = api.patch(f"/custom-fields/{field['id']}", json=body)
        assert r.status_code == 422 and name in r.json()["error"]["fields"], (body, r.text)
    assert api.get(f"/custom-fields/{field['id']}").json()["label"] == "Customer tier"
    assert api.delete(f"/custom-fields/{field['id']}").status_code == 204
    assert api.get(f"/custom-fields/{field['id']}").status_code == 404
    assert api.delete("/custom-fields/99999999999").status_code == 404


def test_bad_definitions_name_the_field_and_change_nothing(api):
    _define(api, "accounts", key="tier", label="Tier", type="text")
    ok = {"entity": "accounts", "key": "code", "label": "Code", "type": "text"}
    cases = [
        ({**ok, "key": "Bad Key"}, "key"), ({**ok, "key": "1abc"}, "key"), ({**ok, "key": "a" * 61}, "key"),
        ({**ok, "key": "abc\n"}, "key"), ({**ok, "key": None}, "key"), ({**ok, "entity": "users"}, "entity"),
        ({**ok, "type": "colour"}, "type"), ({**ok, "type": "select"}, "choices"),
        ({**ok, "type": "select", "choices": ["a", "a"]}, "choices"), ({**ok, "choices": ["a"]}, "choices"),
        ({**ok, "type": "select", "choices": [""]}, "choices.0"), ({**ok, "type": "select", "choices": "a"}, "choices"),
        ({**ok, "label": ""}, "label"), ({**ok, "label": "l" * 101}, "label"), ({**ok, "position": "1"}, "position"),
        ({**ok, "required": "perhaps"}, "required"), ({**ok, "default": "x"}, "default"),
        ({k: v for k, v in ok.items() if k != "entity"}, "entity"),
    ]
    for body, name in cases:
        r = api.post("/custom-fields", json=body)
        assert r.status_code == 422, (body, r.text)
        assert name in r.json()["error"]["fields"], (body, r.json())
    r = api.post("/custom-fields", json={**ok, "key": "tier"})
    assert r.status_code == 409 and r.json()["error"]["fields"] == {"key": ["already exists"]}
    assert api.get("/custom-fields").json()["total"] == 1
    for query in ("entity=%00", "active=x", "sort=type", "per_page=0"):
        assert api.get(f"/custom-fields?{query}").status_code == 422, query


def test_only_admins_change_custom_fields(api, api_as):
    field = _define(api, "accounts", key="tier", label="Tier", type="text")
    for role in ("sales", "purchasing", "warehouse", "accounting"):
        client = api_as(role)
        assert client.get("/custom-fields").status_code == 200
        assert client.get(f"/custom-fields/{field['id']}").status_code == 200
        assert client.post("/custom-fields", json={"entity": "accounts", "key": "x", "label": "X",
                                                   "type": "text"}).status_code == 403
        assert client.patch(f"/custom-fields/{field['id']}", json={"label": "No"}).status_code == 403
        assert client.delete(f"/custom-fields/{field['id']}").status_code == 403


def test_custom_values_are_validated_on_every_master_data_resource(api):
    for entity in ("accounts", "contacts", "vendors", "items"):
        for field in FIELDS:
            _define(api, entity, **field)
    good = {"note": "hi", "size": 3, "ratio": "1.50", "since": "2027-01-31", "vip": True, "tier": "gold"}
    stored = {"note": "hi", "size": 3, "ratio": "1.5", "since": "2027-01-31", "vip": True, "tier": "gold"}
    bad = [({"nope": 1}, "unknown"), ({"note": 5}, "text"), ({"note": "n" * 2001}, "2000"),
           ({"size": "abc"}, "number"), ({"size": "1.5"}, "whole"), ({"size": True}, "number"),
           ({"size": "1" + "0" * 20}, "10^15"), ({"size": "1e20"}, "number"), ({"size": "\u0661\u0662"}, "number"),
           ({"ratio": "x"}, "number"), ({"ratio": "NaN"}, "number"), ({"ratio": "1_000.5"}, "number"),
           ({"since": "31/01/2027"}, "date"), ({"since": 20270131}, "date"), ({"since": "9999-12-31"}, "2999-12-31"),
           ({"vip": "yes"}, "true or false"),
           ({"tier": "platinum"}, "gold"), ({"tier": ["gold"]}, "gold")]
    for path, _entity, body in RESOURCES:
        r = api.post(path, json={**body, "custom": good})
        assert r.status_code == 201, (path, r.text)
        record = r.json()
        assert record["custom"] == stored, path
        for custom, reason in bad:
            key = next(iter(custom))
            r = api.post(path, json={**body, "custom": custom})
            assert r.status_code == 422, (path, custom, r.text)
            assert r.json()["error"]["fields"].keys() == {f"custom.{key}"}, (path, custom, r.json())
            assert reason in r.json()["error"]["message"], (path, custom, r.json())
            assert api.patch(f"{path}/{record['id']}", json={"custom": custom}).status_code == 422
        r = api.patch(f"{path}/{record['id']}", json={"custom": {"size": 4, "note": None}})
        assert r.status_code == 200 and r.json()["custom"] == {**stored, "size": 4, "note": None}, path
        # JSON numbers with a fraction, as clients send them: taken as written
        r = api.patch(f"{path}/{record['id']}", json={"custom": {"ratio": 2.25, "size": 5.0}})
        assert r.status_code == 200, (path, r.text)
        assert (r.json()["custom"]["ratio"], r.json()["custom"]["size"]) == ("2.25", 5), path
        for custom, reason in (({"size": 5.5}, "whole"), ({"ratio": 1e20}, "10^15")):
            r = api.patch(f"{path}/{record['id']}", json={"custom": custom})
            assert r.status_code == 422 and reason in r.json()["error"]["message"], (path, custom, r.text)
        assert api.get(path).json()["total"] == 1, "refused requests created nothing"


def test_required_custom_fields(api):
    for path, entity, body in RESOURCES[:4]:
        _define(api, entity, key="code", label="Code", type="text", required=True)
        r = api.post(path, json=body)
        assert r.status_code == 422 and "custom.code" in r.json()["error"]["fields"], (path, r.text)
        assert api.post(path, json={**body, "custom": {"code": ""}}).status_code == 422
        record = api.post(path, json={**body, "custom": {"code": "C-1"}}).json()
        r = api.patch(f"{path}/{record['id']}", json={"custom": {"code": None}})
        assert r.status_code == 422 and "custom.code" in r.json()["error"]["fields"], path
        assert api.patch(f"{path}/{record['id']}", json={"description" if entity != "contacts" else "title": "x"}
                         ).status_code == 200, "a PATCH without custom does not re-check required fields"


def test_values_of_deactivated_or_deleted_fields_stay_but_cannot_change(api):
    note = _define(api, "accounts", key="note", label="Note", type="text")
    size = _define(api, "accounts", key="size", label="Size", type="number")
    account = api.post("/accounts", json={"name": "López", "custom": {"note": "hi", "size": 2}}).json()
    api.patch(f"/custom-fields/{note['id']}", json={"active": False})
    api.delete(f"/custom-fields/{size['id']}")
    assert api.get(f"/accounts/{account['id']}").json()["custom"] == {"note": "hi", "size": 2}
    r = api.patch(f"/accounts/{account['id']}", json={"custom": {"note": "hi", "size": 2}})
    assert r.status_code == 200, "sending back what was read is fine"
    for custom in ({"note": "changed"}, {"size": 3}, {"other": None}):
        r = api.patch(f"/accounts/{account['id']}", json={"custom": custom})
        assert r.status_code == 422 and f"custom.{next(iter(custom))}" in r.json()["error"]["fields"], custom
    r = api.patch(f"/accounts/{account['id']}", json={"custom": {"size": None}})
    assert r.status_code == 200 and r.json()["custom"] == {"note": "hi"}
    api.patch(f"/custom-fields/{note['id']}", json={"active": True})
    assert api.patch(f"/accounts/{account['id']}", json={"custom": {"note": "changed"}}).json()["custom"] == {
        "note": "changed"}


def test_fields_read_once_per_transaction_follow_a_field_added_changed_or_deleted_in_it(app):
    """The checks read every custom field once per transaction (an import checks thousands of
    records): a field added, changed or deleted in the same transaction is what the next check sees."""
    def check(session, values):
        return custom_fields.validate_custom(session, "vendors", values)

    with app.app_context(), db.transaction() as s:
        assert check(s, {}) == {}
        field = custom_fields.create_field(s, {"entity": "vendors", "key": "region", "label": "Region",
                                               "type": "text", "required": True})
        with pytest.raises(ValidationError, match="required"):
            check(s, {})
        assert check(s, {"region": "Norte"}) == {"region": "Norte"}
        custom_fields.update_field(s, field, {"active": False})
        assert check(s, {}) == {}
        custom_fields.update_field(s, field, {"active": True})
        with pytest.raises(ValidationError, match="required"):
            check(s, {})
        custom_fields.delete_field(s, field)
        assert check(s, {}) == {}
        with pytest.raises(ValidationError, match="unknown custom field"):
            check(s, {"region": "Norte"})
