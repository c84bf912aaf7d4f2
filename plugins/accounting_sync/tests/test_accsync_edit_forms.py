"""Every edit form of the accounting sync (found in the URL map by ``crm.testing.edit_forms``),
submitted untouched as a browser would, changes nothing: a connection of each installed system
with every setting filled in (the system's fields, directions and policies, schedule, custom
field mappings, value maps, secrets and keys the form does not show) reads the same through the
API before and after, and its secrets are kept. A form of the plugin without a case here fails
the test."""
from __future__ import annotations

import pytest

from crm.db import db
from crm.testing import TEST_PASSWORD, check_round_trip, comparable, edit_forms

#: the plugin's pages and form targets that look like edit forms but are not
NOT_EDIT_FORMS = {
    "/accounting-sync/settings": "creates a connection",
    "/accounting-sync/settings/<name>/connect": "starts QuickBooks' consent",
    "/accounting-sync/settings/<name>/disconnect": "revokes QuickBooks' tokens",
}
COMMON = {
    "entities": {"accounts": {"direction": "to_remote", "policy": "ours"},
                 "invoices": {"direction": "both", "policy": "manual"},
                 "quotes": {"direction": "none", "policy": "theirs"}},
    "schedule_minutes": 45, "background_threshold": 500,
    "mappings": [{"entity": "invoices", "local": "custom.region", "remote": "CustomField:Region",
                  "direction": "from_remote", "map": {"north": "N", "south, far": "S"}, "default": "N"},
                 {"entity": "items", "local": "custom.finish", "remote": "Finish", "direction": "both"}],
    "value_maps": {"tax_codes": {"IVA 21%": "21", "IVA 10%": "10"}, "payment_methods": {"Cash": "1"}},
    "retry": {"max_attempts": 3, "base_seconds": 0.5, "max_seconds": 9},
    "initial_cutoff": "2026-01-01",
}
CONNECTIONS = {
    "quickbooks": ({**COMMON, "client_id": "my-app", "environment": "sandbox",
                    "redirect_uri": "https://crm.example/accounting-sync/oauth/callback", "realm_id": "9130",
                    "api_base_url": "https://sandbox.example/v3", "minorversion": 75, "timeout_seconds": 20,
                    "item_type": "Inventory", "income_account_id": "79", "expense_account_id": "80",
                    "asset_account_id": "81"},
                   {"client_secret": "s3cr3t", "webhook_verifier_token": "verifier", "refresh_token": "rt-1"}),
    "tryton": ({**COMMON, "url": "http://tryton.example:8000/crm/", "username": "sync",
                "customer_category": "Clientes", "supplier_category": "Proveedores", "account_category": "CRM",
                "uom": "Unidad", "payment_term": "30 días"},
               {"password": "pw «1»"}),
}


def test_every_edit_form_of_the_plugin_has_a_case(app):
    ours = {f.rule for f in edit_forms(app) if f.owner == "accounting_sync"}
    assert ours - set(NOT_EDIT_FORMS) == {"/accounting-sync/settings/<name>"}
    assert set(NOT_EDIT_FORMS) <= ours


@pytest.mark.parametrize("connector", sorted(CONNECTIONS))
def test_a_connection_saved_unchanged_changes_nothing(app, api, make_user, connector):
    settings, secrets = CONNECTIONS[connector]
    saved = api.put("/accounting-sync/connections/books", json={"connector": connector, "settings": settings,
                                                                 "secrets": secrets})
    assert saved.status_code == 200, saved.text
    assert api.put("/accounting-sync/connections/books", json={"enabled": False}).status_code == 200

    def read():
        from crm_accounting_sync import crypto
        from crm_accounting_sync.models import Connection
        response = api.get("/accounting-sync/connections/books")
        assert response.status_code == 200, response.text
        with app.app_context():
            session = db.new_session(app)
            try:
                stored = crypto.decrypt(session.get(Connection, "books").secrets)
            finally:
                session.close()
        return {"api": comparable(response.json()), "secrets": stored}

    assert read()["api"]["settings"]["mappings"][0]["map"] == settings["mappings"][0]["map"]
    client = app.test_client()
    assert client.post("/login", data={"username": make_user("admin").username,
                                       "password": TEST_PASSWORD}).status_code == 302
    check_round_trip(client, "/accounting-sync/settings/books", read)
