"""The accounting sync plugin's tables.

- ``accounting_sync_connections``: a configured accounting system; settings (JSON),
  secrets (Fernet-encrypted JSON, never shown back) and the engine's state (remote
  cursors per entity).
- ``accounting_sync_links``: the ID link table, one row per record and connection:
  local id <-> remote id, remote version, hashes and snapshots of the last synced
  state on both sides, and the record's sync status (ok, failed, waiting, conflict,
  skipped, deleted) with its error.
- ``accounting_sync_outbox``: local changes to send, written by the hooks in the same
  transaction as the change, one row per connection; a run deletes what it handled.
- ``accounting_sync_runs`` and ``accounting_sync_run_records``: the sync log.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Model
from crm.models.base import utcnow

LINK_STATUSES = ("ok", "failed", "waiting", "conflict", "skipped", "deleted")
RUN_STATUSES = ("queued", "running", "done", "failed")
DIRECTIONS = ("both", "to_remote", "from_remote", "none")
POLICIES = ("newest", "ours", "theirs", "manual")


class Connection(Model):
    """A configured accounting system (e.g. ``quickbooks``)."""

    __tablename__ = "accounting_sync_connections"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    connector: Mapped[str] = mapped_column(String(60))
    enabled: Mapped[bool] = mapped_column(default=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Fernet token of a JSON object (client secret, refresh token, ...); never returned
    secrets: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: the engine's memory: {"cursors": {entity: cursor}, "last_scheduled": iso}
    state: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Link(Model):
    """A record of ours and its twin on the remote side."""

    __tablename__ = "accounting_sync_links"
    __table_args__ = (
        UniqueConstraint("connection", "entity", "local_id", name="uq_accounting_sync_links_local"),
        UniqueConstraint("connection", "entity", "remote_id", name="uq_accounting_sync_links_remote"),
        Index("ix_accounting_sync_links_status", "connection", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(ForeignKey("accounting_sync_connections.name", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(30))
    local_id: Mapped[int | None] = mapped_column(Integer)
    remote_id: Mapped[str | None] = mapped_column(String(100))
    remote_version: Mapped[str | None] = mapped_column(String(100))
    #: hash of the canonical record on each side when last synced
    local_hash: Mapped[str | None] = mapped_column(String(64))
    remote_hash: Mapped[str | None] = mapped_column(String(64))
    #: the canonical records themselves (the base of the three-way compare)
    local_state: Mapped[dict | None] = mapped_column(JSON)
    remote_state: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="ok")
    #: the side that has work left: "to_remote", "from_remote" or None
    pending: Mapped[str | None] = mapped_column(String(12))
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    #: manual conflicts: {"fields": {...}, "ours": {...}, "theirs": {...}}; "resolution": ours|theirs
    conflict: Mapped[dict | None] = mapped_column(JSON)
    resolution: Mapped[str | None] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(200), default="")
    synced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Outbox(Model):
    """A local change not sent yet (one row per connection that sends this entity)."""

    __tablename__ = "accounting_sync_outbox"
    __table_args__ = (Index("ix_accounting_sync_outbox_connection", "connection", "entity", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(ForeignKey("accounting_sync_connections.name", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(30))
    local_id: Mapped[int] = mapped_column(Integer)
    #: "saved" or "deleted"
    op: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Run(Model):
    """One sync run: what it was asked, how far it got, and its counts."""

    __tablename__ = "accounting_sync_runs"
    __table_args__ = (Index("ix_accounting_sync_runs_connection", "connection", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(ForeignKey("accounting_sync_connections.name", ondelete="CASCADE"))
    entities: Mapped[list] = mapped_column(JSON, default=list)
    trigger: Mapped[str] = mapped_column(String(12), default="manual")  # manual, schedule, webhook
    mode: Mapped[str] = mapped_column(String(12), default="inline")     # inline, background
    status: Mapped[str] = mapped_column(String(10), default="queued")
    #: {entity: {"to_remote": {created, updated, deleted, skipped, failed}, "from_remote": {...}}}
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    #: {"entity": ..., "phase": ..., "done": n, "total": n}
    progress: Mapped[dict] = mapped_column(JSON, default=dict)
    http_calls: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    records: Mapped[list["RunRecord"]] = relationship(order_by="RunRecord.id", cascade="all, delete-orphan",
                                                      passive_deletes=True, lazy="raise_on_sql")


class RunRecord(Model):
    """What a run did to one record, and why."""

    __tablename__ = "accounting_sync_run_records"
    __table_args__ = (Index("ix_accounting_sync_run_records_run", "run_id", "entity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("accounting_sync_runs.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(30))
    side: Mapped[str] = mapped_column(String(12))     # to_remote | from_remote
    action: Mapped[str] = mapped_column(String(12))   # created, updated, deleted, skipped, failed, conflict, waiting
    local_id: Mapped[int | None] = mapped_column(Integer)
    remote_id: Mapped[str | None] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
