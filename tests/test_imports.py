"""Imports of CSV and XLSX files (crm.services.imports and `crm import`): mapping guessed from
English and Spanish headers, each row checked as the API checks it and written through the
services, duplicates by a key, errors naming row and column with nothing written (all or
nothing) or the valid rows kept and the rejected ones returned, numbers and dates in the
file's language, encodings, undo; and every kind of bad input refused with a clear message."""
from __future__ import annotations

import csv
import gc
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session, selectinload

from crm import hookimpl
from crm.context import acting_as
from crm.db import db
from crm.errors import Conflict, ValidationError
from crm.models import (
    Account,
    AuditEntry,
    Contact,
    CustomField,
    Document,
    DocumentLine,
    ImportRow,
    ImportRun,
    Item,
    PriceBook,
    PriceBookEntry,
    StockMove,
    Vendor,
    WorkflowRun,
    item_taxes,
)
from crm.services import import_files, imports, records
from crm.testing import is_postgres, registered_plugin


def xlsx(rows: list[list], formulas: dict | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    for cell, formula in (formulas or {}).items():
        sheet[cell] = formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode(encoding)


@pytest.fixture(autouse=True)
def _reads_end_their_transaction(request):
    """The test's session ends its transaction before an import writes (SQLite: BEGIN IMMEDIATE)."""
    global _TEST_SESSION
    _TEST_SESSION = request.getfixturevalue("session") if "session" in request.fixturenames else None
    yield
    _TEST_SESSION = None


_TEST_SESSION = None


def do_import(app, entity: str, data: bytes, filename: str = "file.csv", *, dry_run: bool = False, **options):
    """Import like the CLI does: one transaction, rolled back on refusal or for a dry run."""
    if _TEST_SESSION is not None:
        _TEST_SESSION.commit()
    with app.app_context():
        session = db.session
        sheet = import_files.read(data, filename)
        opts = imports.options_from(session, entity, sheet, **options)
        if dry_run:
            try:
                return imports.run(session, entity, sheet, opts)
            finally:
                session.rollback()
        with db.transaction() as session:
            run = imports.new_run(session, entity, filename)
            outcome = imports.perform(session, run, sheet, opts)
        outcome.run_id = run.id
        return outcome


def count(session, model, *where) -> int:
    result = session.scalar(select(func.count()).select_from(model).where(*where))
    session.commit()
    return result


def item_by_sku(session, sku: str) -> Item | None:
    session.expire_all()
    item = session.scalar(select(Item).where(Item.sku == sku).options(selectinload(Item.taxes),
                                                                       selectinload(Item.components)))
    session.commit()
    return item


# --- mapping ------------------------------------------------------------------------------------

def test_the_mapping_is_guessed_from_english_and_spanish_headers(app, session):
    session.add(CustomField(entity="items", key="color", label="Colour", type="text"))
    session.commit()
    with app.app_context():
        guessed = imports.guess_mapping(db.session, "products", [
            "Nombre", "Referencia", "Precio unitario", "Coste", "Categoría", "PROVEEDOR", "Impuestos", "Colour",
            "Something else", ""])
    assert guessed == {"Nombre": "name", "Referencia": "sku", "Precio unitario": "unit_price",
                       "Coste": "purchase_cost", "Categoría": "category", "PROVEEDOR": "vendor",
                       "Impuestos": "taxes", "Colour": "custom.color", "Something else": None, "": None}
    with app.app_context():
        english = imports.guess_mapping(db.session, "accounts", ["Name", "Email", "Tax number",
                                                                 "Billing address: City"])
    assert english == {"Name": "name", "Email": "email", "Tax number": "tax_id",
                       "Billing address: City": "billing_address.city"}


def test_a_missing_required_column_is_refused_naming_it(app):
    with pytest.raises(ValidationError) as refused:
        do_import(app, "products", csv_bytes([["Name", "SKU"], ["Bolt", "B-1"]]))
    assert "Unit price" in refused.value.message and refused.value.code == "missing_column"


def test_a_mapping_is_saved_by_name_and_reused(app, session):
    with app.app_context():
        with db.transaction() as s:
            imports.save_mapping(s, "products", "supplier list", {"Art.": "name", "PVP": "unit_price",
                                                                  "Code": "sku"})
    data = csv_bytes([["Art.", "PVP", "Code"], ["Bolt", "1.50", "B-1"]])
    with app.app_context():
        mapping = imports.get_mapping(db.session, "products", "supplier list").columns
    do_import(app, "products", data, mapping=mapping)
    assert item_by_sku(session, "B-1").unit_price == Decimal("1.50")
    with app.app_context(), pytest.raises(ValidationError):
        imports.save_mapping(db.session, "products", "bad", {"Art.": "no_such_field"})


# --- rows checked and written through the services ----------------------------------------------

def test_products_import_from_a_spanish_xlsx_with_custom_fields_vendor_and_taxes(app, session, catalog):
    session.add(CustomField(entity="items", key="color", label="Color", type="select", choices=["Rojo", "Azul"]))
    session.add(CustomField(entity="items", key="since", label="Alta", type="date"))
    session.commit()
    data = xlsx([["Nombre", "Referencia", "Precio", "Proveedor", "Impuestos", "Color", "Alta", "Activo"],
                 ["Tornillo", "T-1", "1.234,56", "Suministros Norte", "IVA 21%", "rojo", "31/12/2026", "Sí"],
                 ["Tuerca", "T-2", 0.5, "", "IVA 10%, IVA 4%", "Azul", "01/02/2026", "no"]])
    outcome = do_import(app, "products", data, "catalogo.xlsx")
    assert (outcome.created, outcome.errors, outcome.locale) == (2, [], "es")
    tornillo, tuerca = item_by_sku(session, "T-1"), item_by_sku(session, "T-2")
    assert tornillo.unit_price == Decimal("1234.56") and tornillo.vendor_id == catalog.vendor
    assert tornillo.custom == {"color": "Rojo", "since": "2026-12-31"} and tornillo.active is True
    assert [t.id for t in tornillo.taxes] == [catalog.iva21]
    assert tuerca.unit_price == Decimal("0.5") and tuerca.active is False
    assert sorted(t.id for t in tuerca.taxes) == sorted([catalog.iva10, catalog.iva4])
    assert tuerca.custom["since"] == "2026-02-01"
    # the audit trail has them, as for records made through the API
    assert count(session, AuditEntry, AuditEntry.entity == "items", AuditEntry.action == "create") >= 2


def test_english_numbers_and_utf8_bom_and_windows_1252(app, session):
    rows = [["Name", "SKU", "Unit price"], ["Café", "C-1", "1,234.50"]]
    do_import(app, "products", b"\xef\xbb\xbf" + csv_bytes(rows))
    assert item_by_sku(session, "C-1").unit_price == Decimal("1234.50")
    assert item_by_sku(session, "C-1").name == "Café"
    do_import(app, "products", csv_bytes([["Nombre", "Referencia", "Precio"], ["Señal", "S-1", "12,5"]],
                                         delimiter=";", encoding="cp1252"))
    assert item_by_sku(session, "S-1").name == "Señal" and item_by_sku(session, "S-1").unit_price == Decimal("12.5")


def test_rows_are_checked_as_the_api_checks_them(app, session, catalog):
    data = csv_bytes([["Name", "SKU", "Unit price", "Email"],
                      ["", "E-1", "1"],                         # blank name: required
                      ["Too dear", "E-2", "9999999999999"],    # above the largest amount
                      ["Negative", "E-3", "-1"],                # below 0
                      ["Many places", "E-4", "1.23456"],        # more than 4 decimals
                      ["Taken", "W-1", "1"],                    # the catalog's widget has W-1
                      ["Fine", "E-6", "1"]])
    outcome = do_import(app, "products", data, on_duplicate="create", dry_run=True)
    by_row = {e.row: (e.column, e.message) for e in outcome.errors}
    assert set(by_row) == {2, 3, 4, 5, 6}
    assert by_row[2][0] == "Name" and by_row[3][0] == by_row[4][0] == by_row[5][0] == "Unit price"
    assert by_row[6][0] == "SKU" and "already" in by_row[6][1]
    assert outcome.created == 1   # the dry run says what would happen...
    assert item_by_sku(session, "E-6") is None   # ...and writes nothing


def test_all_or_nothing_writes_nothing_when_a_row_is_refused(app, session):
    data = csv_bytes([["Name", "SKU", "Unit price"], ["Good", "G-9", "1"], ["Bad", "G-8", "abc"]])
    with pytest.raises(imports.ImportRefused) as refused:
        do_import(app, "products", data)
    assert "Row 3" in refused.value.message and "Unit price" in refused.value.message
    assert item_by_sku(session, "G-9") is None
    assert count(session, ImportRun) == 0


def test_partial_keeps_the_valid_rows_and_returns_the_rejected_ones(app, session):
    data = csv_bytes([["Name", "SKU", "Unit price"], ["Good", "P-1", "1"], ["Bad", "P-2", "abc"],
                      ["Dup", "P-1", "2"], ["Also good", "P-3", "3"]])
    outcome = do_import(app, "products", data, partial=True, on_duplicate="create")
    assert (outcome.created, outcome.rejected_count) == (2, 2)
    assert item_by_sku(session, "P-1").unit_price == Decimal("1") and item_by_sku(session, "P-3")
    run = session.get(ImportRun, outcome.run_id)
    rejects = list(csv.reader(io.StringIO(run.rejects)))
    assert rejects[0] == ["Name", "SKU", "Unit price", "Row", "Error"]
    assert [r[3] for r in rejects[1:]] == ["3", "4"] and "Unit price" in rejects[1][4] and "SKU" in rejects[2][4]


@pytest.mark.parametrize("on_duplicate", ["skip", "update", "create"])
def test_duplicates_by_key(app, session, catalog, on_duplicate):
    data = csv_bytes([["Name", "SKU", "Unit price"], ["Widget renamed", "W-1", "25"], ["New", "N-1", "3"]])
    outcome = do_import(app, "products", data, key="sku", on_duplicate=on_duplicate, partial=True)
    widget = item_by_sku(session, "W-1")
    if on_duplicate == "skip":
        assert (outcome.created, outcome.skipped) == (1, 1) and widget.name == "Widget"
    elif on_duplicate == "update":
        assert (outcome.created, outcome.updated) == (1, 1)
        assert (widget.name, widget.unit_price, widget.purchase_cost) == ("Widget renamed", Decimal("25"),
                                                                          Decimal("12.00"))
    else:
        assert outcome.created == 1 and outcome.errors[0].column == "SKU"


def test_accounts_by_tax_id_and_contacts_matched_to_their_account(app, session, catalog):
    do_import(app, "accounts", csv_bytes([["Nombre", "NIF", "Correo", "Dirección de facturación: Ciudad"],
                                          ["Bar Pepe", "B123", "pepe@example.com", "Sevilla"],
                                          ["Otro nombre", "B123", "", "Cádiz"]]),
              key="tax_id", on_duplicate="update")
    account = session.scalar(select(Account).where(Account.tax_id == "B123"))
    assert account.name == "Otro nombre" and account.billing_address["city"] == "Cádiz"
    assert account.email == "pepe@example.com"   # a blank cell changes nothing
    outcome = do_import(app, "contacts", csv_bytes([["First name", "Last name", "Email", "Account"],
                                                    ["Eva", "Ruiz", "eva@example.com", "Otro nombre"],
                                                    ["Luis", "Gil", "", "B123"],
                                                    ["Ana", "Sanz", "", "Nobody Ltd"]]), partial=True)
    assert outcome.created == 2
    assert [(e.row, e.column) for e in outcome.errors] == [(4, "Account")]
    assert "Nobody Ltd" in outcome.errors[0].message
    eva = session.scalar(select(Contact).where(Contact.email == "eva@example.com"))
    assert eva.account_id == account.id


def test_vendors_services_and_bundles(app, session, catalog):
    do_import(app, "vendors", csv_bytes([["Proveedor", "Teléfono"], ["Hierros SA", "900"]]))
    assert session.scalar(select(Vendor.phone).where(Vendor.name == "Hierros SA")) == "900"
    do_import(app, "services", csv_bytes([["Name", "Unit price", "Usage unit"], ["Install", "80", "hour"]]),
              key="name")
    assert session.scalar(select(Item.kind).where(Item.name == "Install")) == "service"
    outcome = do_import(app, "bundles", csv_bytes([["Name", "SKU", "Unit price", "Components"],
                                                   ["Pair", "PAIR-1", "30", "2 × W-1, 1 × Gadget"],
                                                   ["Bad", "BAD-1", "30", "1 × KIT-1"]]), partial=True)
    assert outcome.created == 1 and outcome.errors[0].column == "Components" and "bundle" in outcome.errors[0].message
    pair = item_by_sku(session, "PAIR-1")
    assert pair.is_bundle and {(c.component_id, c.quantity) for c in pair.components} == {
        (catalog.widget, Decimal("2")), (catalog.gadget, Decimal("1"))}


def test_price_book_entries_and_opening_stock(app, session, catalog):
    session.add(PriceBook(name="Mayoristas", currency="EUR"))
    session.commit()
    outcome = do_import(app, "price_book_entries", csv_bytes([["Tarifa", "Producto", "Precio"],
                                                              ["Mayoristas", "W-1", "15,50"],
                                                              ["Mayoristas", "Gadget", "6"],
                                                              ["Nope", "W-1", "1"]]), partial=True)
    assert outcome.created == 2 and outcome.errors[0].column == "Tarifa"
    assert count(session, PriceBookEntry) == 2
    outcome = do_import(app, "stock", csv_bytes([["SKU", "Cantidad", "Motivo"], ["W-1", "10", "Encontrado"],
                                                 ["G-1", "5", ""], ["KIT-1", "1", ""]]), partial=True)
    assert outcome.created == 2 and outcome.errors[0].row == 4   # a bundle has no stock of its own
    session.expire_all()
    assert session.get(Item, catalog.widget).on_hand == Decimal("10")
    moves = list(session.scalars(select(StockMove).where(StockMove.kind == "adjustment")))
    assert {(m.product_id, m.quantity, m.reason) for m in moves} == {(catalog.widget, Decimal("10"), "found"),
                                                                      (catalog.gadget, Decimal("5"),
                                                                       "count_correction")}


# --- undo -----------------------------------------------------------------------------------------

def test_undo_removes_what_was_created_and_restores_what_was_updated(app, session, catalog):
    data = csv_bytes([["Name", "SKU", "Unit price"], ["Widget v2", "W-1", "21"], ["Brand new", "U-1", "1"]])
    outcome = do_import(app, "products", data, on_duplicate="update")
    assert item_by_sku(session, "W-1").unit_price == Decimal("21")
    with app.app_context(), db.transaction() as s:
        counts = imports.undo(s, imports.get_run(s, outcome.run_id))
    assert counts == {"deleted": 1, "restored": 1, "reversed": 0}
    widget = item_by_sku(session, "W-1")
    assert (widget.name, widget.unit_price) == ("Widget", Decimal("19.99")) and item_by_sku(session, "U-1") is None
    assert session.get(ImportRun, outcome.run_id).status == "undone"
    session.commit()
    with app.app_context(), pytest.raises(Conflict):
        imports.undo(db.session, imports.get_run(db.session, outcome.run_id))   # not twice


def test_undo_refuses_records_used_by_documents_and_changes_nothing(app, session, catalog):
    outcome = do_import(app, "products", csv_bytes([["Name", "SKU", "Unit price"], ["Sold", "S-9", "5"],
                                                    ["Unsold", "S-8", "5"]]))
    sold = item_by_sku(session, "S-9")
    document = Document(doc_type="quote", number="Q-IMP-1", status="Created", account_id=catalog.account,
                        currency="EUR")
    session.add(document)
    session.flush()
    session.add(DocumentLine(document_id=document.id, position=0, item_id=sold.id, description="Sold",
                             quantity=Decimal("1"), unit_price=Decimal("5")))
    session.commit()
    with app.app_context(), pytest.raises(Conflict) as refused:
        with db.transaction() as s:
            imports.undo(s, imports.get_run(s, outcome.run_id))
    assert "documents" in refused.value.message and "row 2" in refused.value.message
    assert item_by_sku(session, "S-8") is not None   # nothing undone
    assert session.get(ImportRun, outcome.run_id).status == "done"


def test_undo_of_opening_stock_reverses_the_moves(app, session, catalog):
    outcome = do_import(app, "stock", csv_bytes([["Product", "Quantity on hand"], ["W-1", "7"]]))
    with app.app_context(), db.transaction() as s:
        assert imports.undo(s, imports.get_run(s, outcome.run_id))["reversed"] == 1
    session.expire_all()
    assert session.get(Item, catalog.widget).on_hand == 0


def test_only_the_last_import_of_an_entity_is_undone(app, session):
    first = do_import(app, "vendors", csv_bytes([["Name"], ["V one"]]))
    do_import(app, "vendors", csv_bytes([["Name"], ["V two"]]))
    with app.app_context(), pytest.raises(Conflict):
        imports.undo(db.session, imports.get_run(db.session, first.run_id))


def test_import_records_who_imported(app, session, make_user):
    user = make_user("admin", "importer")
    with app.app_context(), acting_as(user):
        do_import(app, "vendors", csv_bytes([["Name"], ["Audited"]]))
    assert session.scalar(select(ImportRun.user_id)) == user.id


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, filename, words", [
    (b"PK\x03\x04 broken zip", "x.xlsx", "not a valid XLSX"),
    (b"not a zip at all", "x.xlsx", "not a valid XLSX"),
    (b"\x00\x01\x02binary", "x.csv", "not a text file"),
    (b"Name,SKU\n\x81\x8d\x8f\x90\x9d", "x.csv", "encoding"),
    (b'Name,SKU\n"unterminated,1\n', "x.csv", "malformed"),
    (b"   \n", "x.csv", "empty"),
    (b"x", "x.xls", "save it as XLSX or CSV"),
])
def test_bad_files_are_refused_with_a_clear_message(app, data, filename, words):
    with app.app_context(), pytest.raises(import_files.FileRefused) as refused:
        import_files.read(data, filename)
    assert words in refused.value.message and refused.value.fields == {"file": [refused.value.message]}


