"""The connection settings form (fields declared by the connector, entity directions and
policies, schedule, custom-field mappings and value maps as rows), its errors beside the
fields, secrets never shown back; the API's 422 with every field named. (That every message
has its Spanish translation, compiled, is checked by tests/test_translations.py.)"""
from __future__ import annotations

import re

from accsync_helpers import in_app
from crm.testing import TEST_PASSWORD

SECRET = "s3cr3t-client-secret-value"


def signed_in(app, make_user, language="en"):
    user = make_user("admin", language=language)
    client = app.test_client()
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    return client


def html(response) -> str:
    return response.get_data(as_text=True)


def form_of(page: str) -> dict:
    """The values the settings form would post as it is shown (inputs, selected options, textareas)."""
    data = {}
    for tag in re.findall(r"<input [^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="checkbox"' in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else ""
    for name, options in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)"\s+selected', options) or re.search(r'<option value="([^"]*)"',
                                                                                          options)
        data[name] = chosen.group(1) if chosen else ""
    for name, body in re.findall(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        data[name] = body
    data.pop("csrf_token", None)
    return data


def test_the_form_creates_a_connection_and_shows_errors_beside_the_fields(app, make_user, api):
    client = signed_in(app, make_user)
    page = html(client.get("/accounting-sync/settings?connector=quickbooks"))
    assert 'name="settings"' not in page and "<textarea id=\"settings\"" not in page      # no JSON any more
    assert re.search(r'<input id="f-secrets-client_secret" name="secrets.client_secret" type="password"', page)
    assert 'name="settings.entities.invoices.policy"' in page and 'name="settings.mappings.0.remote"' in page
    assert 'name="settings.value_maps.tax_codes.0.ours"' in page
    assert 'name="secrets.refresh_token"' not in page                  # the consent gets the tokens
    form = form_of(page)
    assert form["connector"] == "quickbooks" and form["shown_connector"] == "quickbooks"
    # everything wrong at once: each error beside its input, what was typed kept
    bad = client.post("/accounting-sync/settings", data={
        **form, "name": "books", "settings.timeout_seconds": "soon", "settings.schedule_minutes": "-5",
        "settings.api_base_url": "ftp://x", "settings.mappings.0.local": "region",
        "settings.value_maps.tax_codes.0.ours": "IVA 21%"})
    assert bad.status_code == 422
    page = html(bad)
    for key, reason in (("settings-client_id", "is required"), ("secrets-client_secret", "is required"),
                        ("settings-timeout_seconds", "must be a whole number"),
                        ("settings-schedule_minutes", "must be a whole number, 0 or more"),
                        ("settings-api_base_url", "must be an http:// or https:// address"),
                        ("settings-mappings-0-remote", "is required: the remote field"),
                        ("settings-value_maps-tax_codes-0-theirs", "is required")):
        assert re.search(rf'<span class="field-error" id="err-{re.escape(key)}">{re.escape(reason)}</span>', page), key
    assert 'value="soon"' in page and 'value="custom.region"' in page and "Please correct the fields marked." in page
    assert api.get("/accounting-sync/connections/books").status_code == 404           # nothing saved
    # right this time
    form = {**form_of(page), "name": "books", "settings.client_id": "my-app", "secrets.client_secret": SECRET,
            "secrets.webhook_verifier_token": "verifier", "settings.environment": "sandbox",
            "settings.timeout_seconds": "20", "settings.schedule_minutes": "60", "settings.api_base_url": "",
            "settings.entities.invoices.direction": "to_remote", "settings.entities.invoices.policy": "manual",
            "settings.entities.quotes.direction": "none",
            "settings.mappings.0.entity": "invoices", "settings.mappings.0.remote": "CustomField:Region",
            "settings.mappings.0.map": "north = N\r\nsouth = S", "settings.mappings.0.default": "N",
            "settings.value_maps.tax_codes.0.theirs": "21", "settings.value_maps.payment_methods.0.ours": "Cash",
            "settings.value_maps.payment_methods.0.theirs": "1", "enabled": "1"}
    saved = client.post("/accounting-sync/settings", data=form)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/accounting-sync/settings/books")
    got = api.get("/accounting-sync/connections/books").json()
    assert got["connector"] == "quickbooks" and got["secrets_set"] == ["client_secret", "webhook_verifier_token"]
    settings = got["settings"]
    assert settings["client_id"] == "my-app" and settings["environment"] == "sandbox"
    assert settings["timeout_seconds"] == 20 and settings["schedule_minutes"] == 60 and "api_base_url" not in settings
    assert settings["entities"]["invoices"] == {"direction": "to_remote", "policy": "manual"}
    assert settings["entities"]["quotes"]["direction"] == "none"
    assert settings["mappings"] == [{"entity": "invoices", "local": "custom.region", "remote": "CustomField:Region",
                                     "direction": "both", "map": {"north": "N", "south": "S"}, "default": "N"}]
    assert settings["value_maps"] == {"tax_codes": {"IVA 21%": "21"}, "payment_methods": {"Cash": "1"}}
    assert got["entities"]["invoices"] == {"direction": "to_remote", "policy": "manual"}


def test_secrets_are_never_shown_back_and_blank_keeps_them(app, make_user, api):
    assert api.put("/accounting-sync/connections/books", json={
        "connector": "quickbooks", "settings": {"client_id": "my-app", "retry": {"max_attempts": 2},
                                                "value_maps": {"tax_codes": {"IVA 21%": "21"}, "units": {"kg": "KG"}},
                                                "mappings": [{"entity": "items", "local": "custom.origin",
                                                              "remote": "Sku"}]},
        "secrets": {"client_secret": SECRET, "webhook_verifier_token": "vt-9f8e7d"}}).status_code == 200
    client = signed_in(app, make_user)
    page = html(client.get("/accounting-sync/settings/books"))
    assert SECRET not in page and "vt-9f8e7d" not in page
    assert page.count('placeholder="set: leave blank to keep"') == 2
    assert 'value="units"' not in page and "kg" in page                              # any other value map shows too
    form = form_of(page)
    assert form["secrets.client_secret"] == "" and form["settings.mappings.0.local"] == "custom.origin"
    # blank secret fields keep the stored ones; "forget" removes one; a row marked "remove" goes
    again = client.post("/accounting-sync/settings/books", data={**form, "forget.webhook_verifier_token": "1",
                                                                 "settings.mappings.0.remove": "1",
                                                                 "settings.value_maps.tax_codes.0.ours": "",
                                                                 "settings.value_maps.tax_codes.0.theirs": ""})
    assert again.status_code == 302, html(again)
    got = api.get("/accounting-sync/connections/books").json()
    assert got["secrets_set"] == ["client_secret"]
    assert got["settings"]["retry"] == {"max_attempts": 2}                  # what the form does not show is kept
    assert got["settings"]["mappings"] == [] and got["settings"]["value_maps"] == {"units": {"kg": "KG"}}

    def secret(s):
        from crm_accounting_sync import crypto
        from crm_accounting_sync.models import Connection
        return crypto.decrypt(s.get(Connection, "books").secrets, app)
    assert in_app(app, secret) == {"client_secret": SECRET}


def test_choosing_another_system_shows_its_fields_before_saving(app, make_user, api):
    from crm.testing import registered_plugin
    from crm_accounting_sync.testing.memory import STORES, MemoryPlugin
    client = signed_in(app, make_user, language="es")
    with registered_plugin(app, MemoryPlugin(), "memory_connector"):
        form = form_of(html(client.get("/accounting-sync/settings?connector=quickbooks")))
        switched = client.post("/accounting-sync/settings", data={**form, "name": "mem", "connector": "memory"})
        assert switched.status_code == 200
        page = html(switched)
        assert 'name="settings.store"' in page and 'name="secrets.token"' in page     # fields from its keys
        assert 'name="settings.client_id"' not in page and "Complete los ajustes de" in page
        assert "Sincronizar cada (minutos)" in page and "gana el cambio más reciente" in page
        assert api.get("/accounting-sync/connections/mem").status_code == 404
        bad = client.post("/accounting-sync/settings", data={**form_of(page), "name": "no spaces"})
        assert bad.status_code == 422 and "use letras, dígitos, - y _ (60 como máximo)" in html(bad)
        ok = client.post("/accounting-sync/settings", data={**form_of(page), "name": "mem"})
        assert ok.status_code == 302
        assert api.get("/accounting-sync/connections/mem").json()["connector"] == "memory"
    STORES.clear()


def test_the_api_names_every_wrong_field(api):
    missing = api.put("/accounting-sync/connections/books", json={"connector": "quickbooks", "settings": {}})
    assert missing.status_code == 422
    assert set(missing.json()["error"]["fields"]) == {"settings.client_id"}
    bad = api.put("/accounting-sync/connections/books", json={
        "connector": "quickbooks", "secrets": {"client_secret": "x"},
        "settings": {"client_id": "a", "timeout_seconds": "soon", "schedule_minutes": -1, "item_type": "Gadget",
                     "entities": {"invoices": {"policy": "maybe"}}}})
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"settings.timeout_seconds", "settings.schedule_minutes",
                                                  "settings.item_type", "settings.entities.invoices.policy"}
    no_secret = api.put("/accounting-sync/connections/books", json={"connector": "quickbooks",
                                                                    "settings": {"client_id": "a"}})
    assert no_secret.status_code == 422 and no_secret.json()["error"]["fields"] == {
        "secrets.client_secret": ["is required"]}
    connectors = {c["name"]: c for c in api.get("/accounting-sync/connectors").json()}
    assert "refresh_token" in connectors["quickbooks"]["secret_keys"]                  # the contract as it was

