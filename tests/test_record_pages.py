"""Record pages name what they refer to: on the demo business with every installed plugin,
every record page and document page reachable from the menu (lists followed page by page)
shows accounts, contacts, vendors, items and users by their name -- never a raw ``#12`` --
and the referenced vendor of a product links to the vendor's page; the history of a change
of account names both accounts."""
from __future__ import annotations

import re
from collections import deque
from html import unescape
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from crm.models import Account, Contact, Item, Vendor
from tests.test_web_pages import html_of, links, sign_in

RAW_REFERENCE = re.compile(r"#\d+")
#: pages that change something or answer something else than a page (followed links only)
NOT_FOLLOWED = re.compile(r"/(new|edit|delete|pdf|csv|export|party|preview)(/|$|\?)|\.(csv|pdf|json)($|\?)")


def visible_text(html: str) -> str:
    main = re.search(r"<main\b.*?</main>", html, re.S)
    body = main.group(0) if main else html
    body = re.sub(r"<(script|style|template)\b.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


def page_kind(app, url: str) -> str | None:
    """``detail`` for a record or document page, ``index`` for a list, else None (not followed)."""
    parts = urlsplit(url)
    if NOT_FOLLOWED.search(parts.path) or (parts.query and not re.fullmatch(r"page=\d+", parts.query)):
        return None
    try:
        endpoint, _args = app.url_map.bind("localhost").match(parts.path, method="GET")
    except (NotFound, MethodNotAllowed, RequestRedirect):
        return None
    name = endpoint.rsplit(".", 1)[-1]
    return name if name in ("detail", "index") else None


def crawl(app, client) -> dict[str, str]:
    """Every list and record page reachable from the home page: url -> html."""
    seen: dict[str, str] = {}
    queue = deque(["/"])
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        response = client.get(url)
        assert response.status_code in (200, 302), f"{url}: {response.status_code}"
        seen[url] = html_of(response) if response.status_code == 200 else ""
        queue.extend(u for u in links(seen[url]) if u not in seen and page_kind(app, u))
    return seen


@pytest.fixture
def demo(runner):
    result = runner.invoke(["demo"])
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_every_record_page_names_the_records_it_refers_to(app, make_user, demo, session):
    client = sign_in(app, make_user, "admin")
    pages = crawl(app, client)
    details = {url: html for url, html in pages.items() if page_kind(app, url) == "detail"}
    reached = {url.split("/")[1] for url in details}
    assert {"accounts", "contacts", "vendors", "products", "services", "bundles", "price-books", "quotes",
            "sales-orders", "purchase-orders", "invoices"} <= reached, reached
    raw = {url: RAW_REFERENCE.findall(visible_text(html)) for url, html in details.items()}
    assert {url: found for url, found in raw.items() if found} == {}
    # every product with a vendor names it, linked to its page; every contact its account
    for item in session.scalars(select(Item).where(Item.vendor_id.is_not(None), Item.is_bundle.is_(False))):
        vendor = session.get(Vendor, item.vendor_id)
        url = f"/{'services' if item.kind == 'service' else 'products'}/{item.id}"
        assert f'<a href="/vendors/{vendor.id}">{vendor.name}</a>' in unescape(details[url]), url
    for contact in session.scalars(select(Contact).where(Contact.account_id.is_not(None))):
        account = session.get(Account, contact.account_id)
        assert f'<a href="/accounts/{account.id}">{account.name}</a>' in unescape(details[f"/contacts/{contact.id}"])


@pytest.mark.crm_plugins("hello")
def test_the_history_names_the_records_a_change_referred_to(app, make_user, api, catalog, session):
    other = api.post("/accounts", json={"name": "Bricolaje Sur"}).json()
    contact = api.get(f"/contacts/{catalog.contact}").json()
    moved = api.patch(f"/contacts/{catalog.contact}", json={"account_id": other["id"], "version": contact["version"]})
    assert moved.status_code == 200, moved.text
    product = api.get(f"/products/{catalog.gadget}").json()
    assert api.patch(f"/products/{catalog.gadget}", json={"vendor_id": catalog.vendor,
                                                         "version": product["version"]}).status_code == 200
    client = sign_in(app, make_user, "admin")
    contact_page = unescape(html_of(client.get(f"/contacts/{catalog.contact}")))
    assert re.search(r'account_id</b>: <a href="/accounts/%d">Ferretería López S.L.</a> → '
                     r'<a href="/accounts/%d">Bricolaje Sur</a>' % (catalog.account, other["id"]), contact_page)
    product_page = unescape(html_of(client.get(f"/products/{catalog.gadget}")))
    assert f'vendor_id</b>: None → <a href="/vendors/{catalog.vendor}">Suministros Norte</a>' in product_page