def test_a_too_large_file_is_refused_before_it_is_read(app):
    with app.app_context(), pytest.raises(import_files.FileRefused) as refused:
        import_files.read(b"a" * 2048, "big.csv", max_bytes=1024)
    assert "at most" in refused.value.message


def test_formula_cells_are_named_never_evaluated(app, session):
    data = xlsx([["Name", "SKU", "Unit price"], ["Formula", "F-1", 1]], formulas={"C2": "=1+1"})
    outcome = do_import(app, "products", data, "f.xlsx", partial=True)
    assert [(e.row, e.column) for e in outcome.errors] == [(2, "Unit price")]
    assert "formula" in outcome.errors[0].message
    outcome = do_import(app, "products", csv_bytes([["Name", "SKU", "Unit price"], ["=HYPERLINK(1)", "F-2", "1"],
                                                    ["'=kept as text", "F-3", "1"]]), partial=True)
    assert [(e.row, e.column) for e in outcome.errors] == [(2, "Name")]
    assert item_by_sku(session, "F-3").name == "=kept as text"


def test_an_unknown_account_names_row_and_column_and_nothing_is_half_written(app, session, catalog):
    data = csv_bytes([["Last name", "Account"], ["Ok", "Ferretería López S.L."], ["Lost", "Nobody"]])
    with pytest.raises(imports.ImportRefused) as refused:
        do_import(app, "contacts", data)
    assert refused.value.fields == {"rows.3.Account": ["unknown account 'Nobody'"]}
    assert count(session, Contact, Contact.last_name == "Ok") == 0


