"""The Plugins page in a real browser: disable (after the confirmation), enable, purge with the
plugin's id typed back (a wrong one drops nothing), and a plugin that failed to load shown
with its error."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import inspect, text

from crm.db import db
from crm.plugins import Candidate
from crm.testing import TEST_PASSWORD


@pytest.fixture
def app(app_factory, crm_extra_plugins):
    def broken():
        raise ImportError("No module named 'crm_missing_dependency'")
    return app_factory(plugins=["hello", "broken"], extra=[*crm_extra_plugins, Candidate("broken", broken, "1.0")])


def sign_in(page, base, user):
    page.goto(f"{base}/login")
    page.fill('input[name="username"]', user.username)
    page.fill('input[name="password"]', TEST_PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(lambda url: "/login" not in url)


def _has_table(app, name):
    with db.engine(app).connect() as connection:
        return inspect(connection).has_table(name)


def test_disable_enable_purge_and_a_failed_plugin_on_the_plugins_page(app, page, make_user, live_server):
    with db.engine(app).begin() as connection:
        connection.execute(text("INSERT INTO hello_greetings (text) VALUES ('hola'), ('adiós')"))
    sign_in(page, live_server, make_user("admin"))
    page.goto(f"{live_server}/admin/plugins")
    broken = page.locator('tr[data-plugin="broken"]')
    assert "Failed to load" in broken.inner_text()
    assert "No module named 'crm_missing_dependency'" in broken.inner_text()
    expect(broken.locator("button")).to_have_count(0)

    hello = page.locator('tr[data-plugin="hello"]')
    assert "Enabled" in hello.inner_text() and "pages" in hello.inner_text()
    hello.get_by_role("button", name="Disable").click()
    page.wait_for_url("**/admin/plugins")
    assert "Plugin hello disabled." in page.locator(".flash").inner_text()
    assert "Disabled" in page.locator('tr[data-plugin="hello"] .plugin-state').inner_text()
    assert page.goto(f"{live_server}/hello/").status == 404
    page.goto(f"{live_server}/admin/plugins")
    page.locator('tr[data-plugin="hello"]').get_by_role("button", name="Enable").click()
    page.wait_for_url("**/admin/plugins")
    assert "Enabled" in page.locator('tr[data-plugin="hello"] .plugin-state').inner_text()
    assert page.goto(f"{live_server}/hello/").status == 200 and "hola" in page.content()   # the data was kept

    page.goto(f"{live_server}/admin/plugins")
    page.locator('tr[data-plugin="hello"]').get_by_role("button", name="Disable").click()
    page.wait_for_url("**/admin/plugins")
    page.locator('tr[data-plugin="hello"]').get_by_role("link", name="Purge…").click()
    assert "hello_greetings" in page.locator("table.purge-tables").inner_text()
    assert "2" in page.locator("table.purge-tables tr", has_text="hello_greetings").inner_text()
    page.fill("#confirm", "helo")
    page.get_by_role("button", name="Drop these tables").click()
    assert "Type hello to confirm: nothing was dropped." in page.content()
    assert _has_table(app, "hello_greetings")
    page.fill("#confirm", "hello")
    page.get_by_role("button", name="Drop these tables").click()
    page.wait_for_url("**/admin/plugins")
    assert "Plugin hello purged: 2 table(s) dropped." in page.locator(".flash").inner_text()
    assert not _has_table(app, "hello_greetings")
    assert "Migrations pending" in page.locator('tr[data-plugin="hello"]').inner_text()
