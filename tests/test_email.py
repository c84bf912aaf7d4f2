"""Outgoing email against a real SMTP server on loopback (aiosmtpd): documents sent with their
PDF from the template of a language, the outbox and resending, the SMTP settings (password
encrypted, test message), templates rendered in a sandbox, bad input refused naming the field,
and failure injection (server down, 4xx and 5xx answers, time limits, a worker that stops,
two workers at once) with nothing lost and nothing sent twice."""
from __future__ import annotations

import datetime as dt
import io
import threading

import pypdf
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from crm import mailer
from crm.db import db
from crm.models import Document, Setting
from crm.models.base import utcnow
from crm.models.email import EmailMessage
from crm.services import email
from crm.testing import TEST_PASSWORD
from tests.email_server import SmtpServer, free_port

SENDER = "billing@crm.example"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(app, tmp_path):
    """The app with a queue of its own that runs each task at once (as a worker would, at the
    end of the request that queued it)."""
    app.config["QUEUE_IMMEDIATE"] = True
    app.instance_path = str(tmp_path)
    return app


def configure(app, port, **extra):
    with app.app_context():
        session = db.new_session(app)
        email.save_smtp_settings(session, {"host": "127.0.0.1", "port": port, "security": "none", "sender": SENDER,
                                           "sender_name": "Demo Trading", "timeout": 5, **extra})
        session.commit()
        session.close()


def later(seconds: int) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=seconds)


@pytest.fixture
def invoice(mail_app, api, catalog):
    """An approved invoice of 2 consulting hours (96.80 EUR) for the catalogue's account, whose
    contact Ana has an address."""
    api.patch(f"/contacts/{catalog.contact}", json={"email": "ana@lopez.example"})
    created = api.post("/invoices", json={"account_id": catalog.account, "contact_id": catalog.contact,
                                          "subject": "March work",
                                          "lines": [{"item_id": catalog.consulting, "quantity": "2"}]}).json()
    assert created["totals"]["grand_total"] == "96.80"
    api.patch(f"/invoices/{created['id']}", json={"status": "Approved"})
    return created


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def outbox_rows(app, **where):
    with app.app_context():
        session = db.new_session(app)
        rows = list(session.scalars(select(EmailMessage).filter_by(**where).order_by(EmailMessage.id)
                                    .options(selectinload(EmailMessage.attachments))))
        session.close()
        return rows


# --- sending a document ---------------------------------------------------------------------------

@pytest.mark.parametrize("language, words", [
    ("en", {"subject": "Invoice {number} from Demo Trading S.L.", "title": "Invoice", "total": "€96.80",
            "greeting": "Dear Ana,"}),
    ("es", {"subject": "Factura {number} de Demo Trading S.L.", "title": "Factura", "total": "96,80\xa0€",
            "greeting": "Estimado/a Ana:"}),
])
def test_an_invoice_arrives_with_its_pdf_in_the_templates_language_and_becomes_sent(
        mail_app, api, catalog, invoice, smtp, language, words):
    configure(mail_app, smtp.port)
    response = api.post(f"/invoices/{invoice['id']}/emails", json={
        "contact_ids": [catalog.contact], "cc": ["boss@lopez.example"], "bcc": ["archive@crm.example"],
        "language": language})
    assert response.status_code == 201, response.text
    sent = response.json()
    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ["ana@lopez.example", "boss@lopez.example", "archive@crm.example"]
    message = received.message
    assert message["From"] == f"Demo Trading <{SENDER}>"
    assert message["To"] == "ana@lopez.example" and message["Cc"] == "boss@lopez.example"
    assert message["Bcc"] is None and "archive@crm.example" not in received.content.decode()
    assert message["Subject"] == words["subject"].format(number=invoice["number"])
    assert message["Message-ID"] == sent["message_id"]
    assert message["Content-Language"] == language
    body = message.get_body(("plain",)).get_content()
    assert words["greeting"] in body and words["total"] in body and invoice["number"] in body
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{invoice['number']}.pdf"
    content = attachment.get_content()
    assert content.startswith(b"%PDF")
    [stored] = outbox_rows(mail_app)
    assert stored.attachments[0].content == content                      # what was queued is what arrived
    text = pdf_text(content)
    assert words["title"] in text and invoice["number"] in text and "Ferretería López" in text
    assert ("96,80" if language == "es" else "96.80") in text           # the PDF's language is the template's
    after = api.get(f"/invoices/{invoice['id']}").json()
    assert after["status"] == "Sent"
    outbox = api.get(f"/invoices/{invoice['id']}/emails").json()
    assert [(m["id"], m["status"]) for m in outbox["items"]] == [(sent["id"], "sent")]
    assert outbox["items"][0]["last_response"].startswith("250 ")


