"""The hooks: the line editor's item search, the picker in the editor's toolbar and among a
document's actions, the settings page entry, both languages, and a disabled plugin."""
from __future__ import annotations

import json
import re

from crm.db import db
from crm.plugins import get_registry
from crm.services import document_queries
from crm.services.plugin_admin import set_enabled


def _config(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="(il-picker-\d+)-config">(.*?)</script>', html, re.S)
    assert match, "no picker on the page"
    return json.loads(match.group(2))


def _order(rest, shop, app, status=None) -> dict:
    from crm.models import Account
    with app.app_context():
        s = db.new_session(app)
        account = Account(name="Cliente")
        s.add(account)
        s.commit()
        account_id = account.id
        s.close()
    order = rest.post("/sales-orders", json={"account_id": account_id, "lines": [
        {"item_id": shop.ids["Delta hammer"], "quantity": "1"}]}).get_json()
    if status:
        assert rest.patch(f"/sales-orders/{order['id']}", json={"status": status}).status_code == 200
    return order


def test_the_line_editor_search_is_the_lookup(shop, app):
    with app.test_request_context():
        session = db.session
        found = document_queries.search_items(session, "kit drill", kind=None, limit=20)
        assert [i.name for i in found] == ["Drill kit"]                   # every word, any order
        assert [i.name for i in document_queries.search_items(session, "", kind="service", limit=1)] == ["Installation"]
        assert [i.name for i in document_queries.search_items(session, "d-1", kind="product", limit=5)] == \
            ["Delta hammer"]
        assert document_queries.search_items(session, "old drill", kind=None, limit=5) == []  # inactive
        assert [i.name for i in document_queries.search_items(session, "kit", kind="bundle", limit=5)] == \
            ["Drill kit", "Saw kit"]


def test_the_crm_search_items_hook_answers_with_items(shop, app):
    with app.test_request_context():
        answer = get_registry(app).hook.crm_search_items(session=db.session, q="kit drill", kind=None, limit=5)
        assert [item.name for item in answer] == ["Drill kit"]
        assert get_registry(app).hook.crm_search_items(session=db.session, q="nothing like it", kind="service",
                                                       limit=5) == []   # an answer: the core does not search


def test_the_editor_options_come_from_the_lookup(shop, client, browser_user):
    browser_user(client, "sales")
    html = client.get("/editor/items?doc_type=sales_order&q=kit+drill&list=x").get_data(as_text=True)
    assert "Drill kit" in html and "Alpha drill" not in html


def test_the_picker_is_in_the_line_editor(shop, rest, app, client, browser_user):
    browser_user(client, "sales")
    html = client.get("/sales-orders/new").get_data(as_text=True)
    config = _config(html)
    assert config["mode"] == "editor" and config["addUrl"] is None and config["docType"] == "sales_order"
    assert config["searchUrl"] == "/item-lookup/json/items" and config["defaultKind"] == "product"
    assert "/item-lookup/assets/picker.js" in html and 'class="il-dialog"' in html
    order = _order(rest, shop, app)
    edit = client.get(f"/sales-orders/{order['id']}/edit").get_data(as_text=True)
    assert _config(edit)["onDocument"] == [shop.ids["Delta hammer"]]
    assert client.get("/item-lookup/assets/picker.js").status_code == 200
    assert client.get("/item-lookup/assets/nope.js").status_code == 404


def test_the_picker_is_among_the_actions_of_an_editable_document(shop, rest, app, client, browser_user):
    browser_user(client, "sales")
    order = _order(rest, shop, app)
    config = _config(client.get(f"/sales-orders/{order['id']}").get_data(as_text=True))
    assert config["mode"] == "document"
    assert config["addUrl"] == f"/item-lookup/json/sales-orders/{order['id']}/lines"
    approved = _order(rest, shop, app, status="Approved")
    assert "data-il-open" not in client.get(f"/sales-orders/{approved['id']}").get_data(as_text=True)


def test_a_role_that_cannot_change_the_document_gets_no_picker(shop, rest, app, client, browser_user):
    order = _order(rest, shop, app)
    browser_user(client, "warehouse")
    assert "data-il-open" not in client.get(f"/sales-orders/{order['id']}").get_data(as_text=True)


def test_settings_shown_in_the_picker(shop, rest, client, browser_user):
    rest.put("/item-lookup/settings", json={"default_kind": "service", "switches": ["in_stock"]})
    browser_user(client, "admin")
    html = client.get("/quotes/new").get_data(as_text=True)
    config = _config(html)
    assert config["defaultKind"] == "service" and config["switches"] == ["in_stock"]
    assert 'class="il-switch" value="in_stock"' in html and 'value="bundles_only"' not in html


def test_spanish(shop, client, browser_user):
    browser_user(client, "sales", language="es")
    html = client.get("/sales-orders/new").get_data(as_text=True)
    assert "Búsqueda de artículos" in html and "Solo con existencias" in html
    config = _config(html)
    assert config["strings"]["searching"] == "Buscando…"
    assert config["strings"]["items"] == "{n} artículos"
    assert config["kindLabels"]["bundle"] == "Lotes"
    body = client.get("/item-lookup/json/items?kind=product").get_json()
    assert [f["label"] for f in body["fields"]] == ["Categoría", "Subcategoría", "Fabricante"]
    browser_user(client, "admin", language="es")
    page = client.get("/item-lookup/settings").get_data(as_text=True)
    assert "Configuración de la búsqueda de artículos" in page and "Guardar configuración" in page


def test_english(shop, client, browser_user):
    browser_user(client, "sales", language="en")
    html = client.get("/sales-orders/new").get_data(as_text=True)
    assert "Item lookup" in html and "In stock only" in html
    assert _config(html)["strings"]["items"] == "{n} items"


def test_the_settings_page_is_listed(app):
    with app.test_request_context():
        from crm.ui import settings_pages
        assert "/item-lookup/settings" in [p.url for p in settings_pages()]


def test_a_disabled_plugin_answers_404_and_leaves_the_search_to_the_core(shop, app, rest, client, browser_user):
    with app.app_context():
        s = db.new_session(app)
        set_enabled(s, get_registry(app), "item_lookup", False)
        s.commit()
        s.close()
    assert rest.get("/item-lookup/items").status_code == 404
    assert rest.post("/sales-orders/1/lines", json={"items": [{"item_id": 1}]}).status_code == 404
    browser_user(client, "admin")
    assert client.get("/item-lookup/settings").status_code == 404
    assert client.get("/item-lookup/json/items").status_code == 404
    assert "data-il-open" not in client.get("/sales-orders/new").get_data(as_text=True)
    with app.test_request_context():
        get_registry(app).refresh(db.session)
        assert document_queries.search_items(db.session, "kit drill", kind=None, limit=5) == []  # the core's LIKE
        assert [i.name for i in document_queries.search_items(db.session, "drill kit", kind=None, limit=5)] == \
            ["Drill kit"]
