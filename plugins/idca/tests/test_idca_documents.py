"""Layouts applied to documents through the totals pipeline: worked examples in cents, editable
values and defaults, per-cell errors, custom and replaced totals (a Spanish IRPF withholding),
running subtotals, issued documents kept on their layout version, conversions, and the plugin
switched off."""
from __future__ import annotations

from decimal import Decimal

import pytest

from idca_helpers import MARGIN_COLUMNS, MARGIN_TOTALS, order_body


def custom_of(document):
    return [line["custom"] for line in document["lines"]]


# --- the example: a margin column and a margin total on sales orders ---------------------

def test_margin_column_and_total_worked_example(api, catalog, margin_layout):
    response = api.post("/sales-orders", json=order_body(catalog))
    assert response.status_code == 201, response.text
    order = response.json()
    # widget: net 53.97 - 3 x 12.00 = 17.97, 17.97 / 53.97 = 33.296 % -> 33.30
    # gadget: net 14.91 - 2 x 3.00 = 8.91, 8.91 / 14.91 = 59.759 % -> 59.76
    # consulting (no purchase cost): 55.00 - 1.5 x 0.00 = 55.00, 100.00 %
    assert custom_of(order) == [{"margin": "17.97", "margin_pct": "33.30"},
                                {"margin": "8.91", "margin_pct": "59.76"},
                                {"margin": "55.00", "margin_pct": "100.00"}]
    assert order["extra_totals"] == {"margin_total": "81.88"}
    assert order["totals"]["grand_total"] == "148.25"            # built-in totals untouched
    assert order["idca"] == {"layout_version": 1, "live": True, "total_errors": {}}
    stored = api.get(f"/sales-orders/{order['id']}").json()
    assert custom_of(stored) == custom_of(order) and stored["extra_totals"] == order["extra_totals"]


def test_values_follow_the_lines_as_they_are_edited(api, catalog, margin_layout):
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    lines = [{"id": line["id"]} for line in order["lines"]]
    lines[0].update(quantity="5", discount_percent=None)          # 5 x 19.99 = 99.95 - 60.00 = 39.95
    lines[1].update(unit_price="9.00")                             # 2 x 9.00 = 18.00 - 6.00 = 12.00
    changed = api.patch(f"/sales-orders/{order['id']}", json={"lines": lines, "version": order["version"]})
    assert changed.status_code == 200, changed.text
    changed = changed.json()
    assert [c["margin"] for c in custom_of(changed)] == ["39.95", "12.00", "55.00"]
    assert [c["margin_pct"] for c in custom_of(changed)] == ["39.97", "66.67", "100.00"]   # 39.9699.. / 66.666..
    assert changed["extra_totals"] == {"margin_total": "106.95"}


def test_line_columns_hook_gives_the_visible_custom_columns(app, put_layout):
    from crm.db import db
    from crm.ui import LineColumn
    put_layout("sales-orders", MARGIN_COLUMNS + [
        {"key": "helper", "label": "Helper", "type": "number", "formula": "quantity * 2", "visible": False},
        {"key": "pack", "label": "Pack", "type": "select", "editable": True, "choices": ["box", "pallet"],
         "width": "80px"}])
    with app.test_request_context():
        from crm.ui import line_columns
        columns = [c for c in line_columns("sales_order", db.session) if not c.key.startswith("hello")]
        assert columns == [LineColumn("margin", "Margin", type="money"),
                           LineColumn("margin_pct", "Margin %", type="percent"),
                           LineColumn("pack", "Pack", type="select", editable=True, width="80px",
                                      choices=("box", "pallet"))]
        assert [c.key for c in line_columns("quote", db.session) if not c.key.startswith("hello")] == []


# --- editable values, defaults, validation --------------------------------------------------------

EDITABLE = [
    {"key": "kg_unit", "label": "kg/unit", "type": "number", "editable": True,
     "default": {"source": "item_custom", "field": "weight"}},
    {"key": "kg", "label": "kg", "type": "number", "formula": "quantity * kg_unit"},
    {"key": "pack", "label": "Pack", "type": "select", "editable": True, "choices": ["box", "pallet"],
     "default": {"source": "value", "value": "box"}},
    {"key": "ship_by", "label": "Ship by", "type": "date", "editable": True},
    {"key": "cost", "label": "Cost", "type": "money", "default": {"source": "item", "field": "purchase_cost"}},
    {"key": "remark", "label": "Remark", "type": "text", "editable": True},
]


