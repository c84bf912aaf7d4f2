"""Outgoing email, the domain side: the SMTP settings (the password stored encrypted), the
outbox's rows, the templates for sending documents, and sending a document with its PDF.

A message is a row of ``email_messages`` written in the transaction of the action that caused
it; :mod:`crm.mailer` hands it to the SMTP server from the job queue, at most once per row
(see docs/email.md). Nothing here talks to a server or commits.

Everything a message carries in a header is checked here, refused with a
:class:`~crm.errors.ValidationError` naming the field: addresses (one ``name@domain`` each),
the subject and the sender's name (one line: a line break would let a value add headers).
Templates are Jinja rendered in a sandbox (:class:`TemplateSandbox`) with the placeholders of
:data:`PLACEHOLDERS` only; one that does not render is refused when saved, naming the field.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import make_msgid
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency
from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.context import current_actor_id
from crm.errors import Conflict, NotFound, ValidationError
from crm.labels import doc_type_label, status_label
from crm.models import Contact, Document
from crm.models.email import EmailAttachment, EmailMessage, EmailTemplate
from crm.services.doctypes import DOC_TYPES
from crm.services.settings import get_setting, set_setting

NAMESPACE = "email"
LANGUAGES = ("en", "es")
SECURITY_MODES = ("starttls", "tls", "none")
#: the most recipients (to, cc and bcc together) of one message
MAX_RECIPIENTS = 50
MAX_SUBJECT = 250
MAX_BODY = 50_000
#: the outbox's statuses in the user's language (stored in English)
STATUS_LABELS = {"queued": _l("Queued"), "sending": _l("Sending"), "sent": _l("Sent"), "failed": _l("Failed"),
                 "uncertain": _l("Delivery uncertain")}
#: the password's purpose for :func:`crm.security.encrypt_secret`
SECRET_PURPOSE = "smtp-password"

# one address: the dot-atom of RFC 5322 (no quoted local parts, no comments), a domain of
# labels with a top-level one of letters; ASCII only
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
ADDRESS = re.compile(rf"^{_ATOM}(\.{_ATOM})*@([A-Za-z0-9]([A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}}$")
HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


# --- checking what goes into headers ----------------------------------------------------------------

def check_address(value: str, field: str) -> str:
    """``value`` stripped if it is one plain address (``name@example.com``), else refused."""
    address = (value or "").strip()
    if not address:
        raise ValidationError.for_field(field, _("an email address is required"))
    if len(address) > 254 or not ADDRESS.match(address):
        raise ValidationError.for_field(field, _("%(value)s is not an email address (name@example.com)",
                                                 value=_shown(address)))
    return address


def parse_addresses(value: str | Iterable[str] | None, field: str) -> list[str]:
    """Addresses given as a list or as text separated by commas, semicolons or line breaks;
    each checked (:func:`check_address`), repeated ones dropped."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(item, str) for item in items):
        raise ValidationError.for_field(field, _("must be a list of email addresses"))
    found: list[str] = []
    for item in (part for text in items for part in re.split(r"[,;\n]", text)):
        if item.strip():
            address = check_address(item, field)
            if address.lower() not in {a.lower() for a in found}:
                found.append(address)
    return found


def check_line(value: str, field: str, limit: int) -> str:
    """A header's text (a subject, a name): one line of at most ``limit`` characters, no control
    characters (a line break in a header would start a header of its own)."""
    text = value or ""
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text):
        raise ValidationError.for_field(field, _("must be one line, without line breaks or control characters"))
    text = text.strip()
    if len(text) > limit:
        raise ValidationError.for_field(field, _("at most %(count)s characters", count=limit))
    return text


def _shown(value: str) -> str:
    return repr(value[:60]) if any(not ch.isprintable() for ch in value[:60]) else f"“{value[:60]}”"


# --- SMTP settings ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpSettings:
    """How messages leave: the server, its security (``starttls``: plain connection upgraded by
    STARTTLS; ``tls``: TLS from the start, SMTPS; ``none``: plain, for a local relay), the login
    and the sender. ``password`` is the stored, encrypted token: :func:`smtp_password` reads it."""

    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    sender: str = ""
    sender_name: str = ""
    timeout: int = 30

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)


