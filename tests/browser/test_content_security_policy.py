"""The Content-Security-Policy in a real browser: every page of the core and the plugins works
under it (the ``new_page`` fixture fails a test on any violation Chromium reports), and a
violation is indeed seen."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from crm.testing import TEST_PASSWORD, watch_page

#: links a browser does not show as a page (downloads)
DOWNLOADS = re.compile(r"/pdf$|/csv(\?|$)")


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_every_page_works_under_the_policy(app, live_server, make_user, runner, new_page):
    """With the demo data and every plugin: every kind of page reachable by links from the menu
    (one of each: /quotes/N stands for every quote), the document editor recomputing totals as
    the user types, and the profile."""
    assert runner.invoke(["demo"]).exit_code == 0
    admin = make_user("admin")
    page = new_page()
    sign_in(page, live_server, admin.username)
    menu = page.eval_on_selector_all("#sidebar a", "links => links.map(a => a.getAttribute('href'))")
    assert "/" in menu and "/payments/summary" in menu
    queue, shapes, broken = list(menu), set(), []
    while queue and len(shapes) < 150:
        path = queue.pop(0)
        shape = re.sub(r"\d+", "N", path.split("#")[0].split("?")[0])
        if shape in shapes or path.startswith("/static/") or DOWNLOADS.search(path):
            continue
        shapes.add(shape)
        response = page.goto(live_server + path)
        if response is None or response.status >= 400:
            broken.append(f"{path} -> {response and response.status}")
            continue
        queue += page.eval_on_selector_all("main a[href^='/']", "links => links.map(a => a.getAttribute('href'))")
    assert len(shapes) > 60
    assert broken == []
    assert {"/quotes/N", "/quotes/N/edit", "/invoices/N", "/idca/layouts/quotes", "/payments/summary"} <= shapes

    # the editor: typing a quantity recomputes the totals (htmx, under the policy)
    page.goto(live_server + "/quotes/new")
    page.select_option("#f-party", index=1)
    row = page.locator("#lines tr.line").first
    search = row.locator(".item-search")
    search.click()
    search.fill("a")
    listbox = page.locator("#" + search.get_attribute("aria-controls"))
    listbox.locator("[role=option][data-id]").first.wait_for()
    search.press("Enter")
    row.locator(".qty").fill("7")
    page.wait_for_function("() => { const t = document.querySelector('#doc-totals [data-total=grand_total]');"
                           " return t && /[1-9]/.test(t.textContent); }")
    page.goto(live_server + "/profile/")
    expect(page.locator("button", has_text="Sign out everywhere")).to_be_visible()


def test_a_violation_is_seen(browser, live_server):
    """The watcher of ``new_page`` does catch what the policy refuses: an inline script without
    the page's nonce."""
    context = browser.new_context()
    page = context.new_page()
    seen = []
    watch_page(page, seen)
    page.goto(live_server + "/login")
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.ran = true'; document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    ran = page.evaluate("() => window.ran === true")
    context.close()
    assert not ran
    assert seen and "Content Security Policy" in seen[0]