@pytest.fixture
def weights(api, catalog):
    assert api.post("/custom-fields", json={"entity": "items", "key": "weight", "label": "Weight",
                                            "type": "decimal"}).status_code == 201
    assert api.patch(f"/products/{catalog.widget}", json={"custom": {"weight": "0.25"}}).status_code == 200


def test_editable_values_defaults_and_formulas_over_them(api, catalog, put_layout, weights):
    put_layout("sales-orders", EDITABLE)
    order = api.post("/sales-orders", json=order_body(catalog, lines=[
        {"item_id": catalog.widget, "quantity": "3"},
        {"item_id": catalog.widget, "quantity": "2", "custom": {"kg_unit": "2", "pack": "pallet",
                                                               "ship_by": "2027-03-01", "remark": "fragile"}},
        {"item_id": catalog.gadget, "quantity": "1"},
    ])).json()
    first, second, third = custom_of(order)
    # defaults: kg/unit from the item's custom field, pack fixed, cost from the item's purchase cost
    assert first == {"kg_unit": "0.250", "pack": "box", "ship_by": None, "cost": "12.00", "remark": None,
                     "kg": "0.750"}
    assert second == {"kg_unit": "2.000", "pack": "pallet", "ship_by": "2027-03-01", "cost": "12.00",
                      "remark": "fragile", "kg": "4.000"}
    # the gadget has no weight: kg/unit stays empty and kg says why, never 0
    assert third["kg_unit"] is None and third["kg"] is None
    assert third["errors"] == {"kg": "kg_unit is empty"}
    lines = [{"id": line["id"]} for line in order["lines"]]
    lines[2]["custom"] = {"kg_unit": "1.5"}
    fixed = api.patch(f"/sales-orders/{order['id']}", json={"lines": lines}).json()
    assert custom_of(fixed)[2]["kg"] == "1.500" and "errors" not in custom_of(fixed)[2]
    assert custom_of(fixed)[1]["remark"] == "fragile"             # kept when the line is sent without it


@pytest.mark.parametrize("custom, field, message", [
    ({"kg_unit": "abc"}, "lines.1.custom.kg_unit", "must be a number"),
    ({"kg_unit": True}, "lines.1.custom.kg_unit", "must be a number"),
    ({"kg_unit": "1" + "0" * 20}, "lines.1.custom.kg_unit", "must be below 10^15"),
    ({"kg_unit": "1e3"}, "lines.1.custom.kg_unit", "must be a number"),
    ({"kg_unit": "\u0661\u0662"}, "lines.1.custom.kg_unit", "must be a number"),
    ({"pack": "crate"}, "lines.1.custom.pack", "must be one of: box, pallet"),
    ({"ship_by": "31/12/2027"}, "lines.1.custom.ship_by", "must be a date (YYYY-MM-DD)"),
    ({"ship_by": "9999-12-31"}, "lines.1.custom.ship_by", "must be between 1900-01-01 and 2999-12-31"),
    ({"remark": "x" * 2001}, "lines.1.custom.remark", "at most 2000 characters"),
    ({"remark": ["a"]}, "lines.1.custom.remark", "must be text"),
])
def test_editable_values_are_validated_by_type(api, catalog, put_layout, weights, custom, field, message):
    put_layout("sales-orders", EDITABLE)
    body = order_body(catalog, lines=[{"item_id": catalog.widget, "quantity": "1"},
                                      {"item_id": catalog.gadget, "quantity": "1", "custom": custom}])
    response = api.post("/sales-orders", json=body)
    assert response.status_code == 422, response.text
    assert any(message in m for m in response.json()["error"]["fields"][field])
    assert api.get("/sales-orders").json()["total"] == 0


