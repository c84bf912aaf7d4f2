"""Importing in a real browser, in Spanish: a Spanish XLSX catalogue with a column the import does
not recognise and a row naming an unknown vendor; the mapping is fixed, the preview names the
refused row, the valid rows are imported, the import is undone; then a filtered list is exported
and imported back unchanged (round trip)."""
from __future__ import annotations

import io

from openpyxl import Workbook
from playwright.sync_api import expect
from sqlalchemy import func, select

from crm.models import AuditEntry, Item
from tests.browser.test_conversion_pages import sign_in


def catalogue() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in [["Nombre", "Referencia", "Importe", "Proveedor", "Categoría"],
                ["Tornillo largo", "BR-1", "1.234,50", "Suministros Norte", "Ferretería"],
                ["Tuerca", "BR-2", "0,75", "Nadie S.A.", "Ferretería"],
                ["Arandela", "BR-3", 0.1, "", "Ferretería"]]:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def count(session, prefix: str) -> int:
    result = session.scalar(select(func.count()).select_from(Item).where(Item.sku.like(prefix + "%")))
    session.commit()
    return result


def test_import_a_spanish_catalogue_fix_the_mapping_undo_and_round_trip(new_page, live_server, make_user, catalog,
                                                                        session, tmp_path):
    page = new_page(locale="es-ES")
    sign_in(page, live_server, make_user("purchasing", language="es").username)
    page.goto(live_server + "/products/")
    page.get_by_role("link", name="Importar").click()
    page.set_input_files("#f-file", files=[{"name": "catalogo.xlsx", "buffer": catalogue(),
                                            "mimeType": "application/vnd.openxmlformats-officedocument"
                                                        ".spreadsheetml.sheet"}])
    page.get_by_role("button", name="Siguiente: las columnas").click()

    # "Importe" is not recognised: the preview refuses the missing required column
    assert page.locator("#map-2").input_value() == ""
    assert page.locator("#map-0").input_value() == "name" and page.locator("#map-3").input_value() == "vendor"
    page.get_by_role("button", name="Vista previa").click()
    assert "falta una columna obligatoria: Precio unitario" in page.locator("#import-error").inner_text()

    # fixed: Importe -> Unit price; the preview names the row with the unknown vendor
    page.select_option("#map-2", "unit_price")
    page.get_by_role("button", name="Vista previa").click()
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(1)
    assert errors.first.inner_text().split("\t")[:2] == ["3", "Proveedor"]
    assert "Nadie S.A." in errors.first.inner_text()
    expect(page.get_by_role("button", name="Importar")).to_be_disabled()   # all or nothing: not with a refused row
    assert count(session, "BR-") == 0

    page.get_by_role("link", name="Cambiar las columnas").click()
    page.select_option("#map-2", "unit_price")
    page.check("input[name=partial]")
    page.get_by_role("button", name="Vista previa").click()
    page.get_by_role("button", name="Importar").click()
    assert "2 creados, 0 actualizados, 0 omitidos, 1 rechazados." in page.locator("#import-counts").inner_text()
    assert count(session, "BR-") == 2
    session.expire_all()
    assert session.scalar(select(Item.unit_price).where(Item.sku == "BR-1")) == 1234.5
    session.commit()

    page.get_by_role("button", name="Deshacer esta importación").click()
    assert "Importación deshecha: 2 eliminados" in page.locator(".flash").first.inner_text()
    assert count(session, "BR-") == 0

    # round trip: export the list filtered to the catalog's hardware, import it back unchanged
    page.goto(live_server + "/products/?category=Hardware")
    page.locator(".export-menu summary").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (XLSX)").click()
    exported = tmp_path / "productos.xlsx"
    download.value.save_as(exported)
    session.expire_all()
    versions = {(i.id, i.version) for i in session.scalars(select(Item))}
    audit = session.scalar(select(func.count()).select_from(AuditEntry))
    session.commit()
    page.goto(live_server + "/imports/?entity=products")
    page.set_input_files("#f-file", str(exported))
    page.get_by_role("button", name="Siguiente: las columnas").click()
    page.select_option("#f-key", "sku")
    page.check("input[name=on_duplicate][value=update]")
    page.get_by_role("button", name="Vista previa").click()
    assert "se rechazarían 0" in page.locator("#import-summary").inner_text()
    page.get_by_role("button", name="Importar").click()
    assert "0 creados, 2 actualizados" in page.locator("#import-counts").inner_text()
    session.expire_all()
    assert {(i.id, i.version) for i in session.scalars(select(Item))} == versions
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit
