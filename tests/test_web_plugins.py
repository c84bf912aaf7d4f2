"""What plugins add to the web UI: menu entries, template slots on the document pages and
the home page, extra line-editor columns whose editable values are posted back into the
line's ``custom``, the line editor's item search (``crm_search_items``), settings pages, and
the admin Plugins page. Also a crawl of the pages with every installed plugin."""
from __future__ import annotations

import re
import types
from decimal import Decimal

import pytest
from markupsafe import Markup, escape
from sqlalchemy import select

from crm import hookimpl
from crm.context import set_actor
from crm.db import db
from crm.models import Document, Item
from crm.services import documents
from crm.testing import TEST_PASSWORD, registered_plugin
from crm.ui import ExtraTotal, LineColumn, MenuItem


@pytest.fixture(autouse=True)
def _nobody_acting():
    set_actor(None)


def sign_in(app, make_user, role="admin"):
    user = make_user(role)
    client = app.test_client()
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    return client


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def quote(app, session, catalog):
    document = documents.create_document(session, "quote", {"account_id": catalog.account, "lines": [
        {"item_id": catalog.widget, "quantity": Decimal("2")}]})
    session.commit()
    return document.id


class SlotPlugin:
    """Fills every slot of the core pages with a marker that says what it was given."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def crm_template_slot(self, slot, context):
        self.calls.append((slot, sorted(context)))
        document = context.get("document")
        number = document.number if document is not None else "-"
        return Markup('<div class="slot-{}">{} {}</div>').format(slot, escape(slot), escape(number))


@pytest.mark.crm_plugins("hello")
def test_core_pages_offer_their_slots_with_context(app, make_user, catalog, quote):
    plugin = SlotPlugin()
    client = sign_in(app, make_user, "sales")
    with registered_plugin(app, plugin, "slotplug"):
        detail = html(client.get(f"/quotes/{quote}"))
        editor = html(client.get(f"/quotes/{quote}/edit"))
        home = html(client.get("/"))
        account = html(client.get(f"/accounts/{catalog.account}"))
    assert '<div class="slot-document_panels">document_panels QUO-0001</div>' in detail
    assert '<div class="slot-document_actions">document_actions QUO-0001</div>' in detail
    assert '<div class="slot-line_editor_toolbar">line_editor_toolbar QUO-0001</div>' in editor
    assert '<div class="slot-home_panels">home_panels -</div>' in home
    assert '<div class="slot-record_panels">record_panels -</div>' in account
    assert ("document_panels", ["doc_type", "document"]) in plugin.calls
    assert ("record_panels", ["entity", "record"]) in plugin.calls
    assert ("home_panels", []) in plugin.calls


@pytest.mark.crm_plugins("hello")
def test_line_columns_of_a_plugin_are_shown_computed_and_editable(app, make_user, session, catalog, quote):
    """An editable column is posted back into the line's custom; a computed one is filled by
    the plugin at the ``line_columns`` stage and shown in the editor preview and on the page."""
    class ColumnPlugin:
        @hookimpl
        def crm_line_columns(self, doc_type, session):
            if doc_type == "quote":
                return [LineColumn("colplug_note", "Packing note", editable=True),
                        LineColumn("colplug_double", "Double qty", type="number")]

        @hookimpl
        def crm_totals_stage(self, stage, computation, document, session):
            if stage == "line_columns":
                for line in computation.lines:
                    line.custom["colplug_double"] = line.quantity * 2

    client = sign_in(app, make_user, "sales")
    with registered_plugin(app, ColumnPlugin(), "colplug"):
        editor = html(client.get("/quotes/new"))
        assert "Packing note" in editor and "Double qty" in editor
        assert 'name="lines.n0.custom.colplug_note"' in editor
        form = {"account_id": str(catalog.account), "line_key": ["n0"], "lines.n0.item_id": str(catalog.widget),
                "lines.n0.quantity": "3", "lines.n0.custom.colplug_note": "fragile"}
        preview = html(client.post("/quotes/preview", data=form))
        assert re.search(r'id="line-n0-c-colplug_double" hx-swap-oob="true">\s*6\s*<', preview)
        saved = client.post("/quotes/new", data={**form, "subject": "With columns"})
        assert saved.status_code == 302
        page = html(client.get(saved.headers["Location"]))
        assert "fragile" in page and "Packing note" in page
    with app.app_context():
        s = db.new_session(app)
        line = s.scalar(select(Document).where(Document.subject == "With columns")).lines[0]
        assert line.custom["colplug_note"] == "fragile" and Decimal(line.custom["colplug_double"]) == 6
        s.close()


@pytest.mark.crm_plugins("hello")
def test_a_plugins_extra_totals_are_shown_with_its_labels_and_types(app, make_user, session, catalog):
    """``crm_extra_totals`` labels, types, orders and hides the totals a plugin computes; a total
    no plugin describes shows its key humanised."""
    class TotalsPlugin:
        @hookimpl
        def crm_totals_stage(self, stage, computation, document, session):
            if stage == "document_totals":
                subtotal = computation.totals.subtotal
                computation.totals.extra.update(tp_half=subtotal / 2, tp_share=Decimal("12.5"),
                                                tp_hidden=Decimal("1"), tp_unnamed_sum=Decimal("3"))

        @hookimpl
        def crm_extra_totals(self, doc_type, session, document):
            return [ExtraTotal("tp_share", "Share of the year", type="percent"),
                    ExtraTotal("tp_half", "Half the subtotal"), ExtraTotal("tp_hidden", "Hidden", visible=False)]

    client = sign_in(app, make_user, "sales")
    form = {"account_id": str(catalog.account), "line_key": ["n0"], "lines.n0.item_id": str(catalog.widget),
            "lines.n0.quantity": "2", "lines.n0.unit_price": "10"}
    with registered_plugin(app, TotalsPlugin(), "totalsplug"):
        saved = client.post("/quotes/new", data={**form, "subject": "With totals"})
        assert saved.status_code == 302
        pages = {"page": html(client.get(saved.headers["Location"])),
                 "editor": html(client.get(saved.headers["Location"] + "/edit")),
                 "preview": html(client.post("/quotes/preview", data=form))}
    for where, page in pages.items():
        rows = re.findall(r'<tr class="extra"><th scope="row">([^<]*)</th><td class="num" data-total="(\w+)">([^<]*)<',
                          page)
        assert rows == [("Share of the year", "tp_share", "12.5 %"), ("Half the subtotal", "tp_half", "€10.00"),
                        ("Tp unnamed sum", "tp_unnamed_sum", "€3.00")], where


def _header(page: str, table_class: str) -> list[str]:
    import html as html_lib
    table = page.split(f'<table class="{table_class}"', 1)[1].split("</thead>", 1)[0]
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<th\b[^>]*>(.*?)</th>", table, re.S)]


@pytest.mark.crm_plugins("hello")
def test_a_plugin_arranges_the_builtin_line_columns_of_the_page_and_the_editor(app, make_user, session, catalog, quote):
    """``crm_builtin_line_columns``: hidden, relabelled (escaped), resized (a CSS length only) and
    moved built-in columns on the document page; in the editor the labels, and a hidden tax kept
    as hidden inputs. Without the plugin the core's columns come back."""
    class ArrangePlugin:
        def __init__(self):
            self.documents = []

        @hookimpl
        def crm_line_columns(self, doc_type, session):
            return [LineColumn("arr_note", "Note", editable=True)]

        @hookimpl
        def crm_builtin_line_columns(self, doc_type, session, document):
            self.documents.append(document.number if document is not None else None)
            if doc_type != "quote":
                return None
            return {"quantity": {"label": "<i>Qty</i>", "width": "5em", "position": 3},
                    "unit_price": {"width": "1px;background:red", "position": 4},
                    "item": {"position": 1}, "arr_note": {"position": 2},
                    "description": {"visible": False}, "tax": {"visible": False}, "total": {"position": 0}}

    client = sign_in(app, make_user, "sales")
    plugin = ArrangePlugin()
    default_page = _header(html(client.get(f"/quotes/{quote}")), "list lines")
    assert default_page == ["Item", "Quantity", "Unit price", "Discount", "Taxes", "Net", "Tax", "Total"]
    with registered_plugin(app, plugin, "arrange"):
        page = html(client.get(f"/quotes/{quote}"))
        editor = html(client.get(f"/quotes/{quote}/edit"))
        new = html(client.get("/quotes/new"))
        order = html(client.get("/sales-orders/new"))
    assert _header(page, "list lines") == ["Total", "Item", "Note", "<i>Qty</i>", "Unit price", "Discount", "Net"]
    assert "&lt;i&gt;Qty&lt;/i&gt;" in page and "<i>Qty</i>" not in page
    assert 'style="width: 5em"' in page and "background:red" not in page
    assert _header(editor, "list line-editor") == ["Order", "Item", "<i>Qty</i>", "Unit price", "Discount", "Note",
                                                   "Net", "Total", "Remove"]
    tax_ids = re.findall(r'<input type="hidden" name="lines.e0.tax_ids" value="(\d+)">', editor)
    assert tax_ids and 'class="tax-checks"' not in editor.split('<template id="line-template">')[0]
    assert "&lt;i&gt;Qty&lt;/i&gt;" in new and "Quantity" in _header(order, "list line-editor")
    assert plugin.documents[:2] == ["QUO-0001", "QUO-0001"] and None in plugin.documents
    assert _header(html(client.get(f"/quotes/{quote}")), "list lines") == default_page


