"""Documents created from another one, on SQLite and PostgreSQL, over real HTTP: every such
action (found in the OpenAPI description, and the pages' buttons) creates its document once
however many requests race, and a conversion repeats only when another copy is asked for."""
from __future__ import annotations

import re

import pytest
import requests

from crm.testing import TEST_PASSWORD
from tests.test_concurrency import all_at_once

RACERS = 8
DOCUMENT_SCHEMAS = {"Quote": "quotes", "SalesOrder": "sales-orders", "PurchaseOrder": "purchase-orders",
                    "Invoice": "invoices"}


def creating_actions(api) -> list[tuple[str, str, str]]:
    """``(path, source path, created path)`` of every POST on a document that answers 201
    with a document: the actions that create a document from another one."""
    spec = api.get("/openapi.json").json()
    found = []
    for path, operations in spec["paths"].items():
        match = re.fullmatch(r"/api/v1/([a-z-]+)/\{doc_id\}/[a-z-]+", path)
        created = operations.get("post", {}).get("responses", {}).get("201", {})
        schema = created.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
        if match and schema.rsplit("/", 1)[-1] in DOCUMENT_SCHEMAS:
            found.append((path.removeprefix("/api/v1"), match.group(1), DOCUMENT_SCHEMAS[schema.rsplit("/", 1)[-1]]))
    return found


def body_schema(api, path: str) -> dict:
    spec = api.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1" + path]["post"]
    ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    return spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]] if "$ref" in ref else {}


def request_body(api, path: str, catalog) -> dict:
    """What the action needs: the required fields of its body (a vendor for a purchase order)."""
    schema = body_schema(api, path)
    values = {"vendor_id": catalog.vendor}
    assert set(schema.get("required", [])) <= set(values), f"{path}: give the test a value for {schema['required']}"
    return {name: values[name] for name in schema.get("required", [])}


def source_document(api, catalog, source: str) -> dict:
    """An accepted quote, or an approved sales order (its stock found first)."""
    lines = [{"item_id": catalog.widget, "quantity": "2"}, {"item_id": catalog.kit, "quantity": "1"},
             {"item_id": catalog.consulting, "quantity": "1"}]
    document = api.post(f"/{source}", json={"account_id": catalog.account, "lines": lines})
    assert document.status_code == 201, document.text
    if source == "sales-orders":
        for product in (catalog.widget, catalog.gadget):
            api.post("/stock/adjustments", json={"product_id": product, "quantity": "10", "reason": "found"})
    status = {"quotes": "Accepted", "sales-orders": "Approved"}[source]
    changed = api.patch(f"/{source}/{document.json()['id']}", json={"status": status})
    assert changed.status_code == 200, changed.text
    return changed.json()


def created_from(api, source: str, document: dict, created: str) -> list[dict]:
    """The documents of type ``created`` made from ``document`` (cancelled ones included)."""
    kind = {"quotes": "quote", "sales-orders": "sales_order", "purchase-orders": "purchase_order",
            "invoices": "invoice"}[created]
    items = api.get(f"/{source}/{document['id']}/related").json()["items"]
    return [item for item in items if item["type"] == kind
            and api.get(f"/{created}/{item['id']}").json()["source"]["id"] == document["id"]]


def test_the_api_has_the_actions_this_file_races(api):
    assert sorted(path for path, _source, _created in creating_actions(api)) == [
        "/quotes/{doc_id}/invoice", "/quotes/{doc_id}/sales-order", "/sales-orders/{doc_id}/invoices",
        "/sales-orders/{doc_id}/purchase-order"]


def test_racing_requests_create_each_document_once(api, api_as, catalog):
    for path, source, created in creating_actions(api):
        document = source_document(api, catalog, source)
        url, body = path.replace("{doc_id}", str(document["id"])), request_body(api, path, catalog)
        clients = [api_as("admin") for _ in range(RACERS)]
        responses = all_at_once(RACERS, lambda i: clients[i].post(url, json=body))
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [409] * (RACERS - 1), (path, [r.text for r in responses if r.status_code != 409])
        made = next(r.json() for r in responses if r.status_code == 201)
        assert [d["id"] for d in created_from(api, source, document, created)] == [made["id"]], path
        refusals = {r.json()["error"]["code"] for r in responses if r.status_code == 409}
        assert refusals in ({"already_converted"}, {"quantity_exceeds_remaining"}), (path, refusals)
        if refusals == {"already_converted"}:  # the refusal names what exists
            assert all(made["number"] in r.json()["error"]["message"] for r in responses if r.status_code == 409)


