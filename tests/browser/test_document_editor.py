"""The document editor in a real browser: a sales order whose account fills in the addresses
(and replaces them when the account changes, except those the user typed) and narrows the
contacts, a price book whose price the item picker fills in, the customer's reference; the
saved document's page and the product page name what they refer to. A screenshot of the
editor's details and addresses is written to the test's temporary directory (and to
``docs/screenshots/`` with ``CRM_SCREENSHOTS=1``)."""
from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from crm.context import set_actor
from crm.models import Account, Contact, PriceBook, PriceBookEntry
from crm.testing import TEST_PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = pytest.mark.crm_plugins("hello")


@pytest.fixture(autouse=True)
def _nobody_acting():
    set_actor(None)


@pytest.fixture
def shop(session, catalog):
    """The test catalogue, a second account with both addresses and a contact, and a price book."""
    sur = Account(name="Bricolaje Sur", billing_address={"street": "Calle Sol 2", "city": "Sevilla",
                                                         "state": "Sevilla", "postal_code": "41001", "country": "ES"},
                  shipping_address={"street": "Polígono Sur, nave 7", "city": "Dos Hermanas", "state": "Sevilla",
                                    "postal_code": "41700", "country": "ES"})
    book = PriceBook(name="Mayoristas", currency="EUR")
    session.add_all([sur, book])
    session.flush()
    session.add(Contact(first_name="Eva", last_name="Ruiz", account_id=sur.id))
    book.prices = [PriceBookEntry(item_id=catalog.widget, list_price=Decimal("15.50"))]
    session.commit()
    return catalog


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def address(page, which: str) -> dict:
    return {part: page.locator(f"#f-{which}-{part}").input_value()
            for part in ("street", "city", "state", "postal_code", "country")}


def contact_names(page) -> list[str]:
    return [name.strip() for name in page.locator("#f-contact option:not([value=''])").all_inner_texts()]


def test_a_sales_order_from_the_editor(page, live_server, make_user, shop, tmp_path):
    sign_in(page, live_server, make_user("sales").username)
    page.goto(live_server + "/sales-orders/new")
    page.locator("details.more summary", has_text="Addresses").click()
    assert contact_names(page) == []  # no account chosen: no contact to offer

    page.select_option("#f-party", label="Bricolaje Sur")
    expect(page.locator("#f-billing_address-city")).to_have_value("Sevilla")
    assert address(page, "shipping_address")["city"] == "Dos Hermanas"
    expect(page.locator("#f-contact option:not([value=''])")).to_have_text(["Eva Ruiz"])
    page.fill("#f-shipping_address-street", "Muelle 3")  # typed by the user: kept from now on

    page.select_option("#f-party", label="Ferretería López S.L.")
    expect(page.locator("#f-billing_address-city")).to_have_value("Madrid")
    assert address(page, "billing_address") == {"street": "Calle Mayor 1", "city": "Madrid", "state": "",
                                                 "postal_code": "28013", "country": "ES"}
    assert address(page, "shipping_address")["street"] == "Muelle 3"
    expect(page.locator("#f-contact option:not([value=''])")).to_have_text(["Ana López"])
    page.select_option("#f-contact", label="Ana López")

    page.fill("#f-customer_reference", "PED-2024/118")
    page.select_option("#f-price_book", label="Mayoristas (EUR)")
    row = page.locator("#lines tr.line").first
    search = row.locator(".item-search")
    search.click()
    search.fill("Widget")
    listbox = page.locator("#" + search.get_attribute("aria-controls"))
    expect(listbox.locator("[aria-selected=true]")).to_contain_text("Widget")
    search.press("Enter")
    assert row.locator(".price").input_value() == "15.50"  # the price book's, not the widget's 19.99
    expect(page.locator("#doc-totals [data-total=subtotal]")).to_contain_text("15.50")

    shot = tmp_path / "document-editor-addresses.png"
    page.locator("#doc-form section.card").first.screenshot(path=str(shot))
    if os.environ.get("CRM_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#doc-form section.card").first.screenshot(path=str(SCREENSHOTS / "document-editor.png"))
    assert_aligned(page)

    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/sales-orders/\d+$"))
    details = page.locator("dl.fields").first.inner_text()
    assert "Ferretería López S.L." in details and "Ana López" in details and "PED-2024/118" in details
    addresses = page.locator(".addresses").inner_text()
    assert "Calle Mayor 1" in addresses and "28013 Madrid" in addresses and "Muelle 3" in addresses
    assert "€15.50" in page.locator("table.lines").inner_text()

    page.locator("table.lines a", has_text="Widget").click()  # the product page names its vendor
    page.wait_for_url(re.compile(r"/products/\d+$"))
    vendor = page.locator("dl.fields dd a", has_text="Suministros Norte")
    expect(vendor).to_have_count(1)
    assert "#" not in page.locator("dl.fields").inner_text()
    vendor.click()
    page.wait_for_url(re.compile(r"/vendors/\d+$"))


def test_the_address_inputs_of_the_record_forms_are_aligned(page, live_server, make_user, shop, tmp_path):
    sign_in(page, live_server, make_user("admin").username)
    for url in (f"/accounts/{shop.account}/edit", f"/vendors/{shop.vendor}/edit", "/accounts/new"):
        page.goto(live_server + url)
        assert_aligned(page, side_by_side=False)
    page.goto(live_server + f"/accounts/{shop.account}/edit")
    page.locator("form:has(#f-billing_address-street)").screenshot(path=str(tmp_path / "account-form.png"))
    assert page.locator("#f-billing_address-postal_code").input_value() == "28013"


def assert_aligned(page, side_by_side: bool = True) -> None:
    """Each address part's label sits right above its input, the inputs of a row share their top,
    and (in the editor) the billing and shipping addresses are side by side on a wide screen."""
    boxes = page.evaluate("""() => [...document.querySelectorAll('fieldset.address')].map(set =>
        [...set.querySelectorAll('.part')].map(part => {
            const label = part.querySelector('label').getBoundingClientRect();
            const input = part.querySelector('input').getBoundingClientRect();
            return {label: [label.left, label.bottom], input: [input.left, input.top, input.width]};
        }))""")
    assert boxes and all(len(parts) == 5 for parts in boxes)
    for parts in boxes:
        for part in parts:
            assert abs(part["label"][0] - part["input"][0]) < 2 and 0 <= part["input"][1] - part["label"][1] < 12
            assert part["input"][2] > 80
        tops = sorted({round(part["input"][1]) for part in parts})
        for top in tops:  # inputs on one row line up
            row = [part for part in parts if abs(part["input"][1] - top) < 2]
            assert len({round(part["input"][1]) for part in row}) == 1
    if side_by_side:
        sets = page.evaluate("[...document.querySelectorAll('fieldset.address')]"
                             ".map(s => s.getBoundingClientRect().top)")
        assert len(sets) == 2 and abs(sets[0] - sets[1]) < 2
