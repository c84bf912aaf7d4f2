"""The settings form and "Connect to QuickBooks" in a real browser (Playwright driving Debian's
chromium; never a downloaded browser) against ``live_server`` and the QuickBooks fake."""
from __future__ import annotations

import pytest

from crm.testing import sign_in


@pytest.fixture
def fake():
    from accsync_qbo_fake import QBOFake
    fake = QBOFake().start()
    yield fake
    fake.stop()


def test_set_up_and_connect_quickbooks_in_the_browser(page, live_server, make_user, fake, api):
    sign_in(page, make_user("admin"))
    page.goto("/accounting-sync/settings")
    page.fill("#f-name", "books")
    page.fill("#f-settings-client_id", fake.client_id)
    page.fill("#f-settings-discovery_url", fake.discovery_url)
    page.fill("#f-settings-api_base_url", "not a url")
    page.select_option("#settings\\.entities\\.payments\\.direction", "from_remote")
    page.fill("#settings\\.value_maps\\.tax_codes\\.0\\.ours", "IVA 21%")
    page.fill("#settings\\.value_maps\\.tax_codes\\.0\\.theirs", "21")
    page.click("form.record-form button[type=submit]")
    # refused: the errors beside their inputs, what was typed kept (but never a secret)
    assert page.locator("#err-secrets-client_secret").inner_text() == "is required"
    assert page.locator("#err-settings-api_base_url").inner_text() == "must be an http:// or https:// address"
    assert page.locator("#f-settings-client_id").input_value() == fake.client_id
    assert page.locator("#settings\\.entities\\.payments\\.direction").input_value() == "from_remote"
    page.fill("#f-settings-api_base_url", fake.api_url)
    page.fill("#f-secrets-client_secret", fake.client_secret)
    page.click("form.record-form button[type=submit]")
    page.wait_for_url("**/accounting-sync/settings/books")
    assert "The connection was saved." in page.inner_text("body")
    assert page.locator("#f-secrets-client_secret").get_attribute("placeholder") == "set: leave blank to keep"
    assert fake.client_secret not in page.content()
    assert "Not connected to QuickBooks yet." in page.inner_text("#quickbooks-connection")
    # Connect: to the fake's consent screen and back
    page.click("text=Connect to QuickBooks")
    page.wait_for_url("**/accounting-sync/settings/books")
    body = page.inner_text("body")
    assert "Connected to QuickBooks: Fake Company (QuickBooks fake)." in body
    assert f"Connected to the QuickBooks company {fake.realm}." in body
    got = api.get("/accounting-sync/connections/books").json()
    assert got["settings"]["realm_id"] == fake.realm and "refresh_token" in got["secrets_set"]
    assert got["entities"]["payments"]["direction"] == "from_remote"
    assert got["settings"]["value_maps"] == {"tax_codes": {"IVA 21%": "21"}}
    page.click("#quickbooks-connection button:has-text('Disconnect')")
    page.wait_for_url("**/accounting-sync/settings/books")
    assert "Disconnected from QuickBooks" in page.inner_text("body")
    assert "refresh_token" not in api.get("/accounting-sync/connections/books").json()["secrets_set"]
