"""The faceted search against the hand-counted catalogue of ``item_lookup_helpers.ITEMS``.

Active products (bundles included): Alpha drill, Beta drill, Gamma saw, Delta hammer, Epsilon
bulb, Zeta cable, "50% off_cut \\ gloves", Drill kit, Saw kit (9); Old drill is inactive.
Services: Installation, Training; Consulting (old) is inactive."""
from __future__ import annotations

import pytest

from item_lookup_helpers import names

GLOVES = "50% off_cut \\ gloves"


# --- facet counts ------------------------------------------------------------------------------------

def test_products_with_their_facets_counted_by_hand(shop, find):
    body = find(kind="product")
    assert body["total"] == 9
    assert names(body) == [GLOVES, "Alpha drill", "Beta drill", "Delta hammer", "Drill kit", "Epsilon bulb",
                           "Gamma saw", "Saw kit", "Zeta cable"]
    assert body["facets"] == {
        "category": {"Electrical": 2, "Kits": 2, "Safety": 1, "Tools": 4},
        "subcategory": {"Hand": 3, "Lighting": 1, "Power": 3, "Wiring": 1},  # the gloves have none
        "manufacturer": {"Acme": 1, "Bosch": 4, "Makita": 1, "Philips": 2, "Stanley": 1},
    }
    assert [(f["param"], f["field"], f["label"]) for f in body["fields"]] == [
        ("f1", "category", "Category"), ("f2", "subcategory", "Subcategory"), ("f3", "manufacturer", "Manufacturer")]


def test_each_facet_counts_every_filter_but_its_own(shop, find):
    one = find(kind="product", f1="Tools")
    assert one["total"] == 4
    assert sorted(names(one)) == ["Alpha drill", "Beta drill", "Delta hammer", "Gamma saw"]
    assert one["facets"]["category"] == {"Electrical": 2, "Kits": 2, "Safety": 1, "Tools": 4}  # own filter not applied
    assert one["facets"]["subcategory"] == {"Hand": 2, "Power": 2}
    assert one["facets"]["manufacturer"] == {"Bosch": 2, "Makita": 1, "Stanley": 1}
    assert one["fields"][0]["selected"] == ["Tools"]

    two = find(kind="product", f1="Tools", f3="Bosch")
    assert two["total"] == 2 and sorted(names(two)) == ["Alpha drill", "Gamma saw"]
    assert two["facets"]["category"] == {"Kits": 2, "Tools": 2}          # under manufacturer = Bosch
    assert two["facets"]["subcategory"] == {"Hand": 1, "Power": 1}       # under both
    assert two["facets"]["manufacturer"] == {"Bosch": 2, "Makita": 1, "Stanley": 1}  # under category = Tools


def test_several_values_of_one_facet_are_any_of_them(shop, find):
    body = find(kind="product", f1=["Tools", "Kits"], f2="Power")
    assert sorted(names(body)) == ["Alpha drill", "Beta drill", "Drill kit"]
    assert body["facets"]["category"] == {"Kits": 1, "Tools": 2}   # under subcategory = Power
    assert body["facets"]["subcategory"] == {"Hand": 3, "Power": 3}


def test_values_without_matches_are_not_listed(shop, find):
    body = find(kind="product", f1="Electrical")
    assert body["facets"]["subcategory"] == {"Lighting": 1, "Wiring": 1}
    assert "Power" not in body["facets"]["subcategory"]
    nothing = find(kind="product", f1="Electrical", f2="Power")
    assert nothing["total"] == 0 and nothing["items"] == []
    assert nothing["facets"]["category"] == {"Kits": 1, "Tools": 2}   # what Power has
    assert nothing["facets"]["manufacturer"] == {}


def test_a_value_that_matches_nothing_selected_lists_nothing(shop, find):
    body = find(kind="product", f1="No such category")
    assert body["total"] == 0 and body["facets"]["manufacturer"] == {}
    assert "No such category" not in body["facets"]["category"]


