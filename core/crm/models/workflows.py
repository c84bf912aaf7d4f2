"""Workflows: the admins' rules (trigger, conditions, actions), their runs (one per rule, record,
trigger and period: the run log), and the in-app notifications their actions leave for users
(see docs/workflows.md)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model
from crm.models.base import Timestamps, Versioned, utcnow

#: queued (waiting for a worker), running (a worker holds it), retry (an action failed in a way
#: that may pass: waiting for its next attempt), done, failed (an action failed for good)
RUN_STATUSES = ("queued", "running", "retry", "done", "failed")


class WorkflowRule(Versioned, Timestamps, Model):
    """An admin's rule: when ``trigger`` happens to a record of ``entity`` and ``conditions``
    hold, run ``actions`` (in the job queue). ``trigger``: ``{"event": "created" | "updated" |
    "status_changed" | "deleted" | "date" | a plugin's trigger key, "to_status", "field",
    "offset_days"}``; ``conditions``: ``{"match": "all" | "any", "items": [...]}``; ``actions``:
    a list of ``{"type": ..., ...}`` (docs/workflows.md)."""

    __tablename__ = "workflow_rules"
    __table_args__ = (Index("ix_workflow_rules_entity_event", "entity", "event", "enabled"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the records it watches: ``accounts``, ``contacts``, ``vendors``, ``items``, ``quotes``,
    #: ``sales-orders``, ``purchase-orders``, ``invoices`` (the ``crm_record_saved`` entities)
    entity: Mapped[str] = mapped_column(String(60))
    #: ``trigger["event"]``, kept apart for the index the hooks look rules up by
    event: Mapped[str] = mapped_column(String(60))
    trigger: Mapped[dict] = mapped_column(JSON, default=dict)
    conditions: Mapped[dict] = mapped_column(JSON, default=dict)
    actions: Mapped[list] = mapped_column(JSON, default=list)
    #: the key its webhooks sign their bodies with (HMAC-SHA256), encrypted
    #: (:func:`crm.security.encrypt_secret`); "" until a webhook action needs one
    webhook_secret: Mapped[str] = mapped_column(Text, default="")
    #: a shipped example's key (``overdue_invoice_reminder``...), "" for an admin's own rule
    example: Mapped[str] = mapped_column(String(60), default="")


class WorkflowRun(Model):
    """A rule's run for one record, trigger and period: made (``queued``) in the transaction of
    the change that fired it, once: the unique key refuses a second. ``steps`` says, action by
    action, what was done or why not; an action done is never done again when the run resumes."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        UniqueConstraint("rule_id", "entity", "record_id", "event", "period", name="uq_workflow_runs_once"),
        Index("ix_workflow_runs_status_due", "status", "next_attempt_at"),
        Index("ix_workflow_runs_rule", "rule_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("workflow_rules.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(60))
    #: "" for an event; the date reached for a date trigger (``2027-01-31``); a day for
    #: triggers that may come back (a stock level)
    period: Mapped[str] = mapped_column(String(30), default="")
    #: the record's fields when it fired (what the conditions matched)
    snapshot: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the conditions that matched, as words
    matched: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: one entry per action: ``{"action": i, "type", "status": "done" | "failed" | "retry", "detail", "at"}``
    steps: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Notification(Model):
    """A message in a user's in-app notifications (the bell in the top bar)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(250))
    body: Mapped[str] = mapped_column(Text, default="")
    #: a path inside the app (``/invoices/3``), or ""
    link: Mapped[str] = mapped_column(String(300), default="")
    #: what left it: ``workflow:<rule id>``
    source: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
