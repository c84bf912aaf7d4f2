"""The global search in a real browser: "/" and Ctrl+K reach the box from any page, suggestions
come as the user types, grouped by kind, the arrow keys and Enter open a record, Enter without a
choice opens the results page; user text shows as text; "/" typed in a form stays in the form."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.context import set_actor
from crm.models import Account, Item

pytestmark = pytest.mark.crm_plugins("hello")


@pytest.fixture(autouse=True)
def _nobody_acting():
    set_actor(None)


def sign_in(page, base: str, username: str) -> None:
    from crm.testing import TEST_PASSWORD
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


@pytest.fixture
def records(session):
    product = Item(kind="product", name="Vortex blender", sku="VBX-0042", unit_price=10)
    evil = Account(name='<img src=x onerror="alert(1)"> Vortex fans', email="fans@vortex.example")
    session.add_all([product, evil, Account(name="Vortex Foods")])
    session.commit()
    return {"product": product.id, "evil": evil.id}


def test_find_a_record_with_the_keyboard_shortcut(app, live_server, make_user, records, new_page):
    page = new_page()
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    sign_in(page, live_server, make_user("admin").username)
    page.goto(live_server + "/quotes/")
    page.keyboard.press("/")
    box = page.locator("#global-search")
    assert page.evaluate("document.activeElement.id") == "global-search"
    page.keyboard.type("vortex")
    listbox = page.locator("#global-search-list")
    listbox.locator("[role=option]").first.wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    headings = listbox.locator(".global-search-heading").all_text_contents()
    assert headings == ["Products", "Accounts"]
    titles = listbox.locator("[role=option] .title").all_text_contents()
    assert titles[0] == "Vortex blender"
    assert '<img src=x onerror="alert(1)"> Vortex fans' in titles            # shown as text
    expect(listbox.locator("img")).to_have_count(0)
    page.keyboard.press("ArrowDown")
    first = listbox.locator("[role=option]").first
    assert first.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")
    page.keyboard.press("Enter")
    page.wait_for_url(live_server + f"/products/{records['product']}")
    assert "Vortex blender" in page.locator("h1").inner_text()
    assert dialogs == []


def test_ctrl_k_then_enter_opens_the_results_page_and_escape_closes(app, live_server, make_user, records, new_page):
    page = new_page()
    sign_in(page, live_server, make_user("sales").username)
    page.keyboard.press("Control+K")
    assert page.evaluate("document.activeElement.id") == "global-search"
    page.keyboard.type("vbx-00")
    listbox = page.locator("#global-search-list")
    listbox.locator("[role=option]").first.wait_for()
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q=vbx-00$"))
    assert page.locator("#search-group-product").text_content() == "Products"
    assert page.locator(f"a[href='/products/{records['product']}']").inner_text() == "Vortex blender"


def test_a_slash_typed_in_a_form_stays_there_and_spanish_labels(app, live_server, make_user, new_page):
    page = new_page()
    sign_in(page, live_server, make_user("admin", language="es").username)
    assert page.locator("#global-search").get_attribute("placeholder") == "Buscar… (/ o Ctrl+K)"
    page.goto(live_server + "/accounts/new")
    name = page.locator("input[name=name]")
    name.click()
    page.keyboard.type("A/B")
    assert name.input_value() == "A/B"
    assert page.evaluate("document.activeElement.name") == "name"
    page.keyboard.type("zz")
    page.keyboard.press("Control+K")
    page.keyboard.type("zz")
    page.locator("#global-search-list .global-search-message").wait_for()
    assert "Escriba al menos 3 caracteres" in page.locator("#global-search-list").inner_text()
