"""Transfers of stock between warehouses (no HTTP here: the API and the pages call these inside
their transaction).

A draft moves nothing. Shipping moves each line's quantity from the source warehouse's location
into the plugin's one "in transit" location; receiving (in part or whole) moves it from transit
into the destination's; cancelling a shipped transfer moves what is still in transit back to the
source. Each step is one pair of moves per product (``crm.services.stock.move_between``, kind
``transfer``), so the products' totals never change and ``crm stock verify`` keeps holding."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.context import current_actor_id
from crm.errors import Conflict, NotFound, ValidationError
from crm.models import Item, StockLocation
from crm.models.base import utcnow
from crm.money import MAX_QUANTITY, ZERO, decimal_text, round_quantity
from crm.services import stock
from crm.services.numbering import next_number
from crm_warehouses.models import (
    LOCATION_PLUGIN,
    TRANSIT_CODE,
    Transfer,
    TransferLine,
    Warehouse,
)

SEQUENCE = "warehouses_transfer"
MAX_LINES = 500


def transit_location(session: Session) -> StockLocation:
    """The plugin's "in transit" stock location (made the first time a transfer ships)."""
    return stock.location(session, LOCATION_PLUGIN, TRANSIT_CODE, "In transit")


def in_transit(session: Session, product_ids: list[int] | None = None) -> dict[int, Decimal]:
    """``{product_id: quantity}`` in transit (shipped, not yet received nor returned)."""
    here = session.scalar(select(StockLocation.id).where(StockLocation.plugin == LOCATION_PLUGIN,
                                                         StockLocation.code == TRANSIT_CODE))
    if here is None:
        return {}
    return {pid: level.on_hand for (pid, _lid), level in stock.balances(session, product_ids, [here]).items()
            if level.on_hand}


def transfers(session: Session, *, status: str | None = None, warehouse_id: int | None = None) -> list[Transfer]:
    """Transfers, newest first; of one status, or from or to one warehouse."""
    stmt = select(Transfer).order_by(Transfer.id.desc())
    if status is not None:
        stmt = stmt.where(Transfer.status == status)
    if warehouse_id is not None:
        stmt = stmt.where((Transfer.from_warehouse_id == warehouse_id) | (Transfer.to_warehouse_id == warehouse_id))
    return list(session.scalars(stmt))


def get_transfer(session: Session, transfer_id: int, *, for_update: bool = False) -> Transfer:
    stmt = select(Transfer).where(Transfer.id == transfer_id)
    found = session.scalar(stmt.with_for_update() if for_update else stmt)
    if found is None:
        raise NotFound(_("transfer %(id)s not found", id=transfer_id))
    return found


def warehouse_names(session: Session, items: list[Transfer]) -> dict[int, Warehouse]:
    ids = {t.from_warehouse_id for t in items} | {t.to_warehouse_id for t in items}
    return {w.id: w for w in session.scalars(select(Warehouse).where(Warehouse.id.in_(ids)))} if ids else {}


# --- checking what is asked ----------------------------------------------------------------------

def _warehouse(session: Session, value: object, field: str, errors: dict[str, list[str]]) -> Warehouse | None:
    if not isinstance(value, int) or isinstance(value, bool):
        errors[field] = [_("give a warehouse id")]
        return None
    found = session.get(Warehouse, value)
    if found is None:
        errors[field] = [_("warehouse %(id)s not found", id=value)]
    elif not found.active:
        errors[field] = [_("warehouse %(code)s is inactive", code=found.code)]
    else:
        return found
    return None


def _quantity(value: object) -> Decimal | None:
    """A quantity above 0, at most MAX_QUANTITY, with up to 3 decimals; None otherwise."""
    if isinstance(value, bool):
        return None
    try:
        quantity = Decimal(str(value)) if isinstance(value, (int, str, Decimal)) else None
    except InvalidOperation:
        return None
    if quantity is None or not quantity.is_finite() or quantity <= 0 or quantity > MAX_QUANTITY \
            or quantity != round_quantity(quantity):
        return None
    return quantity


