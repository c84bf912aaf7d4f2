"""Printed PDFs of documents, kept so that printing an unchanged document again costs nothing,
and so that a large one can be rendered by a worker while the user waits (:mod:`crm.services.pdf`)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from crm.db import Model
from crm.models.base import utcnow


class PdfRender(Model):
    """The PDF of one printing of a document: ``html_sha256`` is the hash of the HTML it was
    rendered from (the document, its layout, the plugins' additions and the language), so a
    change to any of them prints anew. ``status`` is ``rendering`` (queued for a worker or being
    rendered, since ``started_at``), ``ready`` (``content`` holds the PDF) or ``failed``
    (``error`` says why). The row is also the lock that keeps two processes from rendering the
    same PDF twice."""

    __tablename__ = "pdf_renders"

    html_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(10))
    cells: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
