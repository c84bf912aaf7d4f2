"""The Import pages: reached from the list pages, upload, the columns guessed and editable, a
preview naming each refused row's row, column and reason before anything is written, the
import, its page with what it did, the rejected rows' file and undo; the entity's create
permission, the CSRF token, Spanish pages, bad files as a clear message."""
from __future__ import annotations

import io
import re
from decimal import Decimal

from sqlalchemy import func, select

from crm.models import ImportRun, Item
from crm.testing import TEST_PASSWORD
from tests.test_imports import csv_bytes, xlsx
from tests.test_web_pages import html_of, sign_in

CATALOGUE = [["Nombre", "Referencia", "Precio unitario", "Notas"],
             ["Tornillo", "WEB-1", "1.234,5", "x"], ["Tuerca", "WEB-2", "barato", "y"], ["Arandela", "WEB-3", "0,25", ""]]


def upload(client, data: bytes, filename: str, entity: str = "products", **extra):
    return client.post("/imports/upload", data={"entity": entity, "file": (io.BytesIO(data), filename), **extra},
                       content_type="multipart/form-data")


def mapping_form(html: str) -> dict:
    """The mapping page's form as the browser would send it (each select's chosen option)."""
    form = {}
    for name, body in re.findall(r'<select id="map-\d+" name="(map\.\d+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        form[name] = chosen.group(1) if chosen else ""
    form["on_duplicate"] = "skip"
    return form


def count(session, prefix: str) -> int:
    result = session.scalar(select(func.count()).select_from(Item).where(Item.sku.like(prefix + "%")))
    session.commit()
    return result


def test_upload_map_preview_import_and_undo(app, make_user, session):
    client = sign_in(app, make_user, "purchasing")
    products = html_of(client.get("/products/"))
    assert 'href="/imports/?entity=products"' in products
    response = upload(client, xlsx(CATALOGUE), "catalogo.xlsx")
    assert response.status_code == 302
    mapping_url = response.headers["Location"]
    page = html_of(client.get(mapping_url))
    form = mapping_form(page)
    assert form == {"map.0": "name", "map.1": "sku", "map.2": "unit_price", "map.3": "description",
                    "on_duplicate": "skip"}
    preview = html_of(client.post(mapping_url, data=form))
    assert "3 rows: 2 would be created" in preview and "1 rejected" in preview
    assert re.search(r"<td class=\"num\">3</td><td>Precio unitario</td><td>must be a number", preview)
    assert re.search(r'<button type="submit" disabled>Import</button>', preview)   # all or nothing: fix first
    assert count(session, "WEB-") == 0
    preview = html_of(client.post(mapping_url, data={**form, "partial": "1"}))
    run_form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', preview.split('id="import-run"')[1]
                               .split("</form>")[0]))
    done = client.post(mapping_url.replace("/mapping", "/run"), data=run_form)
    show = html_of(client.get(done.headers["Location"]))
    assert "2 created, 0 updated, 0 skipped, 1 rejected." in show and 'id="import-rejects"' in show
    rejects = client.get(done.headers["Location"] + "/rejects")
    assert "Tuerca" in rejects.get_data(as_text=True) and "must be a number" in rejects.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(Item.unit_price).where(Item.sku == "WEB-1")) == Decimal("1234.5")
    session.commit()
    history = html_of(client.get("/imports/?entity=products"))
    assert "catalogo.xlsx" in history and "Undo" in history
    undone = client.post(done.headers["Location"] + "/undo")
    assert undone.status_code == 302
    assert "Import undone: 2 removed" in html_of(client.get(undone.headers["Location"]))
    assert count(session, "WEB-") == 0


def test_a_saved_mapping_is_offered_and_used(app, make_user, session):
    client = sign_in(app, make_user, "admin")
    data = csv_bytes([["Art", "PVP"], ["Clavo", "0.10"]])
    mapping_url = upload(client, data, "a.csv").headers["Location"]
    preview = client.post(mapping_url, data={"map.0": "name", "map.1": "unit_price", "save_as": "tienda"})
    assert "Mapping tienda saved." in html_of(client.get("/imports/")) or preview.status_code == 200
    again = upload(client, data, "b.csv").headers["Location"]
    page = html_of(client.get(again + "?saved=tienda"))
    assert mapping_form(page)["map.1"] == "unit_price" and "tienda" in page


