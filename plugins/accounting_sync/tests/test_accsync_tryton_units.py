"""Units of measure in Tryton: each product gets the unit its usage unit names (real trytond)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from accsync_helpers import configure, in_app, links, sync
from crm.services import documents, items

pytest.importorskip("trytond", reason="Tryton is an optional extra: pip install -e 'plugins/accounting_sync[tryton]'")


def _invoice_lines(tryton, remote_id):
    invoice = tryton.rpc("account.invoice", "read", [int(remote_id)], ["lines"])[0]
    lines = tryton.rpc("account.invoice.line", "read", invoice["lines"], ["product", "quantity", "unit.name"])
    return {line["product"]: line for line in lines}


def _invoice(app, catalog, lines):
    return in_app(app, lambda s: documents.create_document(s, "invoice", {
        "account_id": catalog.account, "lines": [{"item_id": item, "quantity": qty} for item, qty in lines]}).id)


def _service(app, name, usage_unit):
    return in_app(app, lambda s: items.create_item(s, "service", {"name": name, "unit_price": Decimal("50"),
                                                                  "usage_unit": usage_unit}).id)


def test_a_service_in_hours_goes_in_hours_with_its_decimals(app, tryton, catalog):
    hours = _service(app, "Soporte", "hours")
    horas = _service(app, "Formación", "Horas")
    _invoice(app, catalog, [(hours, Decimal("1.5")), (horas, Decimal("0.25"))])
    run = sync(app, "tryton")
    assert run.status == "done", run
    assert run.count("invoices", "to_remote", "created") == 1, run
    products = {link.local_id: int(link.remote_id) for link in links(app, "tryton", "items")}
    [link] = links(app, "tryton", "invoices")
    lines = _invoice_lines(tryton, link.remote_id)
    assert lines[products[hours]]["quantity"] == 1.5
    assert lines[products[hours]]["unit."]["name"] == "Hour"
    assert lines[products[horas]]["quantity"] == 0.25
    assert lines[products[horas]]["unit."]["name"] == "Hour"
    template = tryton.rpc("product.product", "read", [products[hours]], ["default_uom.name"])[0]
    assert template["default_uom."]["name"] == "Hour"
    again = sync(app, "tryton")
    assert again.total("created") + again.total("updated") + again.total("failed") == 0, again


def test_units_of_the_connection_and_the_fallback(app, tryton, catalog):
    configure(app, "tryton", units="jornada = Day; saco = Kilogram", uom="Unit")
    day = _service(app, "Obra", "Jornada")
    bag = _service(app, "Arena", "saco")
    other = _service(app, "Visita", "visita")   # not mapped: the connection's uom
    run = sync(app, "tryton", ["accounts", "items"])
    assert run.status == "done" and run.count("items", "to_remote", "failed") == 0, run
    products = {link.local_id: int(link.remote_id) for link in links(app, "tryton", "items")}
    names = {local: tryton.rpc("product.product", "read", [products[local]], ["default_uom.name"])[0]
             ["default_uom."]["name"] for local in (day, bag, other)}
    assert names == {day: "Day", bag: "Kilogram", other: "Unit"}


def test_more_decimals_than_the_unit_takes_is_a_failed_record_naming_it(app, tryton, catalog):
    visit = _service(app, "Visita", "visita")   # Unit: no decimals
    _invoice(app, catalog, [(visit, Decimal("1.5"))])
    run = sync(app, "tryton")
    [record] = [r for r in run.records if r["entity"] == "invoices" and r["side"] == "to_remote"]
    assert record["action"] == "failed", run
    assert "Unit" in record["message"] and "1.5" in record["message"], record
