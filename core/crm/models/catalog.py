"""Taxes, items (products, services, bundles), price books and custom fields."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Model
from crm.models.base import Money, Quantity, Rate, Timestamps, Versioned

TAX_APPLIES_TO = ("items", "shipping", "both")
ITEM_KINDS = ("product", "service")


class Tax(Versioned, Timestamps, Model):
    __tablename__ = "taxes"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    rate: Mapped[Decimal] = mapped_column(Rate)
    active: Mapped[bool] = mapped_column(default=True)
    applies_to: Mapped[str] = mapped_column(String(10), default="items")


item_taxes = Table(
    "item_taxes", Model.metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("tax_id", ForeignKey("taxes.id"), primary_key=True),
)


class Item(Versioned, Timestamps, Model):
    """A product (has stock; a bundle when it has components) or a service (never has stock).

    ``on_hand`` and ``reserved`` cache the stock ledger (``stock_moves``) and are
    updated in the same transaction as every move."""

    __tablename__ = "items"
    __audited__ = True
    __table_args__ = (
        Index("ix_items_kind_active", "kind", "active"),
        Index("ix_items_kind_id", "kind", "id"),  # a page of products or services in id order
        Index("ix_items_category", "category", "subcategory"),
        Index("ix_items_manufacturer", "manufacturer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: product or service
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200), index=True)
    #: the stock keeping unit, unique when given
    sku: Mapped[str | None] = mapped_column(String(100), unique=True)
    #: the list price, before taxes
    unit_price: Mapped[Decimal] = mapped_column(Money)
    #: what a purchase order line of it costs
    purchase_cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    usage_unit: Mapped[str] = mapped_column(String(30), default="")
    qty_per_unit: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("1"))
    #: free text, used by the item search and the reports (no category table)
    category: Mapped[str] = mapped_column(String(100), default="")
    subcategory: Mapped[str] = mapped_column(String(100), default="")
    manufacturer: Mapped[str] = mapped_column(String(100), default="")
    #: its usual supplier
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), index=True)
    #: on hand at or below it: low stock
    reorder_level: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    #: replenishment orders up to it (at least up to the reorder level): :mod:`crm.services.replenishment`
    reorder_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"), server_default="0")
    active: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: a product made of its components (no stock of its own)
    is_bundle: Mapped[bool] = mapped_column(default=False)
    #: products: the sum of the stock moves (kept by crm.services.stock)
    on_hand: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    #: products: held for approved sales orders
    reserved: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    #: custom field values (key -> value)
    custom: Mapped[dict] = mapped_column(JSON, default=dict)

    taxes: Mapped[list[Tax]] = relationship(secondary=item_taxes, order_by=Tax.id)
    components: Mapped[list["BundleComponent"]] = relationship(
        foreign_keys="BundleComponent.bundle_id", cascade="all, delete-orphan",
        order_by="BundleComponent.component_id")

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


#: PostgreSQL only (migration core_0003, where pg_trgm is available): trigram indexes
#: serve the ``?q=`` search of products and services, ``lower(column) LIKE '%q%'``.
for _column in ("name", "sku", "description"):
    Index(f"ix_items_{_column}_trgm", func.lower(Item.__table__.c[_column]).label(f"{_column}_lower"),
          postgresql_using="gin", postgresql_ops={f"{_column}_lower": "gin_trgm_ops"}).ddl_if(dialect="postgresql")
del _column


class BundleComponent(Model):
    """A product inside a bundle, with the quantity of it per bundle."""

    __tablename__ = "bundle_components"

    bundle_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True, index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)

    component: Mapped[Item] = relationship(foreign_keys=[component_id])


class PriceBook(Versioned, Timestamps, Model):
    __tablename__ = "price_books"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    active: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str] = mapped_column(Text, default="")

    prices: Mapped[list["PriceBookEntry"]] = relationship(cascade="all, delete-orphan",
                                                          order_by="PriceBookEntry.item_id")


class PriceBookEntry(Model):
    __tablename__ = "price_book_entries"

    price_book_id: Mapped[int] = mapped_column(ForeignKey("price_books.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True, index=True)
    list_price: Mapped[Decimal] = mapped_column(Money)


CUSTOM_FIELD_ENTITIES = ("accounts", "contacts", "vendors", "items", "documents")
CUSTOM_FIELD_TYPES = ("text", "number", "decimal", "date", "boolean", "select")


class CustomField(Timestamps, Model):
    """An admin-defined field on a kind of record; values live in each record's ``custom``."""

    __tablename__ = "custom_fields"
    __audited__ = True
    __table_args__ = (UniqueConstraint("entity", "key", name="uq_custom_fields_entity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(10))
    choices: Mapped[list] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
