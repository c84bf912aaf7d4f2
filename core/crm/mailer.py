"""Outgoing email, the delivery side: hands the outbox's messages (``email_messages``, written
by :mod:`crm.services.email`) to the SMTP server, from the job queue, with retries and backoff.

What is guaranteed (SMTP has no idempotency: a server that accepted a message cannot be asked
whether it did):

- **A row is handed to the server at most once.** A worker first *claims* the row with one
  conditional ``UPDATE`` (``queued`` and due -> ``sending``, committed); only the worker whose
  update changed the row talks to the server, so two workers, a retry and the every-minute job
  never send one row twice.
- **The Message-ID is fixed when the row is written**, before any attempt, and every attempt
  sends the same one: a recipient's server or client that sees a copy can tell it is one.
- **Just before the message itself goes (SMTP ``DATA``), once the server accepted the sender
  and every recipient, the row records ``handed_at``** (committed). After that moment a worker
  that stops, or a connection that breaks without the server's answer, leaves a message that
  may have been delivered: it becomes ``uncertain`` and is never sent again by itself (a user
  may resend it: a new row, a new Message-ID). Before it, nothing reached the server: the
  row goes back to ``queued`` (a worker that died is noticed after :data:`STALE_AFTER`).
- **Nothing is lost**: a message refused for now (4xx, the server down, a timeout) is tried
  again after :data:`BACKOFF` up to :data:`MAX_ATTEMPTS` times, then ``failed``; one refused
  for good (5xx) is ``failed`` at once; each keeps the server's answer (``last_response``). A
  message whose queue task was lost (the queue down when it was written) is sent by the
  ``email_outbox`` job, which runs every minute.
- Every change of state is one conditional ``UPDATE`` committed on its own: a row is never seen
  half-changed, and a state is only left by the worker that holds it.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime

from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from crm.db import db
from crm.errors import CRMError
from crm.models.base import utcnow
from crm.models.email import EmailMessage

log = logging.getLogger(__name__)

#: seconds before the 2nd, 3rd, ... attempt (the last value repeats)
BACKOFF = (60, 300, 900, 3600, 4 * 3600)
MAX_ATTEMPTS = 6
#: a claim older than this, without an answer, means the worker stopped
STALE_AFTER = dt.timedelta(minutes=10)
TASK = "crm.mailer:deliver_task"


class Refused(smtplib.SMTPResponseException):
    """The server answered a command with an error code."""

    def __init__(self, code: int, message: bytes | str, command: str):
        text = message.decode(errors="replace") if isinstance(message, bytes) else message
        super().__init__(code, f"{command}: {text}")


@dataclass(frozen=True)
class Outcome:
    """What an attempt ended in: ``sent``, ``retry`` (queued again, in ``delay`` seconds),
    ``failed``, ``uncertain``, or ``skipped`` (not claimed: not queued or not due)."""

    status: str
    response: str = ""
    delay: int | None = None


def _session(app: Flask) -> Session:
    return db.new_session(app)


def _set(app: Flask, message_id: int, expected: str, **values: object) -> bool:
    """Move a row from ``expected`` to ``values`` in one committed, conditional UPDATE."""
    with _session(app) as session, session.begin():
        result = session.execute(update(EmailMessage)
                                 .where(EmailMessage.id == message_id, EmailMessage.status == expected)
                                 .values(updated_at=utcnow(), **values))
        return result.rowcount == 1


def claim(app: Flask, message_id: int, now: dt.datetime | None = None) -> bool:
    """Take a queued, due message for this worker (``sending``); False when another has it,
    it is not queued, or not due yet."""
    now = now or utcnow()
    with _session(app) as session, session.begin():
        result = session.execute(
            update(EmailMessage)
            .where(EmailMessage.id == message_id, EmailMessage.status == "queued",
                   or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= now))
            .values(status="sending", attempts=EmailMessage.attempts + 1, claimed_at=now, handed_at=None,
                    updated_at=now))
        return result.rowcount == 1


def build_mime(message: EmailMessage, now: dt.datetime | None = None) -> MimeMessage:
    """The message as it goes on the wire: From, To, Cc (never Bcc), Subject, Date, its
    Message-ID, Content-Language, the text body and the attachments."""
    mime = MimeMessage(policy=SMTP_POLICY)
    mime["From"] = Address(display_name=message.sender_name, addr_spec=message.sender)
    mime["To"] = ", ".join(message.to)
    if message.cc:
        mime["Cc"] = ", ".join(message.cc)
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(now or utcnow())
    mime["Message-ID"] = message.message_id
    mime.set_content(message.body)
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mime.add_attachment(attachment.content, maintype=maintype, subtype=subtype or "octet-stream",
                            filename=attachment.filename)
    mime["Content-Language"] = message.language  # after the content: setting it drops Content-* headers
    return mime


def _connect(settings) -> smtplib.SMTP:
    if settings.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
    except BaseException:
        smtp.close()
        raise
    return smtp


def _converse(app: Flask, message: EmailMessage, settings, password: str) -> str:
    """One SMTP conversation; records ``handed_at`` just before DATA. Returns the server's answer."""
    content = build_mime(message).as_bytes()
    smtp = _connect(settings)
    try:
        if settings.username:
            smtp.login(settings.username, password)
        code, answer = smtp.mail(message.sender)
        if code != 250:
            raise Refused(code, answer, "MAIL FROM")
        for recipient in message.recipients:
            code, answer = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise Refused(code, answer, f"RCPT TO {recipient}")
        if not _set(app, message.id, "sending", handed_at=utcnow()):
            raise RuntimeError("the message was taken from this worker")  # cannot happen: it holds the claim
        code, answer = smtp.data(content)  # raises on an error answer to DATA, returns the one to the message
        if code != 250:
            raise Refused(code, answer, "DATA")
        return f"{code} {answer.decode(errors='replace')}"
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def deliver(app: Flask, message_id: int, *, attempts: int | None = None, now: dt.datetime | None = None) -> Outcome:
    """Claim and send one message; record how it ended. ``attempts``: how many attempts it may
    take at most (default :data:`MAX_ATTEMPTS`; the settings page's test message takes one);
    ``now``: the moment it counts as due at (the job's clock)."""
    from crm.security import SecretUnreadable
    from crm.services import email
    if not claim(app, message_id, now):
        return Outcome("skipped")
    limit = attempts or MAX_ATTEMPTS
    with _session(app) as session:
        message = session.get(EmailMessage, message_id)
        assert message is not None  # claimed just now
        settings = email.smtp_settings(session)
        message.attachments  # noqa: B018  loaded before the session closes
        session.expunge_all()
    handed = False
    try:
        if not settings.configured:
            raise Refused(554, "outgoing email is not set up (Settings, Email)", "settings")
        with app.app_context():
            password = email.smtp_password(settings)
        answer = _converse(app, message, settings, password)
    except SecretUnreadable as exc:
        return _failed(app, message, str(exc))
    except smtplib.SMTPResponseException as exc:
        reason = _reason(exc)
        if 400 <= exc.smtp_code < 500:
            return _retry(app, message, reason, limit)
        return _failed(app, message, reason)
    except (smtplib.SMTPException, OSError) as exc:
        handed = _was_handed(app, message.id)
        reason = f"{type(exc).__name__}: {exc}".strip()
        if handed:
            return _uncertain(app, message, reason)
        if isinstance(exc, (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError)):
            return _failed(app, message, reason)  # the server cannot do STARTTLS, its certificate is not trusted
        return _retry(app, message, reason, limit)
    return _sent(app, message, answer)


