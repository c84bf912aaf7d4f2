"""The stock ledger and recurring invoice schedules."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from crm.db import Model
from crm.models.base import Quantity, utcnow

#: the core's one location (``stock_locations`` row 1, made by migration core_0018): where stock is
#: when no plugin chooses another; never shown while no plugin manages locations
DEFAULT_LOCATION_ID = 1

#: ``transfer``: one of the pair of moves of :func:`crm.services.stock.move_between` (out of one location, into another)
MOVE_KINDS = ("receipt", "shipment", "adjustment", "bundle_component", "return", "transfer")
ADJUSTMENT_REASONS = ("damaged", "lost", "found", "count_correction", "other")


class StockLocation(Model):
    """A place stock is kept. The core has one, the default (id 1, ``plugin`` ""); a plugin
    (warehouses, bins) makes more with :func:`crm.services.stock.location`, known by its
    ``plugin`` and ``code``."""

    __tablename__ = "stock_locations"
    __table_args__ = (UniqueConstraint("plugin", "code", name="uq_stock_locations_plugin_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the plugin that manages it; "" for the core's default location
    plugin: Mapped[str] = mapped_column(String(60), default="")
    #: the plugin's key for it (unique per plugin); "default" for the core's
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StockBalance(Model):
    """A product's stock at one location: ``on_hand`` is the sum of its moves there, ``reserved``
    what sales order lines hold there. Summed over the locations they equal ``items.on_hand`` and
    ``items.reserved``, and change with them in the same transaction."""

    __tablename__ = "stock_balances"

    product_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), primary_key=True, index=True)
    on_hand: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    reserved: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))


class StockMove(Model):
    """One change of a product's stock; on hand is the sum of its moves."""

    __tablename__ = "stock_moves"
    __table_args__ = (Index("ix_stock_moves_product_at", "product_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    #: signed: positive into stock, negative out of it
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    #: receipt, shipment, adjustment, bundle_component (a bundle's component), return or transfer (a pair:
    #: out of one location, into another)
    kind: Mapped[str] = mapped_column(String(20))
    #: an adjustment's reason (damaged, lost, found, count_correction, other); invoice / invoice cancelled for a direct invoice; a component's: its line's move
    reason: Mapped[str] = mapped_column(String(30), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    #: the order or invoice it came from; None for an adjustment
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), index=True)
    #: where the stock came in or went out (the default location unless a plugin chose another)
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), default=DEFAULT_LOCATION_ID,
                                             server_default=text(str(DEFAULT_LOCATION_ID)), index=True)
    #: the document line it came from
    line_id: Mapped[int | None] = mapped_column(ForeignKey("document_lines.id", ondelete="SET NULL"))
    #: who recorded it; None for the system
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
