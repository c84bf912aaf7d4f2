"""Which plugins are enabled, plugin-namespaced settings, and the configuration's change stamp."""
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


class ConfigStamp(Model):
    """One row (``id`` 1) whose ``stamp``, a random text, is replaced by a trigger whenever a
    configuration table changes (settings, workflow rules, and the tables plugins declare with
    :func:`crm.migrate.watch_configuration`). A process keeps what it read of them across
    requests while the stamp a request reads is the one it read them under
    (:func:`crm.services.records.once_per_configuration`)."""

    __tablename__ = "config_stamp"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)   # always 1
    stamp: Mapped[str] = mapped_column(String(32))
