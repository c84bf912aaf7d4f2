"""Quotes, sales orders, purchase orders and invoices: one shape, one table.

``doc_type`` tells them apart; what differs per type (statuses, numbering,
party) is described in :mod:`crm.services.doctypes`. Amounts on documents and
lines are computed by :mod:`crm.totals` and stored, rounded, so lists and
reports read them without recomputing.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from crm.db import Model
from crm.models.base import Money, Quantity, Rate, Timestamps, Versioned, utcnow

DOC_TYPES = ("quote", "sales_order", "purchase_order", "invoice")
TAX_MODES = ("individual", "group")


class Document(Versioned, Timestamps, Model):
    __tablename__ = "documents"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("doc_type", "number", name="uq_documents_doc_type_number"),
        Index("ix_documents_type_status", "doc_type", "status"),
        Index("ix_documents_type_created", "doc_type", "created_at"),
        Index("ix_documents_type_id", "doc_type", "id"),  # lists: newest first, a page at a time
        Index("ix_documents_source", "source_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(30))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    billing_address: Mapped[dict] = mapped_column(JSON, default=dict)
    shipping_address: Mapped[dict] = mapped_column(JSON, default=dict)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    conversion_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("1"))
    tax_mode: Mapped[str] = mapped_column(String(10), default="individual")
    #: tax snapshots ``[{"id", "name", "rate"}]``, frozen with the document
    group_taxes: Mapped[list] = mapped_column(JSON, default=list)
    shipping_taxes: Mapped[list] = mapped_column(JSON, default=list)
    discount_percent: Mapped[Decimal | None] = mapped_column(Rate)
    discount_amount: Mapped[Decimal | None] = mapped_column(Money)
    shipping_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    adjustment: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    terms: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    invoice_date: Mapped[dt.date | None] = mapped_column(Date)
    # computed totals, stored rounded
    subtotal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    discount_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    taxable: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    tax_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    shipping: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    shipping_tax: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    grand_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: extra totals contributed by plugins (name -> decimal string)
    extra_totals: Mapped[dict] = mapped_column(JSON, default=dict)
    # invoices
    received: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: a direct invoice's stock moved out (it left Created)
    stock_moved: Mapped[bool] = mapped_column(default=False)
    custom: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    lines: Mapped[list["DocumentLine"]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="DocumentLine.position")
    history: Mapped[list["StatusChange"]] = relationship(
        cascade="all, delete-orphan", order_by="StatusChange.id")
    source: Mapped["Document | None"] = relationship(remote_side=[id])
    account = relationship("Account")
    vendor = relationship("Vendor")
    contact = relationship("Contact")

    @property
    def party_id(self) -> int | None:
        return self.vendor_id if self.doc_type == "purchase_order" else self.account_id


class DocumentLine(Model):
    """A line of a document. ``display_type`` is None for an item line, or
    ``section`` / ``subtotal`` / ``note`` for rows without amounts."""

    __tablename__ = "document_lines"
    __table_args__ = (Index("ix_document_lines_document", "document_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    display_type: Mapped[str | None] = mapped_column(String(10))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    #: the line of the source document this line came from (SO line of an invoice line, ...)
    source_line_id: Mapped[int | None] = mapped_column(ForeignKey("document_lines.id", ondelete="SET NULL"),
                                                       index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    unit_price: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    discount_percent: Mapped[Decimal | None] = mapped_column(Rate)
    discount_amount: Mapped[Decimal | None] = mapped_column(Money)
    #: tax snapshots ``[{"id", "name", "rate"}]``
    taxes: Mapped[list] = mapped_column(JSON, default=list)
    gross: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    net: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    tax: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # order processing
    qty_reserved: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    qty_shipped: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    qty_invoiced: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    qty_received: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    #: values of plugin columns (IDCA), computed or entered
    custom: Mapped[dict] = mapped_column(JSON, default=dict)
    #: lets SQLite insert many lines in one statement (SQLAlchemy's insert sentinel)
    _sentinel: Mapped[int] = orm_insert_sentinel()

    document: Mapped[Document] = relationship(back_populates="lines")
    item = relationship("Item")


class StatusChange(Model):
    __tablename__ = "document_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str] = mapped_column(String(200), default="")

    user = relationship("User")


class Sequence(Model):
    """Document numbering: the next number per document type, taken under a row lock."""

    __tablename__ = "sequences"

    doc_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(20))
    padding: Mapped[int] = mapped_column(default=4)
    next_value: Mapped[int] = mapped_column(default=1)


class IdempotencyKey(Model):
    """A creating request already answered: the same key and body get the same answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "scope", "key", name="uq_idempotency_keys_user_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
