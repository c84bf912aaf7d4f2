"""``GET|PUT /api/v1/idca/layouts/<documents>``: defaults, normalisation, versions, every
refusal with the field it points at, permissions."""
from __future__ import annotations

import pytest

from idca_helpers import MARGIN_COLUMNS, MARGIN_TOTALS

BUILTINS = ["item", "description", "quantity", "unit_price", "discount", "net", "tax", "total"]


def test_an_unsaved_layout_lists_the_builtin_columns_at_version_0(api):
    for path in ("quotes", "sales-orders", "purchase-orders", "invoices"):
        layout = api.get(f"/idca/layouts/{path}").json()
        assert layout["version"] == 0 and layout["doc_type"] == path and layout["totals"] == []
        assert [c["key"] for c in layout["columns"]] == BUILTINS
        assert all(c["builtin"] and c["visible"] for c in layout["columns"])
    assert api.get("/idca/layouts/contacts").status_code == 404


def test_save_normalises_bumps_the_version_and_keeps_every_version(api, put_layout, app):
    saved = put_layout("sales-orders", MARGIN_COLUMNS, MARGIN_TOTALS)
    assert saved["version"] == 1
    keys = [c["key"] for c in saved["columns"]]
    assert keys == BUILTINS + ["margin", "margin_pct"]      # missing built-ins keep their default places
    margin = saved["columns"][8]
    assert margin == {"key": "margin", "builtin": False, "label": "Margin", "type": "money", "visible": True,
                      "width": None, "editable": False, "formula": "net - quantity * item.purchase_cost",
                      "default": None, "decimals": None, "choices": []}
    assert saved["totals"] == [{"key": "margin_total", "builtin": False, "label": "Total margin", "type": "money",
                                "visible": True, "formula": "sum(margin)", "decimals": None}]
    again = put_layout("sales-orders", saved["columns"], saved["totals"])   # what GET gives can be PUT back
    assert again["version"] == 2 and again["columns"] == saved["columns"]
    assert api.get("/idca/layouts/sales-orders").json()["version"] == 2
    assert api.get("/idca/layouts/quotes").json()["version"] == 0        # one layout per document type
    from crm.db import db
    from crm_idca.layouts import versions
    with app.app_context():
        assert [v.version for v in versions(db.session, "sales-orders")] == [2, 1]


def test_builtin_columns_can_be_hidden_relabelled_reordered_and_resized(put_layout):
    saved = put_layout("quotes", [
        {"key": "margin", "label": "Margin", "type": "money", "formula": "net - quantity * item.purchase_cost"},
        {"key": "total", "label": "Importe", "width": "90px"},
        {"key": "description", "visible": False},
        {"key": "quantity", "label": "Cant.", "width": "12%"},
    ])
    columns = {c["key"]: c for c in saved["columns"]}
    # the built-in columns left out keep their default place after the one before them
    assert [c["key"] for c in saved["columns"]] == ["item", "margin", "total", "description", "quantity",
                                                     "unit_price", "discount", "net", "tax"]
    assert columns["total"]["label"] == "Importe" and columns["total"]["width"] == "90px"
    assert columns["description"]["visible"] is False and columns["quantity"]["width"] == "12%"


def test_a_stale_version_is_a_conflict(api, put_layout):
    put_layout("invoices", MARGIN_COLUMNS)
    response = api.put("/idca/layouts/invoices", json={"columns": [], "totals": [], "version": 0})
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_version"
    assert put_layout("invoices", [], [], version=1)["version"] == 2