def test_without_a_kind_products_bundles_and_services_come_together(shop, find):
    body = find()
    assert body["total"] == 11
    assert {"Installation", "Training", "Drill kit", "Alpha drill"} <= set(names(body))
    # facets of the default kind (product); services share its first field (category) only
    assert body["facets"]["category"] == {"Electrical": 2, "Kits": 2, "Safety": 1, "Services": 2, "Tools": 4}
    assert body["facets"]["subcategory"] == {"Hand": 3, "Lighting": 1, "Power": 3, "Wiring": 1}
    kinds = {item["name"]: item["kind"] for item in body["items"]}
    assert kinds["Installation"] == "service" and kinds["Drill kit"] == "bundle" and kinds["Alpha drill"] == "product"
    services = find(f1="Services")
    assert sorted(names(services)) == ["Installation", "Training"]


def test_services_have_their_own_fields(shop, find):
    body = find(kind="service")
    assert sorted(names(body)) == ["Installation", "Training"]
    assert body["facets"] == {"category": {"Services": 2}}
    assert [f["field"] for f in body["fields"]] == ["category"]
    assert body["items"][0]["available"] is None


def test_bundles_kind(shop, find):
    body = find(kind="bundle")
    assert names(body) == ["Drill kit", "Saw kit"]
    assert body["facets"]["category"] == {"Kits": 2}
    assert body["facets"]["subcategory"] == {"Hand": 1, "Power": 1}


# --- switches and filters ------------------------------------------------------------------------------

def test_in_stock_only_uses_available_and_component_availability(shop, find):
    body = find(kind="product", in_stock="true")
    # Alpha 5, Delta 10, Epsilon 100, gloves 1; Drill kit: 2 x Alpha (5 // 2 = 2) and Delta -> 2 kits.
    # Beta 0, Zeta 0, Gamma 3 on hand but 3 reserved; Saw kit needs a Gamma.
    assert sorted(names(body)) == sorted([GLOVES, "Alpha drill", "Delta hammer", "Drill kit", "Epsilon bulb"])
    assert body["facets"]["category"] == {"Electrical": 1, "Kits": 1, "Safety": 1, "Tools": 2}
    available = {item["name"]: item["available"] for item in body["items"]}
    assert available["Drill kit"] == "2" and available["Alpha drill"] == "5"


def test_in_stock_only_keeps_services(shop, find):
    assert find(in_stock="true")["total"] == 5 + 2
    assert find(kind="service", in_stock="true")["total"] == 2


def test_include_inactive(shop, find):
    products = find(kind="product", include_inactive="true")
    assert products["total"] == 10 and "Old drill" in names(products)
    assert products["facets"]["manufacturer"]["Bosch"] == 5
    inactive = next(i for i in products["items"] if i["name"] == "Old drill")
    assert inactive["active"] is False
    services = find(kind="service", include_inactive="true")
    assert services["facets"]["category"] == {"Consulting": 1, "Services": 2}


def test_bundles_only(shop, find):
    assert names(find(bundles_only="true")) == ["Drill kit", "Saw kit"]
    assert names(find(kind="product", bundles_only="true", in_stock="true")) == ["Drill kit"]
    assert find(kind="service", bundles_only="true")["total"] == 0


def test_vendor_filter(shop, find):
    body = find(kind="product", vendor_id=shop.norte)
    assert sorted(names(body)) == ["Alpha drill", "Epsilon bulb", "Gamma saw"]
    assert body["facets"]["manufacturer"] == {"Bosch": 2, "Philips": 1}
    item = body["items"][0]
    assert item["vendor_id"] == shop.norte and item["vendor_name"] == "Norte Suministros"