def test_a_conversion_repeats_only_when_another_copy_is_asked_for(api, catalog):
    actions = creating_actions(api)
    conversions = [action for action in actions if "copy" in body_schema(api, action[0]).get("properties", {})]
    # the others take what is left of the source's lines (racing them is tested above)
    assert [path for path, _s, _c in actions if (path, _s, _c) not in conversions] == \
        ["/sales-orders/{doc_id}/invoices"]
    for path, source, created in conversions:
        document = source_document(api, catalog, source)
        url, body = path.replace("{doc_id}", str(document["id"])), request_body(api, path, catalog)
        first = api.post(url, json=body)
        assert first.status_code == 201, (path, first.text)
        again = api.post(url, json=body)
        assert again.status_code == 409, (path, again.text)
        error = again.json()["error"]
        assert error["code"] == "already_converted" and first.json()["number"] in error["message"]
        assert list(error["fields"]) == ["copy"]
        copy = api.post(url, json={**body, "copy": True})
        assert copy.status_code == 201, (path, copy.text)
        assert copy.json()["number"] != first.json()["number"] and copy.json()["source"]["id"] == document["id"]
        third = api.post(url, json=body).json()["error"]["message"]
        assert first.json()["number"] in third and copy.json()["number"] in third
        for made in (first.json(), copy.json()):  # cancelled, they no longer count
            cancelled = api.patch(f"/{created}/{made['id']}", json={"status": "Cancelled"})
            assert cancelled.status_code == 200, cancelled.text
        assert api.post(url, json=body).status_code == 201, path
        assert len(created_from(api, source, document, created)) == 3


def test_a_sales_order_orders_once_from_each_vendor(api, catalog):
    other = api.post("/vendors", json={"name": "Ferrotec"}).json()
    order = source_document(api, catalog, "sales-orders")
    url = f"/sales-orders/{order['id']}/purchase-order"
    assert api.post(url, json={"vendor_id": catalog.vendor}).status_code == 201
    assert api.post(url, json={"vendor_id": other["id"]}).status_code == 201
    refused = api.post(url, json={"vendor_id": catalog.vendor})
    assert refused.status_code == 409 and "Suministros Norte" in refused.json()["error"]["message"]


def test_a_bad_copy_flag_is_refused(api, catalog):
    quote = source_document(api, catalog, "quotes")
    refused = api.post(f"/quotes/{quote['id']}/sales-order", json={"copy": "maybe"})
    assert refused.status_code == 422 and "copy" in refused.json()["error"]["fields"]
    assert created_from(api, "quotes", quote, "sales-orders") == []


# --- the pages --------------------------------------------------------------------------------------

#: the pages' actions that create a document from another one, and the form they post
PAGE_ACTIONS = {
    "/quotes/<int:doc_id>/to-sales-order": ("quotes", "sales-orders", lambda catalog: {}),
    "/quotes/<int:doc_id>/to-invoice": ("quotes", "invoices", lambda catalog: {}),
    "/sales-orders/<int:doc_id>/purchase-order": ("sales-orders", "purchase-orders",
                                                  lambda catalog: {"vendor_id": str(catalog.vendor)}),
}


def signed_in_browsers(live_server, user, count: int) -> list[requests.Session]:
    """``count`` HTTP clients sharing one signed-in session of ``user``."""
    first = requests.Session()
    signed = first.post(f"{live_server}/login", data={"username": user.username, "password": TEST_PASSWORD},
                        allow_redirects=False)
    assert signed.status_code == 302
    browsers = []
    for _ in range(count):
        browser = requests.Session()
        browser.cookies.update(first.cookies)
        browsers.append(browser)
    return browsers


def test_every_page_action_creating_a_document_is_listed_here(app):
    from crm.web.documents import DOC_ENDPOINTS  # noqa: F401  (the pages are registered)
    creating = {rule.rule for rule in app.url_map.iter_rules()
                if "POST" in (rule.methods or ()) and "<int:doc_id>/" in rule.rule
                and rule.endpoint.split(".")[-1] in ("to_sales_order", "to_invoice", "to_purchase_order")}
    assert creating == set(PAGE_ACTIONS)


@pytest.mark.parametrize("rule", sorted(PAGE_ACTIONS))
def test_racing_page_buttons_create_once_and_another_copy_is_confirmed(rule, api, catalog, live_server, make_user):
    source, created, form = PAGE_ACTIONS[rule]
    document = source_document(api, catalog, source)
    url = live_server + rule.replace("<int:doc_id>", str(document["id"]))
    browsers = signed_in_browsers(live_server, make_user("admin"), RACERS)
    responses = all_at_once(RACERS, lambda i: browsers[i].post(url, data=form(catalog), allow_redirects=False))
    assert [r.status_code for r in responses] == [302] * RACERS
    made = created_from(api, source, document, created)
    assert len(made) == 1
    page = browsers[0].get(f"{live_server}/{source}/{document['id']}").text
    assert made[0]["number"] in page and "Make another copy?" in page
    copied = browsers[0].post(url, data={**form(catalog), "copy": "1"}, allow_redirects=False)
    assert copied.status_code == 302 and f"/{created}/" in copied.headers["Location"]
    assert len(created_from(api, source, document, created)) == 2