def test_money_values_stay_within_the_largest_amount_of_the_core(api, catalog, put_layout):
    """An amount typed in a money column is at most crm.money.MAX_AMOUNT; a money cell or a
    custom money total computed beyond crm.money.MAX_TOTAL is a per-cell error, never stored."""
    put_layout("quotes", [
        {"key": "fee", "label": "Fee", "type": "money", "editable": True},
        {"key": "big", "label": "Big", "type": "money", "formula": "net * 100000000000"}],
        [{"key": "big_total", "label": "Big total", "formula": "sum(big) + 999999999999"},
         {"key": "fees", "label": "Fees", "formula": "sum(fee) * 1000000000000"}])
    line = {"item_id": catalog.widget, "quantity": "1"}
    refused = api.post("/quotes", json={"account_id": catalog.account,
                                        "lines": [{**line, "custom": {"fee": "1000000000000"}}]})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["fields"] == {"lines.0.custom.fee": ["must be at most 999999999999.99"]}
    quote = api.post("/quotes", json={"account_id": catalog.account, "lines": [{**line, "custom": {"fee": "1.00"}}]})
    assert quote.status_code == 201, quote.text
    custom = quote.json()["lines"][0]["custom"]
    assert custom["big"] is None and custom["errors"] == {"big": "number too large"}   # 19.99 x 10^11
    assert quote.json()["extra_totals"]["fees"] is None                                # 10^12
    assert quote.json()["idca"]["total_errors"]["fees"] == "number too large"


def test_computed_values_sent_back_are_ignored(api, catalog, margin_layout):
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    lines = [{"id": line["id"], "custom": {**line["custom"], "margin": "999.99", "errors": {"x": "y"}}}
             for line in order["lines"]]
    again = api.patch(f"/sales-orders/{order['id']}", json={"lines": lines}).json()
    assert [c["margin"] for c in custom_of(again)] == ["17.97", "8.91", "55.00"]


# --- errors are per cell, never a 500, never a silent 0 ----------------------------------------------

def test_division_by_zero_is_a_per_cell_error_until_fixed(api, catalog, put_layout):
    put_layout("sales-orders", MARGIN_COLUMNS + [
        {"key": "unit_margin", "label": "Unit margin", "type": "money", "formula": "margin / quantity"},
        {"key": "double", "label": "Double", "type": "money", "formula": "unit_margin * 2"}],
        [{"key": "avg_margin", "label": "Average margin", "formula": "round(sum(margin) / sum(quantity), 2)"},
         {"key": "unit_total", "label": "Unit margins", "formula": "sum(unit_margin)"},
         {"key": "margin_total", "label": "Margin", "formula": "sum(margin)"}])
    order = api.post("/sales-orders", json=order_body(catalog, lines=[
        {"item_id": catalog.widget, "quantity": "0"}, {"item_id": catalog.gadget, "quantity": "0"}]))
    assert order.status_code == 201, order.text
    order = order.json()
    line = custom_of(order)[0]
    assert line["unit_margin"] is None and line["double"] is None
    assert line["errors"] == {"unit_margin": "division by zero",
                              "double": "unit_margin has an error (division by zero)"}
    assert line["margin"] == "0.00"                                   # the other cells are computed
    assert order["extra_totals"] == {"avg_margin": None, "unit_total": None, "margin_total": "0.00"}
    assert order["idca"]["total_errors"] == {
        "avg_margin": "division by zero",
        "unit_total": "unit_margin on item line 1 has an error (division by zero)"}

    lines = [{"id": line["id"], "quantity": "2"} for line in order["lines"]]
    fixed = api.patch(f"/sales-orders/{order['id']}", json={"lines": lines}).json()
    assert [c.get("errors") for c in custom_of(fixed)] == [None, None]
    assert [c["unit_margin"] for c in custom_of(fixed)] == ["7.99", "4.46"]   # 15.98 / 2; 8.91 / 2 = 4.455 -> 4.46
    # 24.89 / 4 = 6.2225 -> 6.22; 7.99 + 4.46
    assert fixed["extra_totals"] == {"avg_margin": "6.22", "unit_total": "12.45", "margin_total": "24.89"}
    assert fixed["idca"]["total_errors"] == {}


# --- totals: custom ones and a replaced built-in (Spanish IRPF withholding) ------------------------

