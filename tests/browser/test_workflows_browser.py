"""Building a workflow rule in a real browser: an administrator opens Workflows from the menu,
writes a rule whose condition names an unknown field (refused next to its input, nothing
saved), corrects it, turns the rule on; an account created afterwards runs it once: the rule's
run log says what was done and the bell in the top bar counts the notification."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from crm.services import workflows
from crm.testing import TEST_PASSWORD


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_an_administrator_builds_a_workflow_and_sees_it_run(new_page, live_server, app, api, make_user):
    app.config["WORKFLOWS_DISPATCH"] = False
    admin = make_user("admin", username="ada")
    page = new_page()
    sign_in(page, live_server, admin.username)
    page.get_by_role("link", name="Workflows").click()
    page.wait_for_url(re.compile(r"/admin/workflows/$"))
    expect(page.get_by_text("Overdue invoice reminder")).to_be_visible()  # the shipped examples, off
    page.click("#new-rule")
    page.fill("#f-name", "Welcome big accounts")
    page.select_option("#f-entity", "accounts")
    page.select_option("#f-event", "created")
    page.fill("#c0_field", "colour")
    page.select_option("#c0_op", "contains")
    page.fill("#c0_value", "acme")
    page.select_option("#a0_type", "notify")
    page.fill("#a0_user_id", str(admin.id))
    page.fill("#a0_subject", "New account {{ record.name }}")
    page.fill("#a0_body", "Say hello to {{ record.name }}.")
    page.get_by_role("button", name="Save the rule").click()
    assert "unknown field colour" in page.locator("#c0_field").locator("xpath=..").inner_text()
    assert page.input_value("#a0_subject") == "New account {{ record.name }}"  # what was typed stays
    page.fill("#c0_field", "name")
    page.get_by_role("button", name="Save the rule").click()
    page.wait_for_url(re.compile(r"/admin/workflows/\d+$"))
    assert page.locator("#rule-conditions").inner_text() == "name contains 'acme'"
    page.click("#toggle-rule")
    page.get_by_text("The rule is on.").wait_for()

    api.post("/accounts", json={"name": "ACME Iberia"})
    api.post("/accounts", json={"name": "Small shop"})
    assert workflows.run_due(app) == {"done": 1}
    page.reload()
    runs = page.locator("#workflow-runs tbody tr")
    expect(runs).to_have_count(1)
    assert "ACME Iberia" in runs.first.inner_text() and "1 users notified" in runs.first.inner_text()
    assert page.locator("#notifications-count").inner_text() == "1"
    page.click("#notifications-bell")
    page.get_by_text("New account ACME Iberia").wait_for()
    page.click("#read-all")
    page.wait_for_url(re.compile(r"/notifications/$"))
    expect(page.locator("#notifications-count")).to_have_count(0)
