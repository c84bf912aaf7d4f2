"""Email in the browser: the admin's SMTP settings (with a test message) and templates, sending
a document from its page, and resending a message of a document's outbox (docs/email.md)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crm.db import db
from crm.errors import CRMError, NotFound
from crm.permissions import require
from crm.services import documents, email
from crm.services.doctypes import DOC_TYPES
from crm.web.common import FormErrors
from crm.web.documents import BLUEPRINTS as DOCUMENT_BLUEPRINTS
from crm.web.helpers import DOC_ENDPOINTS

bp = Blueprint("email_admin", __name__, url_prefix="/admin/email")
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
_DOC_TYPES = "any(" + ", ".join(DOC_TYPES) + ")"
_LANGUAGES = "any(" + ", ".join(email.LANGUAGES) + ")"


@bp.app_template_global()
def email_status_label(status: str) -> str:
    return email.outbox_status_label(status)


def _app():
    return current_app._get_current_object()


# --- the admin's settings ---------------------------------------------------------------------------

@bp.route("/", methods=["GET", "POST"])
@require("settings", "write")
def settings():
    errors, values = FormErrors(), None
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            with db.transaction() as session:
                email.save_smtp_settings(session, {**values, "clear_password": bool(values.get("clear_password"))})
            flash(_("Email settings saved."))
            return redirect(url_for("email_admin.settings"))
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
    current = email.smtp_settings(db.session)
    return render_template("admin/email.html", settings=current, values=values, errors=errors,
                           security_modes=email.SECURITY_MODES)


@bp.route("/test", methods=["POST"])
@require("settings", "write")
def test_message():
    """Send a test message at once (through the outbox, one attempt) and show the server's answer."""
    from crm import mailer
    try:
        with db.transaction() as session:
            message = email.queue_message(
                session, to=[request.form.get("to", "")], record_type="test", language="en",
                subject=_("Test message from %(name)s", name=email.smtp_settings(session).sender_name or "CRM"),
                body=_("This is a test message: outgoing email works."))
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(url_for("email_admin.settings"))
    outcome = mailer.deliver(_app(), message.id, attempts=1)
    if outcome.status == "sent":
        flash(_("Test message sent. The server answered: %(answer)s", answer=outcome.response))
    else:
        flash(_("The test message was not sent: %(reason)s", reason=outcome.response), "error")
    return redirect(url_for("email_admin.settings"))


# --- templates --------------------------------------------------------------------------------------

@bp.route("/templates")
@require("settings", "write")
def templates():
    return render_template("admin/email_templates.html", templates=email.all_templates(db.session),
                           languages=LANGUAGE_NAMES)


@bp.route(f"/templates/<{_DOC_TYPES}:doc_type>/<{_LANGUAGES}:language>", methods=["GET", "POST"])
@require("settings", "write")
def template(doc_type: str, language: str):
    errors, values = FormErrors(), None
    if request.method == "POST":
        values = request.form.to_dict()
        version = values.get("version", "")
        try:
            with db.transaction() as session:
                email.save_template(session, doc_type, language, values.get("subject", ""), values.get("body", ""),
                                    int(version) if version.isdigit() else None)
            flash(_("Template saved."))
            return redirect(url_for("email_admin.templates"))
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
    current = email.template_for(db.session, doc_type, language)
    return render_template("admin/email_template.html", template=current, values=values, errors=errors,
                           placeholders=email.PLACEHOLDERS, languages=LANGUAGE_NAMES)


@bp.route(f"/templates/<{_DOC_TYPES}:doc_type>/<{_LANGUAGES}:language>/reset", methods=["POST"])
@require("settings", "write")
def reset_template(doc_type: str, language: str):
    with db.transaction() as session:
        email.reset_template(session, doc_type, language)
    flash(_("The built-in template is used again."))
    return redirect(url_for("email_admin.templates"))


# --- sending a document -----------------------------------------------------------------------------