def test_vendor_and_letter_counts_apply_every_filter_but_their_own(shop, find):
    body = find(kind="product", vendor_id=shop.norte, f1="Tools")
    assert body["total"] == 2 and sorted(names(body)) == ["Alpha drill", "Gamma saw"]
    assert body["facets"]["category"] == {"Electrical": 1, "Tools": 2}    # own selection not applied
    assert body["facets"]["subcategory"] == {"Hand": 1, "Power": 1}
    assert body["facets"]["manufacturer"] == {"Bosch": 2}
    stocked = find(kind="product", vendor_id=shop.norte, in_stock="true", f3="Bosch", sort="-unit_price")
    assert names(stocked) == ["Alpha drill"]                             # Gamma saw: all reserved
    assert stocked["facets"]["manufacturer"] == {"Bosch": 1, "Philips": 1}
    assert stocked["facets"]["category"] == {"Tools": 1}
    lettered = find(kind="product", letter="D", f1="Tools")
    assert names(lettered) == ["Delta hammer"]
    assert lettered["facets"]["category"] == {"Kits": 1, "Tools": 1}


def test_first_letter(shop, find):
    assert names(find(kind="product", letter="D")) == ["Delta hammer", "Drill kit"]
    assert names(find(kind="product", letter="#")) == [GLOVES]
    assert find(kind="product", letter="Q")["total"] == 0


# --- text search --------------------------------------------------------------------------------------

@pytest.mark.parametrize("q, expected", [
    ("drill", ["Alpha drill", "Beta drill", "Drill kit"]),
    ("DRILL kit", ["Drill kit"]),              # every word, any case, any order
    ("kit drill", ["Drill kit"]),
    ("g-1", ["Gamma saw"]),                    # the SKU
    ("the delta", ["Delta hammer"]),           # the description
    ("bosch", []),                             # the manufacturer is a facet, not searched text
    ("dr", ["Alpha drill", "Beta drill", "Drill kit"]),   # too short for the trigram index: still found
    ("dr kit", ["Drill kit"]),
    ("pha dri", ["Alpha drill"]),              # parts of words
])
def test_text_search(shop, find, q, expected):
    body = find(kind="product", q=q)
    assert sorted(names(body)) == sorted(expected)
    assert body["total"] == len(expected)


@pytest.mark.parametrize("q, expected", [
    ("' OR 1=1 --", []),
    ("'; DROP TABLE items; --", []),
    ("%", [GLOVES]),
    ("%%", []),
    ("_", [GLOVES]),                           # no other name or SKU holds an underscore
    ("w_1", [GLOVES]),
    ("\\", [GLOVES]),
    ("\\\\", []),
    ("off_cut \\ glo", [GLOVES]),
    ("'", []),
    ('"', []),
    ("*", []),
    ("[a-z]", []),
    ("50%", [GLOVES]),                         # full-text query syntax is literal text too
    ("ves.", [GLOVES]),                        # "The 50% off_cut \\ gloves."
    ('"drill', []),
    ('dri"ll', []),
    ("drill*", []),
    ("-drill", []),
    ("NEAR(drill", []),
    ("drill OR saw", []),
    ("drill NOT", []),
])
def test_text_that_looks_like_sql_or_patterns_is_taken_literally(shop, find, q, expected):
    body = find(q=q, include_inactive="true")
    assert names(body) == expected
    assert body["total"] == len(expected)
    assert find(kind="product")["total"] == 9  # nothing was harmed


def test_text_search_folds_the_case_of_accented_letters(shop, find, rest):
    created = rest.post("/products", json={"name": "MACETA JARDÍN Ñandú", "unit_price": "9.00"})
    assert created.status_code == 201, created.get_data(as_text=True)
    for q in ("jardín", "JARDÍN", "Jardín ñandú", "ÑANDÚ maceta", "rdí"):
        assert names(find(q=q)) == ["MACETA JARDÍN Ñandú"], q
    assert find(q="jardin")["total"] == 0        # an accent is a different letter


def test_text_search_combines_with_facets(shop, find):
    body = find(kind="product", q="drill", f3="Bosch")
    assert sorted(names(body)) == ["Alpha drill", "Drill kit"]
    assert body["facets"]["manufacturer"] == {"Bosch": 2, "Makita": 1}
    assert body["facets"]["category"] == {"Kits": 1, "Tools": 1}


