"""The stock ledger: every change of stock is a move row; ``items.on_hand`` and
``items.reserved`` cache it and change in the same transaction, through
conditional UPDATE statements, so that two clients can never both take the
last unit (PostgreSQL locks the row for the UPDATE; SQLite serialises writers).

A bundle has no stock of its own: its lines move and reserve its components
(line quantity x component quantity). A service never has stock.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import case, func, inspect, literal, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from crm.context import current_actor_id
from crm.errors import Conflict, NotFound, ValidationError
from crm.models import BundleComponent, Document, DocumentLine, Item, StockMove
from crm.models.base import Quantity, utcnow
from crm.models.stock import ADJUSTMENT_REASONS
from crm.services.settings import get_setting

ZERO = Decimal("0")
OPEN_PURCHASE_STATUSES = ("Approved", "Delivered")


class InsufficientStock(Conflict):
    code = "insufficient_stock"


@dataclass(frozen=True)
class Need:
    """A quantity of one stocked product, and where it comes from."""

    product_id: int
    quantity: Decimal
    line: DocumentLine | None = None
    via_bundle: bool = False


def product_needs(line: DocumentLine, quantity: Decimal) -> list[Need]:
    """What ``quantity`` of a line's item means in stocked products: itself, a bundle's
    components, or nothing for a service."""
    item = line.item
    if item is None or item.kind != "product" or quantity == 0:
        return []
    if item.is_bundle:
        return [Need(c.component_id, quantity * c.quantity, line, True) for c in item.components]
    return [Need(item.id, quantity, line)]


def _locked_order(needs: list[Need]) -> list[Need]:
    """Touch rows in id order so concurrent transactions never deadlock."""
    return sorted(needs, key=lambda n: n.product_id)


def _allow_negative(session: Session) -> bool:
    return bool(get_setting(session, "allow_negative_stock"))


def _names(session: Session, ids) -> dict[int, str]:
    return dict(session.execute(select(Item.id, Item.name).where(Item.id.in_(list(ids)))).all())


# --- moving stock ---------------------------------------------------------------------------------

def _move(session: Session, need: Need, quantity: Decimal, kind: str, *, document: Document | None = None,
          reason: str = "", note: str = "") -> None:
    session.add(StockMove(product_id=need.product_id, quantity=quantity,
                          kind="bundle_component" if need.via_bundle and kind in ("shipment", "return") else kind,
                          reason=reason or (kind if need.via_bundle else ""), note=note,
                          document_id=document.id if document is not None else None,
                          line_id=need.line.id if need.line is not None else None, user_id=current_actor_id()))


def _change(session: Session, product_id: int, *conditions, **deltas: Decimal) -> bool:
    """``UPDATE items SET <column> = <column> + <delta>, ... WHERE id = <product_id> AND
    <conditions>``: whether the row matched. The session's copy of the product is
    kept in step (see :func:`_applied`)."""
    now = utcnow()
    values = {getattr(Item, column): getattr(Item, column) + delta for column, delta in deltas.items()}
    done = session.execute(update(Item).where(Item.id == product_id, *conditions)
                           .values({**values, Item.updated_at: now})
                           .execution_options(synchronize_session=False)).rowcount
    if done:
        _applied(session, product_id, now, deltas)
    return bool(done)


def _applied(session: Session, product_id: int, now, deltas: dict[str, Decimal]) -> None:
    """Give the session's copy of a product (if it holds one) what an UPDATE of its stock
    wrote, as SQLAlchemy's "evaluate" synchronisation would: the loaded, unchanged
    figures move by ``deltas`` and ``updated_at`` is ``now``. Done here because that
    synchronisation scans every object of the session for every UPDATE, which made
    approving a 200-line order quadratic."""
    item = session.identity_map.get(identity_key(Item, product_id))
    if item is None:
        return
    state = inspect(item)
    for column, delta in deltas.items():
        if column in state.dict and column in state.unmodified:
            set_committed_value(item, column, state.dict[column] + delta)
    set_committed_value(item, "updated_at", now)


def _lock(session: Session, product_ids) -> dict[int, Decimal]:
    """Lock the products' rows in id order (so concurrent transactions never deadlock)
    and read what is available of each (``on_hand - reserved``)."""
    rows = session.execute(select(Item.id, Item.on_hand - Item.reserved).where(Item.id.in_(sorted(product_ids)))
                           .order_by(Item.id).with_for_update())
    return {product_id: available for product_id, available in rows}


def _change_many(session: Session, column: str, deltas: dict[int, Decimal]) -> None:
    """``column += delta`` for each product of ``deltas`` in one UPDATE (the caller locked
    the rows in id order first when there are several)."""
    deltas = {product_id: delta for product_id, delta in deltas.items() if delta}
    if not deltas:
        return
    now = utcnow()
    target = getattr(Item, column)
    change = case({product_id: literal(delta, Quantity) for product_id, delta in deltas.items()},
                  value=Item.id, else_=literal(ZERO, Quantity))
    session.execute(update(Item).where(Item.id.in_(sorted(deltas)))
                    .values({target: target + change, Item.updated_at: now})
                    .execution_options(synchronize_session=False))
    for product_id, delta in deltas.items():
        _applied(session, product_id, now, {column: delta})


def receive(session: Session, needs: list[Need], document: Document) -> None:
    """Stock in (a purchase receipt)."""
    for need in _locked_order(needs):
        _change(session, need.product_id, on_hand=need.quantity)
        _move(session, need, need.quantity, "receipt", document=document)


def reserve(session: Session, needs: list[Need], *, allow_short: bool = False) -> list[Decimal]:
    """Reserve each need if available; returns the quantity granted to each need
    (in the order given). Short stock refuses everything (InsufficientStock
    listing the short items) unless ``allow_short``, which grants what there is.

    One need: one conditional UPDATE. Several, whatever their number: one statement
    locks and reads the products (in id order), one writes the reservations. Needs are
    granted in product id order, each from what the previous ones left."""
    if not needs:
        return []
    if len(needs) == 1:  # one conditional UPDATE
        return [_reserve_one(session, needs[0], allow_short)]
    available = _lock(session, {need.product_id for need in needs})
    granted: dict[int, Decimal] = {}
    short: dict[int, Decimal] = {}
    taken: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for index, need in sorted(enumerate(needs), key=lambda pair: pair[1].product_id):
        left = available.get(need.product_id, ZERO) - taken[need.product_id]
        if left >= need.quantity:
            granted[index] = need.quantity
        else:
            left = max(left, ZERO)
            short[need.product_id] = short.get(need.product_id, ZERO) + need.quantity - left
            granted[index] = min(left, need.quantity) if allow_short else ZERO
        taken[need.product_id] += granted[index]
    if short and not allow_short:
        raise _short_error(session, short)
    _change_many(session, "reserved", taken)
    return [granted[i] for i in range(len(needs))]


def _reserve_one(session: Session, need: Need, allow_short: bool) -> Decimal:
    if _change(session, need.product_id, Item.on_hand - Item.reserved >= need.quantity, reserved=need.quantity):
        return need.quantity
    available = max(session.scalar(select(Item.on_hand - Item.reserved).where(Item.id == need.product_id)
                                   .with_for_update()), ZERO)
    if not allow_short:
        raise _short_error(session, {need.product_id: need.quantity - available})
    take = min(available, need.quantity)
    if take:
        _change(session, need.product_id, reserved=take)
    return take


def release(session: Session, needs: list[Need]) -> None:
    """Give back reserved quantities: one statement locks the products (in id order),
    one writes (a single product: just the one UPDATE)."""
    if not needs:
        return
    given_back: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for need in needs:
        given_back[need.product_id] -= need.quantity
    if len(given_back) > 1:  # one UPDATE of several rows: lock them in id order first
        _lock(session, given_back)
    _change_many(session, "reserved", given_back)


def take_out(session: Session, needs_and_reserved: list[tuple[Need, Decimal]], document: Document, *,
             kind: str = "shipment", reason: str = "") -> None:
    """Stock out: each need consumes ``reserved`` of its own reservation and takes the
    rest from what is available; refused (InsufficientStock) when that is short,
    unless negative stock is allowed."""
    allow_negative = _allow_negative(session)
    short: dict[int, Decimal] = {}
    for need, from_reservation in sorted(needs_and_reserved, key=lambda p: p[0].product_id):
        extra = need.quantity - from_reservation
        conditions = () if allow_negative else (  # never below zero, never into other orders' reservations
            Item.on_hand - need.quantity >= 0, Item.on_hand - Item.reserved >= extra)
        if not _change(session, need.product_id, *conditions, on_hand=-need.quantity, reserved=-from_reservation):
            available = session.scalar(select(Item.on_hand - Item.reserved).where(Item.id == need.product_id))
            short[need.product_id] = short.get(need.product_id, ZERO) + extra - max(available, ZERO)
            continue
        _move(session, need, -need.quantity, kind, document=document, reason=reason)
    if short:
        raise _short_error(session, short)


def put_back(session: Session, needs: list[Need], document: Document, *, reason: str) -> None:
    """Stock back in (a cancelled direct invoice)."""
    for need in _locked_order(needs):
        _change(session, need.product_id, on_hand=need.quantity)
        _move(session, need, need.quantity, "return", document=document, reason=reason)


def _short_error(session: Session, short: dict[int, Decimal]) -> InsufficientStock:
    names = _names(session, short)
    parts = [_("%(name)s (short by %(quantity)s)", name=names.get(pid, pid), quantity=_plain(q))
             for pid, q in sorted(short.items())]
    return InsufficientStock(_("not enough stock: %(products)s", products="; ".join(parts)),
                             {f"items.{pid}": [_("short by %(quantity)s", quantity=_plain(q))]
                              for pid, q in short.items()})


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


# --- adjustments ----------------------------------------------------------------------------------

def adjust(session: Session, product_id: int, *, quantity: Decimal | None = None,
           counted_quantity: Decimal | None = None, reason: str, note: str = "") -> StockMove:
    """Correct stock: a signed ``quantity``, or the ``counted_quantity`` found on the
    shelf (the difference is written). Negative on-hand is refused unless allowed."""
    if (quantity is None) == (counted_quantity is None):
        raise ValidationError.for_field("quantity", _("give a signed quantity or a counted_quantity, not both"))
    if reason not in ADJUSTMENT_REASONS:
        raise ValidationError.for_field("reason", _("must be one of %(choices)s",
                                                    choices=", ".join(ADJUSTMENT_REASONS)))
    product = session.scalar(select(Item).where(Item.id == product_id).with_for_update())
    if product is None or product.kind != "product":
        raise ValidationError.for_field("product_id", _("unknown product %(id)s", id=product_id))
    if product.is_bundle:
        raise ValidationError.for_field("product_id", _("a bundle has no stock of its own; adjust its components"))
    if counted_quantity is not None:
        if counted_quantity < 0:
            raise ValidationError.for_field("counted_quantity", _("cannot be negative"))
        quantity = counted_quantity - product.on_hand
        reason = reason or "count_correction"
    if quantity == 0:
        raise ValidationError.for_field("quantity", _("nothing to adjust"))
    if product.on_hand + quantity < 0 and not _allow_negative(session):
        raise InsufficientStock(_("%(name)s: on hand would be %(quantity)s; negative stock is not allowed",
                                  name=product.name, quantity=_plain(product.on_hand + quantity)),
                                {"quantity": [_("would make on hand negative")]})
    session.execute(update(Item).where(Item.id == product.id).values(on_hand=Item.on_hand + quantity))
    move = StockMove(product_id=product.id, quantity=quantity, kind="adjustment", reason=reason, note=note,
                     user_id=current_actor_id())
    session.add(move)
    session.flush()
    session.refresh(product)
    return move


# --- reading --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StockLevel:
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    incoming: Decimal


def incoming_by_product(session: Session, product_ids=None) -> dict[int, Decimal]:
    """Quantities still to be received on approved purchase orders, components of bundles included."""
    line_left = DocumentLine.quantity - DocumentLine.qty_received
    base = (select(DocumentLine.item_id, Item.is_bundle, func.sum(line_left))
            .join(Document, Document.id == DocumentLine.document_id)
            .join(Item, Item.id == DocumentLine.item_id)
            .where(Document.doc_type == "purchase_order", Document.status.in_(OPEN_PURCHASE_STATUSES),
                   DocumentLine.display_type.is_(None), Item.kind == "product")
            .group_by(DocumentLine.item_id, Item.is_bundle))
    incoming: dict[int, Decimal] = defaultdict(lambda: ZERO)
    bundles = {}
    for item_id, is_bundle, left in session.execute(base):
        if is_bundle:
            bundles[item_id] = left
        else:
            incoming[item_id] += left
    if bundles:
        for comp in session.scalars(select(BundleComponent).where(BundleComponent.bundle_id.in_(list(bundles)))):
            incoming[comp.component_id] += bundles[comp.bundle_id] * comp.quantity
    if product_ids is not None:
        return {pid: incoming.get(pid, ZERO) for pid in product_ids}
    return dict(incoming)


def level(session: Session, product_id: int) -> StockLevel:
    product = session.scalar(select(Item).where(Item.id == product_id)
                             .options(selectinload(Item.components).selectinload(BundleComponent.component)))
    if product is None or product.kind != "product":
        raise NotFound(_("product %(id)s not found", id=product_id))
    if not product.is_bundle:
        incoming = incoming_by_product(session, [product.id])[product.id]
        return StockLevel(product.on_hand, product.reserved, product.on_hand - product.reserved, incoming)
    return bundle_level(session, product)


def bundle_level(session: Session, bundle: Item) -> StockLevel:
    """A bundle's stock in bundle units: how many whole bundles its components make."""
    if not bundle.components:
        return StockLevel(ZERO, ZERO, ZERO, ZERO)
    incoming = incoming_by_product(session, [c.component_id for c in bundle.components])

    def units(values):
        return min((values(c) // c.quantity) for c in bundle.components)
    return StockLevel(on_hand=units(lambda c: c.component.on_hand), reserved=ZERO,
                      available=max(units(lambda c: c.component.on_hand - c.component.reserved), ZERO),
                      incoming=units(lambda c: incoming[c.component_id]))


def verify(session: Session) -> list[str]:
    """Differences between the cached quantities and the ledger (empty when all agree)."""
    problems = []
    ledger = dict(session.execute(select(StockMove.product_id, func.sum(StockMove.quantity))
                                  .group_by(StockMove.product_id)).all())
    reserved = _reserved_from_orders(session)
    rows = session.execute(select(Item.id, Item.name, Item.on_hand, Item.reserved)
                           .where(Item.kind == "product", Item.is_bundle.is_(False)))
    for item_id, name, on_hand, cached_reserved in rows:
        expected = ledger.get(item_id) or ZERO
        if on_hand != expected:
            problems.append(f"{name} (#{item_id}): on hand {_plain(on_hand)}, ledger says {_plain(expected)}")
        expected_reserved = reserved.get(item_id, ZERO)
        if cached_reserved != expected_reserved:
            problems.append(f"{name} (#{item_id}): reserved {_plain(cached_reserved)}, "
                            f"sales orders say {_plain(expected_reserved)}")
    return problems


def _reserved_from_orders(session: Session) -> dict[int, Decimal]:
    lines = session.scalars(select(DocumentLine).join(Document, Document.id == DocumentLine.document_id)
                            .where(Document.doc_type == "sales_order", DocumentLine.qty_reserved > 0)
                            .options(selectinload(DocumentLine.item).selectinload(Item.components)))
    total: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        for need in product_needs(line, line.qty_reserved):
            total[need.product_id] += need.quantity
    return dict(total)