@pytest.mark.parametrize("columns, totals, field, message", [
    # syntax, names, types
    ([{"key": "m", "label": "M", "type": "money", "formula": "net -"}], [], "columns.0.formula", "syntax error"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "nett * 2"}], [], "columns.0.formula",
     "unknown name 'nett' (did you mean 'net'?)"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "item.cost"}], [], "columns.0.formula",
     "unknown item field 'cost'"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "item.custom.colour"}], [], "columns.0.formula",
     "unknown item custom field 'colour'"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "item.name * 2"}], [], "columns.0.formula",
     "'*' needs numbers, but 'item.name' is text"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "item.name"}], [], "columns.0.formula",
     "gives text, but a money column needs a number"),
    ([{"key": "t", "label": "T", "type": "text", "formula": "net"}], [], "columns.0.formula",
     "gives a number, but a text column needs text"),
    ([{"key": "n", "label": "N", "type": "text", "editable": True},
      {"key": "m", "label": "M", "type": "number", "formula": "n + 1"}], [], "columns.1.formula",
     "'+' needs numbers, but 'n' is text"),
    # circular references, with the cycle named
    ([{"key": "margin", "label": "Margin", "type": "money", "formula": "net - cost"},
      {"key": "cost", "label": "Cost", "type": "money", "formula": "margin + 1"}], [], "columns.0.formula",
     "circular reference: margin -> cost -> margin"),
    ([{"key": "a", "label": "A", "type": "number", "formula": "a + 1"}], [], "columns.0.formula",
     "circular reference: a -> a"),
    ([{"key": "a", "label": "A", "type": "number", "formula": "b"},
      {"key": "b", "label": "B", "type": "number", "formula": "c"},
      {"key": "c", "label": "C", "type": "number", "formula": "a * 2"}], [], "columns.0.formula",
     "circular reference: a -> b -> c -> a"),
    ([], [{"key": "x", "label": "X", "formula": "y + 1"}, {"key": "y", "label": "Y", "formula": "x - 1"}],
     "totals.0.formula", "circular reference: x -> y -> x"),
    ([], [{"key": "x", "label": "X", "formula": "grand_total * 0.1"},
          {"key": "tax", "formula": "x + 1"}], "totals.0.formula", "circular reference: x -> tax -> x"),
    # Python internals and resource exhaustion
    ([{"key": "m", "label": "M", "type": "money", "formula": "__import__('os').system('id')"}], [],
     "columns.0.formula", "only these functions can be called"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "__import__('os')"}], [],
     "columns.0.formula", "unknown function '__import__'"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "net.__class__"}], [], "columns.0.formula",
     "access to internal attributes ('__class__') is not allowed"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "(lambda: 1)()"}], [], "columns.0.formula",
     "only these functions can be called"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "sum([x for x in [net]])"}], [], "columns.0.formula",
     "sum() is only available in totals formulas"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "9**9**9"}], [], "columns.0.formula",
     "the exponent of ** must be a whole number"),
    ([{"key": "m", "label": "M", "type": "text", "formula": "'a' * 1000000000"}], [], "columns.0.formula",
     "'*' needs numbers"),
    # totals
    ([], [{"key": "m", "label": "M", "formula": "sum(margin)"}], "totals.0.formula", "unknown number column"),
    ([], [{"key": "m", "label": "M"}], "totals.0.formula", "a custom total needs a formula"),
    ([], [{"key": "grand_total", "formula": "item.purchase_cost"}], "totals.0.formula",
     "item fields are only available in line formulas"),
    ([], [{"key": "tax", "type": "number"}], "totals.0.type", "a built-in total is money"),
    ([], [{"key": "m", "label": "M", "formula": "1"}, {"key": "m", "label": "M2", "formula": "2"}], "totals.1.key",
     "another total has the key m"),
    # the columns themselves
    ([{"key": "Margin", "label": "M", "type": "money", "formula": "net"}], [], "columns.0.key",
     "lower case letters"),
    ([{"key": "errors", "label": "E", "type": "text", "editable": True}], [], "columns.0.key", "reserved"),
    ([{"key": "gross", "label": "G", "type": "money", "formula": "net"}], [], "columns.0.key", "reserved"),
    ([{"key": "if", "label": "G", "type": "money", "formula": "net"}], [], "columns.0.key", "reserved"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "net"},
      {"key": "m", "label": "M", "type": "money", "formula": "net"}], [], "columns.1.key", "another column has the key m"),
    ([{"key": "m", "label": "M", "type": "colour", "formula": "net"}], [], "columns.0.type", "Must be one of"),
    ([{"key": "m", "label": "", "type": "money", "formula": "net"}], [], "columns.0.label", "is required"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "net", "width": "100px; color: red"}], [],
     "columns.0.width", "Longer than maximum length"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "net", "width": "wide"}], [], "columns.0.width",
     "must be a CSS length"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "net", "editable": True}], [], "columns.0.editable",
     "a formula column is computed; it cannot be editable"),
    ([{"key": "m", "label": "M", "type": "money"}], [], "columns.0.formula",
     "a column that is not editable needs a formula or a default"),
    ([{"key": "s", "label": "S", "type": "select", "editable": True}], [], "columns.0.choices",
     "a select column needs choices"),
    ([{"key": "s", "label": "S", "type": "text", "editable": True, "choices": ["a"]}], [], "columns.0.choices",
     "only select columns have choices"),
    ([{"key": "m", "label": "M", "type": "money", "formula": "net", "decimals": 9}], [], "columns.0.decimals",
     "from 0 to 6"),
    ([{"key": "m", "label": "M", "type": "number", "editable": True, "default": {"source": "item", "field": "name"}}],
     [], "columns.0.default.field", "name is text; a number column needs a number"),
    ([{"key": "m", "label": "M", "type": "number", "editable": True,
       "default": {"source": "item_custom", "field": "nope"}}], [], "columns.0.default.field", "unknown item custom field"),
    ([{"key": "m", "label": "M", "type": "number", "editable": True, "default": {"source": "value", "value": "abc"}}],
     [], "columns.0.default.value", "must be a number"),
    ([{"key": "net", "formula": "gross"}], [], "columns.0.formula", "a built-in column can only be relabelled"),
    ([{"key": "net"}, {"key": "net"}], [], "columns.1.key", "column net is listed twice"),
])
def test_invalid_layouts_are_refused_naming_the_field(api, columns, totals, field, message):
    response = api.put("/idca/layouts/sales-orders", json={"columns": columns, "totals": totals})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert field in error["fields"], error
    assert any(message in m for m in error["fields"][field]), error["fields"]
    assert api.get("/idca/layouts/sales-orders").json()["version"] == 0      # nothing was saved


