"""The warehouses plugin's tables (all prefixed ``warehouses_``).

* ``warehouses_warehouses``: the warehouses (code, name, address, active), each with its core
  stock location (``stock_locations``, plugin ``warehouses``, code = the warehouse's code).
* ``warehouses_documents``: the warehouse of a purchase order (receipts go there), a sales order
  (reservations and shipments come from there) or a direct invoice (its stock goes out there).
* ``warehouses_user_defaults``: the warehouse a user works in: new documents get it.
* ``warehouses_transfers`` and ``warehouses_transfer_lines``: transfers of stock from one warehouse
  to another (draft, shipped: the stock is in transit, received, cancelled) and their products.
* ``warehouses_reorder_levels``: a product's reorder level and reorder quantity in one warehouse
  (else the product's own apply there).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Model
from crm.models.base import Quantity, Timestamps

#: the ``plugin`` of the core stock locations this plugin makes (one per warehouse, ``code`` = its code)
LOCATION_PLUGIN = "warehouses"
CODE_LENGTH = 20


class Warehouse(Timestamps, Model):
    """A warehouse. An inactive one keeps its stock and history but is offered for nothing new."""

    __tablename__ = "warehouses_warehouses"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    #: short and unique (letters, digits, ``-``, ``_``): the code of its stock location too
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    #: its core stock location (``stock_locations``: plugin "warehouses", code = its code), made with it
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), unique=True)


#: the document types that have a warehouse
DOC_TYPES = ("purchase_order", "sales_order", "invoice")
#: the key of a line's ``custom`` dict naming (by code) the warehouse of that line, instead of its document's
LINE_KEY = "warehouses_warehouse"


class DocumentWarehouse(Model):
    """The warehouse of a document (one of :data:`DOC_TYPES`)."""

    __tablename__ = "warehouses_documents"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses_warehouses.id"), index=True)


class UserDefault(Model):
    """The warehouse a user works in (their new documents get it)."""

    __tablename__ = "warehouses_user_defaults"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses_warehouses.id", ondelete="CASCADE"), index=True)


#: a transfer's statuses: a draft moves nothing; shipping moves its stock from the source warehouse
#: into transit; receiving (in part or whole) from transit into the destination, and once all
#: has arrived it is received; cancelling a shipped one returns what is still in transit
TRANSFER_STATUSES = ("draft", "shipped", "received", "cancelled")
#: the code of the plugin's one "in transit" stock location (no warehouse code can start with ``~``)
TRANSIT_CODE = "~transit"


class Transfer(Timestamps, Model):
    """Stock sent from one warehouse to another."""

    __tablename__ = "warehouses_transfers"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``TR-0001``, ... (the plugin's sequence ``warehouses_transfer``)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    from_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses_warehouses.id"), index=True)
    to_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses_warehouses.id"), index=True)
    #: one of :data:`TRANSFER_STATUSES`
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    shipped_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: when the last of it arrived
    received_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    lines: Mapped[list[TransferLine]] = relationship(order_by="TransferLine.position", cascade="all, delete-orphan",
                                                     lazy="selectin")


class TransferLine(Model):
    """A product of a transfer: how much is sent and how much has arrived."""

    __tablename__ = "warehouses_transfer_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("warehouses_transfers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    product_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    qty_received: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))

    product = relationship("Item", lazy="joined")


class ReorderLevel(Model):
    """A product's reorder level and reorder quantity in one warehouse (instead of the product's own there)."""

    __tablename__ = "warehouses_reorder_levels"

    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses_warehouses.id", ondelete="CASCADE"),
                                              primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, index=True)
    #: the product is low in the warehouse when its available quantity there is at or under it
    reorder_level: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    #: replenishment orders the warehouse up to it (at least up to the reorder level)
    reorder_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))


#: the kinds of a warehouse's locations, outermost first: a node's parent is of an earlier kind,
#: and only bins hold stock
BIN_KINDS = ("zone", "aisle", "shelf", "bin")
#: joins the codes of a bin's ancestors and its own into its path ("A / 03 / 2 / B1")
PATH_SEPARATOR = " / "
BIN_CODE_LENGTH = 20
#: the key of a purchase order line's ``custom`` dict naming (by id) the bin its receipts go into
BIN_KEY = "warehouses_bin"


class Bin(Timestamps, Model):
    """A location inside a warehouse: a zone, aisle, shelf or bin, in a tree per warehouse. Only
    a bin holds stock; the warehouse's core stock location stays the one the core knows, and
    the bins break down its on-hand stock (what no bin holds is "not put away")."""

    __tablename__ = "warehouses_bins"
    __audited__ = True
    __table_args__ = (UniqueConstraint("warehouse_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses_warehouses.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses_bins.id"), index=True)
    #: one of :data:`BIN_KINDS`
    kind: Mapped[str] = mapped_column(String(10))
    #: letters, digits, ``-``, ``_``, ``.``; unique among its siblings
    code: Mapped[str] = mapped_column(String(BIN_CODE_LENGTH))
    name: Mapped[str] = mapped_column(String(200), default="")
    #: its ancestors' codes and its own, joined by :data:`PATH_SEPARATOR`: shown, and the picking order
    path: Mapped[str] = mapped_column(String(200))
    #: an inactive node (or one under an inactive node) takes no stock; it holds none either
    active: Mapped[bool] = mapped_column(default=True)


class BinStock(Model):
    """How much of a product a bin holds (summed over a warehouse's bins: at most its on hand there)."""

    __tablename__ = "warehouses_bin_stock"

    bin_id: Mapped[int] = mapped_column(ForeignKey("warehouses_bins.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))


class DefaultBin(Model):
    """The bin a product's receipts into a warehouse are put away in."""

    __tablename__ = "warehouses_default_bins"

    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses_warehouses.id", ondelete="CASCADE"),
                                              primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, index=True)
    bin_id: Mapped[int] = mapped_column(ForeignKey("warehouses_bins.id", ondelete="CASCADE"), index=True)


#: the plugin's tables
TABLES = [Warehouse.__table__, DocumentWarehouse.__table__, UserDefault.__table__, Transfer.__table__,
          TransferLine.__table__, ReorderLevel.__table__, Bin.__table__, BinStock.__table__, DefaultBin.__table__]