def smtp_settings(session: Session) -> SmtpSettings:
    values = get_setting(session, "smtp", NAMESPACE, default={}) or {}
    known = {key: values[key] for key in SmtpSettings.__dataclass_fields__ if key in values}
    return SmtpSettings(**known)


def smtp_password(settings: SmtpSettings) -> str:
    """The password in clear, for the login (:class:`crm.security.SecretUnreadable` when the key changed)."""
    from crm.security import decrypt_secret
    return decrypt_secret(settings.password, SECRET_PURPOSE)


def save_smtp_settings(session: Session, data: Mapping[str, Any]) -> SmtpSettings:
    """Check and store the settings. ``password``: a new one (stored encrypted); absent or None
    keeps the stored one; ``clear_password`` true removes it."""
    from crm.security import encrypt_secret
    current = smtp_settings(session)
    host = check_line(str(data.get("host") or ""), "host", 253)
    if not host:
        raise ValidationError.for_field("host", _("the SMTP server's name is required"))
    if not HOSTNAME.match(host):
        raise ValidationError.for_field("host", _("%(value)s is not a server name", value=_shown(host)))
    port = _int_in(data.get("port", 587), "port", 1, 65535)
    security = str(data.get("security") or "")
    if security not in SECURITY_MODES:
        raise ValidationError.for_field("security", _("must be one of: %(values)s", values=", ".join(SECURITY_MODES)))
    username = check_line(str(data.get("username") or ""), "username", 200)
    password = current.password
    if data.get("clear_password"):
        password = ""
    elif data.get("password"):
        password = encrypt_secret(check_line(str(data["password"]), "password", 500), SECRET_PURPOSE)
    settings = SmtpSettings(host=host, port=port, security=security, username=username, password=password,
                            sender=check_address(str(data.get("sender") or ""), "sender"),
                            sender_name=check_line(str(data.get("sender_name") or ""), "sender_name", 200),
                            timeout=_int_in(data.get("timeout", 30), "timeout", 1, 300))
    set_setting(session, "smtp", dict(settings.__dict__), NAMESPACE)
    return settings


def _int_in(value: Any, field: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError.for_field(field, _("must be a whole number")) from None
    if not low <= number <= high:
        raise ValidationError.for_field(field, _("must be between %(low)s and %(high)s", low=low, high=high))
    return number


# --- templates --------------------------------------------------------------------------------------

#: the placeholders a template may use, with what they hold (docs/email.md lists them too)
PLACEHOLDERS: dict[str, str] = {
    "document.type": "the document's type (Invoice, Factura, ...)",
    "document.number": "its number (INV-0001)",
    "document.subject": "its subject",
    "document.status": "its status, in the template's language",
    "document.customer_reference": "the customer's reference (purchase orders: empty)",
    "document.date": "its date: the invoice date, else the day it was created",
    "document.due_date": "the due date (empty when none)",
    "document.valid_until": "a quote's validity (empty when none)",
    "document.total": "the grand total with its currency, written in the template's language",
    "document.balance": "an invoice's balance with its currency (other documents: the total)",
    "document.currency": "the ISO code of its currency",
    "party.name": "the account (customer) or the vendor",
    "party.email": "its email address",
    "contact.name": "the document's contact, first and last name (empty when none)",
    "contact.first_name": "the contact's first name",
    "contact.last_name": "the contact's last name",
    "company.name": "your company's name (Settings)",
    "company.address": "your company's address",
    "sender.name": "who sends it: the user's full name",
    "sender.email": "the user's email address",
}

DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    "en": ("{{ document.type }} {{ document.number }} from {{ company.name }}",
           "Dear {{ contact.first_name or party.name }},\n\n"
           "please find attached {{ document.type|lower }} {{ document.number }}"
           "{% if document.subject %} ({{ document.subject }}){% endif %} for {{ document.total }}."
           "{% if document.due_date %}\nIt is due on {{ document.due_date }}.{% endif %}\n\n"
           "Kind regards,\n{{ sender.name or company.name }}\n{{ company.name }}\n"),
    "es": ("{{ document.type }} {{ document.number }} de {{ company.name }}",
           "Estimado/a {{ contact.first_name or party.name }}:\n\n"
           "le adjuntamos {{ document.type|lower }} {{ document.number }}"
           "{% if document.subject %} ({{ document.subject }}){% endif %} por {{ document.total }}."
           "{% if document.due_date %}\nEl vencimiento es el {{ document.due_date }}.{% endif %}\n\n"
           "Atentamente,\n{{ sender.name or company.name }}\n{{ company.name }}\n"),
}


class TemplateSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no attribute of Python internals, no calls of unsafe methods) without
    autoescaping (plain-text mail), with undefined names refused, and without the operators that
    could build a huge value from a short template (``'x' * 10**9``, ``2 ** 10**9``)."""

    intercepted_binops = frozenset({"*", "**"})
    MAX_REPEAT = 10_000

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in templates")
        sizes = [len(v) for v in (left, right) if isinstance(v, (str, list, tuple))]
        counts = [v for v in (left, right) if isinstance(v, int)]
        if sizes and counts and sizes[0] * max(counts[0], 0) > self.MAX_REPEAT:
            raise SecurityError("the result of * is too long")
        return super().call_binop(context, operator, left, right)


_SANDBOX = TemplateSandbox()


@dataclass(frozen=True)
class TemplateText:
    doc_type: str
    language: str
    subject: str
    body: str
    custom: bool  # an admin's (a row), else the built-in one
    version: int | None = None


def template_for(session: Session, doc_type: str, language: str) -> TemplateText:
    """The template to send a ``doc_type`` in ``language``: the admins' or the built-in one."""
    _check_kind(doc_type, language)
    row = session.scalar(select(EmailTemplate).where(EmailTemplate.doc_type == doc_type,
                                                     EmailTemplate.language == language))
    if row is not None:
        return TemplateText(doc_type, language, row.subject, row.body, True, row.version)
    subject, body = DEFAULT_TEMPLATES[language]
    return TemplateText(doc_type, language, subject, body, False)


def all_templates(session: Session) -> list[TemplateText]:
    return [template_for(session, doc_type, language) for doc_type in DOC_TYPES for language in LANGUAGES]


def save_template(session: Session, doc_type: str, language: str, subject: str, body: str,
                  version: int | None = None) -> EmailTemplate:
    """Store an admin's template once it renders (on a sample document) to a one-line subject."""
    _check_kind(doc_type, language)
    subject = check_line(subject, "subject", MAX_SUBJECT)
    if not subject:
        raise ValidationError.for_field("subject", _("a subject is required"))
    if len(body or "") > MAX_BODY:
        raise ValidationError.for_field("body", _("at most %(count)s characters", count=MAX_BODY))
    render_template_text(subject, body or "", sample_context(doc_type, language))
    row = session.scalar(select(EmailTemplate).where(EmailTemplate.doc_type == doc_type,
                                                     EmailTemplate.language == language).with_for_update())
    if row is None:
        row = EmailTemplate(doc_type=doc_type, language=language, subject=subject, body=body or "")
        session.add(row)
    else:
        if version is not None and version != row.version:
            raise Conflict(_("this template was changed by someone else since you opened it; reload it"),
                           {"version": [_("stale")]}, code="stale")
        row.subject, row.body = subject, body or ""
    session.flush()
    return row


def reset_template(session: Session, doc_type: str, language: str) -> None:
    """Go back to the built-in template."""
    _check_kind(doc_type, language)
    row = session.scalar(select(EmailTemplate).where(EmailTemplate.doc_type == doc_type,
                                                     EmailTemplate.language == language))
    if row is not None:
        session.delete(row)
        session.flush()


def _check_kind(doc_type: str, language: str) -> None:
    if doc_type not in DOC_TYPES:
        raise NotFound(_("unknown document type %(doc_type)s", doc_type=doc_type[:40]))
    if language not in LANGUAGES:
        raise ValidationError.for_field("language", _("must be one of: %(values)s", values=", ".join(LANGUAGES)))