def _lines(session: Session, value: object, errors: dict[str, list[str]]) -> list[TransferLine]:
    if not isinstance(value, list) or not value:
        errors["lines"] = [_("give at least one product to transfer")]
        return []
    if len(value) > MAX_LINES:
        errors["lines"] = [_("at most %(n)s lines", n=MAX_LINES)]
        return []
    made, seen = [], set()
    for index, raw in enumerate(value):
        raw = raw if isinstance(raw, dict) else {}
        product_id = raw.get("product_id")
        product = session.get(Item, product_id) if isinstance(product_id, int) and not isinstance(product_id, bool) \
            else None
        if product is None or product.kind != "product":
            errors[f"lines.{index}.product_id"] = [_("unknown product %(id)s", id=product_id)]
        elif product.is_bundle:
            errors[f"lines.{index}.product_id"] = [_("a bundle has no stock of its own; transfer its components")]
        elif product.id in seen:
            errors[f"lines.{index}.product_id"] = [_("%(name)s is already on another line", name=product.name)]
        quantity = _quantity(raw.get("quantity"))
        if quantity is None:
            errors[f"lines.{index}.quantity"] = [_("must be a quantity above 0 and at most %(max)s, with up to "
                                                   "3 decimals", max=decimal_text(MAX_QUANTITY))]
        if product is not None and quantity is not None:
            seen.add(product.id)
            made.append(TransferLine(position=index, product_id=product.id, quantity=quantity, qty_received=ZERO))
    return made