def test_the_records_an_import_made_are_kept_for_undo(app, session):
    outcome = do_import(app, "vendors", csv_bytes([["Name"], ["Kept"]]))
    rows = list(session.scalars(select(ImportRow).where(ImportRow.run_id == outcome.run_id)))
    assert [(r.row, r.action) for r in rows] == [(2, "created")]


# --- batches: ids in the rows' order, the audit trail, the plugins told once a batch ---------------

class _BatchSpy:
    """A plugin with the batch form of the record hook."""

    def __init__(self):
        self.batches: list[tuple[str, list[int], bool]] = []
        self.single: list[int] = []

    @hookimpl
    def crm_records_saved(self, session, entity, record_ids, created):
        self.batches.append((entity, list(record_ids), created))

    @hookimpl
    def crm_record_saved(self, session, entity, record, created):
        self.single.append(record.id)


class _SingleSpy:
    """A plugin written before the batch form: told record by record."""

    def __init__(self):
        self.calls: list[tuple[str, int, str, bool]] = []

    @hookimpl
    def crm_record_saved(self, session, entity, record, created):
        self.calls.append((entity, record.id, record.sku, created))


def test_a_large_import_keeps_each_row_with_its_record_audits_them_and_tells_plugins_per_batch(app, session):
    rows = 2 * imports.BATCH + 7
    data = csv_bytes([["Name", "SKU", "Unit price"], *([f"Batch {n}", f"B-{n:05d}", f"{n}.5"] for n in range(rows))])
    with registered_plugin(app, _BatchSpy(), "batch_spy") as batch, \
            registered_plugin(app, _SingleSpy(), "single_spy") as single:
        outcome = do_import(app, "products", data)
    assert outcome.created == rows
    made = {r.row: r.record_id for r in session.scalars(select(ImportRow).where(ImportRow.run_id == outcome.run_id))}
    items = {i.id: i for i in session.scalars(select(Item).where(Item.sku.like("B-%")))}
    for n in range(rows):   # row n + 2 of the file (after the header) made the item of its SKU and price
        item = items[made[n + 2]]
        assert (item.sku, item.name, item.unit_price, item.version) == (f"B-{n:05d}", f"Batch {n}",
                                                                        Decimal(f"{n}.5"), 1)
    audited = set(session.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity == "items",
                                                                      AuditEntry.action == "create")))
    assert {str(i) for i in items} <= audited
    assert [len(ids) for _entity, ids, _created in batch.batches] == [imports.BATCH, imports.BATCH, 7]
    assert {e for e, _ids, c in batch.batches} == {"items"} and all(c for _e, _i, c in batch.batches)
    assert sorted(i for _e, ids, _c in batch.batches for i in ids) == sorted(items) and batch.single == []
    assert sorted((sku, record_id) for _e, record_id, sku, _c in single.calls) == \
        sorted((i.sku, i.id) for i in items.values())