IRPF_TOTALS = [
    {"key": "before_withholding", "label": "Total before withholding",
     "formula": "taxable + tax + shipping + shipping_tax + adjustment"},
    {"key": "irpf", "label": "IRPF withholding (15 %)",
     "formula": "if(doc.billing_country == 'ES', round(taxable * 15 / 100, 2), 0)"},
    {"key": "grand_total", "label": "Total to pay", "formula": "before_withholding - irpf"},
]


def test_irpf_withholding_replaces_the_grand_total_of_spanish_invoices(api, catalog, put_layout):
    put_layout("invoices", [], IRPF_TOTALS)
    body = {"account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": "10"}],
            "shipping_amount": "20.00", "shipping_tax_ids": [catalog.ship21]}
    invoice = api.post("/invoices", json=body)
    assert invoice.status_code == 201, invoice.text
    invoice = invoice.json()
    # 10 h x 40.00 = 400.00; IVA 21 % = 84.00; shipping 20.00 + 4.20; before withholding 508.20;
    # IRPF 15 % of the taxable base 400.00 = 60.00; to pay 448.20
    assert invoice["totals"] == {"subtotal": "400.00", "discount": "0.00", "taxable": "400.00", "tax": "84.00",
                                 "shipping": "20.00", "shipping_tax": "4.20", "adjustment": "0.00",
                                 "grand_total": "448.20"}
    assert invoice["extra_totals"] == {"before_withholding": "508.20", "irpf": "60.00"}
    assert invoice["balance"] == "448.20"                            # what is owed follows the replacement
    foreign = api.post("/accounts", json={"name": "Acme GmbH", "billing_address": {"country": "DE"}}).json()
    german = api.post("/invoices", json={**body, "account_id": foreign["id"]}).json()
    assert german["extra_totals"]["irpf"] == "0.00" and german["totals"]["grand_total"] == "508.20"


def test_a_replaced_total_may_read_its_own_value_before_replacement(api, catalog, put_layout):
    put_layout("invoices", [], [
        {"key": "irpf", "label": "IRPF", "formula": "round(taxable * 0.15, 2)"},
        {"key": "grand_total", "formula": "grand_total - irpf"},
        {"key": "check", "label": "Check", "formula": "grand_total"}])     # reads the replaced value
    invoice = api.post("/invoices", json={"account_id": catalog.account, "lines": [
        {"item_id": catalog.consulting, "quantity": "10"}]}).json()
    assert invoice["totals"]["grand_total"] == "424.00"              # 484.00 - 60.00
    assert invoice["extra_totals"] == {"irpf": "60.00", "check": "424.00"}


def test_replacing_a_part_recomputes_the_grand_total(api, catalog, put_layout):
    put_layout("quotes", [], [{"key": "adjustment", "formula": "-round(subtotal * 0.01, 2)"}])
    quote = api.post("/quotes", json=order_body(catalog)).json()
    # subtotal 123.88 -> adjustment -1.24; grand total 123.88 + 24.37 - 1.24
    assert quote["totals"]["adjustment"] == "-1.24" and quote["totals"]["grand_total"] == "147.01"


def test_a_replacement_that_cannot_be_computed_refuses_the_save(api, catalog, put_layout):
    put_layout("quotes", [], [{"key": "grand_total", "formula": "grand_total / (subtotal - subtotal)"}])
    response = api.post("/quotes", json=order_body(catalog))
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {
        "totals.grand_total": ["Grand total cannot be computed with the layout's formula: division by zero"]}


@pytest.mark.parametrize("path, total, message", [
    # 148.25 - 1000: a total to pay below zero
    ("invoices", {"key": "grand_total", "label": "Total to pay", "formula": "grand_total - 1000"},
     "Total to pay: the layout's formula makes the grand total negative (-851.75)"),
    # an IRPF-like deduction larger than what is owed, through a part of the grand total
    ("invoices", {"key": "adjustment", "label": "Withholding", "formula": "-(subtotal * 2)"},
     "Withholding: the layout's formula makes the grand total negative (-99.51)"),
    ("quotes", {"key": "tax", "label": "Tax", "formula": "0 - tax"},
     "Tax: the layout's formula makes it negative (-24.37)"),
    ("quotes", {"key": "shipping", "label": "Shipping", "formula": "subtotal * 10000000000"},
     "Shipping: the layout's formula makes it 1238800000000.00, more than the largest amount 999999999999.99"),
])
def test_a_replacement_that_makes_a_total_negative_or_too_large_refuses_the_save(api, catalog, put_layout, path,
                                                                                  total, message):
    put_layout(path, [], [total])
    response = api.post(f"/{path}", json=order_body(catalog))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"] == {f"totals.{total['key']}": [message]}
    assert api.get(f"/{path}").json()["total"] == 0