def test_a_missing_required_column_is_shown_on_the_mapping_page(app, make_user):
    client = sign_in(app, make_user, "admin")
    mapping_url = upload(client, csv_bytes([["Name", "SKU"], ["A", "B"]]), "x.csv").headers["Location"]
    response = client.post(mapping_url, data={"map.0": "name", "map.1": "sku"})
    assert response.status_code == 422 and "a required column is missing: Unit price" in html_of(response)


def test_bad_files_are_a_message_on_the_import_page(app, make_user, session):
    client = sign_in(app, make_user, "admin")
    for data, filename, words in [(b"PK\x03\x04broken", "x.xlsx", "not a valid XLSX"),
                                  (b"Name\n\x81\x8d\x8f", "x.csv", "encoding"),
                                  (b"", "x.csv", "the file is empty")]:
        response = upload(client, data, filename)
        assert response.status_code == 302
        assert words in html_of(client.get(response.headers["Location"]))
    app.config["IMPORT_MAX_BYTES"] = 100
    response = upload(client, b"Name,Unit price\n" + b"A,1\n" * 100, "big.csv")
    assert "larger than" in html_of(client.get(response.headers["Location"]))
    assert session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_the_entitys_create_permission_is_required(app, make_user):
    warehouse = sign_in(app, make_user, "warehouse")
    assert upload(warehouse, csv_bytes([["Name", "Unit price"], ["A", "1"]]), "x.csv").status_code == 403
    page = html_of(warehouse.get("/imports/"))
    assert '<option value="stock"' in page and '<option value="products"' not in page
    assert 'href="/imports/?entity=stock"' in html_of(warehouse.get("/stock/"))
    assert "/imports/?entity=products" not in html_of(warehouse.get("/products/"))


def test_the_pages_speak_spanish(app, make_user):
    client = sign_in(app, make_user, "admin", language="es")
    page = html_of(client.get("/imports/"))
    assert "Importar" in page and "Importaciones hechas" in page
    mapping_url = upload(client, xlsx(CATALOGUE), "c.xlsx").headers["Location"]
    page = html_of(client.get(mapping_url))
    assert "no se importa" in page
    preview = html_of(client.post(mapping_url, data=mapping_form(page)))
    assert "filas" in preview


def test_forms_carry_the_csrf_token_and_a_post_without_it_is_refused(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    user = make_user("admin")
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html_of(client.get("/login"))).group(1)
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": token})
    page = html_of(client.get("/imports/"))
    assert re.search(r'id="import-upload".*?name="csrf_token" value="[^"]+"', page, re.S)
    assert upload(client, csv_bytes([["Name", "Unit price"], ["A", "1"]]), "x.csv").status_code == 400


def test_an_exported_filtered_list_imports_back_unchanged(app, make_user, session, catalog):
    """Round trip: the CSV and XLSX exports of a filtered product list, imported by SKU with
    update, change no record (no audit entry, no new version) and create none."""
    from crm.models import AuditEntry
    client = sign_in(app, make_user, "admin", language="es")
    for fmt in ("csv", "xlsx"):
        exported = client.get("/products/?q=widget&export=" + fmt)
        assert exported.status_code == 200
        session.expire_all()
        before = {(i.id, i.version) for i in session.scalars(select(Item))}
        audit = session.scalar(select(func.count()).select_from(AuditEntry))
        session.commit()
        mapping_url = upload(client, exported.get_data(), f"export.{fmt}").headers["Location"]
        page = html_of(client.get(mapping_url))
        form = {**mapping_form(page), "key": "sku", "on_duplicate": "update"}
        preview = html_of(client.post(mapping_url, data=form))
        assert "0 rechazadas" in preview or "se rechazarían 0" in preview, preview
        run_form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                                   preview.split('id="import-run"')[1].split("</form>")[0]))
        done = client.post(mapping_url.replace("/mapping", "/run"), data=run_form)
        assert "1 actualizados" in html_of(client.get(done.headers["Location"]))
        session.expire_all()
        assert {(i.id, i.version) for i in session.scalars(select(Item))} == before
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit
        session.commit()
