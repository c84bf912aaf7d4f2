"""Settings: the facet fields per kind (validated), the kind the picker opens with, the switches
shown, the picture column; through the API and the settings page."""
from __future__ import annotations

import pytest

from crm.db import db
from crm.models import CustomField
from item_lookup_helpers import names

DEFAULTS = {
    "facets": {"product": ["category", "subcategory", "manufacturer"], "service": ["category"],
               "bundle": ["category", "subcategory", "manufacturer"]},
    "default_kind": "product", "switches": ["in_stock", "include_inactive", "bundles_only"],
    "show_picture": False, "picture_field": None,
}


def test_defaults(rest):
    response = rest.get("/item-lookup/settings")
    assert response.status_code == 200
    assert response.get_json() == DEFAULTS


def test_fields_that_may_be_facets(shop, rest):
    fields = rest.get("/item-lookup/fields").get_json()["items"]
    assert [(f["name"], f["type"], f["builtin"]) for f in fields] == [
        ("category", "text", True), ("subcategory", "text", True), ("manufacturer", "text", True),
        ("usage_unit", "text", True), ("custom.color", "select", False), ("custom.finish", "text", False)]
    # custom.weight is a number: not a facet


def test_changing_settings_keeps_what_is_not_sent(shop, rest):
    response = rest.put("/item-lookup/settings", json={"default_kind": "service", "switches": ["in_stock"],
                                                       "facets": {"service": ["usage_unit", "category"]}})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["default_kind"] == "service" and body["switches"] == ["in_stock"]
    assert body["facets"] == {**DEFAULTS["facets"], "service": ["usage_unit", "category"]}
    assert rest.get("/item-lookup/settings").get_json() == body


def test_a_custom_field_facet_with_counts(shop, rest, find):
    response = rest.put("/item-lookup/settings", json={"facets": {"product": ["custom.color", "category"]}})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = find(kind="product")
    assert [f["field"] for f in body["fields"]] == ["custom.color", "category"]
    assert [f["label"] for f in body["fields"]] == ["Colour", "Category"]
    # bundles keep their own fields (category, subcategory, ...): at neither position do they have
    # the products' field, so they count in neither facet, and a selection leaves them out
    assert body["facets"]["custom.color"] == {"blue": 1, "green": 1, "red": 2}   # Old drill is inactive
    assert body["facets"]["category"] == {"Electrical": 2, "Safety": 1, "Tools": 4}
    red = find(kind="product", f1="red")
    assert sorted(names(red)) == ["Alpha drill", "Gamma saw"]
    assert red["facets"]["category"] == {"Tools": 2}
    assert red["items"][0]["fields"]["custom.color"] == "red"
    # a bare key is accepted and stored as custom.<key>
    assert rest.put("/item-lookup/settings", json={"facets": {"bundle": ["finish"]}}).get_json()["facets"]["bundle"] \
        == ["custom.finish"]


def test_a_custom_value_changed_on_an_item_moves_between_facet_values(shop, rest, find):
    rest.put("/item-lookup/settings", json={"facets": {"product": ["custom.color"]}})
    beta = shop.ids["Beta drill"]
    response = rest.patch(f"/products/{beta}", json={"custom": {"color": "red"}})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert find(kind="product")["facets"]["custom.color"] == {"green": 1, "red": 3}