def test_a_replacement_may_keep_a_grand_total_the_document_makes_negative(api, catalog, put_layout):
    """A negative adjustment typed on the document is the core's business, not the formula's."""
    put_layout("invoices", [], [{"key": "shipping", "formula": "shipping"}])
    response = api.post("/invoices", json=order_body(catalog, adjustment="-200.00"))
    assert response.status_code == 201, response.text
    assert response.json()["totals"]["grand_total"] == "-51.75"


def test_builtin_totals_in_totals_formulas_read_the_engine_values(api, catalog, put_layout):
    put_layout("quotes", [], [
        {"key": "margin_rate", "label": "Rate", "type": "percent", "formula": "round(sum(net) / subtotal * 100, 2)"},
        {"key": "lines_total", "label": "Lines", "formula": "sum(total)"},
        {"key": "weight", "label": "Units", "type": "number", "formula": "sum(quantity)", "decimals": 1}])
    quote = api.post("/quotes", json=order_body(catalog)).json()
    assert quote["extra_totals"] == {"margin_rate": "100.00", "lines_total": "148.25", "weight": "6.5"}


# --- sections and running subtotals -----------------------------------------------------------------

def test_running_subtotals_are_computed_into_the_subtotal_rows(api, catalog, margin_layout):
    order = api.post("/sales-orders", json=order_body(catalog, lines=[
        {"display_type": "section", "description": "Tools"},
        {"item_id": catalog.widget, "quantity": "3", "discount_percent": "10"},
        {"item_id": catalog.gadget, "quantity": "2"},
        {"display_type": "subtotal", "description": "Tools subtotal"},
        {"display_type": "note", "description": "Installed on site"},
        {"display_type": "section", "description": "Services"},
        {"item_id": catalog.consulting, "quantity": "1.5", "discount_amount": "5.00"},
        {"display_type": "subtotal", "description": "Services subtotal"},
        {"display_type": "subtotal", "description": "Nothing since"},
    ])).json()
    rows = {line["description"]: line["custom"] for line in order["lines"] if line["display_type"]}
    assert rows["Tools subtotal"] == {"subtotal": "68.88", "total": "81.70", "margin": "26.88"}
    assert rows["Services subtotal"] == {"subtotal": "55.00", "total": "66.55", "margin": "55.00"}
    assert rows["Nothing since"] == {"subtotal": "0.00", "total": "0.00", "margin": "0"}
    assert rows["Tools"] == {} and rows["Installed on site"] == {}
    assert order["totals"]["subtotal"] == "123.88" and order["extra_totals"] == {"margin_total": "81.88"}


# --- layout versions: issued documents keep theirs ----------------------------------------------------

def test_issued_documents_keep_their_layout_version(api, catalog, put_layout, read_pdf):
    put_layout("quotes", MARGIN_COLUMNS, MARGIN_TOTALS)
    issued = api.post("/quotes", json=order_body(catalog)).json()
    draft = api.post("/quotes", json=order_body(catalog)).json()
    accepted = api.patch(f"/quotes/{issued['id']}", json={"status": "Accepted"})
    assert accepted.status_code == 200, accepted.text

    put_layout("quotes", [{"key": "margin", "label": "Half", "type": "money", "formula": "round(net / 2, 2)"},
                          {"key": "extra", "label": "Extra", "type": "number", "formula": "quantity + 1"}],
               [{"key": "margin_total", "label": "Half total", "formula": "sum(margin) * 10"}])
    # the accepted quote is not recomputed, not even by a header change
    renamed = api.patch(f"/quotes/{issued['id']}", json={"subject": "Renamed"}).json()
    assert custom_of(renamed) == custom_of(issued) and renamed["extra_totals"] == {"margin_total": "81.88"}
    assert renamed["idca"] == {"layout_version": 1, "live": False, "total_errors": {}}
    text = read_pdf(api.get(f"/quotes/{issued['id']}/pdf"))
    assert "Margin %" in text and "Total margin" in text and "€81.88" in text and "Half" not in text

    # a draft follows the new version when it is next computed
    touched = api.patch(f"/quotes/{draft['id']}", json={"subject": "Touched"}).json()
    assert [c["margin"] for c in custom_of(touched)] == ["26.99", "7.46", "27.50"]   # 53.97 / 2 = 26.985 -> 26.99
    assert [c["extra"] for c in custom_of(touched)] == ["4.000", "3.000", "2.500"]
    assert touched["extra_totals"] == {"margin_total": "619.50"}
    assert touched["idca"]["layout_version"] == 2


