"""What one request may cost is bounded: a document holds at most ``MAX_LINES`` lines,
whichever way lines reach it (created, replaced, appended by a plugin's route found in the
OpenAPI description), refused with 422 naming ``lines`` and nothing changed; its PDF prints
at most ``MAX_CELLS`` cells (item lines x printed columns), beyond which it is refused with 409
saying why and what to do (API and web page), while a PDF at the cap renders."""
from __future__ import annotations

import pytest

from crm.services import pdf_renders
from crm.services.doctypes import DOC_TYPES
from crm.services.documents import MAX_LINES
from tests.test_pdf import pdf_text
from tests.test_web_pages import sign_in

KINDS = list(DOC_TYPES.values())


def party(kind, catalog) -> dict:
    return {"vendor_id": catalog.vendor} if kind.party == "vendor" else {"account_id": catalog.account}


def lines(catalog, count: int) -> list[dict]:
    return [{"item_id": catalog.consulting, "quantity": "1"} for _ in range(count)]


def refused_naming_lines(response) -> None:
    assert response.status_code == 422, response.text
    assert "lines" in response.json()["error"]["fields"], response.text


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_a_document_is_created_and_replaced_with_at_most_max_lines(api, catalog, kind):
    refused_naming_lines(api.post(f"/{kind.path}", json={**party(kind, catalog), "lines": lines(catalog, MAX_LINES + 1)}))
    assert api.get(f"/{kind.path}").json()["total"] == 0
    document = api.post(f"/{kind.path}", json={**party(kind, catalog), "lines": lines(catalog, 1)}).json()
    refused_naming_lines(api.patch(f"/{kind.path}/{document['id']}", json={"lines": lines(catalog, MAX_LINES + 1)}))
    assert len(api.get(f"/{kind.path}/{document['id']}").json()["lines"]) == 1


def append_routes(api) -> list[str]:
    """Every ``POST /<documents>/{doc_id}/<something>`` of the API that adds lines to a document
    (its request body has a list of lines or items)."""
    spec = api.get("/openapi.json").json()
    routes = []
    for path, operations in spec["paths"].items():
        post = operations.get("post") or {}
        schema = (post.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema", {})
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        if path.endswith("/{doc_id}/lines") and {"items", "lines"} & set(schema.get("properties", {})):
            routes.append(path.removeprefix("/api/v1"))
    return routes


def test_appending_lines_never_goes_past_max_lines(api, catalog):
    routes = append_routes(api)
    assert routes, "no route appends lines (is the item lookup plugin installed?)"
    for route in routes:
        kind = next(k for k in KINDS if route.startswith(f"/{k.path}/"))
        document = api.post(f"/{kind.path}", json={**party(kind, catalog), "lines": lines(catalog, 1)}).json()
        items = [{"item_id": catalog.consulting, "quantity": "1"} for _ in range(MAX_LINES)]
        response = api.post(route.replace("{doc_id}", str(document["id"])), json={"items": items})
        refused_naming_lines(response)
        assert len(api.get(f"/{kind.path}/{document['id']}").json()["lines"]) == 1


@pytest.fixture
def small_cap(monkeypatch):
    """A cap of 16 cells: a quote of two lines and eight printed columns is at it."""
    monkeypatch.setattr(pdf_renders, "MAX_CELLS", 16)


def quote_of(api, catalog, count: int) -> dict:
    # a discount and individual taxes: item, description, quantity, unit price, discount, net, tax, total
    body = {"account_id": catalog.account, "tax_mode": "individual",
            "lines": [{"item_id": catalog.widget, "quantity": "1", "discount_percent": "5"}] * count}
    response = api.post("/quotes", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_pdf_at_the_cap_renders_and_beyond_it_is_refused_saying_why(api, catalog, small_cap):
    at_cap, over = quote_of(api, catalog, 2), quote_of(api, catalog, 3)
    assert "Widget" in pdf_text(api.get(f"/quotes/{at_cap['id']}/pdf"))
    response = api.get(f"/quotes/{over['id']}/pdf")
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "pdf_too_large" and "lines" in error["fields"]
    assert "24 cells (3 lines x 8 columns)" in error["message"] and "at most 16" in error["message"]
    assert "fewer columns" in error["message"] and "split the document" in error["message"]


def test_the_pdf_page_says_why_it_is_refused(app, make_user, catalog, small_cap, api):
    over = quote_of(api, catalog, 3)
    page = sign_in(app, make_user, "sales").get(f"/quotes/{over['id']}/pdf")
    assert page.status_code == 409
    assert "at most 16" in page.get_data(as_text=True)