def test_updates_are_told_per_batch_and_audited_with_their_changes(app, session, catalog):
    data = csv_bytes([["Name", "SKU", "Unit price"], ["Widget v3", "W-1", "22"]])
    with registered_plugin(app, _BatchSpy(), "batch_spy") as batch:
        do_import(app, "products", data, on_duplicate="update")
    widget = item_by_sku(session, "W-1")
    assert batch.batches == [("items", [widget.id], False)] and batch.single == []
    change = session.scalars(select(AuditEntry).where(AuditEntry.entity == "items", AuditEntry.action == "update",
                                                      AuditEntry.entity_id == str(widget.id))).all()[-1]
    assert change.changes["name"] == ["Widget", "Widget v3"]


def test_workflow_rules_fire_for_each_record_of_an_imported_batch(app, api, session):
    app.config["WORKFLOWS_DISPATCH"] = False   # runs stay queued: the test reads them
    answer = api.post("/workflows", json={
        "name": "New flagged items", "entity": "items", "enabled": True, "trigger": {"event": "created"},
        "conditions": {"items": [{"field": "name", "op": "contains", "value": "flagged"}]},
        "actions": [{"type": "add_comment", "text": "seen {{ record.name }}"}]})
    assert answer.status_code == 201, answer.text
    data = csv_bytes([["Name", "SKU", "Unit price"], ["A flagged", "F-1", "1"], ["Plain", "F-2", "1"],
                      ["B flagged", "F-3", "1"]])
    do_import(app, "products", data)
    flagged = {item_by_sku(session, sku).id for sku in ("F-1", "F-3")}
    runs = session.execute(select(WorkflowRun.record_id, WorkflowRun.event).where(WorkflowRun.entity == "items")).all()
    assert sorted(runs) == sorted((record_id, "created") for record_id in flagged)


