"""Imports of spreadsheets (:mod:`crm.services.imports`): each run with what it created and
updated (so that it can be undone), and the column mappings saved for reuse."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from crm.db import Model
from crm.models.base import utcnow

IMPORT_STATUSES = ("draft", "queued", "running", "done", "failed", "undone")


class ImportRun(Model):
    """One import of one file: its options, its progress and its outcome. ``file_data`` keeps
    the uploaded file until the import has run (the worker may run on another machine)."""

    __tablename__ = "import_runs"
    __table_args__ = (Index("ix_import_runs_entity_created", "entity", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(30))
    filename: Mapped[str] = mapped_column(String(255), default="")
    #: draft (uploaded, not run), queued, running, done, failed, undone
    status: Mapped[str] = mapped_column(String(10), default="draft")
    #: column header -> field, the duplicate key and action, partial, locale
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    rejected_count: Mapped[int] = mapped_column(default=0)
    #: the first errors (row, column, reason), for the history and the API
    errors: Mapped[list] = mapped_column(JSON, default=list)
    #: why the whole import failed, in one line
    message: Mapped[str] = mapped_column(Text, default="")
    #: the CSV of the rejected rows (partial imports)
    rejects: Mapped[str | None] = deferred(mapped_column(Text))
    file_data: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    undone_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ImportRow(Model):
    """A record an import created or updated (``previous``: its values before), or a stock
    move it made: what undoing the import reverts."""

    __tablename__ = "import_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"), index=True)
    row: Mapped[int] = mapped_column()
    #: created, updated or moved
    action: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int] = mapped_column()
    #: price book entries: the item (record_id is the price book)
    item_id: Mapped[int | None] = mapped_column()
    previous: Mapped[dict] = mapped_column(JSON, default=dict)


class ImportMapping(Model):
    """A column mapping saved by name for an entity: header -> field."""

    __tablename__ = "import_mappings"
    __table_args__ = (UniqueConstraint("entity", "name", name="uq_import_mappings_entity_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100))
    columns: Mapped[dict] = mapped_column(JSON, default=dict)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