def test_issued_documents_show_the_line_columns_of_their_layout_version(app, api, catalog, put_layout):
    put_layout("quotes", MARGIN_COLUMNS, MARGIN_TOTALS)
    issued = api.post("/quotes", json=order_body(catalog)).json()
    assert api.patch(f"/quotes/{issued['id']}", json={"status": "Accepted"}).status_code == 200
    draft = api.post("/quotes", json=order_body(catalog)).json()
    never_computed = api.post("/quotes", json=order_body(catalog)).json()
    put_layout("quotes", [{"key": "extra", "label": "Extra", "type": "number", "formula": "quantity + 1"}])
    from crm.db import db
    from crm.services.documents import get_document
    from crm.ui import line_columns
    from crm_idca.models import DocumentLayout
    with app.test_request_context():
        session = db.session

        def keys(doc_id=None):
            document = get_document(session, "quote", doc_id) if doc_id else None
            return [c.key for c in line_columns("quote", session, document) if not c.key.startswith("hello")]

        assert keys() == ["extra"]                                # a new quote: the current layout
        assert keys(draft["id"]) == ["extra"]                     # a draft follows it
        assert keys(issued["id"]) == ["margin", "margin_pct"]     # an issued one keeps version 1
        session.execute(DocumentLayout.__table__.delete().where(
            DocumentLayout.document_id == never_computed["id"]))
        get_document(session, "quote", never_computed["id"]).status = "Accepted"
        assert keys(never_computed["id"]) == []                   # issued, never computed by the plugin
        session.rollback()


def test_formulas_are_parsed_once_per_layout_version_not_per_line(app, api, catalog, margin_layout, monkeypatch):
    from crm_idca import formulas as fx
    parsed = []
    parse = fx.parse
    monkeypatch.setattr(fx, "parse", lambda source: parsed.append(source) or parse(source))
    app.extensions["idca.layouts"].clear()                        # as in a process that never compiled it
    lines = [{"item_id": catalog.widget, "quantity": str(n + 1)} for n in range(40)]
    order = api.post("/sales-orders", json=order_body(catalog, lines=lines))
    assert order.status_code == 201, order.text
    assert sorted(parsed) == sorted(c["formula"] for c in MARGIN_COLUMNS + MARGIN_TOTALS)   # each once
    changed = api.patch(f"/sales-orders/{order.json()['id']}", json={"lines": lines[:30]})
    assert changed.status_code == 200, changed.text
    assert api.post("/sales-orders", json=order_body(catalog, lines=lines)).status_code == 201
    assert len(parsed) == 3                                       # the compiled version is reused


def test_issued_documents_keep_a_replaced_total(api, catalog, put_layout):
    put_layout("quotes", [], [{"key": "irpf", "label": "IRPF", "formula": "round(taxable * 0.15, 2)"},
                              {"key": "grand_total", "formula": "grand_total - irpf"}])
    quote = api.post("/quotes", json=order_body(catalog)).json()
    assert api.patch(f"/quotes/{quote['id']}", json={"status": "Accepted"}).status_code == 200
    put_layout("quotes", [], [])
    again = api.patch(f"/quotes/{quote['id']}", json={"subject": "x"}).json()
    assert again["totals"]["grand_total"] == quote["totals"]["grand_total"]
    assert again["extra_totals"] == quote["extra_totals"]


