"""Outgoing email: the outbox (one row per message, sent by the job queue) with its
attachments, and the admins' templates for sending documents (see docs/email.md)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Model
from crm.models.base import Timestamps, Versioned, utcnow

#: queued (waiting for its first or next attempt), sending (a worker claimed it), sent (the
#: server accepted it), failed (refused, or out of attempts), uncertain (the worker stopped
#: after handing it to the server: it may have been delivered; never sent again by itself)
EMAIL_STATUSES = ("queued", "sending", "sent", "failed", "uncertain")


class EmailMessage(Model):
    """A message of the outbox, written in the transaction of the action that caused it and
    sent by the job queue at most once: its ``message_id`` (the ``Message-ID`` header) is fixed
    when the row is made; a resend is a new row (``resent_from_id``) with a new one."""

    __tablename__ = "email_messages"
    __table_args__ = (
        Index("ix_email_messages_record", "record_type", "record_id", "id"),
        Index("ix_email_messages_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``<local>@<domain>`` between angle brackets, unique per message
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    #: what the message is about: ``document`` (a quote, order or invoice), or ``test``
    record_type: Mapped[str] = mapped_column(String(30), default="")
    record_id: Mapped[int | None]
    sender: Mapped[str] = mapped_column(String(200), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    #: addresses, each a plain ``name@domain``
    to: Mapped[list] = mapped_column(JSON, default=list)
    cc: Mapped[list] = mapped_column(JSON, default=list)
    bcc: Mapped[list] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(250), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    #: the language the message was written in (``en``, ``es``)
    language: Mapped[str] = mapped_column(String(5), default="en")
    status: Mapped[str] = mapped_column(String(10), default="queued")
    #: attempts made so far (a claim by a worker counts as one)
    attempts: Mapped[int] = mapped_column(default=0)
    #: when a worker may try (again); None once sent or failed
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: when a worker claimed it (status ``sending``)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: when the worker, the recipients accepted, was about to hand the message to the server
    handed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: the server's last answer (``250 ...`` when sent, the reason of a failure)
    last_response: Mapped[str] = mapped_column(Text, default="")
    #: set the document's status when sent (an invoice becomes Sent), if its rules allow then
    on_sent_status: Mapped[str] = mapped_column(String(30), default="")
    #: the row this one sends again
    resent_from_id: Mapped[int | None] = mapped_column(ForeignKey("email_messages.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    attachments: Mapped[list["EmailAttachment"]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="EmailAttachment.id")
    created_by = relationship("User")

    @property
    def recipients(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]


class EmailAttachment(Model):
    """A file sent with a message, kept as it was when the message was queued (a document's
    PDF of that moment)."""

    __tablename__ = "email_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("email_messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100), default="application/pdf")
    content: Mapped[bytes] = mapped_column(LargeBinary)

    message: Mapped[EmailMessage] = relationship(back_populates="attachments")


class EmailTemplate(Versioned, Timestamps, Model):
    """An admin's template for sending a document type in a language (Jinja, rendered in a
    sandbox). Without a row, the built-in template of ``crm.services.email`` is used."""

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("doc_type", "language", name="uq_email_templates_doc_type_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(250))
    body: Mapped[str] = mapped_column(Text)
