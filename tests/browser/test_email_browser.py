"""Email in a real browser: an admin sets up the SMTP server and sends a test message, then
sends an invoice in Spanish to its contact with a copy; the message reaches a real SMTP server
on loopback with the invoice's PDF, the page lists it as sent and the invoice is Sent."""
from __future__ import annotations

import io
import re

import pypdf
import pytest

from crm.testing import TEST_PASSWORD
from tests.email_server import SmtpServer


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_an_admin_sets_up_email_and_sends_an_invoice(new_page, live_server, app, api, make_user, catalog, smtp,
                                                      tmp_path):
    app.config["QUEUE_IMMEDIATE"] = True          # the queue's task runs as the request ends
    app.instance_path = str(tmp_path)
    api.patch(f"/contacts/{catalog.contact}", json={"email": "ana@lopez.example"})
    invoice = api.post("/invoices", json={"account_id": catalog.account, "contact_id": catalog.contact,
                                          "lines": [{"item_id": catalog.consulting, "quantity": "2"}]}).json()
    page = new_page()
    sign_in(page, live_server, make_user("admin", email="admin@crm.example").username)

    page.goto(f"{live_server}/admin/email/")
    page.fill("#f-host", "127.0.0.1")
    page.fill("#f-port", str(smtp.port))
    page.select_option("#f-security", "none")
    page.fill("#f-timeout", "5")
    page.fill("#f-sender", "billing@crm.example")
    page.fill("#f-sender_name", "Demo Trading")
    page.get_by_role("button", name="Save email settings").click()
    page.get_by_text("Email settings saved.").wait_for()
    page.get_by_role("button", name="Send a test message").click()
    page.get_by_text(re.compile("Test message sent. The server answered: 250")).wait_for()
    assert smtp.messages[0].rcpt_tos == ["admin@crm.example"]

    page.goto(f"{live_server}/invoices/{invoice['id']}")
    page.get_by_role("link", name="Send by email").click()
    page.select_option("#f-language", "es")
    page.get_by_role("button", name="Use this language's template").click()
    assert page.input_value("#f-subject") == f"Factura {invoice['number']} de Demo Trading S.L."
    assert page.get_by_label(re.compile("ana@lopez.example")).is_checked()
    page.fill("#f-cc", "boss@lopez.example")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(rf"/invoices/{invoice['id']}#emails$"))
    row = page.locator("#outbox tbody tr").first
    assert row.locator("[data-status]").get_attribute("data-status") == "sent"
    assert "ana@lopez.example, boss@lopez.example" in row.inner_text()
    assert "Sent" in page.locator("h1").inner_text()

    received = smtp.messages[1]
    assert received.rcpt_tos == ["ana@lopez.example", "boss@lopez.example"]
    message = received.message
    assert message["Subject"] == f"Factura {invoice['number']} de Demo Trading S.L."
    assert message["Content-Language"] == "es"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"{invoice['number']}.pdf"
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(attachment.get_content())).pages)
    assert "Factura" in text and invoice["number"] in text and "96,80" in text
