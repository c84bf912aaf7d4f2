"""The global search (``/search``, ``/search/suggest``; crm.services.search): every kind found by
each of its fields, grouped by kind, only the kinds the user's role may read, the indexes kept in
step with the records, odd input answered without a 500, user text escaped; and the API's
``?q=`` of products and services, which uses the same index on SQLite."""
from __future__ import annotations

import re
from html import unescape

import pytest
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm import hookimpl
from crm.models import ROLES, Account, Contact, Item, Vendor
from crm.permissions import RESOURCES, Resource, can
from crm.services import search
from crm.services.search import SearchHit, SearchKind
from crm.testing import registered_plugin
from tests.test_web_pages import sign_in

CORE_KINDS = ["product", "service", "account", "contact", "vendor", "quote", "sales_order", "purchase_order",
              "invoice"]
KIND_RESOURCE = {"product": "catalog", "service": "catalog", "account": "accounts", "contact": "accounts",
                 "vendor": "vendors", "quote": "quotes", "sales_order": "sales_orders",
                 "purchase_order": "purchase_orders", "invoice": "invoices"}


@pytest.fixture
def records(api, session, catalog):
    """One record of every kind with distinctive fields (the catalogue's, plus these)."""
    account = Account(name="Zephyrine Logistics", email="orders@zephyrine.example", phone="+34 911 22-33-44",
                      tax_id="B87654321")
    vendor = Vendor(name="Quillmate Supplies", email="sales@quillmate.example", phone="(0049) 30 1234 5678")
    session.add_all([account, vendor])
    session.flush()
    contact = Contact(first_name="Ofelia", last_name="Marchetti", email="ofelia@zephyrine.example",
                      phone="600 700 800", account_id=account.id)
    product = Item(kind="product", name="Vortex blender", sku="VBX-0042", unit_price=10, category="Kitchen")
    service = Item(kind="service", name="Chimney sweeping", unit_price=50)
    session.add_all([contact, product, service])
    session.commit()
    line = [{"item_id": catalog.widget, "quantity": "1"}]
    docs = {}
    for path, kind, body in [("/quotes", "quote", {"account_id": account.id, "subject": "Warehouse racking"}),
                             ("/sales-orders", "sales_order", {"account_id": account.id, "subject": "Spring refit",
                                                                "customer_reference": "PO-CUST-7781"}),
                             ("/purchase-orders", "purchase_order", {"vendor_id": vendor.id, "subject": "Pallets"}),
                             ("/invoices", "invoice", {"account_id": account.id, "subject": "Monthly fee"})]:
        created = api.post(path, json={**body, "lines": line})
        assert created.status_code == 201, created.text
        docs[kind] = created.json()
    return {"account": account.id, "vendor": vendor.id, "contact": contact.id, "product": product.id,
            "service": service.id, "kit": catalog.kit, "docs": docs, "catalog": catalog}


