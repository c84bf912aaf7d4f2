"""A large PDF in a real browser: the page shows its progress while a worker renders it, then
reloads itself into the PDF, at the same address."""
from __future__ import annotations

import threading

from playwright.sync_api import expect
from sqlalchemy import select

from crm.models.jobs import Task
from crm.services import pdf_renders
from crm.worker import run_task
from tests.browser.test_conversion_pages import sign_in


def test_the_pdf_page_shows_progress_then_the_pdf(app, live_server, api, make_user, catalog, session,
                                                   new_page, tmp_path, monkeypatch):
    app.config["QUEUE_IMMEDIATE"] = False
    app.instance_path = str(tmp_path)
    app.extensions.pop("crm.huey", None)
    monkeypatch.setattr(pdf_renders, "INLINE_CELLS", 8)   # a quote of two lines (16 cells) goes to the worker
    quote = api.post("/quotes", json={"account_id": catalog.account, "tax_mode": "individual", "lines": [
        {"item_id": catalog.widget, "quantity": "1", "discount_percent": "5"}] * 2}).json()

    page = new_page()
    sign_in(page, live_server, make_user("sales").username)
    page.goto(f"{live_server}/quotes/{quote['id']}/pdf")
    assert page.locator("h1").inner_text() == f"Preparing the PDF of {quote['number']}"
    expect(page.locator("progress")).to_have_count(1)
    assert "No background worker is running" in page.locator("[role=alert]").inner_text()

    task_id = session.scalar(select(Task.id).where(Task.target == "crm.services.pdf_renders:render_queued"))
    session.rollback()
    with page.expect_response(lambda answer: answer.url.endswith(f"/quotes/{quote['id']}/pdf")
                              and answer.headers.get("content-type") == "application/pdf", timeout=20_000) as pdf:
        worker = threading.Thread(target=run_task, args=(app, task_id))
        worker.start()   # the page reloads itself (every few seconds) until the PDF is ready
        worker.join()
    assert pdf.value.status == 200                     # chromium shows it in its PDF viewer
    assert page.url == f"{live_server}/quotes/{quote['id']}/pdf"
