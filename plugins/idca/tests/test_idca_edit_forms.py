"""Every edit form of the IDCA plugin (found in the URL map by ``crm.testing.edit_forms``),
submitted untouched as a browser would, changes nothing: a layout with columns and totals of
every type, read through the API, is the same before and after (saving makes a new version with
the same content). The core's document editor with the plugin's columns round-trips too. A form
of the plugin without a case here fails the test."""
from __future__ import annotations

import pytest

from crm.testing import TEST_PASSWORD, check_round_trip, comparable, edit_forms
from idca_helpers import order_body

#: the plugin's pages and form targets that look like edit forms but are not
NOT_EDIT_FORMS: dict = {}

COLUMNS = [
    {"key": "item", "label": "Artículo", "width": "30%"},
    {"key": "description", "visible": False},
    {"key": "quantity"}, {"key": "unit_price", "width": "6em"}, {"key": "discount"}, {"key": "net"},
    {"key": "tax", "visible": False}, {"key": "total", "label": "Importe"},
    {"key": "margin", "label": "Margin «€»", "type": "money", "width": "80px",
     "formula": "net - quantity * item.purchase_cost"},
    {"key": "margin_pct", "label": "Margin %", "type": "percent", "decimals": 1,
     "formula": "if(net == 0, 0, round(margin / net * 100, 2))"},
    {"key": "boxes", "label": "Boxes", "type": "number", "editable": True, "decimals": 0,
     "default": {"source": "value", "value": "2"}},
    {"key": "cost", "label": "Cost", "type": "money", "default": {"source": "item", "field": "purchase_cost"}},
    {"key": "note", "label": "Note", "type": "text", "editable": True, "visible": False},
    {"key": "ship_on", "label": "Ship on", "type": "date", "editable": True},
    {"key": "finish", "label": "Finish", "type": "select", "editable": True,
     "choices": ["matt, dark", "gloss"], "default": {"source": "value", "value": "gloss"}},
]
TOTALS = [
    {"key": "margin_total", "label": "Total margin", "formula": "sum(margin)"},
    {"key": "margin_rate", "label": "Margin rate", "type": "percent", "decimals": 1,
     "formula": "round(sum(margin) / subtotal * 100, 2)"},
    {"key": "box_count", "label": "Boxes", "type": "number", "visible": False, "formula": "sum(boxes)"},
    {"key": "grand_total", "label": "Total to pay"},
    {"key": "tax", "visible": False},
]


def layout_of(api, path):
    def read():
        response = api.get(f"/idca/layouts/{path}")
        assert response.status_code == 200, response.text
        return comparable(response.json())
    return read


def sign_in(app, make_user):
    client = app.test_client()
    assert client.post("/login", data={"username": make_user("admin").username,
                                       "password": TEST_PASSWORD}).status_code == 302
    return client


def test_every_edit_form_of_the_plugin_has_a_case(app):
    assert {f.rule for f in edit_forms(app) if f.owner == "idca"} - set(NOT_EDIT_FORMS) == {"/idca/layouts/<path>"}


@pytest.mark.parametrize("path", ["quotes", "sales-orders", "purchase-orders", "invoices"])
def test_a_layout_saved_unchanged_changes_nothing(app, api, make_user, put_layout, path):
    put_layout(path, COLUMNS, TOTALS)
    check_round_trip(sign_in(app, make_user), f"/idca/layouts/{path}", layout_of(api, path))


def test_a_document_with_the_plugins_columns_saved_unchanged_changes_nothing(app, api, make_user, put_layout,
                                                                              catalog):
    put_layout("sales-orders", COLUMNS, TOTALS)
    body = order_body(catalog)
    body["lines"][0]["custom"] = {"boxes": "4", "note": "left «door»", "ship_on": "2027-02-03", "finish": "matt, dark"}
    body["lines"][1]["custom"] = {"boxes": "1"}
    order = api.post("/sales-orders", json=body)
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]

    def read():
        return comparable(api.get(f"/sales-orders/{order_id}").json())
    check_round_trip(sign_in(app, make_user), f"/sales-orders/{order_id}/edit", read)