@pytest.mark.parametrize("body, field", [
    ({"facets": {"product": ["colour"]}}, "facets.product.0"),
    ({"facets": {"product": ["category", "nope"]}}, "facets.product.1"),
    ({"facets": {"product": ["custom.weight"]}}, "facets.product.0"),           # a number field
    ({"facets": {"product": ["name"]}}, "facets.product.0"),                    # not a category field
    ({"facets": {"product": ["category", "category"]}}, "facets.product.1"),
    ({"facets": {"product": ["category", "subcategory", "manufacturer", "usage_unit"]}}, "facets.product"),
    ({"facets": {"gadget": ["category"]}}, "facets"),
    ({"facets": {"product": "category"}}, "facets.product"),
    ({"facets": {"product": [3]}}, "facets.product.0"),
    ({"default_kind": "gadget"}, "default_kind"),
    ({"switches": ["in_stock", "fast"]}, "switches.1"),
    ({"switches": "in_stock"}, "switches"),
    ({"show_picture": "yes please"}, "show_picture"),
    ({"picture_field": "custom.color"}, "picture_field"),                        # a select, not a URL
    ({"picture_field": "category"}, "picture_field"),
])
def test_bad_settings_are_refused_with_422_and_change_nothing(shop, rest, body, field):
    response = rest.put("/item-lookup/settings", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert any(key == field or key.startswith(field + ".") for key in error["fields"]), error
    assert rest.get("/item-lookup/settings").get_json() == DEFAULTS


def test_switches_twice_is_refused(rest):
    response = rest.put("/item-lookup/settings", json={"switches": ["in_stock", "in_stock"]})
    assert response.status_code == 422 and "switches" in response.get_json()["error"]["fields"]


def test_a_deactivated_custom_field_stops_being_a_facet(shop, rest, find, app):
    rest.put("/item-lookup/settings", json={"facets": {"product": ["category", "custom.color"]}})
    assert [f["field"] for f in find(kind="product")["fields"]] == ["category", "custom.color"]
    fields = rest.get("/custom-fields").get_json()["items"]
    color = next(f for f in fields if f["key"] == "color")
    renamed = rest.patch(f"/custom-fields/{color['id']}", json={"label": "Color"})
    assert renamed.status_code == 200, renamed.get_data(as_text=True)
    assert [f["label"] for f in find(kind="product")["fields"]] == ["Category", "Color"]
    assert rest.patch(f"/custom-fields/{color['id']}", json={"active": False}).status_code == 200
    body = find(kind="product")
    assert [f["field"] for f in body["fields"]] == ["category"]
    assert "custom.color" not in body["facets"]
    # the settings still show it, so the admin sees what to replace
    assert rest.get("/item-lookup/settings").get_json()["facets"]["product"] == ["category", "custom.color"]


def test_pictures_from_a_custom_url_field(shop, rest, find, app):
    with app.app_context():
        s = db.new_session(app)
        s.add(CustomField(entity="items", key="image", label="Image", type="text"))
        s.commit()
        s.close()
    alpha, beta = shop.ids["Alpha drill"], shop.ids["Beta drill"]
    url = "https://img.example/alpha.png"
    assert rest.patch(f"/products/{alpha}", json={"custom": {"image": url}}).status_code == 200
    assert rest.patch(f"/products/{beta}", json={"custom": {"image": "javascript:alert(1)"}}).status_code == 200
    assert find(q="alpha")["items"][0]["picture"] is None  # off by default
    response = rest.put("/item-lookup/settings", json={"show_picture": True, "picture_field": "custom.image"})
    assert response.status_code == 200, response.get_data(as_text=True)
    pictures = {i["name"]: i["picture"] for i in find(kind="product", q="drill")["items"]}
    assert pictures == {"Alpha drill": "https://img.example/alpha.png", "Beta drill": None, "Drill kit": None}


def test_only_an_admin_changes_settings(shop, rest_as):
    assert rest_as("sales").get("/item-lookup/settings").status_code == 200
    for role in ("sales", "purchasing", "warehouse", "accounting"):
        assert rest_as(role).put("/item-lookup/settings", json={"default_kind": "service"}).status_code == 403


# --- the settings page --------------------------------------------------------------------------------

def test_the_settings_page_is_listed_and_saves(shop, client, browser_user, find):
    browser_user(client, "admin")
    assert "/item-lookup/settings" in client.get("/settings/").get_data(as_text=True)
    page = client.get("/item-lookup/settings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Item lookup settings" in html and 'value="custom.color"' in html
    saved = client.post("/item-lookup/settings", data={
        "facets.product.0": "manufacturer", "facets.product.1": "", "facets.product.2": "custom.color",
        "facets.service.0": "category", "facets.bundle.0": "category", "default_kind": "bundle",
        "switch.in_stock": "1", "show_picture": ""})
    assert saved.status_code == 302
    body = find(kind="product")
    assert [f["field"] for f in body["fields"]] == ["manufacturer", "custom.color"]
    assert [f["param"] for f in body["fields"]] == ["f1", "f2"]
    assert body["facets"]["manufacturer"]["Bosch"] == 2   # bundles now have category first: not counted


def test_the_settings_page_shows_a_refusal(shop, client, browser_user):
    browser_user(client, "admin")
    refused = client.post("/item-lookup/settings", data={"facets.product.0": "category",
                                                         "facets.product.1": "category", "default_kind": "product"})
    assert refused.status_code == 422
    assert "listed twice" in refused.get_data(as_text=True)


def test_the_settings_page_is_for_admins(client, browser_user):
    browser_user(client, "sales")
    assert client.get("/item-lookup/settings").status_code == 403
