"""A record's activity timeline: one stream, newest first, of what happened to an account,
contact, vendor, item or document, merged from where each kind of event is kept:

- **comments** people write (``comments``), with ``@username`` mentions that notify the users
  mentioned (an in-app notification, ``notifications``);
- **changes** from the audit trail (created, the fields changed with their old and new values,
  deleted);
- **status changes** of a document (its status history, with who and why);
- **emails** sent about a document (the outbox, with their status);
- **plugin events** (hook ``crm_timeline_events``): the payments plugin adds an invoice's
  payments.

Services know nothing of HTTP; a mention's notification links to the record's page by its path.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.context import current_actor, current_actor_id
from crm.errors import NotFound, ValidationError
from crm.models import Account, AuditEntry, Contact, Document, Item, StatusChange, User, Vendor
from crm.models.base import utcnow
from crm.models.email import EmailMessage
from crm.models.timeline import Comment
from crm.services import hooks
from crm.services.doctypes import DOC_TYPES
from crm.services.email import outbox_status_label as email_status_label

#: the records that have a timeline, by the audit trail's entity names
MODELS: dict[str, type] = {"accounts": Account, "contacts": Contact, "vendors": Vendor, "items": Item,
                           "documents": Document}
MAX_COMMENT = 10_000
#: ``@name`` not preceded by a word character or another ``@`` (an email address is no mention)
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9_][A-Za-z0-9_.-]{0,79})")
#: events of one moment, newest first: what follows a creation comes before it
ORDER = {"created": 0, "status": 1, "changed": 2, "comment": 4, "deleted": 5}
#: the most events a timeline shows (the newest)
LIMIT = 200
#: audit columns that say nothing to a reader (computed, or shown by another event)
QUIET_COLUMNS = {"status", "subtotal", "discount_total", "taxable", "tax_total", "shipping", "shipping_tax",
                 "grand_total", "balance", "received", "extra_totals", "stock_moved", "updated_by_id"}


@dataclass(frozen=True)
class TimelineEvent:
    """One entry of a timeline. ``kind``: ``comment``, ``created``, ``changed``, ``deleted``,
    ``status``, ``email`` or a plugin's (``payment``); ``title`` and ``text`` are shown as they
    are (text, never HTML); ``changes``: field -> [old, new] for a change."""

    at: dt.datetime
    kind: str
    title: str
    text: str = ""
    user_id: int | None = None
    changes: dict = field(default_factory=dict)
    source: str = "core"


def record_of(session: Session, entity: str, record_id: int) -> Any:
    model = MODELS.get(entity)
    if model is None:
        raise NotFound(_("unknown kind of record %(entity)s", entity=entity[:40]))
    record = session.get(model, record_id)
    if record is None:
        raise NotFound(_("unknown record %(id)s", id=record_id))
    return record


def record_path(entity: str, record: Any) -> str:
    """The path of the record's page (``/invoices/3``)."""
    if entity == "documents":
        return f"/{DOC_TYPES[record.doc_type].path}/{record.id}"
    if entity == "items":
        kind = "bundles" if getattr(record, "is_bundle", False) else ("services" if record.kind == "service"
                                                                     else "products")
        return f"/{kind}/{record.id}"
    return f"/{entity}/{record.id}"


def record_title(entity: str, record: Any) -> str:
    if entity == "documents":
        return str(record.number)
    if entity == "contacts":
        return str(record.full_name)
    return str(record.name)


# --- comments ---------------------------------------------------------------------------------------

def mentioned_users(session: Session, body: str) -> list[User]:
    """The active users named ``@username`` in ``body`` (unknown names stay plain text)."""
    names = {name.rstrip(".-").lower() for name in MENTION.findall(body)}
    if not names:
        return []
    return list(session.scalars(select(User).where(User.active.is_(True), func.lower(User.username).in_(names))
                                .order_by(User.id)))


def add_comment(session: Session, entity: str, record_id: int, body: str) -> Comment:
    """Write a comment on a record; each user it mentions (other than its writer) gets a
    notification linking to the record's page."""
    record = record_of(session, entity, record_id)
    text = (body or "").strip()
    if not text:
        raise ValidationError.for_field("body", _("a comment cannot be empty"))
    if len(text) > MAX_COMMENT:
        raise ValidationError.for_field("body", _("at most %(count)s characters", count=MAX_COMMENT))
    if "\x00" in text:
        raise ValidationError.for_field("body", _("must not contain NUL characters"))
    mentioned = mentioned_users(session, text)
    comment = Comment(entity=entity, record_id=record_id, user_id=current_actor_id(), body=text,
                      mentions=[user.id for user in mentioned], created_at=utcnow())
    session.add(comment)
    session.flush()
    _notify_mentions(session, entity, record, comment, mentioned)
    return comment