def test_every_document_type_can_be_sent_and_only_an_invoice_changes_status(mail_app, api, catalog, smtp):
    configure(mail_app, smtp.port)
    api.patch(f"/contacts/{catalog.contact}", json={"email": "ana@lopez.example"})
    api.patch(f"/vendors/{catalog.vendor}", json={"email": "ventas@norte.example"})
    lines = [{"item_id": catalog.widget, "quantity": "1"}]
    for path, party in (("quotes", {"account_id": catalog.account}), ("sales-orders", {"account_id": catalog.account}),
                        ("purchase-orders", {"vendor_id": catalog.vendor})):
        document = api.post(f"/{path}", json={**party, "lines": lines}).json()
        to = ["ventas@norte.example"] if path == "purchase-orders" else ["ana@lopez.example"]
        response = api.post(f"/{path}/{document['id']}/emails", json={"to": to, "language": "en"})
        assert response.status_code == 201, response.text
        assert smtp.messages[-1].rcpt_tos == to
        assert smtp.messages[-1].message["Subject"].endswith(f"{document['number']} from Demo Trading S.L.")
        assert api.get(f"/{path}/{document['id']}").json()["status"] == "Created"
    assert len(smtp.messages) == 3


def test_an_invoice_whose_rules_do_not_allow_sent_keeps_its_status(mail_app, api, catalog, invoice, smtp):
    configure(mail_app, smtp.port)
    api.patch(f"/invoices/{invoice['id']}", json={"status": "Cancelled"})
    response = api.post(f"/invoices/{invoice['id']}/emails", json={"contact_ids": [catalog.contact]})
    assert response.status_code == 201 and response.json()["status"] == "queued"   # the answer when queued
    assert len(smtp.messages) == 1
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Cancelled"
    assert outbox_rows(mail_app)[0].status == "sent"


def test_an_admins_template_is_used_and_bad_templates_are_refused_naming_the_field(mail_app, api, catalog, invoice,
                                                                                     smtp):
    configure(mail_app, smtp.port)
    with mail_app.app_context():
        session = db.new_session(mail_app)
        email.save_template(session, "invoice", "es", "Su factura {{ document.number|upper }}",
                            "Hola {{ contact.first_name }}, total {{ document.total }}.{% if document.due_date %} "
                            "Vence el {{ document.due_date }}.{% endif %}")
        session.commit()
        bad = {
            ("subject", "{{ document.nope }}"): "does not render",
            ("body", "{% if %}"): "does not render",
            ("body", "{{ ''.__class__.__mro__[1].__subclasses__() }}"): "not allowed",
            ("body", "{{ 'x' * 100000000 }}"): "not allowed",
            ("body", "{{ 2 ** 100000000 }}"): "not allowed",
            ("subject", "Hi\r\nBcc: evil@example.com"): "one line",
            ("subject", "{{ 'a' ~ '\\n' ~ 'Bcc: x@y.example' }}"): "one line",
        }
        for (field, text), reason in bad.items():
            values = {"subject": "ok", "body": "ok", field: text}
            with pytest.raises(email.ValidationError) as refused:
                email.save_template(session, "invoice", "es", values["subject"], values["body"])
            assert list(refused.value.fields) == [field], text
            assert reason in refused.value.fields[field][0], (text, refused.value.fields)
            session.rollback()
        session.close()
    api.post(f"/invoices/{invoice['id']}/emails", json={"contact_ids": [catalog.contact], "language": "es"})
    message = smtp.messages[0].message
    assert message["Subject"] == f"Su factura {invoice['number']}"
    assert message.get_body(("plain",)).get_content().startswith("Hola Ana, total 96,80\xa0€.")


