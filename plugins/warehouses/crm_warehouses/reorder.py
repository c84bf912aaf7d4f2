"""Reorder levels per warehouse, and ordering a warehouse's shortfall.

A product may have its own reorder level and reorder quantity in a warehouse
(``warehouses_reorder_levels``); where it has none, the product's own (the core's) apply there.
A warehouse's row replaces both of the product's figures there: a level of 0 stops watching the
product in that warehouse.

A product is **low in a warehouse** when it is active and available there (on hand - reserved at
the warehouse's location) is at or below its reorder level there, above 0: the warehouse's stock
report marks it. **Ordering a warehouse's shortfall** drafts purchase orders for that warehouse
(their receipts go there), one per vendor, with the core's rule applied to the warehouse's
figures::

    to order = max(reorder quantity, reorder level) - (available + incoming + in draft orders)

where incoming and the drafts are those of purchase orders for that warehouse (a line's own
warehouse first), incoming also what shipped transfers bring there. The core's replenishment
(``crm.services.replenishment``: the low-stock report's "Order the shortfall", ``crm stock
replenish``) keeps ordering the company's totals by the products' own levels; each answers its
own question, and each counts the other's drafts only where they are for the same place (the
core counts every draft).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import money
from crm.errors import ValidationError
from crm.models import Item, StockBalance, Vendor
from crm.money import MAX_QUANTITY, ZERO
from crm.services import documents
from crm.services.doctypes import DOC_TYPES
from crm.services.replenishment import Need, Replenishment
from crm_warehouses import services
from crm_warehouses.models import ReorderLevel, Warehouse
from crm_warehouses.stock import incoming

#: the status of a purchase order not approved yet
DRAFT = DOC_TYPES["purchase_order"].initial


@dataclass(frozen=True)
class Level:
    """A product's reorder level and quantity in a warehouse; ``own``: the warehouse's own (else
    the product's apply)."""

    warehouse_id: int
    product_id: int
    sku: str
    name: str
    reorder_level: Decimal
    reorder_quantity: Decimal
    own: bool


def _stocked(session: Session, product_id: object, field: str = "product_id") -> Item:
    """The stocked product ``product_id`` (not a bundle, not a service), else 422 naming ``field``."""
    if not isinstance(product_id, int) or isinstance(product_id, bool):
        raise ValidationError.for_field(field, _("give a product id"))
    product = session.get(Item, product_id)
    if product is None or product.kind != "product":
        raise ValidationError.for_field(field, _("product %(id)s not found", id=product_id))
    if product.is_bundle:
        raise ValidationError.for_field(field, _("a bundle has no stock of its own: set its components' levels"))
    return product


def _quantity(value: object, field: str, errors: dict[str, list[str]]) -> Decimal:
    if value is None or isinstance(value, bool) or value == "":
        errors[field] = [_("give a quantity")]
        return ZERO
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors[field] = [_("not a number")]
        return ZERO
    if not quantity.is_finite() or quantity < 0:
        errors[field] = [_("0 or more")]
    elif quantity > MAX_QUANTITY:
        errors[field] = [_("too large")]
    elif quantity != money.round_quantity(quantity):
        errors[field] = [_("at most 3 decimals")]
    return quantity


def levels(session: Session, warehouse: Warehouse) -> list[Level]:
    """The warehouse's own reorder levels, by SKU then name."""
    rows = session.execute(select(ReorderLevel, Item.sku, Item.name).join(Item, Item.id == ReorderLevel.product_id)
                           .where(ReorderLevel.warehouse_id == warehouse.id).order_by(Item.sku, Item.name, Item.id))
    return [Level(warehouse.id, row.product_id, sku or "", name, row.reorder_level, row.reorder_quantity, True)
            for row, sku, name in rows]


def level(session: Session, warehouse: Warehouse, product_id: int) -> Level:
    """The product's reorder level and quantity in the warehouse: its own there, else the product's."""
    product = _stocked(session, product_id)
    row = session.get(ReorderLevel, (warehouse.id, product.id))
    if row is None:
        return Level(warehouse.id, product.id, product.sku or "", product.name, product.reorder_level,
                     product.reorder_quantity, False)
    return Level(warehouse.id, product.id, product.sku or "", product.name, row.reorder_level, row.reorder_quantity,
                 True)


def product_levels(session: Session, product_id: int) -> dict[int, ReorderLevel]:
    """``{warehouse_id: ReorderLevel}``: the warehouses where the product has its own levels."""
    return {row.warehouse_id: row for row in session.scalars(
        select(ReorderLevel).where(ReorderLevel.product_id == product_id))}


def set_level(session: Session, warehouse: Warehouse, product_id: object, data: dict) -> Level:
    """Give the product its own ``reorder_level`` (required) and ``reorder_quantity`` (0 when not
    given) in the warehouse; 422 naming the field for a bad value, nothing changed."""
    product = _stocked(session, product_id)
    errors: dict[str, list[str]] = {}
    reorder_level = _quantity(data.get("reorder_level"), "reorder_level", errors)
    reorder_quantity = _quantity(data.get("reorder_quantity", ZERO), "reorder_quantity", errors)
    if errors:
        raise ValidationError(_("Check the reorder level."), fields=errors)
    # the product's row lock (as stock changes take it) orders racing first settings: one inserts, the rest update
    session.execute(select(Item.id).where(Item.id == product.id).with_for_update())
    row = session.get(ReorderLevel, (warehouse.id, product.id), populate_existing=True)
    if row is None:
        row = ReorderLevel(warehouse_id=warehouse.id, product_id=product.id)
        session.add(row)
    row.reorder_level, row.reorder_quantity = reorder_level, reorder_quantity
    session.flush()
    return level(session, warehouse, product.id)


def clear_level(session: Session, warehouse: Warehouse, product_id: object) -> Level:
    """Forget the product's own levels in the warehouse: the product's apply there again."""
    product = _stocked(session, product_id)
    row = session.get(ReorderLevel, (warehouse.id, product.id))
    if row is not None:
        session.delete(row)
        session.flush()
    return level(session, warehouse, product.id)


# --- ordering a warehouse's shortfall -------------------------------------------------------------

def needs(session: Session, warehouse: Warehouse, product_ids: Iterable[int] | None = None, *,
          lock: bool = False) -> list[Need]:
    """The products low in the warehouse (of ``product_ids`` when given), largest shortfall first,
    with what each needs there. ``lock`` holds their rows until the transaction ends (as the
    core's replenishment does, so two orders of the shortfall at once order once)."""
    reorder_level = func.coalesce(ReorderLevel.reorder_level, Item.reorder_level)
    stmt = (select(Item.id).outerjoin(ReorderLevel, (ReorderLevel.product_id == Item.id)
                                      & (ReorderLevel.warehouse_id == warehouse.id))
            .where(Item.kind == "product", Item.is_bundle.is_(False), Item.active.is_(True), reorder_level > ZERO))
    if product_ids is not None:
        stmt = stmt.where(Item.id.in_(list(product_ids)))
    ids = sorted(session.scalars(stmt))
    if not ids:
        return []
    locking = select(Item).where(Item.id.in_(ids)).order_by(Item.id)
    products = list(session.scalars(locking.with_for_update(of=Item) if lock else locking))
    own = {row.product_id: row for row in session.scalars(select(ReorderLevel).where(
        ReorderLevel.warehouse_id == warehouse.id, ReorderLevel.product_id.in_(ids)))}
    held = {pid: (on_hand, reserved) for pid, on_hand, reserved in session.execute(
        select(StockBalance.product_id, StockBalance.on_hand, StockBalance.reserved).where(
            StockBalance.location_id == warehouse.location_id, StockBalance.product_id.in_(ids)))}
    coming = incoming(session, ids)
    drafted = incoming(session, ids, statuses=(DRAFT,), in_transit=False)
    found = []
    for product in products:
        row = own.get(product.id)
        reorder, target_quantity = ((row.reorder_level, row.reorder_quantity) if row is not None
                                    else (product.reorder_level, product.reorder_quantity))
        on_hand, reserved = held.get(product.id, (ZERO, ZERO))
        available = on_hand - reserved
        if reorder <= ZERO or available > reorder:
            continue
        expected = coming.get((product.id, warehouse.id), ZERO)
        in_drafts = drafted.get((product.id, warehouse.id), ZERO)
        target = max(reorder, target_quantity)
        quantity = max(ZERO, target - available - expected - in_drafts)
        found.append(Need(product.id, product.sku, product.name, product.vendor_id, available, expected, in_drafts,
                          target, quantity))
    found.sort(key=lambda need: (-(need.target - need.available), need.name, need.product_id))
    return found


def replenish(session: Session, warehouse: Warehouse, product_ids: Iterable[int] | None = None, *,
              dry_run: bool = False) -> Replenishment:
    """Draft a purchase order per vendor, for this warehouse, for what the products low there
    need; with ``dry_run``, only say what would be drafted. An inactive warehouse takes no new
    orders (409 ``warehouse_inactive``). The caller commits."""
    services.refuse_inactive(warehouse, "warehouse_id")
    result = Replenishment(dry_run=dry_run)
    per_vendor: dict[int, list[Need]] = defaultdict(list)
    for need in needs(session, warehouse, product_ids, lock=not dry_run):
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
            order = documents.create_document(session, "purchase_order", {
                "vendor_id": vendor_id, "subject": _("Replenishment of %(code)s", code=warehouse.code),
                "lines": [{"item_id": need.product_id, "quantity": need.quantity} for need in per_vendor[vendor_id]]})
            services.set_document_warehouse(session, order, warehouse.id)
            result.orders.append(order)
    return result