def test_updates_written_together_still_refuse_a_row_alone(app, session, catalog):
    """Two rows of a batch give the same new SKU to two products: the batch's one write is
    refused, the batch is written again row by row, and only the second row is rejected."""
    data = csv_bytes([["Name", "SKU", "Unit price"], ["Widget", "NEW-1", "20"], ["Gadget", "NEW-1", "8"],
                      ["Widget", "NEW-1", "21"]])
    outcome = do_import(app, "products", data, key="name", on_duplicate="update", partial=True)
    assert (outcome.updated, outcome.rejected_count) == (2, 1)
    assert [(e.row, e.column) for e in outcome.errors] == [(3, "SKU")]
    widget, gadget = item_by_sku(session, "NEW-1"), item_by_sku(session, "G-1")
    assert (widget.name, widget.unit_price, gadget.unit_price) == ("Widget", Decimal("21"), Decimal("7.455"))


# --- undoing a large import: a few statements a batch, a refusal naming its row ---------------------

class _DeleteSpy:
    def __init__(self):
        self.deleted: list[tuple[str, int]] = []

    @hookimpl
    def crm_record_deleted(self, session, entity, record_id):
        self.deleted.append((entity, record_id))


def made_by(session, run_id) -> dict[int, int]:
    """The file's row -> the id of the record it created or updated."""
    made = {r.row: r.record_id for r in session.scalars(select(ImportRow).where(ImportRow.run_id == run_id))}
    session.commit()
    return made


