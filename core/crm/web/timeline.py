"""The activity timeline on record pages: the **Activity** section of accounts, contacts,
vendors, items (products, services, bundles) and documents, and its comment form
(``POST /timeline/<records>/<id>/comments``). See :mod:`crm.services.timeline`."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request
from flask_babel import gettext as _
from sqlalchemy import select

from crm.db import db
from crm.errors import CRMError, NotFound
from crm.models import User
from crm.permissions import require
from crm.services import timeline

bp = Blueprint("timeline", __name__, url_prefix="/timeline")

#: the page paths whose records have a timeline: (entity of the timeline, permission resource)
PATHS = {"accounts": ("accounts", "accounts"), "contacts": ("contacts", "accounts"),
         "vendors": ("vendors", "vendors"), "items": ("items", "catalog"),
         "quotes": ("documents", "quotes"), "sales-orders": ("documents", "sales_orders"),
         "purchase-orders": ("documents", "purchase_orders"), "invoices": ("documents", "invoices")}
#: the page path a record's comment form posts to, by timeline entity (documents: by type)
FORM_PATHS = {"accounts": "accounts", "contacts": "contacts", "vendors": "vendors", "items": "items"}


def endpoint_of(path: str) -> str:
    return "comment_" + path.replace("-", "_")


def _comment(path: str, record_id: int):
    entity = PATHS[path][0]
    try:
        with db.transaction() as session:
            record = timeline.record_of(session, entity, record_id)
            if entity == "documents":
                from crm.services.doctypes import DOC_TYPES
                if DOC_TYPES[record.doc_type].path != path:
                    raise NotFound(_("unknown record %(id)s", id=record_id))
            timeline.add_comment(session, entity, record_id, request.form.get("body", ""))
            target = timeline.record_path(entity, record)
        flash(_("Comment added."))
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(request.referrer or "/")
    return redirect(target + "#activity")


for _path, (_entity, _resource) in PATHS.items():
    def _view(record_id: int, path=_path):
        return _comment(path, record_id)
    bp.add_url_rule(f"/{_path}/<int:record_id>/comments", endpoint_of(_path), require(_resource)(_view),
                    methods=["POST"])


@bp.app_template_global()
def activity_of(entity: str, record) -> dict:
    """What a record page's Activity section shows: its events, the users' names, the record's
    model (a change's referenced records are named and linked) and where its comment form posts
    (None for a record without a timeline)."""
    if entity not in timeline.MODELS or record is None:
        return {"events": [], "names": {}, "action": None, "model": None}
    session = db.session
    events = timeline.timeline(session, entity, record.id)
    ids = {event.user_id for event in events if event.user_id is not None}
    names = dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()) if ids else {}
    if entity == "documents":
        from crm.services.doctypes import DOC_TYPES
        path = DOC_TYPES[record.doc_type].path
    else:
        path = FORM_PATHS[entity]
    from flask import url_for
    return {"events": events, "names": names, "model": timeline.MODELS[entity],
            "action": url_for(f"timeline.{endpoint_of(path)}", record_id=record.id)}