@pytest.mark.crm_plugins("hello")
def test_item_search_asks_the_plugin_first_then_searches_itself(app, make_user, session, catalog):
    class SearchPlugin:
        def __init__(self):
            self.asked = []

        @hookimpl
        def crm_search_items(self, session, q, kind, limit):
            self.asked.append((q, kind, limit))
            if q.startswith("#"):
                return list(session.scalars(select(Item).where(Item.sku == q[1:])))
            return None

    client = sign_in(app, make_user, "sales")
    plugin = SearchPlugin()
    with registered_plugin(app, plugin, "searchplug"):
        by_plugin = html(client.get("/editor/items?doc_type=quote&q=%23G-1"))
        by_core = html(client.get("/editor/items?doc_type=purchase_order&q=widg"))
    assert 'data-id="%d"' % catalog.gadget in by_plugin and 'data-id="%d"' % catalog.widget not in by_plugin
    assert 'data-id="%d"' % catalog.widget in by_core
    assert 'data-price="12.00"' in by_core  # a purchase order takes the purchase cost
    assert ("#G-1", None, 20) in plugin.asked and ("widg", None, 20) in plugin.asked
    nothing = html(client.get("/editor/items?q=zzz"))
    assert "No item matches." in nothing


@pytest.mark.crm_plugins("hello")
def test_plugin_menu_entries_and_the_admin_plugins_page(app, make_user):
    menu = types.SimpleNamespace(crm_menu_items=hookimpl(lambda user: [MenuItem("Spy board", "/spy-board", 150)]))
    admin = sign_in(app, make_user, "admin")
    with registered_plugin(app, menu, "menuplug"):
        home = html(admin.get("/"))
    assert '<a href="/spy-board" >Spy board</a>' in home or ">Spy board</a>" in home
    page = html(admin.get("/admin/plugins"))
    assert "hello" in page and "Disable" in page and "What it adds" in page
    assert admin.post("/admin/plugins/hello/disable").status_code == 302
    assert ">Greetings</a>" not in html(admin.get("/"))
    assert admin.post("/admin/plugins/hello/enable").status_code == 302
    assert ">Greetings</a>" in html(admin.get("/"))


@pytest.mark.slow
def test_every_page_with_every_installed_plugin_answers(app, make_user, catalog, quote):
    """With all installed plugins loaded, no page linked from the menu (two levels deep) is a
    server error or a broken link, for any role."""
    from crm.models import ROLES
    failures = []
    for role in ROLES:
        client = sign_in(app, make_user, role)
        nav = re.search(r'<nav id="sidebar".*?</nav>', html(client.get("/")), re.S).group(0)
        queue = [(h, 0) for h in re.findall(r'href="(/[^"#]*)"', nav)]
        seen = set()
        while queue:
            url, depth = queue.pop(0)
            url = url.replace("&amp;", "&")
            if url in seen or url.startswith(("/static/", "/api/")) or "/pdf" in url or "csv" in url:
                continue
            seen.add(url)
            response = client.get(url)
            if response.status_code == 404 or response.status_code >= 500:
                failures.append(f"{role}: {url} -> {response.status_code}")
            elif response.status_code == 200 and depth < 1 and response.mimetype == "text/html":
                queue.extend((h, depth + 1) for h in re.findall(r'href="(/[^"#]*)"', html(response)))
    assert failures == []