def _send_form(kind, doc_id: int):
    session = db.session
    document = documents.get_document(session, kind.name, doc_id)
    errors, values = FormErrors(), None
    language = request.values.get("language") or email.default_language(session, document)
    language = language if language in email.LANGUAGES else "en"
    if request.method == "POST":
        values = request.form.to_dict()
        data = {"contact_ids": [int(v) for v in request.form.getlist("contact_id") if v.isdigit()],
                "to": [*request.form.getlist("recipient"), values.get("to", "")],
                "cc": values.get("cc", ""), "bcc": values.get("bcc", ""),
                "language": language, "subject": values.get("subject"), "body": values.get("body")}
        try:
            with db.transaction() as session:
                document = documents.get_document(session, kind.name, doc_id)
                message = email.send_document(session, document, data)
            from crm.mailer import dispatch
            dispatch(_app(), [message.id])
            flash(_("%(number)s is queued to be sent to %(to)s.", number=document.number, to=", ".join(message.to)))
            return redirect(url_for(f"{DOC_ENDPOINTS[kind.name]}.detail", doc_id=doc_id) + "#emails")
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
            session = db.session
            document = documents.get_document(session, kind.name, doc_id)
    template = email.template_for(session, kind.name, language)
    try:
        subject, body = email.render_template_text(template.subject, template.body,
                                                   email.document_context(session, document, language))
    except CRMError as exc:
        subject, body = template.subject, template.body
        errors = errors or FormErrors({}, _("The template does not render: %(reason)s", reason=exc.message))
    choices = email.recipient_choices(session, document)
    contact = document.contact
    # ticked at first: the document's contact, else the first address offered
    preferred = contact.email if contact is not None and contact.email else (choices[0].email if choices else None)
    return render_template("documents/email.html", kind=kind, endpoint=DOC_ENDPOINTS[kind.name], document=document,
                           choices=choices, preferred=preferred, language=language,
                           languages=LANGUAGE_NAMES, subject=subject, body=body, values=values, errors=errors,
                           chosen={int(v) for v in request.form.getlist("contact_id") if v.isdigit()}
                           if values is not None else None,
                           chosen_addresses=set(request.form.getlist("recipient")),
                           configured=email.smtp_settings(session).configured)


def _resend(kind, doc_id: int, email_id: int):
    try:
        with db.transaction() as session:
            document = documents.get_document(session, kind.name, doc_id)
            message = email.get_message(session, email_id)
            if message.record_type != "document" or message.record_id != document.id:
                raise NotFound(_("unknown email %(id)s", id=email_id))
            copy = email.resend(session, message)
        from crm.mailer import dispatch
        dispatch(_app(), [copy.id])
        flash(_("The message is queued to be sent again."))
    except CRMError as exc:
        flash(exc.message, "error")
    return redirect(url_for(f"{DOC_ENDPOINTS[kind.name]}.detail", doc_id=doc_id) + "#emails")


def add_document_routes(blueprints) -> None:
    """``/<documents>/<id>/email`` (the send form) and ``/<documents>/<id>/emails/<email_id>/resend``
    on each document type's page blueprint."""
    by_name = {blueprint.name: blueprint for blueprint in blueprints}
    for kind in DOC_TYPES.values():
        blueprint = by_name[DOC_ENDPOINTS[kind.name]]

        def send(doc_id: int, kind=kind):
            return _send_form(kind, doc_id)

        def resend(doc_id: int, email_id: int, kind=kind):
            return _resend(kind, doc_id, email_id)

        blueprint.add_url_rule("/<int:doc_id>/email", "send_email", require(kind.resource, "write")(send),
                               methods=["GET", "POST"])
        blueprint.add_url_rule("/<int:doc_id>/emails/<int:email_id>/resend", "resend_email",
                               require(kind.resource, "write")(resend), methods=["POST"])


add_document_routes(DOCUMENT_BLUEPRINTS)