@pytest.mark.parametrize("body, field", [
    ({"to": ["not-an-address"]}, "to"),
    ({"to": ["ana@lopez.example\r\nBcc: evil@example.com"]}, "to"),
    ({"to": ["Ana <ana@lopez.example>"]}, "to"),
    ({"to": ["ana@lopez.example"], "cc": ["boss@lopez.example\nBcc: evil@example.com"]}, "cc"),
    ({"to": ["ana@lopez.example"], "bcc": ["@example.com"]}, "bcc"),
    ({"to": ["ana@lopez.example"], "subject": "Hi\r\nBcc: evil@example.com"}, "subject"),
    ({"to": ["ana@lopez.example"], "subject": "Hi\x0bthere"}, "subject"),
    ({"to": ["ana@lopez.example"], "subject": "  "}, "subject"),
    ({"contact_ids": [999999]}, "contact_ids"),
    ({}, "to"),
    ({"to": ["ana@lopez.example"], "language": "fr"}, "language"),
    ({"to": "ana@lopez.example"}, "to"),
    ({"to": ["ana@lopez.example"], "body": "x\x00"}, "body"),
])
def test_bad_input_is_refused_naming_the_field_and_queues_nothing(mail_app, api, invoice, smtp, body, field):
    configure(mail_app, smtp.port)
    response = api.post(f"/invoices/{invoice['id']}/emails", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["fields"], response.json()
    assert outbox_rows(mail_app) == [] and smtp.messages == []
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Approved"


def test_a_sender_name_with_a_line_break_is_refused_and_nothing_is_sent_without_settings(mail_app, api, invoice):
    with mail_app.app_context():
        session = db.new_session(mail_app)
        for field, value in (("sender_name", "Demo\r\nBcc: evil@example.com"), ("sender", "billing@crm"),
                             ("host", "smtp.example.com\r\nX: y"), ("port", "70000"), ("security", "ssl3")):
            data = {"host": "127.0.0.1", "port": 25, "security": "none", "sender": SENDER, field: value}
            with pytest.raises(email.ValidationError) as refused:
                email.save_smtp_settings(session, data)
            assert list(refused.value.fields) == [field]
        session.close()
    response = api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]})
    assert response.status_code == 409 and response.json()["error"]["code"] == "email_not_configured"
    assert outbox_rows(mail_app) == []


def test_unknown_documents_and_messages_of_other_documents_are_404(mail_app, api, catalog, invoice, smtp):
    configure(mail_app, smtp.port)
    sent = api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]}).json()
    other = api.post("/invoices", json={"account_id": catalog.account,
                                        "lines": [{"item_id": catalog.consulting}]}).json()
    assert api.post("/invoices/999999/emails", json={"to": ["ana@lopez.example"]}).status_code == 404
    assert api.get(f"/invoices/{other['id']}/emails/{sent['id']}").status_code == 404
    assert api.post(f"/invoices/{other['id']}/emails/{sent['id']}/resend").status_code == 404
    assert api.get(f"/quotes/{invoice['id']}/emails").status_code == 404
    assert api.get(f"/invoices/{invoice['id']}/emails/{sent['id']}").json()["status"] == "sent"


# --- failure injection ----------------------------------------------------------------------------

def test_server_down_the_message_waits_with_backoff_then_is_sent_once(mail_app, api, catalog, invoice):
    port = free_port()
    configure(mail_app, port)
    queued = api.post(f"/invoices/{invoice['id']}/emails", json={"contact_ids": [catalog.contact]}).json()
    [row] = outbox_rows(mail_app)
    assert row.status == "queued" and row.attempts == 1 and "Connection" in row.last_response
    assert (row.next_attempt_at - utcnow()).total_seconds() > 50                 # backoff: not before a minute
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Approved"
    assert mailer.send_due(mail_app) == {"recovered": 0}                          # not due yet: nothing tried
    server = SmtpServer(port=port).start()
    try:
        assert mailer.send_due(mail_app, now=later(61)) == {"recovered": 0, "sent": 1}
        assert mailer.send_due(mail_app, now=later(100_000)) == {"recovered": 0}  # nothing twice
        assert len(server.messages) == 1 and server.messages[0].message["Message-ID"] == queued["message_id"]
    finally:
        server.stop()
    [row] = outbox_rows(mail_app)
    assert row.status == "sent" and row.attempts == 2
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Sent"


