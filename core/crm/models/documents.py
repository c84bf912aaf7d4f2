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
from crm.models.parties import search_text_index

#: the values of ``Document.doc_type`` (what each type of document is and does:
#: ``crm.services.doctypes.DOC_TYPES``)
DOC_TYPE_NAMES = ("quote", "sales_order", "purchase_order", "invoice")
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
    #: quote, sales_order, purchase_order or invoice (crm.services.doctypes)
    doc_type: Mapped[str] = mapped_column(String(20))
    #: from the type's sequence (QUO-0001, ...), unique per type, never reused
    number: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), default="")
    #: the customer's own order reference (their purchase order number)
    customer_reference: Mapped[str] = mapped_column(String(100), default="", server_default="")
    #: one of the type's statuses (crm.services.doctypes), stored in English
    status: Mapped[str] = mapped_column(String(30))
    #: the customer (quotes, sales orders, invoices)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    #: the supplier (purchase orders)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), index=True)
    #: a contact of the account; on a purchase order a contact linked to no account
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    #: the document this one was made from (a quote's sales order, an order's invoice, ...)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    #: ``{street, city, state, postal_code, country}``
    billing_address: Mapped[dict] = mapped_column(JSON, default=dict)
    shipping_address: Mapped[dict] = mapped_column(JSON, default=dict)
    #: ISO 4217 code; amounts are rounded to its precision
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    conversion_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("1"))
    #: individual (taxes per line) or group (the document's group_taxes on the subtotal)
    tax_mode: Mapped[str] = mapped_column(String(10), default="individual")
    #: tax snapshots ``[{"id", "name", "rate"}]``, frozen with the document
    group_taxes: Mapped[list] = mapped_column(JSON, default=list)
    shipping_taxes: Mapped[list] = mapped_column(JSON, default=list)
    #: the document discount, as a percentage or (discount_amount) an amount
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
    #: the sum of the lines' net amounts
    subtotal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: the document discount
    discount_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: subtotal - discount_total
    taxable: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: the taxes of the lines (or of the group) after the document discount
    tax_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: shipping_amount, and shipping_tax its taxes
    shipping: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    shipping_tax: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: taxable + tax_total + shipping + shipping_tax + adjustment
    grand_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: extra totals contributed by plugins (name -> decimal string)
    extra_totals: Mapped[dict] = mapped_column(JSON, default=dict)
    # invoices
    #: invoices: what was paid (kept by hand, or by a payments plugin)
    received: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: invoices: grand_total - received (nothing once cancelled)
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: a direct invoice's stock moved out (it left Created)
    stock_moved: Mapped[bool] = mapped_column(default=False)
    #: custom field values (key -> value)
    custom: Mapped[dict] = mapped_column(JSON, default=dict)
    #: who created it; None when a job made it
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: who changed it last
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: the user responsible for it (set by a list's "Assign"); None: nobody in particular
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)

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
    #: the line's place in the document, from 0
    position: Mapped[int] = mapped_column(default=0)
    display_type: Mapped[str | None] = mapped_column(String(10))
    #: the product, service or bundle (None on section, subtotal and note rows)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    #: the line of the source document this line came from (SO line of an invoice line, ...)
    source_line_id: Mapped[int | None] = mapped_column(ForeignKey("document_lines.id", ondelete="SET NULL"),
                                                       index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    #: in the item's units (bundles for a bundle)
    quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    #: before discount and taxes
    unit_price: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: the line discount, as a percentage or (discount_amount) an amount
    discount_percent: Mapped[Decimal | None] = mapped_column(Rate)
    discount_amount: Mapped[Decimal | None] = mapped_column(Money)
    #: tax snapshots ``[{"id", "name", "rate"}]``
    taxes: Mapped[list] = mapped_column(JSON, default=list)
    #: quantity x unit_price
    gross: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: the line discount, as an amount
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: gross - discount: the line's amount before taxes (rounded to the currency)
    net: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: the line's taxes (individual tax mode)
    tax: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: net + tax
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # order processing
    #: sales orders: held in stock for this line
    qty_reserved: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    #: sales orders: the stock location of the line's reservation, which its shipments take from
    #: (set when it first reserves; None: never reserved, the default location)
    stock_location_id: Mapped[int | None] = mapped_column(ForeignKey("stock_locations.id"))
    #: sales orders: shipped so far
    qty_shipped: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    #: sales orders: on this order's invoices that are not cancelled
    qty_invoiced: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    #: purchase orders: received so far
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
    #: None for a document's first status
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    #: who acted (also for a change the system made of it: a shipment's Delivered); None for a job
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: why, when the system changed it (all shipped, all received, ...)
    note: Mapped[str] = mapped_column(String(200), default="")

    user = relationship("User")


class Sequence(Model):
    """Numbering: the next number per document type, or per kind of a plugin's records
    (``crm.services.numbering``), taken under a row lock."""

    __tablename__ = "sequences"

    #: the sequence's name: a document type (``quote``, ...) or ``<plugin id>_<kind>``
    doc_type: Mapped[str] = mapped_column(String(60), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(20))
    padding: Mapped[int] = mapped_column(default=4)
    #: the number the next call of next_number gives
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


search_text_index(Document, ["number", "subject", "customer_reference"])