def _notify_mentions(session: Session, entity: str, record: Any, comment: Comment, users: Iterable[User]) -> None:
    from crm.models import Notification
    actor = current_actor()
    writer = (getattr(actor, "full_name", "") or getattr(actor, "username", "")) or _("someone")
    for user in users:
        if user.id == comment.user_id:
            continue
        session.add(Notification(user_id=user.id, title=_("%(who)s mentioned you on %(record)s", who=writer,
                                                          record=record_title(entity, record))[:250],
                                 body=comment.body[:2000], link=record_path(entity, record),
                                 source=f"mention:{comment.id}"))
    session.flush()


# --- the timeline -----------------------------------------------------------------------------------

def timeline(session: Session, entity: str, record_id: int, limit: int = LIMIT) -> list[TimelineEvent]:
    """Every event of the record, newest first (at most ``limit``)."""
    record_of(session, entity, record_id)
    events = [*_comments(session, entity, record_id), *_audit(session, entity, record_id)]
    if entity == "documents":
        events += [*_statuses(session, record_id), *_emails(session, record_id)]
    for batch in hooks.call("crm_timeline_events", session=session, entity=entity, record_id=record_id):
        events.extend(_plugin_event(item) for item in batch or [])
    events.sort(key=lambda event: (event.at, ORDER.get(event.kind, 3)), reverse=True)
    return events[:limit]


def _comments(session: Session, entity: str, record_id: int) -> list[TimelineEvent]:
    rows = session.scalars(select(Comment).where(Comment.entity == entity, Comment.record_id == record_id)
                           .order_by(Comment.id.desc()).limit(LIMIT))
    return [TimelineEvent(row.created_at, "comment", _("Comment"), row.body, row.user_id) for row in rows]


def _audit(session: Session, entity: str, record_id: int) -> list[TimelineEvent]:
    rows = session.scalars(select(AuditEntry).where(AuditEntry.entity == entity,
                                                    AuditEntry.entity_id == str(record_id))
                           .order_by(AuditEntry.id.desc()).limit(LIMIT))
    found = []
    titles = {"create": _("Created"), "update": _("Changed"), "delete": _("Deleted")}
    for row in rows:
        changes = {key: value for key, value in (row.changes or {}).items()
                   if not (row.action == "update" and key in QUIET_COLUMNS)}
        if row.action == "update" and not changes:
            continue
        kind = {"create": "created", "update": "changed", "delete": "deleted"}.get(row.action, row.action)
        found.append(TimelineEvent(row.at, kind, titles.get(row.action, row.action), user_id=row.user_id,
                                   changes=changes if row.action == "update" else {}))
    return found


def _statuses(session: Session, document_id: int) -> list[TimelineEvent]:
    from crm.labels import status_label
    rows = session.scalars(select(StatusChange).where(StatusChange.document_id == document_id,
                                                      StatusChange.from_status.is_not(None))  # the first: "created"
                           .order_by(StatusChange.id.desc()).limit(LIMIT))
    return [TimelineEvent(row.at, "status",
                          _("Status: %(old)s → %(new)s", old=status_label(row.from_status or ""),
                            new=status_label(row.to_status)),
                          row.note or "", row.user_id) for row in rows]


def _emails(session: Session, document_id: int) -> list[TimelineEvent]:
    rows = session.scalars(select(EmailMessage).where(EmailMessage.record_type == "document",
                                                      EmailMessage.record_id == document_id)
                           .order_by(EmailMessage.id.desc()).limit(LIMIT))
    return [TimelineEvent(row.sent_at or row.created_at, "email",
                          _("Email to %(to)s (%(status)s)", to=", ".join(row.to), status=email_status_label(row.status)),
                          row.subject, row.created_by_id) for row in rows]


def _plugin_event(item: Mapping[str, Any] | TimelineEvent) -> TimelineEvent:
    if isinstance(item, TimelineEvent):
        return item
    at = item["at"]
    if isinstance(at, dt.date) and not isinstance(at, dt.datetime):
        at = dt.datetime.combine(at, dt.time(), dt.timezone.utc)
    elif at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return TimelineEvent(at, str(item.get("kind") or "event"), str(item.get("title") or ""), str(item.get("text") or ""),
                         item.get("user_id"), source=str(item.get("source") or "plugin"))