def test_a_server_that_stays_down_fails_the_message_after_the_last_attempt(mail_app, api, invoice):
    configure(mail_app, free_port())
    api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]})
    moment = utcnow()
    for _attempt in range(mailer.MAX_ATTEMPTS + 2):
        moment += dt.timedelta(seconds=max(mailer.BACKOFF) + 1)
        mailer.send_due(mail_app, now=moment)
    [row] = outbox_rows(mail_app)
    assert row.status == "failed" and row.attempts == mailer.MAX_ATTEMPTS
    assert f"gave up after {mailer.MAX_ATTEMPTS} attempts" in row.last_response
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Approved"


def test_a_4xx_answer_is_tried_again_and_the_message_arrives_once(mail_app, api, invoice, smtp):
    configure(mail_app, smtp.port)
    smtp.recorder.data_answers = ["451 4.3.0 Mailbox busy, try later"]
    api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]})
    [row] = outbox_rows(mail_app)
    assert row.status == "queued" and row.last_response == "451 DATA: 4.3.0 Mailbox busy, try later"
    assert smtp.messages == []
    mailer.send_due(mail_app, now=later(61))
    mailer.send_due(mail_app, now=later(10_000))
    assert len(smtp.messages) == 1
    assert outbox_rows(mail_app)[0].status == "sent"


def test_a_5xx_answer_fails_at_once_with_the_servers_reason_and_a_resend_is_a_new_message(
        mail_app, api, client, invoice, smtp):
    configure(mail_app, smtp.port)
    smtp.recorder.rcpt_answers = ["550 5.1.1 <nobody@lopez.example>: Recipient address rejected"]
    failed = api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["nobody@lopez.example"]}).json()
    [row] = outbox_rows(mail_app)
    assert row.status == "failed" and row.attempts == 1
    assert row.last_response == "550 RCPT TO nobody@lopez.example: 5.1.1 <nobody@lopez.example>: Recipient address rejected"
    assert smtp.messages == []
    mailer.send_due(mail_app, now=later(100_000))
    assert smtp.messages == [] and outbox_rows(mail_app)[0].attempts == 1       # failed for good: never tried again
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Approved"
    again = api.post(f"/invoices/{invoice['id']}/emails/{failed['id']}/resend")
    assert again.status_code == 201, again.text
    copy = again.json()
    assert copy["resent_from_id"] == failed["id"] and copy["message_id"] != failed["message_id"]
    assert [m.message["Message-ID"] for m in smtp.messages] == [copy["message_id"]]
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Sent"
    statuses = [(m["id"], m["status"]) for m in api.get(f"/invoices/{invoice['id']}/emails").json()["items"]]
    assert statuses == [(copy["id"], "sent"), (failed["id"], "failed")]


def test_a_message_still_queued_is_not_resent(mail_app, api, invoice):
    configure(mail_app, free_port())
    queued = api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]}).json()
    response = api.post(f"/invoices/{invoice['id']}/emails/{queued['id']}/resend")
    assert response.status_code == 409 and response.json()["error"]["code"] == "email_pending"
    assert len(outbox_rows(mail_app)) == 1


def test_a_time_limit_before_the_message_is_handed_over_is_tried_again(mail_app, api, invoice, smtp):
    configure(mail_app, smtp.port, timeout=1)
    smtp.recorder.rcpt_delay = 1.5
    api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]})
    [row] = outbox_rows(mail_app)
    assert row.status == "queued" and row.handed_at is None and "timed out" in row.last_response
    smtp.recorder.rcpt_delay = 0
    mailer.send_due(mail_app, now=later(61))
    assert len(smtp.messages) == 1 and outbox_rows(mail_app)[0].status == "sent"


@pytest.mark.slow
def test_a_time_limit_after_the_message_is_handed_over_leaves_it_uncertain_never_sent_twice(
        mail_app, api, invoice, smtp):
    configure(mail_app, smtp.port, timeout=1)
    smtp.recorder.data_delay = 2          # the server takes the message, then answers too late
    api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]})
    [row] = outbox_rows(mail_app)
    assert row.status == "uncertain" and row.handed_at is not None
    assert "may have been delivered" in row.last_response
    smtp.recorder.data_delay = 0
    mailer.send_due(mail_app, now=later(100_000))
    assert len(smtp.messages) == 1        # it arrived once, and was not sent again
    assert outbox_rows(mail_app)[0].status == "uncertain"
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Approved"