def test_every_bad_formula_is_reported_at_once(api):
    response = api.put("/idca/layouts/sales-orders", json={"columns": [
        {"key": "a", "label": "A", "type": "money", "formula": "net +"},
        {"key": "b", "label": "B", "type": "money", "formula": "nope"},
        {"key": "c", "label": "C", "type": "money", "formula": "net * 2"},
    ], "totals": [{"key": "t", "label": "T", "formula": "sum(zzz)"}]})
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"columns.0.formula", "columns.1.formula", "totals.0.formula"}


def test_every_circular_reference_is_reported_at_once(api):
    response = api.put("/idca/layouts/sales-orders", json={"columns": [
        {"key": "a", "label": "A", "type": "number", "formula": "b"},
        {"key": "b", "label": "B", "type": "number", "formula": "a"},
        {"key": "c", "label": "C", "type": "number", "formula": "c + 1"},
        {"key": "d", "label": "D", "type": "number", "formula": "a + b + c"},     # reads the cycles, is in none
    ]})
    assert response.json()["error"]["fields"] == {"columns.0.formula": ["circular reference: a -> b -> a"],
                                                  "columns.2.formula": ["circular reference: c -> c"]}


def test_item_and_document_custom_fields_are_known_by_type(api, put_layout):
    assert api.post("/custom-fields", json={"entity": "items", "key": "weight", "label": "Weight",
                                            "type": "decimal"}).status_code == 201
    assert api.post("/custom-fields", json={"entity": "documents", "key": "project", "label": "Project",
                                            "type": "text"}).status_code == 201
    put_layout("quotes", [{"key": "kg", "label": "kg", "type": "number", "formula": "quantity * item.custom.weight"},
                          {"key": "p", "label": "P", "type": "text", "formula": "coalesce(doc.custom.project, '-')"}])
    response = api.put("/idca/layouts/quotes", json={"columns": [
        {"key": "kg", "label": "kg", "type": "number", "formula": "item.custom.weight + doc.custom.project"}]})
    assert response.status_code == 422
    assert "needs numbers, but 'doc.custom.project' is text" in response.json()["error"]["fields"]["columns.0.formula"][0]


def test_only_admins_change_layouts_and_everyone_signed_in_reads_them(api_as, live_server):
    from crm.testing import ApiClient
    sales = api_as("sales")
    assert sales.get("/idca/layouts/quotes").status_code == 200
    assert sales.put("/idca/layouts/quotes", json={"columns": MARGIN_COLUMNS}).status_code == 403
    anonymous = ApiClient(live_server, None)
    assert anonymous.get("/idca/layouts/quotes").status_code == 401
    assert anonymous.put("/idca/layouts/quotes", json={}).status_code == 401


def test_openapi_names_the_plugin_schemas(api):
    spec = api.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"IdcaLayout", "IdcaLayoutIn", "IdcaColumn", "IdcaTotal", "IdcaDefault"} <= set(schemas)
    assert "/api/v1/idca/layouts/{doc_type}" in spec["paths"]


def test_the_current_version_is_read_once_per_transaction(app, session, put_layout):
    from sqlalchemy import text

    from crm_idca import layouts
    put_layout("quotes", MARGIN_COLUMNS)
    with app.app_context():
        assert layouts.current_version(session, "quote") == 1
        session.execute(text("UPDATE idca_layouts SET version = 5 WHERE doc_type = 'quote'"))
        assert layouts.current_version(session, "quote") == 1     # one transaction sees one version
        session.rollback()
        assert layouts.current_version(session, "quote") == 1     # a new transaction reads it again
        session.execute(text("UPDATE idca_layouts SET version = 7 WHERE doc_type = 'quote'"))
        session.commit()
        assert layouts.current_version(session, "quote") == 7
        session.rollback()


def test_a_spanish_administrator_reads_formula_errors_in_spanish(api_as, make_user):
    spanish = api_as(user=make_user("admin", language="es"))
    columns = [{"key": "m", "label": "M", "type": "money", "formula": "item.name * 2"},
               {"key": "k", "label": "K", "type": "money", "formula": "nett * 2"}]
    for column, message in zip(columns, ["'*' necesita números, pero 'item.name' es texto (en 'item.name')",
                                         "no existe nombre 'nett' (¿quizá 'net'?) (en 'nett')"]):
        response = spanish.put("/idca/layouts/sales-orders", json={"columns": [column], "totals": []})
        assert response.status_code == 422
        assert response.json()["error"]["fields"]["columns.0.formula"] == [message]