def render_template_text(subject: str, body: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) rendered in the sandbox; a template that does not render, or a subject
    that renders to more than one line, is refused naming the field."""
    rendered = []
    for field, text in (("subject", subject), ("body", body)):
        try:
            rendered.append(_SANDBOX.from_string(text).render(**context))
        except SecurityError as exc:
            raise ValidationError.for_field(field, _("not allowed in a template: %(reason)s", reason=str(exc))) from None
        except TemplateError as exc:
            raise ValidationError.for_field(field, _("the template does not render: %(reason)s",
                                                     reason=exc.message or type(exc).__name__)) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise ValidationError.for_field(field, _("the template does not render: %(reason)s",
                                                     reason=str(exc))) from None
    rendered_subject = rendered[0].strip()
    if any(ch in rendered_subject for ch in "\r\n"):
        raise ValidationError.for_field("subject", _("the subject must render to one line"))
    check_line(rendered_subject, "subject", MAX_SUBJECT)
    if len(rendered[1]) > MAX_BODY:
        raise ValidationError.for_field("body", _("at most %(count)s characters", count=MAX_BODY))
    return rendered_subject, rendered[1]


def _money(amount: Any, currency: str, language: str) -> str:
    return format_currency(amount, currency, locale=language)


def _date(value: dt.date | None, language: str) -> str:
    return format_date(value, format="long", locale=language) if value else ""


def document_context(session: Session, document: Document, language: str) -> dict[str, dict[str, str]]:
    """The placeholders' values for ``document``, written in ``language``."""
    kind = DOC_TYPES[document.doc_type]
    party = document.vendor if kind.party == "vendor" else document.account
    contact = document.contact
    from crm.context import current_actor
    actor = current_actor()
    with force_locale(language):
        type_label, status = doc_type_label(kind.name), status_label(document.status)
    date = document.invoice_date or (document.created_at.date() if document.created_at else None)
    return {
        "document": {"type": type_label, "number": document.number, "subject": document.subject or "",
                     "status": status, "customer_reference": document.customer_reference or "",
                     "date": _date(date, language), "due_date": _date(document.due_date, language),
                     "valid_until": _date(document.valid_until, language),
                     "total": _money(document.grand_total, document.currency, language),
                     "balance": _money(document.balance if kind.name == "invoice" else document.grand_total,
                                       document.currency, language),
                     "currency": document.currency},
        "party": {"name": party.name if party is not None else "", "email": party.email if party is not None else ""},
        "contact": {"name": contact.full_name if contact else "", "first_name": contact.first_name if contact else "",
                    "last_name": contact.last_name if contact else ""},
        "company": {"name": get_setting(session, "company_name") or "",
                    "address": get_setting(session, "company_address") or ""},
        "sender": {"name": getattr(actor, "full_name", "") or "", "email": getattr(actor, "email", "") or ""},
    }


def sample_context(doc_type: str, language: str) -> dict[str, dict[str, str]]:
    """Every placeholder with a value, for checking a template when it is saved."""
    with force_locale(language):
        type_label, status = doc_type_label(doc_type), status_label(DOC_TYPES[doc_type].initial)
    day = dt.date(2027, 1, 31)
    return {
        "document": {"type": type_label, "number": DOC_TYPES[doc_type].prefix + "0001", "subject": "Sample",
                     "status": status, "customer_reference": "PO-77", "date": _date(day, language),
                     "due_date": _date(day, language), "valid_until": _date(day, language),
                     "total": _money(1234.5, "EUR", language), "balance": _money(1234.5, "EUR", language),
                     "currency": "EUR"},
        "party": {"name": "Sample Ltd", "email": "billing@example.com"},
        "contact": {"name": "Ana García", "first_name": "Ana", "last_name": "García"},
        "company": {"name": "Company", "address": "Street 1"},
        "sender": {"name": "Sam Sender", "email": "sam@example.com"},
    }


