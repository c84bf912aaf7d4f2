"""The activity timeline in a real browser: a comment with a mention written on an invoice's
page appears at the top of its Activity, above the invoice's creation, and the colleague
mentioned is notified."""
from __future__ import annotations

import re

from sqlalchemy import select

from crm.db import db
from crm.models import Notification
from crm.testing import TEST_PASSWORD


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_a_comment_with_a_mention_on_an_invoice(new_page, live_server, app, api, make_user, catalog):
    colleague = make_user("accounting", username="carla")
    invoice = api.post("/invoices", json={"account_id": catalog.account,
                                          "lines": [{"item_id": catalog.consulting}]}).json()
    page = new_page()
    sign_in(page, live_server, make_user("sales").username)
    page.goto(f"{live_server}/invoices/{invoice['id']}")
    page.get_by_label("Comment").fill("@carla can you check the <b>due date</b>?")
    page.get_by_role("button", name="Add comment").click()
    page.wait_for_url(re.compile(rf"/invoices/{invoice['id']}#activity$"))
    page.get_by_text("Comment added.").wait_for()
    first = page.locator("#activity .timeline li").first
    assert first.get_attribute("data-kind") == "comment"
    assert "@carla can you check the <b>due date</b>?" in first.inner_text()        # text, not HTML
    assert page.locator("#activity .timeline li").last.get_attribute("data-kind") == "created"
    with app.app_context():
        session = db.new_session(app)
        [note] = session.scalars(select(Notification).where(Notification.user_id == colleague.id)).all()
        session.close()
    assert note.link == f"/invoices/{invoice['id']}" and invoice["number"] in note.title
