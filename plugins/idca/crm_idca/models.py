"""The IDCA plugin's tables.

* ``idca_layouts`` -- the current layout of each document type (``doc_type`` is the core's
  name: ``quote``, ``sales_order``, ``purchase_order``, ``invoice``); ``version`` goes up by one
  on every save.
* ``idca_layout_versions`` -- every saved version, never changed: documents already issued keep
  being shown and printed with the version they were computed with.
* ``idca_document_layouts`` -- the layout version a document was last computed with, and the
  errors of its custom totals (a total that could not be computed is stored as null).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model


class Layout(Model):
    """The line columns and totals of one document type."""

    __tablename__ = "idca_layouts"

    doc_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    columns: Mapped[list] = mapped_column(JSON, default=list)
    totals: Mapped[list] = mapped_column(JSON, default=list)
    #: the custom field types the formulas were checked against: {"item": {key: type}, "doc": {...}}
    fields: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by_id: Mapped[int | None]


class LayoutVersion(Model):
    """A saved version of a layout (a snapshot; never changed)."""

    __tablename__ = "idca_layout_versions"

    doc_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    columns: Mapped[list] = mapped_column(JSON, default=list)
    totals: Mapped[list] = mapped_column(JSON, default=list)
    fields: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class DocumentLayout(Model):
    """The layout version a document was computed with (issued documents stay on it)."""

    __tablename__ = "idca_document_layouts"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True,
                                             autoincrement=False)
    doc_type: Mapped[str] = mapped_column(String(30))
    layout_version: Mapped[int]
    #: custom totals that could not be computed: {key: message}
    total_errors: Mapped[dict] = mapped_column(JSON, default=dict)