# --- the outbox -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


def queue_message(session: Session, *, to: Sequence[str], subject: str, body: str, cc: Sequence[str] = (),
                  bcc: Sequence[str] = (), language: str = "en", record_type: str = "", record_id: int | None = None,
                  attachments: Sequence[Attachment] = (), on_sent_status: str = "",
                  resent_from: EmailMessage | None = None) -> EmailMessage:
    """Write a message into the outbox (in the caller's transaction): the queue's worker sends
    it once the transaction commits (:func:`crm.mailer.dispatch`, and the ``email_outbox`` job
    every minute). Its Message-ID is fixed now, before any attempt."""
    settings = smtp_settings(session)
    if not settings.configured:
        raise Conflict(_("Outgoing email is not set up: an administrator enters the SMTP server and the sender "
                         "under Settings, Email."), code="email_not_configured")
    to_list, cc_list, bcc_list = (parse_addresses(to, "to"), parse_addresses(cc, "cc"), parse_addresses(bcc, "bcc"))
    if not to_list:
        raise ValidationError.for_field("to", _("at least one recipient is required"))
    if len(to_list) + len(cc_list) + len(bcc_list) > MAX_RECIPIENTS:
        raise ValidationError.for_field("to", _("at most %(count)s recipients", count=MAX_RECIPIENTS))
    subject = check_line(subject, "subject", MAX_SUBJECT)
    if not subject:
        raise ValidationError.for_field("subject", _("a subject is required"))
    if len(body) > MAX_BODY:
        raise ValidationError.for_field("body", _("at most %(count)s characters", count=MAX_BODY))
    message = EmailMessage(
        message_id=make_msgid(domain=settings.sender.rpartition("@")[2]),
        record_type=record_type, record_id=record_id, sender=settings.sender, sender_name=settings.sender_name,
        to=to_list, cc=cc_list, bcc=bcc_list, subject=subject, body=body, language=language, status="queued",
        attempts=0, next_attempt_at=dt.datetime.now(dt.timezone.utc), last_response="", on_sent_status=on_sent_status,
        resent_from_id=resent_from.id if resent_from is not None else None, created_by_id=current_actor_id())
    for attachment in attachments:
        message.attachments.append(EmailAttachment(filename=attachment.filename, content_type=attachment.content_type,
                                                   content=attachment.content))
    session.add(message)
    session.flush()
    return message


def get_message(session: Session, message_id: int) -> EmailMessage:
    message = session.get(EmailMessage, message_id)
    if message is None:
        raise NotFound(_("unknown email %(id)s", id=message_id))
    return message


def outbox(session: Session, record_type: str, record_id: int, limit: int = 200) -> list[EmailMessage]:
    """The messages about a record, newest first."""
    return list(session.scalars(select(EmailMessage).where(EmailMessage.record_type == record_type,
                                                           EmailMessage.record_id == record_id)
                                .order_by(EmailMessage.id.desc()).limit(limit)))


def resend(session: Session, message: EmailMessage) -> EmailMessage:
    """A copy of ``message`` as a new row (a new Message-ID), queued: a message is never sent
    twice under one row. Refused while it is still queued or being sent."""
    if message.status in ("queued", "sending"):
        raise Conflict(_("this message is still waiting to be sent"), {"status": [message.status]},
                       code="email_pending")
    settings = smtp_settings(session)
    if not settings.configured:
        raise Conflict(_("Outgoing email is not set up: an administrator enters the SMTP server and the sender "
                         "under Settings, Email."), code="email_not_configured")
    return queue_message(session, to=message.to, cc=message.cc, bcc=message.bcc, subject=message.subject,
                         body=message.body, language=message.language, record_type=message.record_type,
                         record_id=message.record_id, on_sent_status=message.on_sent_status, resent_from=message,
                         attachments=[Attachment(a.filename, a.content_type, a.content) for a in message.attachments])


# --- sending documents ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipient:
    """Someone a document may be sent to: the account's (vendor's) address or a contact's."""

    email: str
    name: str
    contact_id: int | None = None


