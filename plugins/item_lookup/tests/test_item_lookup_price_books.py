"""Prices from a price book: the search shows (and sorts by) the chosen book's list price for the
items it lists and the unit price for the others, on every path of the search; the price it
shows is the one the core gives a new line of that item (``documents.default_price``), on every
kind of document; lines appended to a saved document take the book's prices too. A bad price
book is refused by name."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event

from crm.services.doctypes import DOC_TYPES
from item_lookup_helpers import BUNDLES, ITEMS, names

#: the book's list prices (name -> price); every other item keeps its unit price
BOOK = {"Alpha drill": "80.00", "Beta drill": "1.00", "Drill kit": "130.00", "Installation": "50.00",
        "Old drill": "10.00"}
#: every path of the search: the count tables, a facet, a vendor, a letter, text (few matches),
#: every kind, inactive items, in stock only
SEARCHES = [{"kind": "product"}, {"kind": "product", "f1": "Tools"}, {"vendor_id": "NORTE"}, {"letter": "D"},
            {"q": "drill"}, {"q": "dr"}, {}, {"include_inactive": "true"}, {"kind": "service"},
            {"kind": "product", "in_stock": "true"}]


def unit_price(name: str) -> str:
    return ITEMS[name][9] if name in ITEMS else BUNDLES[name][4]


@pytest.fixture
def book(shop, rest) -> int:
    response = rest.post("/price-books", json={"name": "Trade", "currency": "EUR", "prices": [
        {"item_id": shop.ids[name], "list_price": price} for name, price in BOOK.items()]})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def _params(shop, params: dict) -> dict:
    return {key: (shop.norte if value == "NORTE" else value) for key, value in params.items()}


@pytest.mark.parametrize("params", SEARCHES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "all")
def test_every_search_shows_the_books_price_where_it_lists_the_item(shop, book, find, params):
    params = _params(shop, params)
    plain = find(**params, per_page=200)
    booked = find(**params, per_page=200, price_book_id=book)
    assert names(booked) == names(plain) and booked["total"] == plain["total"] and booked["items"]
    for item in booked["items"]:
        name = item["name"]
        assert item["unit_price"] == unit_price(name)                     # the item's own price is still there
        assert item["list_price"] == BOOK.get(name), name
        assert item["price"] == BOOK.get(name, unit_price(name)), name    # the book's, else the unit price
    for item in plain["items"]:                                           # no book: the unit price
        assert item["price"] == unit_price(item["name"]) and item["list_price"] is None


@pytest.mark.parametrize("params", SEARCHES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "all")
def test_sorted_by_price_with_a_book_the_order_is_the_price_shown(shop, book, find, params):
    params = _params(shop, params)
    for sort in ("unit_price", "-unit_price"):
        whole = find(**params, sort=sort, per_page=200, price_book_id=book)["items"]
        shown = [(Decimal(i["price"]), i["name"].lower()) for i in whole]
        assert shown == sorted(shown, reverse=sort.startswith("-")), (sort, shown)
        paged = [i["name"] for p in (1, 2, 3, 4, 5, 6, 7)
                 for i in find(**params, sort=sort, per_page=2, page=p, price_book_id=book)["items"]]
        assert paged == [i["name"] for i in whole]                         # pages cut the same order
    cheapest = find(kind="product", sort="unit_price", price_book_id=book)["items"][0]
    assert (cheapest["name"], cheapest["price"]) == ("Beta drill", "1.00")


def test_the_price_shown_is_the_one_a_new_line_takes_on_every_kind_of_document(shop, book, rest, find, app):
    """What the picker fills is what the core's rule gives a line sent without a unit price."""
    from crm.db import db
    from crm.models import Account
    with app.app_context():
        s = db.new_session(app)
        account = Account(name="Ferretería López")
        s.add(account)
        s.commit()
        account_id = account.id
        s.close()
    items = [i for i in find(per_page=200, price_book_id=book)["items"]]
    for doc_type, kind in DOC_TYPES.items():
        shown = {i["id"]: i["price"] for i in find(per_page=200, price_book_id=book, doc_type=doc_type)["items"]}
        party = {"vendor_id": shop.norte} if kind.party == "vendor" else {"account_id": account_id}
        created = rest.post(f"/{kind.path}", json={**party, "price_book_id": book,
                                                   "lines": [{"item_id": i["id"]} for i in items]})
        assert created.status_code == 201, created.get_data(as_text=True)
        saved = {line["item_id"]: line["unit_price"] for line in created.get_json()["lines"]}
        assert saved == shown, doc_type
        if doc_type == "purchase_order":   # a purchase order takes the purchase cost, book or not
            assert all(shown[i["id"]] == i["purchase_cost"] for i in items)
        else:
            assert all(shown[i["id"]] == BOOK.get(i["name"], unit_price(i["name"])) for i in items)


