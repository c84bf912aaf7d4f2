"""Every edit form of the item lookup (found in the URL map by ``crm.testing.edit_forms``),
submitted untouched as a browser would, changes nothing: the settings read through the API are
the same before and after. A form of the plugin without a case here fails the test."""
from __future__ import annotations

import pytest

from crm.testing import TEST_PASSWORD, check_round_trip, edit_forms

FULL = {"facets": {"product": ["custom.color", "manufacturer", "category"], "service": ["usage_unit", "category"],
                   "bundle": ["custom.finish"]},
        "default_kind": "bundle", "switches": ["include_inactive", "bundles_only"], "show_picture": True,
        "picture_field": "custom.finish"}
SPARSE = {"facets": {"product": [], "service": [], "bundle": []}, "default_kind": "service", "switches": [],
          "show_picture": False, "picture_field": None}
CASES = {"/item-lookup/settings": [FULL, SPARSE]}


def test_every_edit_form_of_the_plugin_has_a_case(app):
    assert {f.rule for f in edit_forms(app) if f.owner == "item_lookup"} == set(CASES)


@pytest.mark.parametrize("settings", CASES["/item-lookup/settings"], ids=["full", "sparse"])
def test_the_settings_page_saved_unchanged_changes_nothing(app, shop, rest, make_user, settings):
    assert rest.put("/item-lookup/settings", json=settings).get_json() == settings
    client = app.test_client()
    assert client.post("/login", data={"username": make_user("admin").username,
                                       "password": TEST_PASSWORD}).status_code == 302
    check_round_trip(client, "/item-lookup/settings", lambda: rest.get("/item-lookup/settings").get_json())
