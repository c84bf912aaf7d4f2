"""A record's activity timeline and its comments, under each record's path:

- ``GET /api/v1/<records>/<id>/timeline``: comments, changes, status changes, emails and the
  plugins' events (payments), newest first;
- ``POST /api/v1/<records>/<id>/comments`` ``{"body"}``: a comment; ``@username`` notifies that user.

``<records>``: accounts, contacts, vendors, items, quotes, sales-orders, purchase-orders,
invoices. See :mod:`crm.services.timeline`.
"""
from __future__ import annotations

from marshmallow import fields, validate

from crm.api.fields import clean_text
from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.errors import NotFound
from crm.permissions import require
from crm.services import timeline
from crm.services.doctypes import BY_PATH

blp = Blueprint("api_timeline", __name__, url_prefix="/api/v1", description="Activity timelines and comments")

#: path -> (timeline entity, permission resource, the record's label)
PATHS = {"accounts": ("accounts", "accounts", "account"), "contacts": ("contacts", "accounts", "contact"),
         "vendors": ("vendors", "vendors", "vendor"), "items": ("items", "catalog", "item"),
         **{path: ("documents", kind.resource, kind.label.lower()) for path, kind in BY_PATH.items()}}


class TimelineEventOut(Schema):
    at = fields.DateTime()
    kind = fields.String(metadata={"description": "comment, created, changed, deleted, status, email, or a "
                                                  "plugin's (payment)"})
    title = fields.String()
    text = fields.String()
    user_id = fields.Integer(allow_none=True)
    changes = fields.Dict(metadata={"description": "a change: field -> [old, new]"})
    source = fields.String(metadata={"description": "core, or the plugin that added it"})


class CommentIn(Schema):
    body = fields.String(required=True, validate=[validate.Length(min=1, max=timeline.MAX_COMMENT), clean_text],
                         metadata={"description": "the comment; @username mentions (and notifies) a user"})


class CommentOut(Schema):
    id = fields.Integer()
    entity = fields.String()
    record_id = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    body = fields.String()
    mentions = fields.List(fields.Integer(), metadata={"description": "ids of the users mentioned"})
    created_at = fields.DateTime()


TIMELINE = ListOf(TimelineEventOut, "TimelineEventList")


def _record(session, path: str, record_id: int):
    entity = PATHS[path][0]
    record = timeline.record_of(session, entity, record_id)
    if entity == "documents" and BY_PATH[path].name != record.doc_type:
        raise NotFound(f"unknown {PATHS[path][2]} {record_id}")
    return entity, record


def _add_routes(path: str) -> None:
    entity, resource, label = PATHS[path]
    name = path.replace("-", "_")

    @blp.route(f"/{path}/<int:record_id>/timeline", methods=["GET"], endpoint=f"{name}_timeline")
    @require(resource)
    @blp.response(200, TIMELINE)
    @blp.doc(summary=f"The {label}'s activity timeline, newest first")
    def read(record_id):
        found_entity, record = _record(db.session, path, record_id)
        events = timeline.timeline(db.session, found_entity, record.id)
        return {"items": events, "total": len(events), "page": 1, "per_page": len(events)}

    @blp.route(f"/{path}/<int:record_id>/comments", methods=["POST"], endpoint=f"{name}_comment")
    @require(resource)
    @blp.arguments(CommentIn)
    @blp.response(201, CommentOut)
    @blp.doc(summary=f"Comment on the {label}",
             description="Anyone who may read the record may comment; each user mentioned as @username gets "
                         "an in-app notification.")
    def comment(body, record_id):
        with db.transaction() as session:
            found_entity, record = _record(session, path, record_id)
            return timeline.add_comment(session, found_entity, record.id, body["body"])


for _path in PATHS:
    _add_routes(_path)
