"""The IDCA plugin's tables."""
from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model


class Layout(Model):
    """The line columns and totals of one document type."""

    __tablename__ = "idca_layouts"

    doc_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    columns: Mapped[list] = mapped_column(JSON, default=list)
    totals: Mapped[list] = mapped_column(JSON, default=list)