def test_converted_documents_use_their_own_type_layout(api, catalog, put_layout):
    put_layout("quotes", [{"key": "pack", "label": "Pack", "type": "select", "editable": True,
                           "choices": ["box", "pallet"]}])
    put_layout("sales-orders", MARGIN_COLUMNS + [{"key": "pack", "label": "Pack", "type": "text", "editable": True}],
               MARGIN_TOTALS)
    quote = api.post("/quotes", json=order_body(catalog, lines=[
        {"item_id": catalog.widget, "quantity": "3", "discount_percent": "10", "custom": {"pack": "pallet"}}])).json()
    api.patch(f"/quotes/{quote['id']}", json={"status": "Accepted"})
    order = api.post(f"/quotes/{quote['id']}/sales-order")
    assert order.status_code == 201, order.text
    assert custom_of(order.json()) == [{"pack": "pallet", "margin": "17.97", "margin_pct": "33.30"}]
    assert order.json()["extra_totals"] == {"margin_total": "17.97"}


# --- the plugin switched off -------------------------------------------------------------------------

def test_disabled_plugin_documents_still_open_with_their_builtin_columns(api, catalog, margin_layout, runner,
                                                                         read_pdf, app):
    order = api.post("/sales-orders", json=order_body(catalog)).json()
    assert runner.invoke(["plugins", "disable", "idca"]).exit_code == 0
    assert api.get("/idca/layouts/sales-orders").status_code == 404
    shown = api.get(f"/sales-orders/{order['id']}")
    assert shown.status_code == 200 and "idca" not in shown.json()
    assert shown.json()["totals"] == order["totals"]
    text = read_pdf(api.get(f"/sales-orders/{order['id']}/pdf"))
    assert "Widget" in text and "€148.25" in text and "Margin %" not in text   # built-in columns only
    created = api.post("/sales-orders", json=order_body(catalog))
    assert created.status_code == 201 and all(line["custom"] == {} for line in created.json()["lines"])
    assert runner.invoke(["plugins", "enable", "idca"]).exit_code == 0
    assert api.get("/idca/layouts/sales-orders").json()["version"] == 1      # the data stayed


def test_engine_without_app_context_is_untouched(catalog):
    """Pure use of the core engine (no app, no plugins) is not affected by the plugin."""
    from crm import totals
    result = totals.compute(totals.DocumentInput(currency="EUR", tax_mode="individual", lines=[
        totals.LineInput(quantity="2", unit_price="10.00")]))
    assert result.lines[0].custom == {} and result.totals.extra == {}
    assert result.totals.grand_total == Decimal("20.00")


def test_a_layout_written_by_hand_never_breaks_documents(api, catalog, app, put_layout, caplog):
    """A row put in the table without the API (or before idca_0002): checked against the current
    custom fields when it is first used; an invalid one is logged and ignored."""
    from sqlalchemy import text

    from crm.db import db
    assert api.post("/custom-fields", json={"entity": "items", "key": "weight", "label": "Weight",
                                            "type": "decimal"}).status_code == 201
    columns = '[{"key": "kg", "label": "kg", "type": "number", "formula": "quantity * coalesce(item.custom.weight, 0)"}]'
    with db.engine(app).begin() as connection:
        connection.execute(text("INSERT INTO idca_layouts (doc_type, version, columns, totals) "
                                "VALUES ('quote', 7, :columns, '[]')"), {"columns": columns})
        connection.execute(text("INSERT INTO idca_layouts (doc_type, version, columns, totals) "
                                "VALUES ('invoice', 3, :columns, '[]')"),
                           {"columns": '[{"key": "x", "label": "X", "type": "number", "formula": "__import__(1)"}]'})
    quote = api.post("/quotes", json=order_body(catalog))
    assert quote.status_code == 201 and [c["kg"] for c in custom_of(quote.json())] == ["0.000", "0.000", "0.000"]
    invoice = api.post("/invoices", json=order_body(catalog))
    assert invoice.status_code == 201 and all(c == {} for c in custom_of(invoice.json()))
    assert "idca: stored layout invoice version 3 is invalid and is ignored" in caplog.text