def recipient_choices(session: Session, document: Document) -> list[Recipient]:
    """The account's (vendor's) own address and its contacts' with an address: an account's
    active contacts; for a purchase order (vendors have no contacts) the document's contact."""
    kind = DOC_TYPES[document.doc_type]
    party = document.vendor if kind.party == "vendor" else document.account
    found: list[Recipient] = []
    if party is not None and party.email:
        found.append(Recipient(party.email, party.name))
    if kind.party == "account" and document.account_id is not None:
        contacts = list(session.scalars(select(Contact).where(Contact.account_id == document.account_id,
                                                              Contact.active.is_(True))
                                        .order_by(Contact.last_name, Contact.first_name, Contact.id)))
    else:
        contacts = [document.contact] if document.contact is not None else []
    for contact in contacts:
        if contact.email:
            found.append(Recipient(contact.email, contact.full_name, contact.id))
    return found


def default_language(session: Session, document: Document) -> str:
    """The language a document is sent in unless chosen: the sending user's."""
    from crm.context import current_actor
    language = getattr(current_actor(), "language", None)
    return language if language in LANGUAGES else "en"


def send_document(session: Session, document: Document, data: Mapping[str, Any]) -> EmailMessage:
    """Queue ``document``'s PDF by email. ``data``: ``contact_ids`` (of
    :func:`recipient_choices`) and/or ``to`` (addresses), ``cc``, ``bcc``, ``language`` (the
    template's and the PDF's), and optionally ``subject``/``body`` to send instead of the
    template's rendering. An invoice becomes Sent once the server accepts the message, when its
    status rules allow it then."""
    language = data.get("language") or default_language(session, document)
    if language not in LANGUAGES:
        raise ValidationError.for_field("language", _("must be one of: %(values)s", values=", ".join(LANGUAGES)))
    to = _chosen_contacts(session, document, data.get("contact_ids") or []) + parse_addresses(data.get("to"), "to")
    template = template_for(session, document.doc_type, language)
    subject, body = render_template_text(template.subject, template.body,
                                         document_context(session, document, language))
    if data.get("subject") is not None:
        subject = data["subject"]
    if data.get("body") is not None:
        body = data["body"]
    with force_locale(language):
        from crm.services.pdf_renders import printed_pdf
        content = printed_pdf(session, document)
    return queue_message(session, to=to, cc=data.get("cc") or [], bcc=data.get("bcc") or [], subject=subject,
                         body=body, language=language, record_type="document", record_id=document.id,
                         attachments=[Attachment(f"{document.number}.pdf", "application/pdf", content)],
                         on_sent_status="Sent" if document.doc_type == "invoice" else "")


def _chosen_contacts(session: Session, document: Document, contact_ids: Iterable[Any]) -> list[str]:
    choices = {r.contact_id: r for r in recipient_choices(session, document) if r.contact_id is not None}
    found = []
    for contact_id in contact_ids:
        if not isinstance(contact_id, int) or contact_id not in choices:
            raise ValidationError.for_field("contact_ids", _("%(id)s is not a contact of this document's party "
                                                             "with an email address", id=str(contact_id)[:20]))
        found.append(choices[contact_id].email)
    return found


def mark_document_sent(session: Session, message: EmailMessage) -> None:
    """Once the server accepted ``message``: move its document to ``on_sent_status`` (an
    invoice to Sent) if the document's rules allow that now, acting as whoever queued it."""
    if not message.on_sent_status or message.record_type != "document" or message.record_id is None:
        return
    document = session.get(Document, message.record_id, with_for_update=True)
    if document is None or document.status == message.on_sent_status:
        return
    if message.on_sent_status not in DOC_TYPES[document.doc_type].allowed_from(document.status):
        return
    from crm.context import acting_as
    from crm.services.documents import change_status
    with acting_as(message.created_by):
        change_status(session, document, message.on_sent_status, note=f"sent by email ({message.message_id})"[:200])


def outbox_status_label(status: str) -> str:
    """An outbox status in the user's language."""
    return str(STATUS_LABELS.get(status, status))
