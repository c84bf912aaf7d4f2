"""Issue 19's "done means", walked as the administrator of a fresh ``make run``: the database set
up as ``make run`` sets it up (``crm db upgrade``, then ``crm demo``), the administrator signed in
with the demo's password, through the pages: the SMTP settings pointed at a real SMTP server on
loopback (aiosmtpd) and a test message sent; an invoice sent from its page to its contact, which
arrives with the invoice's PDF; the shipped "Overdue invoice reminder" turned on from its page;
the scheduled jobs run twice (``crm jobs run-due``, what the worker runs on their schedule); every
overdue invoice of the demo business reminded once, with its PDF, and nothing else."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select

from crm.db import db
from crm.models import Document, WorkflowRule
from crm.testing import form_entries
from tests.test_email import mail_app, pdf_text, smtp  # noqa: F401  (fixtures: a queue that sends at once, the server)

pytestmark = pytest.mark.slow  # it loads the demo business

REMINDER = "Reminder: invoice {} is overdue"
NOT_REMINDED = ("Created", "AutoCreated", "Paid", "Cancelled", "Credit Invoice")


def read(app, fn):
    """``fn(session)`` on a short session of its own (the app keeps serving requests)."""
    with app.app_context():
        session = db.new_session(app)
        try:
            return fn(session)
        finally:
            session.close()


def post_form(client, page_url, action=None, **changes):
    """Submit a form of the page as a browser does, with ``changes`` typed into its inputs."""
    page = client.get(page_url)
    assert page.status_code == 200, page_url
    url, entries = form_entries(page.get_data(as_text=True), page_url, action)
    values = dict(entries)
    missing = set(changes) - set(values)
    assert not missing, f"the form of {page_url} has no {missing}"
    values.update(changes)
    return client.post(url, data=values, follow_redirects=True)


def invoice_to_send(session):
    """An approved invoice of the demo whose contact has an email address (the one to send)."""
    return session.scalars(select(Document).where(Document.doc_type == "invoice", Document.status == "Approved",
                                                  Document.contact_id.is_not(None)).order_by(Document.id)
                           ).first()


def overdue_invoices(session, today):
    """The invoices a reminder is due for, read from the database: issued, not paid, cancelled or
    credited, with a balance, their due date seven days past or more; with their customer's
    address (the account's, else the invoice contact's)."""
    found = session.scalars(select(Document).where(
        Document.doc_type == "invoice", Document.status.not_in(NOT_REMINDED), Document.balance > 0,
        Document.due_date <= today - dt.timedelta(days=7)))
    return {d.number: d.account.email or d.contact.email for d in found}


def test_an_admin_of_a_fresh_install_sends_an_invoice_and_reminds_each_overdue_customer_once(
        mail_app, runner, client, smtp):  # noqa: F811
    for command in (["db", "upgrade"], ["demo"]):                      # what `make run` does first
        result = runner.invoke(command)
        assert result.exit_code == 0, result.output
    today = dt.date.today()
    drafts_past_due = read(mail_app, lambda s: list(s.scalars(select(Document.number).where(
        Document.doc_type == "invoice", Document.status.in_(("Created", "AutoCreated")),
        Document.due_date <= today - dt.timedelta(days=7)))))
    assert drafts_past_due, "the demo has recurring invoices waiting for review whose due date passed"

    signed = client.post("/login", data={"username": "admin", "password": "admin1234"})
    assert signed.status_code == 302

    # the SMTP settings, and a test message
    saved = post_form(client, "/admin/email/", host="127.0.0.1", port=str(smtp.port), security="none",
                      sender="billing@demo-trading.example", sender_name="Demo Trading", timeout="5")
    assert "Email settings saved." in saved.get_data(as_text=True)
    tested = post_form(client, "/admin/email/", action="/admin/email/test", to="admin@demo-trading.example")
    assert "Test message sent" in tested.get_data(as_text=True)
    [test_message] = smtp.messages
    assert test_message.rcpt_tos == ["admin@demo-trading.example"]

    # an invoice sent from its page to its contact arrives with its PDF and becomes Sent
    invoice_id, number, contact_email = read(mail_app, lambda s: (
        lambda d: (d.id, d.number, d.contact.email))(invoice_to_send(s)))
    sent = post_form(client, f"/invoices/{invoice_id}/email")
    assert sent.status_code == 200 and len(smtp.messages) == 2, sent.get_data(as_text=True)[:2000]
    delivered = smtp.messages[1]
    assert delivered.rcpt_tos == [contact_email]
    assert number in delivered.message["Subject"]
    [attachment] = delivered.message.iter_attachments()
    assert attachment.get_filename() == f"{number}.pdf"
    assert attachment.get_content()[:5] == b"%PDF-" and number in pdf_text(attachment.get_content())
    assert read(mail_app, lambda s: s.get(Document, invoice_id).status) == "Sent"

    # the shipped overdue reminder, turned on from its page
    assert client.get("/admin/workflows/").status_code == 200             # the examples are added, off
    rule_id = read(mail_app, lambda s: s.scalar(select(WorkflowRule.id).where(
        WorkflowRule.example == "overdue_invoice_reminder", WorkflowRule.enabled.is_(False))))
    turned_on = post_form(client, f"/admin/workflows/{rule_id}", action=f"/admin/workflows/{rule_id}/enabled")
    assert "The rule is on." in turned_on.get_data(as_text=True)

    # the scheduled jobs, twice: each overdue invoice is reminded once, with its PDF
    for _run in range(2):
        result = runner.invoke(["jobs", "run-due"])
        assert result.exit_code == 0, result.output
    expected = read(mail_app, lambda s: overdue_invoices(s, today))
    assert len(expected) >= 3, "the demo has overdue invoices"
    reminders = smtp.messages[2:]
    by_number = Counter(m.message["Subject"] for m in reminders)
    assert by_number == Counter(REMINDER.format(n) for n in expected)
    for message in reminders:
        invoice_number = message.message["Subject"].removeprefix("Reminder: invoice ").removesuffix(" is overdue")
        assert message.rcpt_tos == [expected[invoice_number]]
        [pdf] = message.message.iter_attachments()
        assert pdf.get_filename() == f"{invoice_number}.pdf" and pdf.get_content()[:5] == b"%PDF-"
    assert not {REMINDER.format(n) for n in drafts_past_due} & set(by_number)   # drafts the customer never had
    log = client.get(f"/admin/workflows/{rule_id}").get_data(as_text=True)     # the rule's run log says so
    assert log.count('<td class="run-status">Done</td>') == len(expected)
    assert all(f">{n}</a>" in log for n in expected)
