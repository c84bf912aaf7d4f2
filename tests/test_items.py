"""Products, bundles and services through the API."""
from __future__ import annotations

from decimal import Decimal

from crm.models import Document, DocumentLine, Item, StockMove
from crm.testing import at_once


def _tax(api, name="IVA 21%", rate="21", applies_to="items"):
    r = api.post("/taxes", json={"name": name, "rate": rate, "applies_to": applies_to})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _product(api, name="Widget", **fields):
    r = api.post("/products", json={"name": name, "unit_price": "10", **fields})
    assert r.status_code == 201, r.text
    return r.json()


def _set_stock(session, product_id, on_hand, reserved="0"):
    item = session.get(Item, product_id)
    item.on_hand, item.reserved = Decimal(on_hand), Decimal(reserved)
    session.commit()



def test_create_get_patch_delete_product(api):
    tax = _tax(api)
    vendor = api.post("/vendors", json={"name": "Norte"}).json()["id"]
    r = api.post("/products", json={
        "name": "Widget", "sku": "W-1", "unit_price": 19.99, "purchase_cost": "12.5", "usage_unit": "pcs",
        "qty_per_unit": "2.5", "category": "Hardware", "subcategory": "Bolts", "manufacturer": "Acme",
        "vendor_id": vendor, "reorder_level": "5", "tax_ids": [tax], "description": "a widget"})
    assert r.status_code == 201, r.text
    product = r.json()
    assert product["kind"] == "product" and product["is_bundle"] is False and product["components"] == []
    assert product["unit_price"] == "19.99" and product["purchase_cost"] == "12.50"
    assert product["qty_per_unit"] == "2.5" and product["reorder_level"] == "5" and product["tax_ids"] == [tax]
    assert (product["on_hand"], product["reserved"], product["available"]) == ("0", "0", "0")
    assert product["version"] == 1 and product["active"] is True and product["custom"] == {}
    assert api.get(f"/products/{product['id']}").json() == product
    assert api.get(f"/items/{product['id']}").json() == product
    assert api.get(f"/services/{product['id']}").status_code == 404

    r = api.patch(f"/products/{product['id']}", json={"unit_price": "21", "tax_ids": [], "version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["unit_price"] == "21.00" and r.json()["tax_ids"] == [] and r.json()["version"] == 2
    r = api.patch(f"/products/{product['id']}", json={"tax_ids": [tax], "version": 2})
    assert r.json()["version"] == 3, "changing only the taxes bumps the version"
    assert api.patch(f"/products/{product['id']}", json={"name": "X", "version": 2}).status_code == 409
    assert api.patch(f"/products/{product['id']}", json={"sku": None}).json()["sku"] is None
    assert api.delete(f"/services/{product['id']}").status_code == 404
    assert api.delete(f"/products/{product['id']}").status_code == 204
    assert api.get(f"/items/{product['id']}").status_code == 404


def test_create_get_patch_delete_service(api):
    tax = _tax(api)
    r = api.post("/services", json={"name": "Consulting hour", "unit_price": "40", "purchase_cost": "25",
                                    "usage_unit": "hour", "category": "Consulting", "tax_ids": [tax]})
    assert r.status_code == 201, r.text
    service = r.json()
    assert service["kind"] == "service" and service["unit_price"] == "40.00" and service["tax_ids"] == [tax]
    assert "on_hand" not in service and "sku" not in service and "components" not in service
    assert api.get(f"/items/{service['id']}").json() == service
    assert api.get(f"/products/{service['id']}").status_code == 404
    assert api.patch(f"/products/{service['id']}", json={"name": "X"}).status_code == 404
    r = api.patch(f"/services/{service['id']}", json={"name": "Consulting", "version": 1})
    assert r.status_code == 200 and r.json()["version"] == 2
    for body, field in [({"sku": "S-1"}, "sku"), ({"components": []}, "components"), ({"kind": "product"}, "kind"),
                        ({"on_hand": "5"}, "on_hand")]:
        r = api.patch(f"/services/{service['id']}", json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)
    assert api.get("/services").json()["items"][0]["name"] == "Consulting"
    assert api.get("/products").json()["total"] == 0
    assert api.delete(f"/services/{service['id']}").status_code == 204


def test_sku_is_unique_when_set(api):
    first = _product(api, "A", sku="SKU-1")
    r = api.post("/products", json={"name": "B", "unit_price": "1", "sku": "SKU-1"})
    assert r.status_code == 409 and r.json()["error"]["fields"] == {"sku": ["already exists"]}
    second = _product(api, "B", sku="")
    third = _product(api, "C")
    assert second["sku"] is None and third["sku"] is None
    r = api.patch(f"/products/{second['id']}", json={"sku": "SKU-1"})
    assert r.status_code == 409 and "sku" in r.json()["error"]["fields"]
    assert api.patch(f"/products/{first['id']}", json={"sku": " SKU-1 "}).json()["sku"] == "SKU-1"
    assert api.get("/products").json()["total"] == 3


def test_concurrent_creates_with_one_sku_give_one_product(api, live_api_as, make_user):
    """Each refusal in its user's language: the message is written after the failed INSERT."""
    languages = ["en", "es"] * 3
    clients = [live_api_as(user=make_user("purchasing", language=language)) for language in languages]
    results = at_once(*[lambda c=c, i=i: c.post("/products", json={"name": f"P{i}", "unit_price": "1", "sku": "S"})
                        for i, c in enumerate(clients)])
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409, 409, 409], [r.text for r in results]
    said = {"en": {"sku": ["already exists"]}, "es": {"sku": ["ya existe"]}}
    assert all(r.json()["error"]["fields"] == said[language]
               for r, language in zip(results, languages) if r.status_code == 409)
    assert api.get("/products").json()["total"] == 1


def test_list_search_sort_and_filters(api):
    vendor = api.post("/vendors", json={"name": "Norte"}).json()["id"]
    _product(api, "Bolt", sku="B-1", unit_price="0.10", category="Hardware", subcategory="Bolts",
             manufacturer="Acme", vendor_id=vendor)
    _product(api, "nut", sku="N-1", unit_price="0.05", category="Hardware", subcategory="Nuts", manufacturer="Acme")
    _product(api, "Drill", sku="D-1", unit_price="99", category="Tools", manufacturer="Globex", active=False,
             description="cordless drill with bolt holder")
    api.post("/services", json={"name": "Bolt fitting", "unit_price": "30"})
    names = lambda query: [p["name"] for p in api.get(f"/products?{query}").json()["items"]]  # noqa: E731
    assert names("sort=name") == ["Bolt", "Drill", "nut"]
    assert names("sort=-unit_price") == ["Drill", "Bolt", "nut"]
    assert names("sort=sku") == ["Bolt", "Drill", "nut"]
    assert names("q=bolt&sort=name") == ["Bolt", "Drill"]
    assert names("q=n-1") == ["nut"]
    assert names("category=Hardware&sort=-name") == ["nut", "Bolt"]
    assert names("subcategory=Nuts") == ["nut"]
    assert names("manufacturer=Globex") == ["Drill"]
    assert names(f"vendor_id={vendor}") == ["Bolt"]
    assert names("active=false") == ["Drill"]
    assert names("is_bundle=true") == []
    page = api.get("/products?per_page=1&page=3&sort=category").json()
    assert page["total"] == 3 and len(page["items"]) == 1
    assert [s["name"] for s in api.get("/services?q=bolt").json()["items"]] == ["Bolt fitting"]
    for query in ("vendor_id=x", "vendor_id=99999999999", "is_bundle=perhaps", "sort=colour", "category=%00",
                  "per_page=0", "page=0", "q=%00"):
        r = api.get(f"/products?{query}")
        assert r.status_code == 422, (query, r.text)


def test_bad_product_input_names_the_field_and_changes_nothing(api):
    tax, shipping_tax = _tax(api), _tax(api, "Envío", applies_to="shipping")
    cases = [
        ({"unit_price": "1"}, "name"),
        ({"name": "P"}, "unit_price"),
        ({"name": "P", "unit_price": "-1"}, "unit_price"),
        ({"name": "P", "unit_price": "abc"}, "unit_price"),
        ({"name": "P", "unit_price": "1e30"}, "unit_price"),
        ({"name": "P", "unit_price": "NaN"}, "unit_price"),
        ({"name": "P", "unit_price": "1.23456"}, "unit_price"),
        ({"name": "P", "unit_price": True}, "unit_price"),
        ({"name": "P", "unit_price": "1", "purchase_cost": "-0.01"}, "purchase_cost"),
        ({"name": "P", "unit_price": "1", "qty_per_unit": "-1"}, "qty_per_unit"),
        ({"name": "P", "unit_price": "1", "reorder_level": "0.0001"}, "reorder_level"),
        ({"name": "P", "unit_price": "1", "sku": "s" * 101}, "sku"),
        ({"name": "P", "unit_price": "1", "sku": 12}, "sku"),
        ({"name": "x" * 201, "unit_price": "1"}, "name"),
        ({"name": "P", "unit_price": "1", "usage_unit": "u" * 31}, "usage_unit"),
        ({"name": "P", "unit_price": "1", "vendor_id": 999}, "vendor_id"),
        ({"name": "P", "unit_price": "1", "vendor_id": 99999999999}, "vendor_id"),
        ({"name": "P", "unit_price": "1", "tax_ids": [999]}, "tax_ids.0"),
        ({"name": "P", "unit_price": "1", "tax_ids": [tax, 99999999999]}, "tax_ids.1"),
        ({"name": "P", "unit_price": "1", "tax_ids": [shipping_tax]}, "tax_ids.0"),
        ({"name": "P", "unit_price": "1", "tax_ids": [tax, tax]}, "tax_ids"),
        ({"name": "P", "unit_price": "1", "tax_ids": "1"}, "tax_ids"),
        ({"name": "P", "unit_price": "1", "tax_ids": ["x"]}, "tax_ids.0"),
        ({"name": "P", "unit_price": "1", "is_bundle": True}, "is_bundle"),
        ({"name": "P", "unit_price": "1", "available": "5"}, "available"),
        ({"name": "P", "unit_price": "1", "kind": "service"}, "kind"),
        ({"name": "P", "unit_price": "1", "colour": "red"}, "colour"),
        ({"name": "P", "unit_price": "1", "custom": {"colour": "red"}}, "custom.colour"),
    ]
    for body, field in cases:
        r = api.post("/products", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["error"]["fields"], (body, r.json())
    assert api.get("/products").json()["total"] == 0
    product = _product(api, "Kept", sku="K-1", tax_ids=[tax])
    for body, _field in cases[2:]:
        r = api.patch(f"/products/{product['id']}", json=body)
        assert r.status_code == 422, (body, r.text)
    assert api.get(f"/products/{product['id']}").json() == product


def test_bundle_components_and_availability(api, session):
    widget, gadget = _product(api, "Widget"), _product(api, "Gadget")
    r = api.post("/products", json={"name": "Kit", "unit_price": "45", "components": [
        {"product_id": widget["id"], "quantity": "2"}, {"product_id": gadget["id"], "quantity": 1}]})
    assert r.status_code == 201, r.text
    kit = r.json()
    assert kit["is_bundle"] is True
    assert [(c["product_id"], c["quantity"], c["product_name"]) for c in kit["components"]] == [
        (widget["id"], "2", "Widget"), (gadget["id"], "1", "Gadget")]
    assert kit["available"] == "0"

    _set_stock(session, widget["id"], "7", reserved="2")   # 5 available -> 2 kits
    _set_stock(session, gadget["id"], "10", reserved="1")  # 9 available -> 9 kits
    kit = api.get(f"/products/{kit['id']}").json()
    assert (kit["on_hand"], kit["available"], kit["reserved"]) == ("3", "2", "1")
    assert api.get("/products?is_bundle=true").json()["items"] == [kit]

    r = api.patch(f"/products/{kit['id']}", json={"components": [{"product_id": gadget["id"], "quantity": "4"}],
                                                   "version": kit["version"]})
    assert r.status_code == 200, r.text
    assert r.json()["available"] == "2" and r.json()["version"] == kit["version"] + 1
    assert [c["product_id"] for c in r.json()["components"]] == [gadget["id"]]
    r = api.patch(f"/products/{kit['id']}", json={"components": []})
    assert r.json()["is_bundle"] is False and r.json()["components"] == []


def test_bad_components_are_refused(api, session):
    widget, gadget = _product(api, "Widget"), _product(api, "Gadget")
    service = api.post("/services", json={"name": "Fitting", "unit_price": "1"}).json()
    kit = _product(api, "Kit", components=[{"product_id": widget["id"], "quantity": "1"}])
    cases = [
        ([{"product_id": 999, "quantity": "1"}], "components.0.product_id"),
        ([{"product_id": 99999999999, "quantity": "1"}], "components.0.product_id"),
        ([{"product_id": service["id"], "quantity": "1"}], "components.0.product_id"),
        ([{"product_id": kit["id"], "quantity": "1"}], "components.0.product_id"),
        ([{"product_id": widget["id"], "quantity": "1"}, {"product_id": widget["id"], "quantity": "2"}],
         "components.1.product_id"),
        ([{"product_id": widget["id"], "quantity": "0"}], "components.0.quantity"),
        ([{"product_id": widget["id"], "quantity": "-1"}], "components.0.quantity"),
        ([{"product_id": widget["id"], "quantity": "0.0001"}], "components.0.quantity"),
        ([{"product_id": widget["id"]}], "components.0.quantity"),
        ([{"quantity": "1"}], "components.0.product_id"),
        ([{"product_id": widget["id"], "quantity": "1", "price": "3"}], "components.0.price"),
        ({"product_id": widget["id"]}, "components"),
    ]
    for components, field in cases:
        r = api.post("/products", json={"name": "Bad kit", "unit_price": "1", "components": components})
        assert r.status_code == 422, (components, r.text)
        assert field in r.json()["error"]["fields"], (components, r.json())
        r = api.patch(f"/products/{kit['id']}", json={"components": components})
        assert r.status_code == 422, (components, r.text)
    r = api.patch(f"/products/{kit['id']}", json={"components": [{"product_id": kit["id"], "quantity": "1"}]})
    assert r.status_code == 422 and "itself" in r.json()["error"]["message"]
    # a component cannot become a bundle (no bundles inside bundles)
    r = api.patch(f"/products/{widget['id']}", json={"components": [{"product_id": gadget["id"], "quantity": "1"}]})
    assert r.status_code == 422 and "components" in r.json()["error"]["fields"]
    # a product with stock cannot become a bundle
    _set_stock(session, gadget["id"], "3")
    r = api.patch(f"/products/{gadget['id']}", json={"components": [{"product_id": widget["id"], "quantity": "1"}]})
    assert r.status_code == 409 and "components" in r.json()["error"]["fields"]
    assert api.get(f"/products/{kit['id']}").json()["components"][0]["product_id"] == widget["id"]
    assert api.get("/products").json()["total"] == 3


def test_delete_is_refused_while_referenced(api, session):
    widget, gadget, bolt = _product(api, "Widget"), _product(api, "Gadget"), _product(api, "Bolt")
    service = api.post("/services", json={"name": "Fitting", "unit_price": "1"}).json()
    kit = _product(api, "Kit", components=[{"product_id": widget["id"], "quantity": "1"}])
    book = api.post("/price-books", json={"name": "Retail", "prices": [{"item_id": gadget["id"],
                                                                        "list_price": "1"}]}).json()
    document = Document(doc_type="quote", number="QUO-0001", status="Created")
    document.lines = [DocumentLine(item_id=service["id"], quantity=Decimal("1"))]
    session.add_all([document, StockMove(product_id=bolt["id"], quantity=Decimal("1"), kind="adjustment")])
    session.commit()
    for path, used_by in ((f"/products/{widget['id']}", "bundles"), (f"/products/{gadget['id']}", "price books"),
                          (f"/services/{service['id']}", "documents"), (f"/products/{bolt['id']}", "stock moves")):
        r = api.delete(path)
        assert r.status_code == 409, (path, r.text)
        assert used_by in r.json()["error"]["message"] and "deactivate" in r.json()["error"]["message"]
        assert api.get(path).status_code == 200
    assert api.delete(f"/products/{kit['id']}").status_code == 204
    assert api.delete(f"/products/{widget['id']}").status_code == 204
    assert api.delete(f"/price-books/{book['id']}").status_code == 204
    assert api.delete(f"/products/{gadget['id']}").status_code == 204


def test_unknown_ids_are_a_404(api):
    for path in ("/products/7", "/services/7", "/items/7", "/products/99999999999", "/items/99999999999"):
        assert api.get(path).status_code == 404, path
    for path in ("/products/99999999999", "/services/99999999999"):
        assert api.patch(path, json={"name": "X"}).status_code == 404
        assert api.delete(path).status_code == 404


def test_catalog_roles(api_as):
    purchasing = api_as("purchasing")
    product = purchasing.post("/products", json={"name": "P", "unit_price": "1"}).json()
    service = purchasing.post("/services", json={"name": "S", "unit_price": "1"}).json()
    for role in ("sales", "warehouse", "accounting"):
        client = api_as(role)
        assert client.get(f"/products/{product['id']}").status_code == 200
        assert client.get(f"/items/{service['id']}").status_code == 200
        assert client.post("/products", json={"name": "No", "unit_price": "1"}).status_code == 403
        assert client.post("/services", json={"name": "No", "unit_price": "1"}).status_code == 403
        assert client.patch(f"/products/{product['id']}", json={"name": "No"}).status_code == 403
        assert client.delete(f"/services/{service['id']}").status_code == 403
    assert purchasing.delete(f"/products/{product['id']}").status_code == 204
