"""Sending documents by email and their outbox, under each document type's path:

- ``POST /api/v1/<documents>/<id>/emails``: queue the document's PDF to its party's contacts
  (``contact_ids``) or addresses (``to``), with ``cc``/``bcc``, from the template of a
  ``language``; 201 with the message (``status`` ``queued``).
- ``GET /api/v1/<documents>/<id>/emails``: the document's outbox, newest first.
- ``GET /api/v1/<documents>/<id>/emails/<email_id>``: one message, with the server's answer.
- ``POST /api/v1/<documents>/<id>/emails/<email_id>/resend``: send it again as a new message.

See docs/email.md.
"""
from __future__ import annotations

from flask import current_app
from marshmallow import fields, validate

from crm.api.documents import BLUEPRINTS
from crm.api.fields import IdField, clean_text
from crm.api.openapi import ErrorSchema
from crm.api.schemas import ListOf, Schema
from crm.db import db
from crm.errors import NotFound
from crm.permissions import require
from crm.services import documents, email
from crm.services.doctypes import DOC_TYPES, DocType

_ADDRESSES = dict(validate=validate.Length(max=email.MAX_RECIPIENTS),
                  metadata={"description": "email addresses (name@example.com)"})


class SendDocument(Schema):
    contact_ids = fields.List(IdField(strict=True), load_default=list, validate=validate.Length(max=email.MAX_RECIPIENTS),
                              metadata={"description": "contacts of the document's account (a purchase order: its "
                                                       "contact) to send it to; each needs an email address"})
    to = fields.List(fields.String(validate=[validate.Length(max=254), clean_text]), load_default=list, **_ADDRESSES)
    cc = fields.List(fields.String(validate=[validate.Length(max=254), clean_text]), load_default=list, **_ADDRESSES)
    bcc = fields.List(fields.String(validate=[validate.Length(max=254), clean_text]), load_default=list, **_ADDRESSES)
    language = fields.String(load_default=None, validate=validate.OneOf(email.LANGUAGES),
                             metadata={"description": "the template's and the PDF's language; default: yours"})
    subject = fields.String(load_default=None, validate=[validate.Length(max=email.MAX_SUBJECT), clean_text],
                            metadata={"description": "sent instead of the template's subject (one line)"})
    body = fields.String(load_default=None, validate=[validate.Length(max=email.MAX_BODY), clean_text],
                         metadata={"description": "sent instead of the template's body"})


class EmailAttachmentOut(Schema):
    filename = fields.String()
    content_type = fields.String()
    size = fields.Function(lambda a: len(a.content))


class EmailOut(Schema):
    id = fields.Integer()
    message_id = fields.String(metadata={"description": "the Message-ID header, fixed when queued"})
    record_type = fields.String()
    record_id = fields.Integer(allow_none=True)
    sender = fields.String()
    to = fields.List(fields.String())
    cc = fields.List(fields.String())
    bcc = fields.List(fields.String())
    subject = fields.String()
    body = fields.String()
    language = fields.String()
    status = fields.String(metadata={"description": "queued, sending, sent, failed or uncertain (see docs/email.md)"})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    last_response = fields.String(metadata={"description": "the server's last answer: 250 ... when sent, "
                                                           "the reason of a failure"})
    resent_from_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    attachments = fields.List(fields.Nested(EmailAttachmentOut))


EMAIL_LIST = ListOf(EmailOut, "EmailList")


def _message_of(session, document, email_id: int):
    message = email.get_message(session, email_id)
    if message.record_type != "document" or message.record_id != document.id:
        raise NotFound(f"unknown email {email_id}")
    return message


def add_email_routes(kind: DocType) -> None:
    blp = BLUEPRINTS[kind.name]
    label = kind.label.lower()

    @blp.route("/<int:doc_id>/emails", methods=["POST"])
    @require(kind.resource, "write")
    @blp.arguments(SendDocument)
    @blp.response(201, EmailOut)
    @blp.alt_response(409, schema=ErrorSchema, description="outgoing email is not set up (email_not_configured), "
                      "or the PDF cannot be printed now")
    @blp.doc(summary=f"Send the {label} by email",
             description="Queues a message with the PDF attached, written from the template of the document type "
                         "and language unless subject and body are given. The job queue sends it (status queued, "
                         "then sent or failed with the server's answer)"
                         + (". An invoice becomes Sent once the server accepts it, where its status rules allow."
                            if kind.name == "invoice" else "."))
    def send(body, doc_id):
        with db.transaction() as session:
            document = documents.get_document(session, kind.name, doc_id)
            message = email.send_document(session, document, body)
        from crm.mailer import dispatch
        dispatch(current_app._get_current_object(), [message.id])
        return message

    @blp.route("/<int:doc_id>/emails", methods=["GET"])
    @require(kind.resource)
    @blp.response(200, EMAIL_LIST)
    @blp.doc(summary=f"The {label}'s outbox, newest first")
    def outbox(doc_id):
        document = documents.get_document(db.session, kind.name, doc_id)
        found = email.outbox(db.session, "document", document.id)
        return {"items": found, "total": len(found), "page": 1, "per_page": len(found)}

    @blp.route("/<int:doc_id>/emails/<int:email_id>", methods=["GET"])
    @require(kind.resource)
    @blp.response(200, EmailOut)
    @blp.doc(summary=f"One message of the {label}'s outbox")
    def one(doc_id, email_id):
        document = documents.get_document(db.session, kind.name, doc_id)
        return _message_of(db.session, document, email_id)

    @blp.route("/<int:doc_id>/emails/<int:email_id>/resend", methods=["POST"])
    @require(kind.resource, "write")
    @blp.response(201, EmailOut)
    @blp.alt_response(409, schema=ErrorSchema, description="the message is still queued or being sent "
                      "(email_pending), or outgoing email is not set up (email_not_configured)")
    @blp.doc(summary="Send a message again",
             description="Queues a copy as a new message (a new Message-ID); 409 while the message is still queued "
                         "or being sent.")
    def resend(doc_id, email_id):
        with db.transaction() as session:
            document = documents.get_document(session, kind.name, doc_id)
            message = email.resend(session, _message_of(session, document, email_id))
        from crm.mailer import dispatch
        dispatch(current_app._get_current_object(), [message.id])
        return message


for _kind in DOC_TYPES.values():
    add_email_routes(_kind)
