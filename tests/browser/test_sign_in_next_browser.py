"""Signing in from a link in a real browser: a ``next`` naming a page of the CRM opens it; a
hostile one (a tab, a newline or a backslash that a browser would turn into another site's
address, another site outright) lands on the CRM's own home page, never elsewhere."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.testing import TEST_PASSWORD

#: ``next`` as an attacker writes it in a link; a browser reads the first ones as ``//evil.example/``
HOSTILE = ["/%09/evil.example/", "/%0A/evil.example/", "/%0D%0A/evil.example/", "/%5Cevil.example/",
           "//evil.example/", "https://evil.example/"]


def sign_in_from(page, url: str, username: str) -> None:
    """Open ``url``, which shows the sign-in page, and sign in there."""
    page.goto(url)
    expect(page.locator("#username")).to_be_visible()
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_next_lands_on_the_crms_home_page(new_page, live_server, make_user, hostile):
    user = make_user("sales", full_name="Marta Gil")
    page = new_page()
    sign_in_from(page, f"{live_server}/login?next={hostile}", user.username)
    expect(page).to_have_url(f"{live_server}/")
    expect(page.locator("h1")).to_have_text("Welcome, Marta Gil")


def test_a_page_asked_for_before_signing_in_opens_after_it(new_page, live_server, make_user):
    user = make_user("sales")
    page = new_page()
    sign_in_from(page, f"{live_server}/quotes/?sort=-number", user.username)  # sent to the sign-in page
    expect(page).to_have_url(re.compile(re.escape(live_server) + r"/quotes/\?sort=-number$"))
    expect(page.locator("h1")).to_have_text("Quotes")
