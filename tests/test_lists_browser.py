"""The list pages in a browser: a mass edit of the rows ticked with the select-all box, a mass
delete refused whole naming the record in use, and a view saved then shared by an administrator
and opened by another user."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.models import Account, Contact
from crm.testing import sign_in

pytestmark = pytest.mark.browser


def test_mass_edit_and_a_mass_delete_refused_in_a_browser(page, make_user, session):
    session.add_all([Account(name="Alpha"), Account(name="Beta")])
    session.flush()
    used = Account(name="Gamma")
    session.add(used)
    session.flush()
    session.add(Contact(last_name="Ruiz", account_id=used.id))
    session.commit()
    sign_in(page, make_user("sales"))
    page.goto("/accounts/")
    page.check("[data-select-all]")
    assert page.locator("[data-selected-count]").inner_text() == "3"
    page.select_option("#mass-action", "edit")
    page.select_option("#mass-field", "active")
    page.locator('[data-mass-value="active"] select').select_option("0")
    page.click("#mass-form button[type=submit]")
    page.wait_for_selector("text=done for 3 records")
    assert set(session.scalars(select(Account.active))) == {False}
    session.commit()
    page.check("[data-select-all]")
    page.select_option("#mass-action", "delete")
    page.click("#mass-form button[type=submit]")
    page.wait_for_selector("text=Nothing was changed: 1 of 3")
    expect(page.locator(".flash.error", has_text="Gamma")).to_have_count(1)
    assert sorted(session.scalars(select(Account.name))) == ["Alpha", "Beta", "Gamma"]
    session.commit()


def test_save_and_share_a_view_in_a_browser(page, new_page, make_user, session):
    session.add_all([Account(name="Madrid SL", email="m@example.com"), Account(name="Bilbao SA")])
    session.commit()
    admin, seller = make_user("admin"), make_user("sales")
    sign_in(page, admin)
    page.goto("/accounts/?q=Madrid")
    page.click("#columns-menu summary")
    page.locator('#columns-menu input[value="website"]').check()
    page.locator('#columns-menu input[value="phone"]').uncheck()
    page.click("#columns-menu button[type=submit]")
    page.click("#views-menu summary")
    page.fill("#view-name", "Madrid team")
    page.locator('#views-menu input[name="shared"]').check()
    page.click("#views-menu .save-view button[type=submit]")
    page.wait_for_selector("text=The view Madrid team was saved.")
    expect(page.locator('th[data-column="website"]')).to_have_count(1)
    # another user finds it shared, makes it the default; the list opens with it
    other = new_page()
    sign_in(other, seller)
    other.goto("/accounts/")
    other.click("#views-menu summary")
    row = other.locator('li[data-view="Madrid team"]')
    expect(row.locator(".badge", has_text="shared")).to_have_count(1)
    row.locator("button", has_text="Make default").click()
    other.wait_for_selector("text=The list opens with the view Madrid team from now on.")
    other.goto("/accounts/")
    assert "view=" in other.url
    assert other.locator("table.list").inner_text().count("Madrid SL") == 1
    assert "Bilbao SA" not in other.locator("table.list").inner_text()
    expect(other.locator('th[data-column="website"]')).to_have_count(1)
