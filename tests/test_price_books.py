"""Price books through the API, and ``list_price`` for documents."""
from __future__ import annotations

from decimal import Decimal

from crm.services.price_books import list_price


def _items(api):
    widget = api.post("/products", json={"name": "Widget", "unit_price": "19.99"}).json()["id"]
    consulting = api.post("/services", json={"name": "Consulting", "unit_price": "40"}).json()["id"]
    return widget, consulting


def test_create_get_list_patch_delete_price_book(api):
    widget, consulting = _items(api)
    r = api.post("/price-books", json={"name": "Wholesale", "description": "for resellers", "prices": [
        {"item_id": widget, "list_price": "15.5"}, {"item_id": consulting, "list_price": 35}]})
    assert r.status_code == 201, r.text
    book = r.json()
    assert book["currency"] == "EUR" and book["active"] is True and book["version"] == 1
    assert book["prices"] == [{"item_id": widget, "list_price": "15.50"},
                              {"item_id": consulting, "list_price": "35.00"}]
    assert api.get(f"/price-books/{book['id']}").json() == book
    assert api.get("/price-books").json()["items"] == [book]

    r = api.patch(f"/price-books/{book['id']}", json={"prices": [{"item_id": consulting, "list_price": "30.1234"}],
                                                      "version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["prices"] == [{"item_id": consulting, "list_price": "30.1234"}] and r.json()["version"] == 2
    r = api.patch(f"/price-books/{book['id']}", json={"currency": "usd", "active": False})
    assert r.json()["currency"] == "USD" and r.json()["prices"] == [{"item_id": consulting, "list_price": "30.1234"}]
    assert api.patch(f"/price-books/{book['id']}", json={"name": "X", "version": 2}).status_code == 409

    assert api.delete(f"/price-books/{book['id']}").status_code == 204
    assert api.get(f"/price-books/{book['id']}").status_code == 404
    assert api.delete(f"/services/{consulting}").status_code == 204, "the book's prices went with it"


def test_names_are_unique(api):
    api.post("/price-books", json={"name": "Retail"})
    other = api.post("/price-books", json={"name": "Outlet"}).json()
    r = api.post("/price-books", json={"name": "Retail"})
    assert r.status_code == 409 and r.json()["error"]["fields"] == {"name": ["already exists"]}
    r = api.patch(f"/price-books/{other['id']}", json={"name": "Retail"})
    assert r.status_code == 409 and "name" in r.json()["error"]["fields"]
    assert api.patch(f"/price-books/{other['id']}", json={"name": "Outlet"}).status_code == 200


def test_list_search_sort_and_filters(api):
    for name, currency, active in [("Retail", "EUR", True), ("usa", "USD", True), ("Old", "EUR", False)]:
        assert api.post("/price-books", json={"name": name, "currency": currency, "active": active}).status_code == 201
    names = lambda query: [b["name"] for b in api.get(f"/price-books?{query}").json()["items"]]  # noqa: E731
    assert names("sort=name") == ["Old", "Retail", "usa"]
    assert names("currency=EUR&active=true") == ["Retail"]
    assert names("q=US") == ["usa"]
    for query in ("active=x", "sort=prices", "per_page=1000", "currency=%00"):
        assert api.get(f"/price-books?{query}").status_code == 422, query


def test_bad_input_names_the_field_and_changes_nothing(api):
    widget, consulting = _items(api)
    cases = [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "B", "currency": "XYZ"}, "currency"),
        ({"name": "B", "currency": "EURO"}, "currency"),
        ({"name": "B", "currency": 978}, "currency"),
        ({"name": "B", "prices": [{"item_id": 999, "list_price": "1"}]}, "prices.0.item_id"),
        ({"name": "B", "prices": [{"item_id": 99999999999, "list_price": "1"}]}, "prices.0.item_id"),
        ({"name": "B", "prices": [{"item_id": widget, "list_price": "1"}, {"item_id": widget, "list_price": "2"}]},
         "prices.1.item_id"),
        ({"name": "B", "prices": [{"item_id": widget, "list_price": "-1"}]}, "prices.0.list_price"),
        ({"name": "B", "prices": [{"item_id": widget, "list_price": "1.00001"}]}, "prices.0.list_price"),
        ({"name": "B", "prices": [{"item_id": widget}]}, "prices.0.list_price"),
        ({"name": "B", "prices": [{"list_price": "1"}]}, "prices.0.item_id"),
        ({"name": "B", "prices": [{"item_id": "x", "list_price": "1"}]}, "prices.0.item_id"),
        ({"name": "B", "prices": {"item_id": widget}}, "prices"),
        ({"name": "B", "entries": []}, "entries"),
    ]
    for body, field in cases:
        r = api.post("/price-books", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["error"]["fields"], (body, r.json())
    assert api.get("/price-books").json()["total"] == 0
    book = api.post("/price-books", json={"name": "Kept", "prices": [{"item_id": consulting,
                                                                        "list_price": "1"}]}).json()
    for body, _field in cases[1:]:
        assert api.patch(f"/price-books/{book['id']}", json=body).status_code == 422, body
    assert api.get(f"/price-books/{book['id']}").json() == book


def test_unknown_ids_are_a_404(api):
    for book_id in ("3", "99999999999"):
        assert api.get(f"/price-books/{book_id}").status_code == 404
        assert api.patch(f"/price-books/{book_id}", json={"name": "X"}).status_code == 404
        assert api.delete(f"/price-books/{book_id}").status_code == 404


def test_price_book_roles(api_as):
    purchasing = api_as("purchasing")
    book = purchasing.post("/price-books", json={"name": "Ok"}).json()
    sales = api_as("sales")
    assert sales.get(f"/price-books/{book['id']}").status_code == 200
    assert sales.post("/price-books", json={"name": "No"}).status_code == 403
    assert sales.patch(f"/price-books/{book['id']}", json={"name": "No"}).status_code == 403
    assert sales.delete(f"/price-books/{book['id']}").status_code == 403
    assert purchasing.delete(f"/price-books/{book['id']}").status_code == 204


def test_list_price_for_documents(api, session):
    widget, consulting = _items(api)
    book = api.post("/price-books", json={"name": "Retail", "prices": [{"item_id": widget,
                                                                        "list_price": "17.25"}]}).json()
    assert list_price(session, book["id"], widget) == Decimal("17.25")
    assert list_price(session, book["id"], consulting) is None
    assert list_price(session, book["id"] + 1, widget) is None
    assert list_price(session, 99999999999, widget) is None
    assert list_price(session, book["id"], 99999999999) is None
    session.rollback()  # end the read transaction (SQLite: it holds the write lock)
    api.patch(f"/price-books/{book['id']}", json={"active": False})
    assert list_price(session, book["id"], widget) is None, "an inactive book gives no prices"