def test_a_bad_price_book_is_refused_by_name(shop, book, rest, client, browser_user):
    inactive = rest.post("/price-books", json={"name": "Old", "currency": "EUR", "active": False}).get_json()["id"]
    browser_user(client, "sales")
    for get in (lambda **p: rest.get("/item-lookup/items", **p), lambda **p: client.get("/item-lookup/json/items",
                                                                                       query_string=p)):
        unknown = get(price_book_id=999999)
        assert unknown.status_code == 422
        assert unknown.get_json()["error"]["fields"] == {"price_book_id": ["unknown price book 999999"]}
        off = get(price_book_id=inactive)
        assert off.status_code == 422 and list(off.get_json()["error"]["fields"]) == ["price_book_id"]
        assert "inactive" in off.get_json()["error"]["fields"]["price_book_id"][0]
        for bad in ("abc", "0", "-1", "1.5"):
            response = get(price_book_id=bad)
            assert response.status_code == 422 and "price_book_id" in response.get_json()["error"]["fields"], bad
        assert get(price_book_id=999999, q="nothing matches this").status_code == 422   # even with no results
        assert get(doc_type="order").status_code == 422
        assert get(price_book_id=book).status_code == 200


def test_without_a_price_book_the_search_reads_no_price_book(shop, book, find, app):
    """The search without a book runs exactly what it ran before: no statement reads the book."""
    from crm.db import db
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine(app) if callable(getattr(db, "engine", None)) else db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for params in SEARCHES:
            find(**_params(shop, params), sort="unit_price")
        assert statements and not [s for s in statements if "price_book" in s]
        find(kind="product", sort="unit_price", price_book_id=book)
        assert [s for s in statements if "price_book" in s]
    finally:
        event.remove(engine, "before_cursor_execute", seen)


# --- appending lines to a saved document ------------------------------------------------------------

@pytest.fixture
def documents(shop, rest, app) -> dict:
    """One new document of each kind: path -> id."""
    from crm.db import db
    from crm.models import Account
    with app.app_context():
        s = db.new_session(app)
        account = Account(name="Ferretería López")
        s.add(account)
        s.commit()
        account_id = account.id
        s.close()
    made = {}
    for kind in DOC_TYPES.values():
        party = {"vendor_id": shop.norte} if kind.party == "vendor" else {"account_id": account_id}
        response = rest.post(f"/{kind.path}", json=party)
        assert response.status_code == 201, response.get_data(as_text=True)
        made[kind.name] = response.get_json()["id"]
    return made


def test_appended_lines_take_the_price_books_prices_on_every_kind_of_document(shop, book, rest, documents):
    for doc_type, doc_id in documents.items():
        path = f"/{DOC_TYPES[doc_type].path}/{doc_id}/lines"
        response = rest.post(path, json={"price_book_id": book, "items": [
            {"item_id": shop.ids["Alpha drill"]}, {"item_id": shop.ids["Zeta cable"]},
            {"item_id": shop.ids["Drill kit"], "unit_price": "99.00"}]})
        assert response.status_code == 200, response.get_data(as_text=True)
        prices = [(line["item_name"], line["unit_price"]) for line in response.get_json()["lines"]]
        if doc_type == "purchase_order":
            expected = [("Alpha drill", "44.95"), ("Zeta cable", "3.875"), ("Drill kit", "99.00")]
        else:   # the book's where it lists the item, else the unit price; a price given wins
            expected = [("Alpha drill", "80.00"), ("Zeta cable", "7.75"), ("Drill kit", "99.00")]
        assert prices == expected, doc_type
        again = rest.post(path, json={"items": [{"item_id": shop.ids["Alpha drill"]}]}).get_json()["lines"]
        assert again[-1]["unit_price"] == ("44.95" if doc_type == "purchase_order" else "89.90")  # no book


def test_appending_with_a_bad_price_book_is_refused_by_name_and_changes_nothing(shop, book, rest, documents):
    inactive = rest.post("/price-books", json={"name": "Old", "currency": "EUR", "active": False}).get_json()["id"]
    path = f"/quotes/{documents['quote']}/lines"
    before = rest.get(f"/quotes/{documents['quote']}").get_json()
    unknown = rest.post(path, json={"price_book_id": 999999, "items": [{"item_id": shop.ids["Alpha drill"]}]})
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["fields"] == {"price_book_id": ["unknown price book 999999"]}
    off = rest.post(path, json={"price_book_id": inactive, "items": [{"item_id": shop.ids["Alpha drill"]}]})
    assert off.status_code == 422 and list(off.get_json()["error"]["fields"]) == ["price_book_id"]
    bad = rest.post(path, json={"price_book_id": "x", "items": [{"item_id": shop.ids["Alpha drill"]}]})
    assert bad.status_code == 422 and "price_book_id" in bad.get_json()["error"]["fields"]
    assert rest.get(f"/quotes/{documents['quote']}").get_json() == before


def test_the_browsers_endpoint_takes_the_price_book_too(shop, book, documents, client, browser_user):
    browser_user(client, "sales")
    response = client.post(f"/item-lookup/json/quotes/{documents['quote']}/lines",
                           json={"price_book_id": book, "items": [{"item_id": shop.ids["Installation"]}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["lines"][-1]["unit_price"] == "50.00"