def _reason(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}".strip()


def _was_handed(app: Flask, message_id: int) -> bool:
    with _session(app) as session:
        return session.scalar(select(EmailMessage.handed_at).where(EmailMessage.id == message_id)) is not None


def _sent(app: Flask, message: EmailMessage, answer: str) -> Outcome:
    """Record the server's acceptance and, in the same transaction, the document's new status
    (an invoice's Sent) when its rules allow it; that status change may fail without undoing
    the record of the message (a savepoint)."""
    from crm.services import email
    now = utcnow()
    with _session(app) as session, session.begin():
        result = session.execute(update(EmailMessage)
                                 .where(EmailMessage.id == message.id, EmailMessage.status == "sending")
                                 .values(status="sent", sent_at=now, next_attempt_at=None, last_response=answer[:2000],
                                         updated_at=now))
        if result.rowcount == 1 and message.on_sent_status:
            row = session.get(EmailMessage, message.id)
            try:
                with app.app_context(), session.begin_nested():
                    email.mark_document_sent(session, row)
            except CRMError as exc:
                log.warning("email %s sent; its document's status was left: %s", message.id, exc.message)
    return Outcome("sent", answer)


def _failed(app: Flask, message: EmailMessage, reason: str) -> Outcome:
    _set(app, message.id, "sending", status="failed", next_attempt_at=None, last_response=reason[:2000])
    log.warning("email %s failed: %s", message.id, reason)
    return Outcome("failed", reason)