def _claimed_and_stopped(app, message_id: int, *, handed: bool) -> None:
    """What a worker leaves when it stops while sending: the claim, maybe ``handed_at``, nothing else."""
    assert mailer.claim(app, message_id)
    long_ago = utcnow() - mailer.STALE_AFTER - dt.timedelta(minutes=1)
    with app.app_context():
        session = db.new_session(app)
        session.execute(update(EmailMessage).where(EmailMessage.id == message_id)
                        .values(claimed_at=long_ago, handed_at=long_ago if handed else None))
        session.commit()
        session.close()


def test_a_worker_that_stops_before_handing_the_message_over_loses_nothing(mail_app, api, invoice, smtp, tmp_path):
    configure(mail_app, smtp.port)
    mail_app.config["QUEUE_IMMEDIATE"] = False            # a real queue file, no worker: the message waits
    queued = api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]}).json()
    _claimed_and_stopped(mail_app, queued["id"], handed=False)
    assert mailer.deliver(mail_app, queued["id"]).status == "skipped"   # another worker holds it: not sent
    assert smtp.messages == []
    assert mailer.send_due(mail_app) == {"recovered": 1, "sent": 1}
    assert mailer.send_due(mail_app, now=later(100_000)) == {"recovered": 0}
    assert [m.message["Message-ID"] for m in smtp.messages] == [queued["message_id"]]


def test_a_worker_that_stops_after_handing_the_message_over_never_sends_it_again(mail_app, api, invoice, smtp):
    configure(mail_app, smtp.port)
    mail_app.config["QUEUE_IMMEDIATE"] = False
    queued = api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]}).json()
    _claimed_and_stopped(mail_app, queued["id"], handed=True)
    assert mailer.send_due(mail_app) == {"recovered": 1}
    assert mailer.send_due(mail_app, now=later(100_000)) == {"recovered": 0}
    assert smtp.messages == []
    [row] = outbox_rows(mail_app)
    assert row.status == "uncertain" and "may have been delivered" in row.last_response
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Approved"


def test_workers_racing_for_one_message_send_it_once(mail_app, api, invoice, smtp):
    configure(mail_app, smtp.port)
    mail_app.config["QUEUE_IMMEDIATE"] = False
    queued = api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]}).json()
    outcomes, start = [], threading.Barrier(4)

    def work():
        start.wait()
        outcomes.append(mailer.deliver(mail_app, queued["id"]).status)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["sent", "skipped", "skipped", "skipped"]
    assert len(smtp.messages) == 1
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Sent"


# --- the settings and the pages ------------------------------------------------------------------

def signed_in(client, user):
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    return client


def test_the_password_is_stored_encrypted_used_to_sign_in_and_never_shown(mail_app, client, make_user):
    from aiosmtpd.smtp import AuthResult

    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret-pw")

    server = SmtpServer(authenticator=authenticator, auth_required=True, auth_require_tls=False).start()
    try:
        admin = make_user("admin", email="admin@crm.example")
        signed_in(client, admin)
        form = {"host": "127.0.0.1", "port": str(server.port), "security": "none", "username": "crm",
                "password": "s3cret-pw", "sender": SENDER, "sender_name": "Demo Trading", "timeout": "5"}
        assert client.post("/admin/email/", data=form).status_code == 302
        with mail_app.app_context():
            session = db.new_session(mail_app)
            stored = session.get(Setting, ("email", "smtp")).value
            session.close()
        assert "s3cret-pw" not in str(stored) and stored["password"]
        page = client.get("/admin/email/").get_data(as_text=True)
        assert "s3cret-pw" not in page and stored["password"] not in page
        assert client.post("/admin/email/", data={**form, "password": ""}).status_code == 302   # kept
        answer = client.post("/admin/email/test", data={"to": "admin@crm.example"}, follow_redirects=True)
        assert "Test message sent" in answer.get_data(as_text=True)
        assert logins == [(b"crm", b"s3cret-pw")]
        assert server.messages[0].rcpt_tos == ["admin@crm.example"]
        client.post("/admin/email/", data={**form, "password": "wrong"})
        answer = client.post("/admin/email/test", data={"to": "admin@crm.example"}, follow_redirects=True)
        text = answer.get_data(as_text=True)
        assert "was not sent" in text and len(server.messages) == 1       # refused (535, or the server hangs up)
        assert logins[-1] == (b"crm", b"wrong")
        assert [row.status for row in outbox_rows(mail_app, record_type="test")] == ["sent", "failed"]
    finally:
        server.stop()


