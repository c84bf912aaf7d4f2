"""``/api/v1/imports``: preview without writing, import at once or through the job queue with its
progress, partial imports and their rejected rows, undo, saved mappings; the entity's create
permission; every kind of bad input a 4xx naming the file, the column or the field, nothing
written."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.models import ImportRun, Item
from tests.test_imports import csv_bytes, xlsx

SPANISH = csv_bytes([["Nombre", "Referencia", "Precio", "Color"],
                     ["Tornillo", "API-1", "1.234,56", "x"], ["Tuerca", "API-2", "abc", "y"]], delimiter=";")


def upload(api, path: str, data: bytes, filename: str = "file.csv", **form):
    form = {k: (json.dumps(v) if isinstance(v, dict) else str(v)) for k, v in form.items()}
    return api.post(path, files={"file": (filename, data)}, data=form)


def items_count(session, prefix: str) -> int:
    result = session.scalar(select(func.count()).select_from(Item).where(Item.sku.like(prefix + "%")))
    session.commit()
    return result


def test_preview_guesses_the_mapping_and_reports_each_row_without_writing(api, session):
    response = upload(api, "/imports/preview", SPANISH, entity="products")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["headers"] == ["Nombre", "Referencia", "Precio", "Color"]
    assert body["mapping"] == {"Nombre": "name", "Referencia": "sku", "Precio": "unit_price", "Color": None}
    assert (body["locale"], body["total"], body["created"], body["rejected"]) == ("es", 2, 1, 1)
    assert body["errors"] == [{"row": 3, "column": "Precio", "message": "must be a number"}]
    assert {"key": "unit_price", "label": "Unit price", "kind": "money", "required": True} in body["fields"]
    assert items_count(session, "API-") == 0


def test_import_all_or_nothing_then_partial_then_rejects_then_undo(api, session):
    refused = upload(api, "/imports", SPANISH, entity="products")
    assert refused.status_code == 201 and refused.json()["status"] == "failed"
    assert refused.json()["errors"][0] == {"row": 3, "column": "Precio", "message": "must be a number"}
    assert items_count(session, "API-") == 0
    done = upload(api, "/imports", SPANISH, entity="products", partial="true", save_mapping_as="proveedor")
    body = done.json()
    assert (done.status_code, body["status"], body["created"], body["rejected"]) == (201, "done", 1, 1)
    assert done.headers["Location"] == f"/api/v1/imports/{body['id']}" and body["undoable"] is True
    rejects = api.get(f"/imports/{body['id']}/rejects")
    assert rejects.status_code == 200 and rejects.headers["Content-Type"].startswith("text/csv")
    assert "Tuerca" in rejects.text and "must be a number" in rejects.text
    assert api.get("/imports/mappings/products").json()[0]["name"] == "proveedor"
    assert [run["id"] for run in api.get("/imports?entity=products").json()][0] == body["id"]
    undone = api.post(f"/imports/{body['id']}/undo")
    assert undone.status_code == 200 and undone.json() == {"deleted": 1, "restored": 0, "reversed": 0}
    assert items_count(session, "API-") == 0
    assert api.post(f"/imports/{body['id']}/undo").status_code == 409


def test_a_large_file_goes_through_the_job_queue_with_its_progress(api, app, session, monkeypatch):
    from crm.services import imports
    monkeypatch.setattr(imports, "SYNC_ROWS", 2)
    monkeypatch.setattr(imports, "BATCH", 2)
    app.config["QUEUE_IMMEDIATE"] = True
    seen = []
    original = imports.perform

    def watched(*args, progress=None, **kwargs):
        return original(*args, progress=lambda done, total: (seen.append((done, total)), progress(done, total)),
                        **kwargs)
    monkeypatch.setattr(imports, "perform", watched)
    rows = [["Name", "SKU", "Unit price"]] + [[f"Q{i}", f"QUEUE-{i}", "1"] for i in range(5)]
    response = upload(api, "/imports", xlsx(rows), "queue.xlsx", entity="products")
    assert response.status_code == 202, response.text
    run = api.get(response.headers["Location"].removeprefix("/api/v1")).json()
    assert (run["status"], run["created"], run["processed_rows"], run["total_rows"]) == ("done", 5, 5, 5)
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert items_count(session, "QUEUE-") == 5


def test_saved_mappings_are_used_by_name(api, session):
    assert api.put("/imports/mappings/products/tienda", json={"columns": {"Art": "name", "PVP": "unit_price",
                                                                          "Ref": "sku"}}).status_code == 200
    data = csv_bytes([["Art", "PVP", "Ref"], ["Clavo", "0.10", "MAP-1"]])
    assert upload(api, "/imports", data, entity="products", mapping_name="tienda").json()["created"] == 1
    assert api.put("/imports/mappings/products/bad", json={"columns": {"Art": "nope"}}).status_code == 422
    assert api.delete("/imports/mappings/products/tienda").status_code == 204
    assert upload(api, "/imports", data, entity="products", mapping_name="tienda").status_code == 404


def test_importing_needs_the_entitys_create_permission(api_as):
    warehouse = api_as("warehouse")
    data = csv_bytes([["Name", "Unit price"], ["X", "1"]])
    refused = upload(warehouse, "/imports", data, entity="products")
    assert refused.status_code == 403 and "may not import" in refused.json()["error"]["message"]
    assert upload(warehouse, "/imports/preview", data, entity="products").status_code == 403
    assert warehouse.get("/imports/fields/products").status_code == 403
    stock = upload(warehouse, "/imports/preview", csv_bytes([["Product", "Quantity"], ["nope", "1"]]),
                   entity="stock")
    assert stock.status_code == 200
    assert api_as("sales").post("/imports/1/undo").status_code in (403, 404)
    assert warehouse.anonymous().get("/imports").status_code == 401


@pytest.mark.parametrize("form, data, filename, status, field", [
    ({"entity": "products"}, b"PK\x03\x04broken", "x.xlsx", 422, "file"),
    ({"entity": "products"}, b"Name,SKU\n\x81\x8d", "x.csv", 422, "file"),
    ({"entity": "products"}, b"Name,SKU\nA,B\n", "x.csv", 422, "mapping"),
    ({"entity": "products", "mapping": "{not json"}, b"Name,Unit price\nA,1\n", "x.csv", 422, "mapping"),
    ({"entity": "products", "on_duplicate": "merge"}, b"Name,Unit price\nA,1\n", "x.csv", 422, "on_duplicate"),
    ({"entity": "products", "partial": "maybe"}, b"Name,Unit price\nA,1\n", "x.csv", 422, "partial"),
    ({"entity": "planets"}, b"Name\nA\n", "x.csv", 422, "entity"),
])
def test_bad_uploads_are_a_4xx_naming_the_field(api, session, form, data, filename, status, field):
    response = upload(api, "/imports", data, filename, **form)
    assert response.status_code == status, response.text
    assert field in response.json()["error"]["fields"], response.json()
    assert session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_no_file_and_a_too_large_file(api, app):
    assert api.post("/imports", data={"entity": "products"}).status_code == 422
    app.config["IMPORT_MAX_BYTES"] = 1000
    response = upload(api, "/imports", b"Name,Unit price\n" + b"A,1\n" * 2000, entity="products")
    assert response.status_code == 422 and "larger than" in response.json()["error"]["message"]


def test_a_row_naming_an_unknown_account_fails_the_import_naming_row_and_column(api, session):
    data = csv_bytes([["Last name", "Account"], ["Fine", ""], ["Lost", "Nobody Inc"]])
    body = upload(api, "/imports", data, entity="contacts").json()
    assert body["status"] == "failed" and body["errors"] == [
        {"row": 3, "column": "Account", "message": "unknown account 'Nobody Inc'"}]
    assert "Row 3" in body["message"]


def test_undo_of_price_book_entries_restores_the_previous_prices(api, session, catalog):
    book = api.post("/price-books", json={"name": "Retail", "prices": [{"item_id": catalog.widget,
                                                                        "list_price": "20.00"}]}).json()
    data = csv_bytes([["Price book", "Item", "List price"], ["Retail", "W-1", "25"], ["Retail", "G-1", "8"]])
    run = upload(api, "/imports", data, entity="price_book_entries", on_duplicate="update").json()
    assert (run["created"], run["updated"]) == (1, 1)
    prices = {p["item_id"]: p["list_price"] for p in api.get(f"/price-books/{book['id']}").json()["prices"]}
    assert prices == {catalog.widget: "25.00", catalog.gadget: "8.00"}
    assert api.post(f"/imports/{run['id']}/undo").status_code == 200
    prices = {p["item_id"]: Decimal(p["list_price"]) for p in api.get(f"/price-books/{book['id']}").json()["prices"]}
    assert prices == {catalog.widget: Decimal("20")}