def test_nul_characters_are_refused(shop, rest):
    response = rest.get("/item-lookup/items", q="a\x00b")
    assert response.status_code == 422
    assert "q" in response.get_json()["error"]["fields"]


# --- sorting and pages --------------------------------------------------------------------------------

def test_sorting(shop, find):
    by_price = find(kind="product", sort="unit_price")
    prices = [item["unit_price"] for item in by_price["items"]]
    assert prices == ["2.40", "4.00", "7.75", "15.00", "35.50", "45.00", "89.90", "120.00", "150.00"]
    assert [i["unit_price"] for i in find(kind="product", sort="-unit_price")["items"]] == list(reversed(prices))
    assert names(find(kind="product", sort="-name"))[0] == "Zeta cable"
    assert names(find(kind="product", sort="sku"))[:3] == ["Alpha drill", "Beta drill", "Delta hammer"]
    by_stock = names(find(kind="product", sort="-available"))
    assert by_stock[:2] == ["Epsilon bulb", "Delta hammer"]
    assert set(by_stock[-2:]) == {"Drill kit", "Saw kit"}  # bundles have no stock of their own: last
    kinds = [i["kind"] for i in find(sort="kind")["items"]]
    assert kinds == sorted(kinds)


def test_pages(shop, find, rest):
    first = find(kind="product", per_page=1)
    assert first["total"] == 9 and first["per_page"] == 1 and names(first) == [GLOVES]
    ninth = find(kind="product", per_page=1, page=9)
    assert names(ninth) == ["Zeta cable"]
    past = find(kind="product", per_page=1, page=10)
    assert past["items"] == [] and past["total"] == 9 and past["page"] == 10
    far = find(kind="product", page=1000)
    assert far["items"] == [] and far["total"] == 9
    assert len(find(kind="product", per_page=200)["items"]) == 9
    seen = [names(find(kind="product", per_page=4, page=p)) for p in (1, 2, 3)]
    assert sum(seen, []) == names(find(kind="product"))
    for bad in ({"per_page": 201}, {"per_page": 0}, {"page": 0}, {"page": "x"}, {"sort": "price"},
                {"kind": "gadget"}, {"letter": "AB"}, {"vendor_id": 0}, {"in_stock": "maybe"}, {"q": "x" * 201}):
        response = rest.get("/item-lookup/items", **bad)
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["code"] == "invalid"


def test_facets_false_skips_the_counts(shop, find):
    body = find(kind="product", facets="false", per_page=2)
    assert body["total"] is None and body["facets"] == {} and len(body["items"]) == 2


def test_item_fields(shop, find):
    item = next(i for i in find(kind="product", q="alpha")["items"])
    assert item == {
        "id": shop.ids["Alpha drill"], "kind": "product", "name": "Alpha drill", "sku": "A-1",
        "unit_price": "89.90", "purchase_cost": "44.95", "price": "89.90", "list_price": None,
        "usage_unit": "unit", "category": "Tools",
        "subcategory": "Power", "manufacturer": "Bosch",
        "fields": {"category": "Tools", "subcategory": "Power", "manufacturer": "Bosch"},
        "vendor_id": shop.norte, "vendor_name": "Norte Suministros", "available": "5", "active": True,
        "tax_ids": [shop.iva21], "taxes": [{"id": shop.iva21, "name": "IVA 21%", "rate": "21"}], "picture": None,
    }


def test_an_empty_catalogue(find):
    body = find()
    assert body["total"] == 0 and body["items"] == [] and body["facets"] == {"category": {}, "subcategory": {},
                                                                              "manufacturer": {}}


def test_every_role_may_search_and_a_token_is_needed(shop, rest_as, client):
    for role in ("sales", "warehouse", "accounting", "purchasing"):
        assert rest_as(role).get("/item-lookup/items").status_code == 200
    assert client.get("/api/v1/item-lookup/items").status_code == 401