def suggest(client, q, **params):
    response = client.get("/search/suggest", query_string={"q": q, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def found(client, q) -> dict[str, list[str]]:
    """kind -> urls of the hits of the suggestions for ``q``."""
    return {group["kind"]: [hit["url"] for hit in group["hits"]] for group in suggest(client, q)["groups"]}


@pytest.fixture
def admin(app, make_user):
    return sign_in(app, make_user, "admin")


# --- finding ----------------------------------------------------------------------------------

FIELD_QUERIES = [
    # (query, kind, what it is found by)
    ("zephyrine", "account", "name"), ("orders@zephyrine", "account", "email"),
    ("911 22-33", "account", "phone as typed"), ("911223344", "account", "phone without spaces and dashes"),
    ("b87654321", "account", "tax id"),
    ("ofelia", "contact", "first name"), ("marchetti", "contact", "last name"),
    ("Ofelia Marchetti", "contact", "full name"), ("ofelia@zeph", "contact", "email"),
    ("600700800", "contact", "phone"),
    ("quillmate", "vendor", "name"), ("sales@quill", "vendor", "email"), ("004930", "vendor", "phone digits"),
    ("VORTEX", "product", "name, any case"), ("vbx-0042", "product", "SKU"), ("0042", "product", "part of the SKU"),
    ("chimney", "service", "name"),
    ("racking", "quote", "subject"), ("spring refit", "sales_order", "subject"),
    ("cust-7781", "sales_order", "customer reference"), ("pallets", "purchase_order", "subject"),
    ("monthly", "invoice", "subject"),
]


@pytest.mark.parametrize("q, kind, field", FIELD_QUERIES, ids=[f"{k}-{f}" for _q, k, f in FIELD_QUERIES])
def test_finds_every_kind_by_each_of_its_fields(admin, records, q, kind, field):
    expected = {"account": f"/accounts/{records['account']}", "contact": f"/contacts/{records['contact']}",
                "vendor": f"/vendors/{records['vendor']}", "product": f"/products/{records['product']}",
                "service": f"/services/{records['service']}"}
    expected.update({k: f"/{path}/{records['docs'][k]['id']}" for k, path in
                     [("quote", "quotes"), ("sales_order", "sales-orders"), ("purchase_order", "purchase-orders"),
                      ("invoice", "invoices")]})
    assert expected[kind] in found(admin, q).get(kind, []), f"{kind} not found by its {field} ({q!r})"


def test_finds_documents_by_number_and_bundles_link_to_their_own_page(admin, records):
    for kind, doc in records["docs"].items():
        hits = found(admin, doc["number"])
        assert hits.get(kind, [None])[0].endswith(f"/{doc['id']}"), (kind, doc["number"], hits)
    assert found(admin, "KIT-1")["product"] == [f"/bundles/{records['kit']}"]


def test_every_word_must_be_found_in_any_field_and_nothing_else_matches(admin, records):
    assert list(found(admin, "zephyrine b876")) == ["account"]           # name + tax id: the account only
    assert found(admin, "zephyrine").keys() == {"account", "contact",    # the contact's e-mail holds it,
                                                "quote", "sales_order", "invoice"}  # the documents' customer too
    assert found(admin, "zephyrine nothere") == {}
    data = suggest(admin, "nothing-like-this")
    assert data["groups"] == [] and "Nothing found" in data["message"]


def test_finds_documents_by_their_customers_or_vendors_name(admin, records, api, session):
    docs = {kind: f"/{path}/{records['docs'][kind]['id']}" for kind, path in
            [("quote", "quotes"), ("sales_order", "sales-orders"), ("purchase_order", "purchase-orders"),
             ("invoice", "invoices")]}
    other = Account(name="Harbourline Traders")
    session.add(other)
    session.commit()
    theirs = api.post("/sales-orders", json={"account_id": other.id, "subject": "Ropes",
                                             "lines": [{"item_id": records["catalog"].widget, "quantity": "1"}]})
    assert theirs.status_code == 201, theirs.text
    hits = found(admin, "zephyrine logistics")                   # every word in the customer's name
    assert {kind: hits.get(kind) for kind in ("quote", "sales_order", "invoice")} == \
        {kind: [docs[kind]] for kind in ("quote", "sales_order", "invoice")}
    assert found(admin, "quillmate")["purchase_order"] == [docs["purchase_order"]]   # a purchase order's vendor
    assert found(admin, "harbourline")["sales_order"] == [f"/sales-orders/{theirs.json()['id']}"]
    assert "sales_order" not in found(admin, "zephyrine harbourline")   # the words of two names: neither
    assert "sales_order" not in found(admin, "b87654321")               # the customer's tax id is not its name
    assert "quote" not in found(admin, "orders@zephyrine")              # nor its e-mail
    assert api.patch(f"/accounts/{records['account']}", json={"name": "Brightwater Holdings"}).status_code == 200
    assert found(admin, "brightwater")["invoice"] == [docs["invoice"]]  # the customer's name as it is now
    assert "invoice" not in found(admin, "zephyrine")


def test_results_are_grouped_by_kind_in_order_with_the_best_first(admin, records, session):
    session.add_all([Account(name=f"Acme branch {n}") for n in range(7)] + [Account(name="Acme")])
    session.add(Item(kind="product", name="Acme anvil", sku="ACME", unit_price=1))
    session.commit()
    data = suggest(admin, "acme")
    kinds = [group["kind"] for group in data["groups"]]
    assert kinds == ["product", "account"]                       # the groups' order: products first
    accounts = data["groups"][1]
    assert accounts["label"] == "Accounts"
    assert accounts["hits"][0]["title"] == "Acme"                  # the exact name first
    assert len(accounts["hits"]) == 5 and accounts["more"] is True  # a few of each kind, and "more"
    assert data["groups"][0]["hits"][0]["title"] == "Acme anvil"   # SKU "ACME": exact
    page = admin.get(accounts["url"])                              # the results page, accounts only
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert len(re.findall(r'href="/accounts/\d+"', html)) == 8     # every one of them
    assert "Widget" not in html


@pytest.mark.parametrize("window", [1, 2, 1000])
def test_each_kind_shows_its_exact_matches_then_its_newest_whatever_rows_are_newer(app, session, api, catalog,
                                                                                    monkeypatch, window):
    """PostgreSQL reads a window of each kind's newest rows (``search.WINDOW`` rows a hit asked
    for) before asking its trigram indexes for the older ones. Whatever its size, and wherever
    the matches are among the rows of their kind and of the others, each kind shows the rows
    equal to the query first, then its newest matches, and says whether there are more."""
    monkeypatch.setattr(search, "WINDOW", window)
    product_names = ["quasar stand", "Quasar", "desk lamp", "quasar box", "desk lamp", "desk lamp", "blue quasar",
                     "desk lamp", "quasar rack", "desk lamp", "desk lamp"]
    session.add_all([Item(kind="product", name=name, unit_price=1) for name in product_names])
    session.flush()                                  # the services are the newest items
    session.add_all([Item(kind="service", name="Quasar fitting" if n == 0 else f"Fitting {n}", unit_price=1)
                     for n in range(9)])
    session.add_all([Account(name="Quasarworks" if n in (0, 3) else f"Account {n}") for n in range(9)])
    session.commit()
    oldest = session.scalars(select(Account.id).where(Account.name == "Quasarworks").order_by(Account.id)).first()
    session.commit()
    order = api.post("/sales-orders", json={"account_id": oldest, "subject": "Stands",
                                            "lines": [{"item_id": catalog.widget, "quantity": "1"}]})
    assert order.status_code == 201, order.text

    def ids(kind, name_holds):
        rows = session.scalars(select(kind.id).where(func.lower(kind.name).contains(name_holds))
                               .order_by(kind.id.desc()))
        return list(rows)

    def shown(q, limit=3):
        with app.test_request_context():
            result = search.search(session, q, search.core_kinds(), limit)
        return {group.kind.key: ([hit.id for hit in group.hits], group.more) for group in result.groups}

    exact = session.scalars(select(Item.id).where(Item.name == "Quasar")).one()
    products = [i for i in ids(Item, "quasar") if i != exact and i < min(ids(Item, "fitting"))]
    quasarworks = ids(Account, "quasarworks")
    assert shown("quasar") == {
        "product": ([exact, *products[:2]], True),               # the exact name, then the newest
        "service": (ids(Item, "quasar fitting"), False),         # the oldest service
        "account": (quasarworks, False),
        "sales_order": ([order.json()["id"]], False),            # by its customer's name, the oldest such
    }
    assert shown("stand") == {"product": (ids(Item, "quasar stand"), False),   # the oldest product alone
                              "sales_order": ([order.json()["id"]], False)}   # its subject
    assert shown("lamp", limit=6) == {"product": (ids(Item, "lamp")[:6], False)}
    assert shown("lamp", limit=5) == {"product": (ids(Item, "lamp")[:5], True)}
    assert shown("zzqxj") == {}


def test_results_page_shows_groups_with_headings_and_links(admin, records):
    response = admin.get("/search/", query_string={"q": "zephyrine"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    headings = re.findall(r'<h2 id="search-group-(\w+)">([^<]+)</h2>', html)
    assert headings == [("account", "Accounts"), ("contact", "Contacts"), ("quote", "Quotes"),
                        ("sales_order", "Sales orders"), ("invoice", "Invoices")]
    assert f'href="/accounts/{records["account"]}"' in html and f'href="/contacts/{records["contact"]}"' in html


def test_the_search_box_is_on_every_page(admin, records):
    for path in ("/", "/accounts/", f"/products/{records['product']}", "/quotes/", "/search/"):
        html = admin.get(path).get_data(as_text=True)
        assert 'role="search"' in html and 'id="global-search"' in html and 'aria-keyshortcuts="/ Control+K"' in html, path


def test_a_query_of_short_words_only_asks_for_more_characters(admin, records):
    data = suggest(admin, "ze")
    assert data["groups"] == [] and "at least 3" in data["message"]
    assert found(admin, "zep") == found(admin, "zephyrine")
    assert list(found(admin, "quillmate 30")) == ["vendor"]      # a short word with a long one


# --- the index follows the records ----------------------------------------------------------------

def test_the_index_follows_changes_and_deletions(admin, records, api):
    account = records["account"]
    assert api.patch(f"/accounts/{account}", json={"name": "Brightwater Holdings"}).status_code == 200
    assert "account" not in found(admin, "logistics")
    assert found(admin, "brightwater")["account"] == [f"/accounts/{account}"]
    product = records["product"]
    assert api.patch(f"/products/{product}", json={"sku": "NEW-SKU-9"}).status_code == 200
    assert "product" not in found(admin, "vbx-0042")
    assert found(admin, "new-sku-9")["product"] == [f"/products/{product}"]
    assert api.delete(f"/products/{product}").status_code == 204
    assert "product" not in found(admin, "vortex")


# --- permissions --------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_sees_the_kinds_it_may_read(app, make_user, records, role):
    client = sign_in(app, make_user, role)
    every = set()
    for q in ("zephyrine", "quillmate", "vortex", "chimney", "racking", "refit", "pallets", "monthly"):
        every |= set(found(client, q))
    assert every == {k for k in CORE_KINDS if can(client.user, KIND_RESOURCE[k])}


def test_a_role_that_may_not_read_purchasing_sees_no_purchase_orders_nor_vendors(app, make_user, records,
                                                                                   monkeypatch):
    for name in ("purchase_orders", "vendors"):
        current = RESOURCES[name]
        monkeypatch.setitem(RESOURCES, name, Resource(name, current.label, current.read - {"sales"},
                                                      current.write, current.description))
    sales = sign_in(app, make_user, "sales")
    po = records["docs"]["purchase_order"]
    assert found(sales, "quillmate") == {}
    assert found(sales, po["number"]) == {}
    assert found(sales, "pallets") == {}
    assert "account" in found(sales, "zephyrine")               # what it may read, it still finds
    page = sales.get("/search/", query_string={"q": "quillmate", "kind": "vendor"}).get_data(as_text=True)
    assert "Quillmate" not in page and f"/purchase-orders/{po['id']}" not in page
    purchasing = sign_in(app, make_user, "purchasing")
    assert found(purchasing, "quillmate") == {"vendor": [f"/vendors/{records['vendor']}"],
                                              "purchase_order": [f"/purchase-orders/{po['id']}"]}
    assert found(purchasing, "pallets") == {"purchase_order": [f"/purchase-orders/{po['id']}"]}


SECRET = Resource("test_secret", _l("Secrets"), frozenset({"admin"}), frozenset({"admin"}))


class SecretKindPlugin:
    calls: list = []

    @hookimpl
    def crm_search_kinds(self):
        def find(session, words, limit):
            SecretKindPlugin.calls.append((words, limit))
            if "zephyrine" not in words:
                return []
            return [SearchHit("secret", 7, "<b>Secret</b> Zephyrine file", "top", url="/secret/7")]
        return [SearchKind("secret", _l("Secret files"), SECRET, find, order=35),
                SearchKind("account", _l("Not the core's accounts"), "accounts", find)]


def test_a_plugin_adds_a_kind_shown_only_to_the_roles_that_may_read_it(app, make_user, records):
    admin_client, sales = sign_in(app, make_user, "admin"), sign_in(app, make_user, "sales")
    with registered_plugin(app, SecretKindPlugin()):
        SecretKindPlugin.calls.clear()
        data = suggest(admin_client, "Zephyrine")
        assert [g["kind"] for g in data["groups"]][:3] == ["account", "secret", "contact"]   # order 35
        secret = data["groups"][1]
        assert secret["label"] == "Secret files"
        assert secret["hits"] == [{"id": 7, "title": "<b>Secret</b> Zephyrine file", "detail": "top",
                                   "url": "/secret/7", "inactive": False}]
        assert data["groups"][0]["hits"][0]["url"] == f"/accounts/{records['account']}"  # the core's kind kept
        assert SecretKindPlugin.calls == [(["zephyrine"], 6)]                         # limit + 1 to tell "more"
        html = admin_client.get("/search/", query_string={"q": "zephyrine"}).get_data(as_text=True)
        assert "&lt;b&gt;Secret&lt;/b&gt; Zephyrine file" in html and "<b>Secret</b>" not in html
        SecretKindPlugin.calls.clear()
        assert "secret" not in found(sales, "zephyrine")
        assert SecretKindPlugin.calls == []                                          # not even asked


# --- odd input ------------------------------------------------------------------------------------------

ODD = ['"', "'", '""""', "\\", "%", "_", "%_%", "*", "a*", "NEAR(a b)", "AND", "OR NOT", "-zeph", "^zep",
       "{name}: zeph", "name:zeph", "zeph:", "(((", ")", "::::", "+", "@", "a" * 5000, "ß" * 40, "💥💥💥",
       "zeph\tyrine", "\u200b\u200b\u200b", "؟؟؟", "SELECT * FROM accounts; --", "<script>", "  ", "", "\x01\x02\x03abc",
       "a b c d e f g h i j k l m n zephyrine"]


@pytest.mark.parametrize("q", ODD, ids=range(len(ODD)))
def test_odd_input_never_fails(admin, api, records, q):
    data = suggest(admin, q)
    assert isinstance(data["groups"], list)
    page = admin.get("/search/", query_string={"q": q, "kind": q[:20]})
    assert page.status_code == 200
    for path in ("/products", "/services"):
        response = api.get(path, params={"q": q})
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:                          # longer than the API takes
            assert list(response.json()["error"]["fields"]) == ["q"]


def test_a_nul_byte_is_refused_with_422_naming_q(admin, api, records):
    for path in ("/search/suggest", "/search/"):
        response = admin.get(path, query_string={"q": "zeph\x00yrine"})
        assert response.status_code == 422, path
    response = api.get("/products", params={"q": "vor\x00tex"})
    assert response.status_code == 422 and "q" in response.json()["error"]["fields"]


def test_quotes_and_wildcards_are_plain_characters(admin, session, records):
    session.add_all([Account(name='The "Best" 100% Tools_Co'), Account(name="The Best 1000 ToolsXCo")])
    session.commit()
    titles = [h["title"] for g in suggest(admin, '"best"')["groups"] for h in g["hits"]]
    assert titles == ['The "Best" 100% Tools_Co']
    titles = [h["title"] for g in suggest(admin, "100% tools_co")["groups"] for h in g["hits"]]
    assert titles == ['The "Best" 100% Tools_Co']


def test_user_text_is_escaped_on_the_results_page_and_plain_text_in_the_suggestions(admin, session, records):
    session.add(Account(name='<img src=x onerror="alert(1)"> Hacker', email="<script>alert(2)</script>@x.example"))
    session.commit()
    html = admin.get("/search/", query_string={"q": "hacker <script>"}).get_data(as_text=True)
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; Hacker" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;@x.example" in html
    assert 'value="hacker &lt;script&gt;"' in html
    hit = suggest(admin, "hacker")["groups"][0]["hits"][0]
    assert hit["title"] == '<img src=x onerror="alert(1)"> Hacker'       # data, which the page puts in as text
    assert unescape(hit["detail"]) == hit["detail"]


def test_the_search_needs_a_signed_in_user(client, records):
    assert client.get("/search/suggest?q=zephyrine").status_code in (302, 401)
    assert client.get("/search/?q=zephyrine").status_code == 302


# --- the API's product search -------------------------------------------------------------------------

def test_api_product_search_finds_name_sku_and_description_as_one_piece_of_text(api, session, catalog):
    names = ["Cordless lamp", "cordless LAMP pro", "Lamp, cordless", "Garden hose", "Hose reel 50% off",
             "Tap_50 chrome", "Año nuevo pack"]
    session.add_all([Item(kind="product", name=name, sku=f"SK-{n:03d}", unit_price=1,
                          description="fits the GARDEN shed" if n == 4 else "") for n, name in enumerate(names)])
    session.add(Item(kind="service", name="Lamp repair", unit_price=1))
    session.commit()

    def names_for(q, path="/products"):
        response = api.get(path, params={"q": q, "per_page": 200})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return sorted(item["name"] for item in body["items"])

    assert names_for("cordless lamp") == ["Cordless lamp", "cordless LAMP pro"]      # the words in that order
    assert names_for("LAMP") == ["Cordless lamp", "Lamp, cordless", "cordless LAMP pro"]
    assert names_for("garden") == ["Garden hose", "Hose reel 50% off"]               # the description too
    assert names_for("sk-003") == ["Garden hose"]                                    # the SKU
    assert names_for("50%") == ["Hose reel 50% off"]                                 # % is a character
    assert names_for("p_5") == ["Tap_50 chrome"] and names_for("_50") == ["Tap_50 chrome"]
    assert names_for("año") == ["Año nuevo pack"] and names_for("AÑO NUEVO") == ["Año nuevo pack"]
    assert names_for("ho") == ["Garden hose", "Hose reel 50% off"]                  # two characters: still found
    assert names_for("  hose  ") == ["Garden hose", "Hose reel 50% off"]
    assert names_for("lamp", "/services") == ["Lamp repair"]
    assert names_for("widget") == ["Widget"]


def test_api_product_search_counts_every_match(api, session, catalog):
    session.add_all([Item(kind="product", name=f"Bolt M{n}", unit_price=1) for n in range(30)])
    session.commit()
    body = api.get("/products", params={"q": "bolt", "per_page": 10, "page": 2}).json()
    assert body["total"] == 30 and len(body["items"]) == 10