def _uncertain(app: Flask, message: EmailMessage, reason: str) -> Outcome:
    text = (f"{reason} -- the connection ended after the message was handed to the server: it may have been "
            "delivered. It is not sent again by itself; check with the recipient before resending.")
    _set(app, message.id, "sending", status="uncertain", next_attempt_at=None, last_response=text[:2000])
    log.warning("email %s uncertain: %s", message.id, reason)
    return Outcome("uncertain", text)


def _retry(app: Flask, message: EmailMessage, reason: str, limit: int) -> Outcome:
    attempts = message.attempts  # read after the claim, which counted this attempt
    if attempts >= limit:
        text = f"{reason} (gave up after {attempts} attempt{'s' if attempts > 1 else ''})"
        return _failed(app, message, text)
    delay = BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]
    _set(app, message.id, "sending", status="queued", next_attempt_at=utcnow() + dt.timedelta(seconds=delay),
         last_response=reason[:2000])
    log.info("email %s: %s; next attempt in %s s", message.id, reason, delay)
    return Outcome("retry", reason, delay)


def recover_stale(app: Flask, now: dt.datetime | None = None) -> int:
    """Messages whose worker stopped while sending (claimed more than :data:`STALE_AFTER` ago):
    not yet handed to the server -> queued again; handed -> ``uncertain``. Returns how many."""
    now = now or utcnow()
    before = now - STALE_AFTER
    stale = and_(EmailMessage.status == "sending", EmailMessage.claimed_at < before)
    with _session(app) as session, session.begin():
        requeued = session.execute(
            update(EmailMessage).where(stale, EmailMessage.handed_at.is_(None))
            .values(status="queued", next_attempt_at=now, updated_at=now,
                    last_response="the worker stopped before handing it to the server; queued again")).rowcount
        uncertain = session.execute(
            update(EmailMessage).where(stale, EmailMessage.handed_at.is_not(None))
            .values(status="uncertain", next_attempt_at=None, updated_at=now,
                    last_response="the worker stopped after handing the message to the server: it may have been "
                                  "delivered. It is not sent again by itself; check with the recipient before "
                                  "resending.")).rowcount
    return requeued + uncertain


def due_ids(app: Flask, now: dt.datetime | None = None, limit: int = 200) -> list[int]:
    now = now or utcnow()
    with _session(app) as session:
        return list(session.scalars(select(EmailMessage.id)
                                    .where(EmailMessage.status == "queued",
                                           or_(EmailMessage.next_attempt_at.is_(None),
                                               EmailMessage.next_attempt_at <= now))
                                    .order_by(EmailMessage.id).limit(limit)))


def send_due(app: Flask, now: dt.datetime | None = None) -> dict[str, int]:
    """What the ``email_outbox`` job does every minute: recover the messages of stopped workers,
    then send every queued message that is due."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "uncertain": 0, "skipped": 0}
    recovered = recover_stale(app, now)
    for message_id in due_ids(app, now):
        counts[deliver(app, message_id, now=now).status] += 1
    return {"recovered": recovered, **{key: value for key, value in counts.items() if value}}


def run_outbox_job(session: Session, today: dt.date) -> dict[str, int]:
    """The ``email_outbox`` scheduled job (its own transactions: ``session`` stays unused)."""
    return send_due(current_app._get_current_object())  # type: ignore[attr-defined]


def deliver_task(app: Flask, message_id: int) -> str:
    """The queue's task for one message. A message to try again waits for the ``email_outbox``
    job, which runs every minute and sends what is due (the backoff is a minute or more)."""
    return deliver(app, message_id).status


def dispatch(app: Flask, message_ids: list[int]) -> None:
    """Queue the sending of messages just committed. A queue that cannot be reached loses
    nothing: the ``email_outbox`` job sends them within a minute. Call it right after the
    transaction that wrote them commits (with the queue in immediate mode the message is sent
    here and then)."""
    from crm.worker import enqueue
    for message_id in message_ids:
        try:
            enqueue(app, TASK, message_id=message_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("email %s: not queued (%s); the email_outbox job sends it", message_id, exc)
