"""The stock ledger and recurring invoice schedules."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from crm.db import Model
from crm.models.base import Quantity, utcnow

MOVE_KINDS = ("receipt", "shipment", "adjustment", "bundle_component", "return")
ADJUSTMENT_REASONS = ("damaged", "lost", "found", "count_correction", "other")


class StockMove(Model):
    """One change of a product's stock; on hand is the sum of its moves."""

    __tablename__ = "stock_moves"
    __table_args__ = (Index("ix_stock_moves_product_at", "product_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(30), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), index=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("document_lines.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: lets SQLite insert many moves in one statement (SQLAlchemy's insert sentinel)
    _sentinel: Mapped[int] = orm_insert_sentinel()

    product = relationship("Item")


FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "every_4_months", "half_yearly", "yearly")


class RecurringSchedule(Model):
    """A sales order's recurring invoicing."""

    __tablename__ = "recurring_schedules"

    sales_order_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    invoice_status: Mapped[str] = mapped_column(String(30), default="AutoCreated")
    active: Mapped[bool] = mapped_column(default=True)


class RecurringRun(Model):
    """One invoice created for one period: the unique key makes it exactly once."""

    __tablename__ = "recurring_runs"
    __table_args__ = (UniqueConstraint("sales_order_id", "period_date", name="uq_recurring_runs_order_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sales_order_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    period_date: Mapped[dt.date] = mapped_column(Date)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
