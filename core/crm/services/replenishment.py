"""Replenishment: draft purchase orders for the products that run low, one per vendor.

A product needs ordering when it is low (an active stocked product whose available quantity,
on hand minus reserved, is at or below its reorder level above 0: the low-stock report). It is
ordered up to its target, the larger of its reorder quantity and its reorder level, counting what
is already on its way: approved and delivered purchase orders still to be received (the
"incoming" of the stock figures) and the draft purchase orders not yet approved, so that
replenishing twice orders nothing more the second time::

    to order = max(reorder quantity, reorder level) - (available + incoming + in draft orders)

The drafts go to the product's usual vendor, one purchase order per vendor (lines at the
product's purchase cost, as every purchase order line), in status Created: replenishment never
approves an order. A low product without a vendor is reported, not ordered. The products are
locked while the plan is made, so two replenishments at once order once.

The low-stock page's "Order the shortfall", ``crm stock replenish`` and
``POST /api/v1/stock/replenish`` call :func:`replenish`.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import Document, DocumentLine, Item, Vendor
from crm.money import ZERO
from crm.services import documents, stock
from crm.services.doctypes import DOC_TYPES

#: the status of a purchase order not approved yet
DRAFT = DOC_TYPES["purchase_order"].initial


@dataclass(frozen=True)
class Need:
    """What one low product needs: its figures, and the quantity to order (0 when what is on its
    way covers it)."""

    product_id: int
    sku: str | None
    name: str
    vendor_id: int | None
    available: Decimal
    incoming: Decimal
    in_drafts: Decimal
    target: Decimal
    quantity: Decimal


@dataclass
class Replenishment:
    """What a replenishment drafted (``orders``, or would draft when ``dry_run``: the vendors'
    ids with their needs), and the low products it left: covered by what is on its way, or
    without a vendor."""

    dry_run: bool
    orders: list[Document] = field(default_factory=list)
    planned: dict[int, list[Need]] = field(default_factory=dict)
    covered: list[Need] = field(default_factory=list)
    without_vendor: list[Need] = field(default_factory=list)


def needs(session: Session, product_ids: Iterable[int] | None = None, *, lock: bool = False) -> list[Need]:
    """The low products (of ``product_ids`` when given), largest shortfall first, with what each
    needs. ``lock`` holds their rows until the transaction ends."""
    available = Item.on_hand - Item.reserved
    stmt = (select(Item).where(Item.kind == "product", Item.is_bundle.is_(False), Item.active.is_(True),
                               Item.reorder_level > 0, available <= Item.reorder_level)
            .order_by((Item.reorder_level - available).desc(), Item.name, Item.id))
    if product_ids is not None:
        stmt = stmt.where(Item.id.in_(list(product_ids)))
    if lock:
        stmt = stmt.with_for_update(of=Item)
    products = session.scalars(stmt).all()
    ids = [product.id for product in products]
    incoming = stock.incoming_by_product(session, ids)
    drafted = in_draft_orders(session, ids)
    found = []
    for product in products:
        target = max(product.reorder_level, product.reorder_quantity)
        on_its_way = incoming[product.id] + drafted.get(product.id, ZERO)
        quantity = max(ZERO, target - (product.on_hand - product.reserved) - on_its_way)
        found.append(Need(product.id, product.sku, product.name, product.vendor_id, product.on_hand - product.reserved,
                          incoming[product.id], drafted.get(product.id, ZERO), target, quantity))
    return found


def in_draft_orders(session: Session, product_ids: list[int]) -> dict[int, Decimal]:
    """The quantities of ``product_ids`` on purchase orders not approved yet."""
    if not product_ids:
        return {}
    rows = session.execute(
        select(DocumentLine.item_id, func.sum(DocumentLine.quantity)).join(Document, Document.id == DocumentLine.document_id)
        .where(Document.doc_type == "purchase_order", Document.status == DRAFT,
               DocumentLine.display_type.is_(None), DocumentLine.item_id.in_(product_ids))
        .group_by(DocumentLine.item_id))
    return {item_id: quantity for item_id, quantity in rows if item_id is not None}


def replenish(session: Session, product_ids: Iterable[int] | None = None, *, dry_run: bool = False) -> Replenishment:
    """Draft a purchase order per vendor for what the low products (of ``product_ids`` when given)
    need; with ``dry_run``, only say what would be drafted. The caller commits."""
    result = Replenishment(dry_run=dry_run)
    per_vendor: dict[int, list[Need]] = defaultdict(list)
    for need in needs(session, product_ids, lock=not dry_run):
        if need.quantity <= 0:
            result.covered.append(need)
        elif need.vendor_id is None:
            result.without_vendor.append(need)
        else:
            per_vendor[need.vendor_id].append(need)
    vendors = {vendor.id: vendor for vendor in session.scalars(select(Vendor).where(Vendor.id.in_(list(per_vendor))))}
    for vendor_id in sorted(per_vendor, key=lambda v: (vendors[v].name.lower(), v)):
        result.planned[vendor_id] = per_vendor[vendor_id]
        if not dry_run:
            result.orders.append(documents.create_document(session, "purchase_order", {
                "vendor_id": vendor_id, "subject": _("Replenishment"),
                "lines": [{"item_id": need.product_id, "quantity": need.quantity} for need in per_vendor[vendor_id]]}))
    return result
