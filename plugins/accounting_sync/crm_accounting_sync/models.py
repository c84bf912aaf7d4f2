"""The accounting sync plugin's tables."""
from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model


class Connection(Model):
    """A configured accounting system (e.g. ``quickbooks``)."""

    __tablename__ = "accounting_sync_connections"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    connector: Mapped[str] = mapped_column(String(60))
    enabled: Mapped[bool] = mapped_column(default=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