def test_undo_of_a_large_import_deletes_every_record_with_a_few_statements_a_batch(app, session, catalog):
    rows = 2 * imports.BATCH + 7
    data = csv_bytes([["Name", "SKU", "Unit price", "Taxes"],
                      *([f"Undo {n}", f"U-{n:05d}", "1", "IVA 21%"] for n in range(rows))])
    outcome = do_import(app, "products", data)
    ids = set(made_by(session, outcome.run_id).values())
    assert len(ids) == rows
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)
    event.listen(db.engine(app), "before_cursor_execute", seen)
    try:
        with registered_plugin(app, _DeleteSpy(), "delete_spy") as spy, app.app_context(), \
                db.transaction() as s:
            counts = imports.undo(s, imports.get_run(s, outcome.run_id, for_update=True))
    finally:
        event.remove(db.engine(app), "before_cursor_execute", seen)
    assert counts == {"deleted": rows, "restored": 0, "reversed": 0}
    assert count(session, Item, Item.id.in_(ids)) == 0
    assert count(session, item_taxes, item_taxes.c.item_id.in_(ids)) == 0
    deletions = set(session.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity == "items",
                                                                       AuditEntry.action == "delete")))
    assert deletions == {str(i) for i in ids}
    assert sorted(spy.deleted) == sorted(("items", i) for i in ids)
    assert len(statements) < 20 * 3, statements   # three batches (one a record: seven a record)


def test_undo_refuses_a_record_used_in_a_later_batch_naming_its_row_and_changes_nothing(app, session, catalog):
    rows = imports.BATCH + 3
    outcome = do_import(app, "products", csv_bytes([["Name", "SKU", "Unit price"],
                                                    *([f"Used {n}", f"UU-{n:04d}", "5"] for n in range(rows))]))
    made = made_by(session, outcome.run_id)
    document = Document(doc_type="quote", number="Q-IMP-2", status="Created", account_id=catalog.account,
                        currency="EUR")
    session.add(document)
    session.flush()
    session.add(DocumentLine(document_id=document.id, position=0, item_id=made[2], description="Used 0",
                             quantity=Decimal("1"), unit_price=Decimal("5")))   # the first row: undone last
    session.commit()
    with app.app_context(), pytest.raises(Conflict) as refused:
        with db.transaction() as s:
            imports.undo(s, imports.get_run(s, outcome.run_id))
    assert "row 2:" in refused.value.message and "documents" in refused.value.message
    assert "Used 0" in refused.value.message
    assert count(session, Item, Item.id.in_(made.values())) == rows   # nothing undone
    assert session.get(ImportRun, outcome.run_id).status == "done"


class _SaveSpy:
    def __init__(self):
        self.saved: list[tuple[str, int, bool]] = []

    @hookimpl
    def crm_record_saved(self, session, entity, record, created):
        self.saved.append((entity, record.id, created))

    @hookimpl
    def crm_records_saved(self, session, entity, record_ids, created):
        self.saved.extend((entity, record_id, created) for record_id in record_ids)


def test_undo_of_a_large_update_restores_every_record_with_a_few_statements_a_batch(app, session, catalog, monkeypatch):
    rows = 2 * imports.BATCH + 7
    do_import(app, "products", csv_bytes([["Name", "SKU", "Unit price"],
                                          *([f"Restore {n}", f"R-{n:05d}", "1"] for n in range(rows))]))
    outcome = do_import(app, "products", csv_bytes([["Name", "SKU", "Unit price", "Category"],
                                                    *([f"Changed {n}", f"R-{n:05d}", "2", "New"]
                                                      for n in range(rows))]), key="sku", on_duplicate="update")
    assert outcome.updated == rows
    ids = set(made_by(session, outcome.run_id).values())
    statements: list[str] = []

    audit_writes: list[int] = []
    insert_rows = records.insert_rows

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def counted(s, table, rows):
        if table.name == "audit_log" and rows:
            audit_writes.append(len(rows))
        insert_rows(s, table, rows)
    event.listen(db.engine(app), "before_cursor_execute", seen)
    monkeypatch.setattr(records, "insert_rows", counted)
    try:
        with registered_plugin(app, _SaveSpy(), "save_spy") as spy, app.app_context(), db.transaction() as s:
            counts = imports.undo(s, imports.get_run(s, outcome.run_id, for_update=True))
    finally:
        event.remove(db.engine(app), "before_cursor_execute", seen)
    assert counts == {"deleted": 0, "restored": rows, "reversed": 0}
    restored = {(i.name, i.sku, i.unit_price, i.category) for i in session.scalars(select(Item).where(Item.id.in_(ids)))}
    assert restored == {(f"Restore {n}", f"R-{n:05d}", Decimal("1"), "") for n in range(rows)}
    updates = list(session.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity == "items",
                                                                      AuditEntry.action == "update")))
    assert {str(i) for i in ids} <= set(updates)
    assert sorted(spy.saved) == sorted(("items", i, False) for i in ids)   # the plugins told of each
    # three batches, each written with one UPDATE of the items (executemany, each row matched by
    # its id and version) and one write of their audit entries, and a few statements besides
    assert audit_writes == [imports.BATCH, imports.BATCH, 7]
    assert sum(st.startswith("UPDATE items") for st in statements) == 3
    assert len(statements) < 20 * 3, statements