def _checked(session: Session, data: dict[str, Any], transfer: Transfer | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for field in ("from_warehouse_id", "to_warehouse_id"):
        if field in data or transfer is None:
            found = _warehouse(session, data.get(field), field, errors)
            if found is not None:
                clean[field] = found.id
    source = clean.get("from_warehouse_id", transfer.from_warehouse_id if transfer else None)
    target = clean.get("to_warehouse_id", transfer.to_warehouse_id if transfer else None)
    if source is not None and source == target and "to_warehouse_id" not in errors:
        errors["to_warehouse_id"] = [_("the destination must be another warehouse than the source")]
    if "note" in data:
        note = data.get("note") or ""
        if not isinstance(note, str) or len(note) > 2000:
            errors["note"] = [_("at most 2000 characters")]
        clean["note"] = note
    if "lines" in data or transfer is None:
        clean["lines"] = _lines(session, data.get("lines"), errors)
    if errors:
        raise ValidationError(_("Check the transfer's fields."), fields=errors)
    return clean


def _refuse_status(transfer: Transfer, *allowed: str) -> None:
    if transfer.status not in allowed:
        raise Conflict(_("transfer %(number)s is %(status)s", number=transfer.number, status=transfer.status),
                       fields={"status": [_("must be %(statuses)s", statuses=" or ".join(allowed))]},
                       code="transfer_status")


# --- the steps ------------------------------------------------------------------------------------

def create_transfer(session: Session, data: dict[str, Any]) -> Transfer:
    """A draft transfer (``from_warehouse_id``, ``to_warehouse_id``: active and different;
    ``lines``: ``[{"product_id", "quantity"}]``, a product once; ``note``); it moves nothing yet."""
    clean = _checked(session, data, None)
    transfer = Transfer(number=next_number(session, SEQUENCE, prefix="TR-"), status="draft",
                        from_warehouse_id=clean["from_warehouse_id"], to_warehouse_id=clean["to_warehouse_id"],
                        note=clean.get("note", ""), lines=clean["lines"], created_by_id=current_actor_id())
    session.add(transfer)
    session.flush()
    return transfer


def update_transfer(session: Session, transfer: Transfer, data: dict[str, Any]) -> Transfer:
    """Change a draft's warehouses, note or lines (the lines sent replace them all); 409 once shipped."""
    _refuse_status(transfer, "draft")
    clean = _checked(session, data, transfer)
    if "lines" in clean:
        transfer.lines = clean.pop("lines")
    for key, value in clean.items():
        setattr(transfer, key, value)
    session.flush()
    return transfer


def ship(session: Session, transfer: Transfer) -> Transfer:
    """Send a draft: each line's quantity leaves the source warehouse (never more than is available
    there: 409 ``insufficient_stock`` naming ``lines.<i>.quantity``, and nothing moves) and is in
    transit. Both warehouses must still be active (409 ``warehouse_inactive``)."""
    _refuse_status(transfer, "draft")
    source = session.get(Warehouse, transfer.from_warehouse_id)
    target = session.get(Warehouse, transfer.to_warehouse_id)
    assert source is not None and target is not None
    for warehouse, field in ((source, "from_warehouse_id"), (target, "to_warehouse_id")):
        if not warehouse.active:
            raise Conflict(_("warehouse %(code)s is inactive", code=warehouse.code), fields={field: [_("inactive")]},
                           code="warehouse_inactive")
    transit = transit_location(session).id
    _move(session, transfer, [(line, line.quantity) for line in transfer.lines], source.location_id, transit)
    transfer.status, transfer.shipped_at = "shipped", utcnow()
    session.flush()
    return transfer


def receive(session: Session, transfer: Transfer, lines: list[dict[str, Any]] | None = None) -> Transfer:
    """What arrived at the destination: ``[{"line_id", "quantity"}]`` (at most what is still in
    transit on each line: 422 naming ``lines.<i>.quantity``), or everything left (``None`` or
    empty). Once all has arrived the transfer is received."""
    _refuse_status(transfer, "shipped")
    by_id = {line.id: line for line in transfer.lines}
    wanted: list[tuple[TransferLine, Decimal]] = []
    if not lines:
        wanted = [(line, line.quantity - line.qty_received) for line in transfer.lines
                  if line.quantity > line.qty_received]
    else:
        errors: dict[str, list[str]] = {}
        asked: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for index, raw in enumerate(lines):
            raw = raw if isinstance(raw, dict) else {}
            line_id = raw.get("line_id")
            line = by_id.get(line_id) if isinstance(line_id, int) else None
            quantity = _quantity(raw.get("quantity"))
            if line is None:
                errors[f"lines.{index}.line_id"] = [_("no line %(id)s on this transfer", id=raw.get("line_id"))]
            elif quantity is None:
                errors[f"lines.{index}.quantity"] = [_("must be a quantity above 0 and at most %(max)s, with up to "
                                                       "3 decimals", max=decimal_text(MAX_QUANTITY))]
            elif asked[line.id] + quantity > line.quantity - line.qty_received:
                errors[f"lines.{index}.quantity"] = [_("at most %(left)s still in transit",
                                                       left=decimal_text(line.quantity - line.qty_received))]
            else:
                asked[line.id] += quantity
                wanted.append((line, quantity))
        if errors:
            raise ValidationError(_("Check the quantities received."), fields=errors)
    if not wanted:
        raise ValidationError.for_field("lines", _("nothing left to receive"))
    target = session.get(Warehouse, transfer.to_warehouse_id)
    assert target is not None
    _move(session, transfer, wanted, transit_location(session).id, target.location_id)
    for line, quantity in wanted:
        line.qty_received += quantity
    if all(line.qty_received == line.quantity for line in transfer.lines):
        transfer.status, transfer.received_at = "received", utcnow()
    session.flush()
    return transfer


def cancel(session: Session, transfer: Transfer) -> Transfer:
    """Cancel a draft (nothing moved) or a shipped transfer: what is still in transit goes back
    to the source warehouse (what arrived stays at the destination). 409 once received."""
    _refuse_status(transfer, "draft", "shipped")
    if transfer.status == "shipped":
        source = session.get(Warehouse, transfer.from_warehouse_id)
        assert source is not None
        left = [(line, line.quantity - line.qty_received) for line in transfer.lines
                if line.quantity > line.qty_received]
        _move(session, transfer, left, transit_location(session).id, source.location_id)
    transfer.status, transfer.cancelled_at = "cancelled", utcnow()
    session.flush()
    return transfer


def _move(session: Session, transfer: Transfer, lines: list[tuple[TransferLine, Decimal]], from_location: int,
          to_location: int) -> None:
    """One pair of moves per line, in product id order (so concurrent transfers never deadlock);
    a short line refuses the whole step (409 naming ``lines.<i>.quantity``)."""
    positions = {line.id: index for index, line in enumerate(transfer.lines)}
    for line, quantity in sorted(lines, key=lambda pair: pair[0].product_id):
        try:
            stock.move_between(session, line.product_id, quantity, from_location, to_location,
                               note=transfer.number)
        except stock.InsufficientStock as short:
            raise stock.InsufficientStock(short.message, {f"lines.{positions[line.id]}.quantity": short.fields.get(
                "quantity", [short.message])}) from short

