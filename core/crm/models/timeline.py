"""Comments on records, the part of a record's activity timeline people write (see
:mod:`crm.services.timeline`)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model
from crm.models.base import utcnow


class Comment(Model):
    """A comment on a record (``entity`` as the audit trail names it: ``accounts``, ``contacts``,
    ``vendors``, ``items``, ``documents``), with the users it mentions (``@username``)."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_record", "entity", "record_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    #: ids of the users mentioned
    mentions: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