#: each entity whose updates are written a batch at a time: its model, file columns, key, audit name
_TOGETHER = {
    "products": (Item, ["Name", "SKU", "Unit price"], lambda n, v: [f"P{n}", f"K-{n}", str(v)], "sku", "items"),
    "services": (Item, ["Name", "Unit price"], lambda n, v: [f"S{n}", str(v)], "name", "items"),
    "accounts": (Account, ["Name", "Tax id", "Phone"], lambda n, v: [f"A{n}", f"T{n}", f"{v}"], "tax_id",
                 "accounts"),
    "contacts": (Contact, ["First name", "Last name", "Email", "Phone"],
                 lambda n, v: ["C", f"{n}", f"c{n}@example.com", f"{v}"], "email", "contacts"),
    "vendors": (Vendor, ["Name", "Phone"], lambda n, v: [f"V{n}", f"{v}"], "name", "vendors"),
}


@pytest.mark.parametrize("entity", sorted(_TOGETHER))
def test_updates_and_their_undo_write_a_batch_of_records_with_one_update(app, session, entity, monkeypatch):
    model, header, row, key, audited = _TOGETHER[entity]
    rows = imports.BATCH + 3
    do_import(app, entity, csv_bytes([header, *(row(n, 1) for n in range(rows))]))
    table = model.__table__.name
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.startswith(f"UPDATE {table} "):
            statements.append(statement)
    event.listen(db.engine(app), "before_cursor_execute", seen)
    try:
        with registered_plugin(app, _SaveSpy(), "save_spy") as spy:
            outcome = do_import(app, entity, csv_bytes([header, *(row(n, 2) for n in range(rows))]), key=key,
                                on_duplicate="update")
            updated = len(statements)
            with app.app_context(), db.transaction() as s:
                counts = imports.undo(s, imports.get_run(s, outcome.run_id, for_update=True))
    finally:
        event.remove(db.engine(app), "before_cursor_execute", seen)
    assert outcome.updated == rows and counts["restored"] == rows
    assert updated == 2 and len(statements) == 4, "one UPDATE a batch, each way"
    ids = set(made_by(session, outcome.run_id).values())
    assert sorted(spy.saved) == sorted([(audited, i, False) for i in ids] * 2), "the plugins told of each, twice"
    entries = session.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity == audited,
                                                                 AuditEntry.action == "update")).all()
    assert sorted(entries) == sorted([str(i) for i in ids] * 2), "each change audited"
    again = csv_bytes([header, *(row(n, 1) for n in range(rows))])
    assert do_import(app, entity, again, key=key, on_duplicate="skip").skipped == rows   # restored: the same keys


@pytest.mark.parametrize("entity", ["accounts", "contacts", "vendors"])
def test_new_records_are_added_a_batch_at_a_time_each_kept_with_its_row(app, session, entity):
    """Accounts, contacts and vendors are created together, a batch a flush (products and services
    have their own bulk insert; on PostgreSQL the flush inserts a batch with one statement); a key
    repeated within a batch is still the duplicate of the record its first row made, and each
    record is audited, told to the plugins and kept with its row."""
    model, header, row, key, audited = _TOGETHER[entity]
    rows = imports.BATCH + 3
    lines = [row(n, n) for n in range(rows)]
    lines.insert(10, row(3, "again"))   # row 3's key again, in the same batch: skipped
    table = model.__table__.name
    inserts: list[str] = []
    flushes: list[int] = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.startswith(f"INSERT INTO {table} "):
            inserts.append(statement)

    def flushed(flushing, _context):
        made = sum(isinstance(obj, model) for obj in flushing.new)
        if made:
            flushes.append(made)
    event.listen(db.engine(app), "before_cursor_execute", seen)
    event.listen(Session, "after_flush", flushed)
    try:
        with registered_plugin(app, _SaveSpy(), "save_spy") as spy:
            outcome = do_import(app, entity, csv_bytes([header, *lines]), key=key, on_duplicate="skip")
    finally:
        event.remove(db.engine(app), "before_cursor_execute", seen)
        event.remove(Session, "after_flush", flushed)
    assert (outcome.created, outcome.skipped) == (rows, 1)
    # the first batch in two flushes (before the repeated key and after it), then the last batch
    assert flushes == [10, imports.BATCH - 11, 4]
    assert len(inserts) == (3 if is_postgres() else rows)
    made = made_by(session, outcome.run_id)
    records = {r.id: r for r in session.scalars(select(model).where(model.id.in_(made.values())))}
    numbers = [n for n in range(2, rows + 3) if n != 12]   # the file's rows after the header but the repeat
    assert sorted(made) == numbers
    for n, number in enumerate(numbers):   # each row made the record holding its values
        assert row(n, n)[0] in {getattr(records[made[number]], column, None) for column in ("name", "first_name")}
    assert sorted(spy.saved) == sorted((audited, i, True) for i in records)
    entries = session.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity == audited,
                                                                 AuditEntry.action == "create")).all()
    assert sorted(entries) == sorted(str(i) for i in records)