def test_the_settings_page_names_the_field_of_bad_input(mail_app, client, make_user):
    signed_in(client, make_user("admin"))
    response = client.post("/admin/email/", data={"host": "smtp.example.com", "port": "587", "security": "starttls",
                                                  "sender": "billing@crm.example", "sender_name": "A\nBcc: x@y.example"})
    assert response.status_code == 200
    assert 'id="err-sender_name"' in response.get_data(as_text=True)
    response = client.post("/admin/email/templates/invoice/en", data={"subject": "{{ document.nope }}", "body": "x"})
    assert response.status_code == 200 and 'id="err-subject"' in response.get_data(as_text=True)
    assert client.get("/admin/email/templates").status_code == 200


def test_the_document_page_sends_shows_the_outbox_and_resends(mail_app, client, make_user, catalog, invoice, smtp):
    configure(mail_app, smtp.port)
    signed_in(client, make_user("sales"))
    form = client.get(f"/invoices/{invoice['id']}/email?language=es").get_data(as_text=True)
    assert f"Factura {invoice['number']} de Demo Trading S.L." in form and "ana@lopez.example" in form
    bad = client.post(f"/invoices/{invoice['id']}/email", data={"contact_id": str(catalog.contact), "cc": "nope",
                                                                "subject": "x", "body": "y", "language": "es"})
    assert bad.status_code == 200 and 'id="err-cc"' in bad.get_data(as_text=True) and smtp.messages == []
    sent = client.post(f"/invoices/{invoice['id']}/email", data={
        "contact_id": str(catalog.contact), "recipient": "compras@lopez.example",
        "to": "otra@lopez.example; otra@lopez.example", "cc": "", "bcc": "", "language": "es",
        "subject": "Su factura", "body": "Adjunta."}, follow_redirects=True)
    page = sent.get_data(as_text=True)
    assert len(smtp.messages) == 1 and smtp.messages[0].message["Subject"] == "Su factura"
    assert smtp.messages[0].rcpt_tos == ["ana@lopez.example", "compras@lopez.example", "otra@lopez.example"]
    assert 'data-status="sent"' in page and "250 " in page
    [row] = outbox_rows(mail_app)
    client.post(f"/invoices/{invoice['id']}/emails/{row.id}/resend")
    assert len(smtp.messages) == 2 and smtp.messages[1].message["Message-ID"] != smtp.messages[0].message["Message-ID"]


def test_the_outbox_job_is_a_scheduled_job(mail_app):
    from crm.jobs import all_jobs
    with mail_app.app_context():
        job = {job.name: job for job in all_jobs(mail_app)}["email_outbox"]
    assert job.every_minutes == 1


def test_a_document_in_the_database_is_not_changed_by_a_refused_send(mail_app, api, invoice, smtp):
    configure(mail_app, smtp.port)
    with mail_app.app_context():
        session = db.new_session(mail_app)
        before = session.get(Document, invoice["id"]).version
        session.close()
    api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["bad"]})
    with mail_app.app_context():
        session = db.new_session(mail_app)
        assert session.get(Document, invoice["id"]).version == before
        session.close()


# --- STARTTLS and TLS ------------------------------------------------------------------------------

@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_tls_check_the_servers_certificate(mail_app, api, invoice, tmp_path, monkeypatch, security):
    from tests.email_server import self_signed_certificate, server_tls_context
    cert_file, key_file = self_signed_certificate(tmp_path)
    context = server_tls_context(cert_file, key_file)
    tls = {"tls_context": context, "require_starttls": True} if security == "starttls" else {"ssl_context": context}
    server = SmtpServer(**tls).start()
    try:
        configure(mail_app, server.port, security=security)
        untrusted = api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]}).json()
        [row] = outbox_rows(mail_app)
        assert row.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in row.last_response   # never sent in clear
        assert server.messages == [] and row.attempts == 1
        monkeypatch.setenv("SSL_CERT_FILE", cert_file)               # the system now trusts it
        api.post(f"/invoices/{invoice['id']}/emails/{untrusted['id']}/resend")
        assert len(server.messages) == 1 and outbox_rows(mail_app)[-1].status == "sent"
    finally:
        server.stop()
