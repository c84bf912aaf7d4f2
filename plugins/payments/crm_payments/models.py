"""The payments plugin's tables."""
from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model


class PaymentStatus(Model):
    """An admin-managed payment status and what it means for the balance."""

    __tablename__ = "payments_statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    counts_as_received: Mapped[bool] = mapped_column(default=False)
    is_refund: Mapped[bool] = mapped_column(default=False)
    is_scheduled: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class PaymentMethod(Model):
    """An admin-managed payment type (cash, check, ...)."""

    __tablename__ = "payments_methods"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
