"""Which plugins are enabled, and plugin-namespaced settings."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model
from crm.models.base import utcnow


class PluginState(Model):
    """A row per plugin that was ever enabled or disabled; no row means enabled."""

    __tablename__ = "plugin_states"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Setting(Model):
    """A setting value (JSON) under a namespace: ``core`` or a plugin id."""

    __tablename__ = "settings"

    namespace: Mapped[str] = mapped_column(String(60), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[object] = mapped_column(JSON)