def test_undo_of_an_update_refuses_a_value_taken_meanwhile_naming_its_row_and_changes_nothing(app, session, catalog):
    rows = imports.BATCH + 3
    do_import(app, "products", csv_bytes([["Name", "SKU", "Unit price"],
                                          *([f"Renamed {n}", f"OLD-{n:04d}", "1"] for n in range(rows))]))
    outcome = do_import(app, "products", csv_bytes([["Name", "SKU", "Unit price"],
                                                    *([f"Renamed {n}", f"NEW-{n:04d}", "1"] for n in range(rows))]),
                        key="name", on_duplicate="update")
    assert outcome.updated == rows
    session.add(Item(kind="product", name="Took the old SKU", sku="OLD-0000", unit_price=Decimal("1")))
    session.commit()   # the first row's SKU before the update: restored last, in the second batch
    with app.app_context(), pytest.raises(Conflict) as refused:
        with db.transaction() as s:
            imports.undo(s, imports.get_run(s, outcome.run_id))
    assert "row 2:" in refused.value.message and "sku" in refused.value.message.lower()
    session.expire_all()
    skus = set(session.scalars(select(Item.sku).where(Item.name.like("Renamed %"))))
    assert skus == {f"NEW-{n:04d}" for n in range(rows)}   # nothing restored
    assert session.get(ImportRun, outcome.run_id).status == "done"


@pytest.mark.parametrize("entity, header, use", [
    ("accounts", ["Account name"], "contacts"),
    ("vendors", ["Name"], "items"),
    ("contacts", ["First name", "Last name"], "documents"),
])
def test_undo_of_accounts_vendors_and_contacts_removes_them_or_names_the_row_in_use(
        app, session, catalog, entity, header, use):
    values = [[f"Party {n}"] + ([f"Last {n}"] if len(header) == 2 else []) for n in range(3)]
    outcome = do_import(app, entity, csv_bytes([header, *values]))
    made = made_by(session, outcome.run_id)
    used = made[3]
    if use == "contacts":
        session.add(Contact(first_name="Ana", last_name="Uses", account_id=used))
    elif use == "items":
        session.add(Item(kind="product", name="From the vendor", vendor_id=used, unit_price=Decimal("1")))
    else:
        session.add(Document(doc_type="quote", number="Q-IMP-3", status="Created", account_id=catalog.account,
                             contact_id=used, currency="EUR"))
    session.commit()
    with app.app_context(), pytest.raises(Conflict) as refused:
        with db.transaction() as s:
            imports.undo(s, imports.get_run(s, outcome.run_id))
    assert "row 3:" in refused.value.message and use in refused.value.message
    model = {"accounts": Account, "vendors": Vendor, "contacts": Contact}[entity]
    assert count(session, model, model.id.in_(made.values())) == 3
    session.execute(delete({"contacts": Contact, "items": Item, "documents": Document}[use])
                    .where({"contacts": Contact.account_id, "items": Item.vendor_id,
                            "documents": Document.contact_id}[use] == used))
    session.commit()
    with app.app_context(), db.transaction() as s:
        assert imports.undo(s, imports.get_run(s, outcome.run_id))["deleted"] == 3
    assert count(session, model, model.id.in_(made.values())) == 0


def test_full_collections_are_rarer_during_an_import_and_its_undo_and_as_before_after_whatever_their_end(
        app, session):
    """An import and its undo keep their rows and records alive: Python's full collections, which
    walk every live object, are a hundred times rarer while they run (``crm.collector``), and the
    collector is as it was once they end, done, refused or failed."""
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []

    class Spy:
        fail = False

        @hookimpl
        def crm_records_saved(self, session, entity, record_ids, created):
            seen.append(gc.get_threshold())
            if self.fail:
                raise RuntimeError("a plugin failed")

        @hookimpl
        def crm_record_deleted(self, session, entity, record_id):
            seen.append(gc.get_threshold())

    header = ["Name", "SKU", "Unit price"]
    with registered_plugin(app, Spy(), "collector_spy") as spy:
        outcome = do_import(app, "products", csv_bytes([header, ["Kept", "GC-1", "1"]]))
        with pytest.raises(imports.ImportRefused):
            do_import(app, "products", csv_bytes([header, ["Good", "GC-2", "1"], ["Bad", "GC-3", "abc"]]))
        assert gc.get_threshold() == before
        spy.fail = True
        with pytest.raises(RuntimeError):
            do_import(app, "products", csv_bytes([header, ["Failing", "GC-4", "1"]]))
        assert gc.get_threshold() == before
        spy.fail = False
        with app.app_context(), db.transaction() as s:
            imports.undo(s, imports.get_run(s, outcome.run_id, for_update=True))
    assert seen and set(seen) == {(before[0], before[1], before[2] * 100)}
    assert len(seen) == 4   # each import's batch and the undo's deletion, each while relaxed
    assert gc.get_threshold() == before
