"""The stock ledger: every change of stock is a move row; ``items.on_hand`` and
``items.reserved`` cache it and change in the same transaction, through
conditional UPDATE statements, so that two clients can never both take the
last unit (PostgreSQL locks the row for the UPDATE; SQLite serialises writers).

Every move is at a location (:class:`crm.models.StockLocation`): the core's default one unless a
plugin answers ``crm_stock_location``. ``stock_balances`` holds on hand and reserved per product
and location; each change writes the product's row first (which serialises the product's stock
changes), then its balance row, with the same condition at the location: one more statement per
change. Summed over the locations, the balances equal the product's totals.

Stock at an **orphaned** location (one whose plugin is not enabled: disabled, or gone without a
merge) stays counted in the totals and nobody chooses it any more. A change at the default
location, when the default is short, may draw on it (:func:`orphaned_locations`): a reservation
is kept at the default location when the default and the orphaned locations together have it
available; stock out (a shipment, a direct invoice, a negative adjustment) leaves the default
location first, then the orphaned ones in id order, each move written where the stock leaves.

A bundle has no stock of its own: its lines move and reserve its components
(line quantity x component quantity). A service never has stock.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Callable, Iterable, Literal, cast, overload

from flask_babel import gettext as _
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    and_,
    case,
    func,
    inspect,
    literal,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.selectable import CompoundSelect

from crm.context import current_actor_id
from crm.errors import Conflict, NotFound, ValidationError
from crm.models import BundleComponent, Document, DocumentLine, Item, StockBalance, StockLocation, StockMove
from crm.models.base import Quantity, utcnow
from crm.models.stock import ADJUSTMENT_REASONS, DEFAULT_LOCATION_ID
from crm.money import MAX_QUANTITY, decimal_text, round_quantity, whole_times
from crm.services import hooks
from crm.services.settings import get_setting

ZERO = Decimal("0")
OPEN_PURCHASE_STATUSES = ("Approved", "Delivered")
#: what a location is chosen for (the ``purpose`` of ``crm_stock_location``)
PURPOSES = ("receipt", "reservation", "shipment", "invoice", "adjustment")


class InsufficientStock(Conflict):
    code = "insufficient_stock"


@dataclass(frozen=True)
class Need:
    """A quantity of one stocked product, and where it comes from."""

    product_id: int
    quantity: Decimal
    line: DocumentLine | None = None
    via_bundle: bool = False
    #: the stock location it moves or reserves at
    location_id: int = DEFAULT_LOCATION_ID


def product_needs(line: DocumentLine, quantity: Decimal, location_id: int = DEFAULT_LOCATION_ID) -> list[Need]:
    """What ``quantity`` of a line's item means in stocked products: itself, a bundle's
    components, or nothing for a service; at ``location_id``."""
    item = line.item
    if item is None or item.kind != "product" or quantity == 0:
        return []
    if item.is_bundle:
        needs = [Need(c.component_id, quantity * c.quantity, line, True, location_id) for c in item.components]
        if any(need.quantity > MAX_QUANTITY for need in needs):   # a move holds at most MAX_QUANTITY
            raise ValidationError.for_field(f"lines.{line.position}.quantity", _(
                "%(quantity)s of %(name)s need more than %(max)s of one of its products",
                quantity=decimal_text(quantity), name=item.name, max=decimal_text(MAX_QUANTITY)))
        return needs
    return [Need(item.id, quantity, line, location_id=location_id)]


def _locked_order(needs: list[Need]) -> list[Need]:
    """Touch rows in id order so concurrent transactions never deadlock."""
    return sorted(needs, key=lambda n: (n.product_id, n.location_id))


# --- locations ------------------------------------------------------------------------------------

def locations_chosen() -> bool:
    """Whether an enabled plugin implements ``crm_stock_location`` (without one, everything is
    at the default location and the hook is not called)."""
    return hooks.implemented("crm_stock_location")


def choose_location(session: Session, purpose: str, *, document: Document | None, line: DocumentLine | None,
                    product_id: int, quantity: Decimal) -> int:
    """The location a plugin chooses (``crm_stock_location``) for ``purpose``, or the default."""
    if not locations_chosen():
        return DEFAULT_LOCATION_ID
    answer = hooks.call_first("crm_stock_location", session=session, purpose=purpose, document=document,
                              line=line, product_id=product_id, quantity=quantity)
    return DEFAULT_LOCATION_ID if answer is None else checked_location(session, answer)


def checked_location(session: Session, location_id: object) -> int:
    """``location_id`` if it is a stock location's id, else ValidationError naming ``location_id``."""
    return checked_location_field(session, location_id, "location_id")


def checked_location_field(session: Session, location_id: object, field: str) -> int:
    """``location_id`` if it is a stock location's id, else ValidationError naming ``field``."""
    if (isinstance(location_id, int) and not isinstance(location_id, bool)
            and session.get(StockLocation, location_id) is not None):
        return location_id
    raise ValidationError.for_field(field, _("unknown stock location %(id)s", id=location_id))


def located(session: Session, purpose: str, needs: list[Need], document: Document | None) -> list[Need]:
    """``needs`` each at the location chosen for it (``crm_stock_location``, one call per need)."""
    if not needs or not locations_chosen():
        return needs
    return [replace(need, location_id=choose_location(session, purpose, document=document, line=need.line,
                                                      product_id=need.product_id, quantity=need.quantity))
            for need in needs]


def location(session: Session, plugin: str, code: str, name: str = "") -> StockLocation:
    """The stock location ``code`` of ``plugin``, made (named ``name``) if it does not exist;
    for plugins that manage locations (a warehouse, a bin). Safe when two transactions make
    the same one at once (the second finds the first's)."""
    if not plugin:
        raise ValidationError.for_field("plugin", _("a location belongs to a plugin"))
    if not code or len(code) > 60:
        raise ValidationError.for_field("code", _("give a code of at most 60 characters"))
    found = session.scalar(select(StockLocation).where(StockLocation.plugin == plugin, StockLocation.code == code))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            made = StockLocation(plugin=plugin, code=code, name=name or code)
            session.add(made)
    except IntegrityError:   # made meanwhile by another transaction
        return session.scalars(select(StockLocation).where(StockLocation.plugin == plugin,
                                                           StockLocation.code == code)).one()
    return made


def default_location(session: Session) -> StockLocation:
    """The core's location (id :data:`crm.models.stock.DEFAULT_LOCATION_ID`)."""
    found = session.get(StockLocation, DEFAULT_LOCATION_ID)
    assert found is not None, "migration core_0018 makes the default stock location"
    return found


def locations(session: Session, plugin: str | None = None) -> list[StockLocation]:
    """Every stock location (the default first), or ``plugin``'s ("" for the core's)."""
    stmt = select(StockLocation).order_by(StockLocation.id)
    if plugin is not None:
        stmt = stmt.where(StockLocation.plugin == plugin)
    return list(session.scalars(stmt))


def orphaned_locations(session: Session) -> list[int]:
    """The ids of the orphaned stock locations, in id order: those of a plugin that is not enabled
    (disabled, not loaded, or gone). A change of stock at the default location may draw on their
    stock when the default is short (see the module's description); one small query."""
    reg = hooks.registry()
    rows = session.execute(select(StockLocation.id, StockLocation.plugin)
                           .where(StockLocation.id != DEFAULT_LOCATION_ID, StockLocation.plugin != "")
                           .order_by(StockLocation.id))
    return [location_id for location_id, plugin in rows if reg is None or not reg.is_enabled(plugin)]


def _sources(session: Session, need: Need) -> list[int]:
    """Where a need may take or reserve stock: its location; for the default location, the
    default then the orphaned locations."""
    if need.location_id != DEFAULT_LOCATION_ID:
        return [need.location_id]
    return [DEFAULT_LOCATION_ID, *orphaned_locations(session)]


def _allow_negative(session: Session) -> bool:
    return bool(get_setting(session, "allow_negative_stock"))


def _names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    return dict(session.execute(select(Item.id, Item.name).where(Item.id.in_(list(ids)))).all())


# --- moving stock ---------------------------------------------------------------------------------

def _move(session: Session, need: Need, quantity: Decimal, kind: str, *, document: Document | None = None,
          reason: str = "", note: str = "") -> StockMove:
    move = StockMove(product_id=need.product_id, quantity=quantity, location_id=need.location_id,
                     kind="bundle_component" if need.via_bundle and kind in ("shipment", "return") else kind,
                     reason=reason or (kind if need.via_bundle else ""), note=note,
                     document_id=document.id if document is not None else None,
                     line_id=need.line.id if need.line is not None else None, user_id=current_actor_id())
    session.add(move)
    return move


def _posted(session: Session, moves: list[StockMove]) -> list[StockMove]:
    """Flush a batch of moves (their ids are set) and announce it to the plugins
    (``crm_stock_moved``), in the caller's transaction. An empty batch is not announced."""
    if moves:
        session.flush()
        hooks.call("crm_stock_moved", session=session, moves=list(moves))
    return moves


def _change(session: Session, product_id: int, *conditions: ColumnElement[bool], **deltas: Decimal) -> bool:
    """``UPDATE items SET <column> = <column> + <delta>, ... WHERE id = <product_id> AND
    <conditions>``: whether the row matched. The session's copy of the product is
    kept in step (see :func:`_applied`)."""
    now = utcnow()
    values = {getattr(Item, column): getattr(Item, column) + delta for column, delta in deltas.items()}
    result = session.execute(update(Item).where(Item.id == product_id, *conditions)
                             .values({**values, Item.updated_at: now})
                             .execution_options(synchronize_session=False))
    done = cast(CursorResult, result).rowcount
    if done:
        _applied(session, product_id, now, deltas)
    return bool(done)


def _applied(session: Session, product_id: int, now: dt.datetime, deltas: dict[str, Decimal]) -> None:
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


def _lock(session: Session, product_ids: Iterable[int]) -> dict[int, Decimal]:
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


def _balance(session: Session, need: Need, *conditions: ColumnElement[bool], **deltas: Decimal) -> bool:
    """``UPDATE stock_balances SET <column> = <column> + <delta>, ... WHERE`` the need's product and
    location ``AND <conditions>``: whether the row matched (the caller changed the product's
    row first, which serialises the product's balances)."""
    values = {getattr(StockBalance, column): getattr(StockBalance, column) + delta for column, delta in deltas.items()}
    result = session.execute(update(StockBalance)
                             .where(StockBalance.product_id == need.product_id,
                                    StockBalance.location_id == need.location_id, *conditions)
                             .values(values).execution_options(synchronize_session=False))
    return bool(cast(CursorResult, result).rowcount)


def _balance_add(session: Session, product_id: int, location_id: int, on_hand: Decimal = ZERO,
                 reserved: Decimal = ZERO) -> None:
    """Add to a product's balance at a location, making the row if it has none: one
    ``INSERT ... ON CONFLICT DO UPDATE`` (PostgreSQL and SQLite)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(StockBalance).values(product_id=product_id, location_id=location_id,
                                       on_hand=on_hand, reserved=reserved)
    stmt = stmt.on_conflict_do_update(
        index_elements=[StockBalance.product_id, StockBalance.location_id],
        set_={StockBalance.on_hand: StockBalance.on_hand + stmt.excluded.on_hand,
              StockBalance.reserved: StockBalance.reserved + stmt.excluded.reserved})
    session.execute(stmt)


def _balance_many(session: Session, column: str, deltas: dict[tuple[int, int], Decimal]) -> None:
    """``column += delta`` for each ``(product, location)`` of ``deltas``, in one UPDATE (the
    caller changed or locked the products' rows first)."""
    deltas = {pair: delta for pair, delta in deltas.items() if delta}
    if not deltas:
        return
    target = getattr(StockBalance, column)
    change = case(*[(and_(StockBalance.product_id == product_id, StockBalance.location_id == location_id),
                      literal(delta, Quantity)) for (product_id, location_id), delta in deltas.items()],
                  else_=literal(ZERO, Quantity))
    session.execute(update(StockBalance)
                    .where(tuple_(StockBalance.product_id, StockBalance.location_id).in_(sorted(deltas)))
                    .values({target: target + change}).execution_options(synchronize_session=False))


def _lock_at(session: Session, pairs: Iterable[tuple[int, int]]) -> tuple[dict[int, Decimal], dict[tuple[int, int], Decimal]]:
    """Lock, in one statement, the products' rows and their balance rows at the locations (in
    product id order, each product's row before its balances', as every stock change does, so
    concurrent transactions never deadlock) and read what is available of each product
    (``on_hand - reserved``) and of each ``(product, location)``.

    Both tables are locked so that PostgreSQL, when it waited for a row, reads the newest
    version of both (a joined table that is not locked would be read as it was when the
    statement started). A product without a balance at any of the locations has nothing
    available there: it is neither read nor locked (0 available, nothing is written to it)."""
    pairs = set(pairs)
    product_ids = sorted({product_id for product_id, _location in pairs})
    location_ids = sorted({location_id for _product, location_id in pairs})
    rows = session.execute(
        select(Item.id, StockBalance.location_id, Item.on_hand - Item.reserved,
               StockBalance.on_hand - StockBalance.reserved)
        .join(StockBalance, StockBalance.product_id == Item.id)
        .where(Item.id.in_(product_ids), StockBalance.location_id.in_(location_ids))
        .order_by(Item.id, StockBalance.location_id).with_for_update(of=[Item, StockBalance]))
    products: dict[int, Decimal] = {}
    at: dict[tuple[int, int], Decimal] = {}
    for product_id, location_id, available, available_at in rows:
        products[product_id] = available
        at[(product_id, location_id)] = available_at
    return products, {pair: at.get(pair, ZERO) for pair in pairs}


def _available_at(session: Session, need: Need) -> Decimal:
    """What is available of a need's product at its location (at the default location: with the
    orphaned locations'), and in all, locked."""
    products, at = _lock_at(session, [(need.product_id, lid) for lid in _sources(session, need)])
    return min(products.get(need.product_id, ZERO), sum(at.values(), ZERO))


def _pooled_free(session: Session, need: Need) -> Decimal | None:
    """For a need at the default location: what is available at the default and the orphaned
    locations together, locked (the caller holds the product's row); None without orphaned
    locations."""
    sources = _sources(session, need)
    if len(sources) == 1:
        return None
    _products, at = _lock_at(session, [(need.product_id, lid) for lid in sources])
    return sum(at.values(), ZERO)


def receive(session: Session, needs: list[Need], document: Document) -> list[StockMove]:
    """Stock in (a purchase receipt), each need at its location; the moves written."""
    moves = []
    for need in _locked_order(needs):
        _change(session, need.product_id, on_hand=need.quantity)
        _balance_add(session, need.product_id, need.location_id, on_hand=need.quantity)
        moves.append(_move(session, need, need.quantity, "receipt", document=document))
    return _posted(session, moves)


def reserve(session: Session, needs: list[Need], *, allow_short: bool = False) -> list[Decimal]:
    """Reserve each need if available; returns the quantity granted to each need
    (in the order given). Short stock refuses everything (InsufficientStock
    listing the short items) unless ``allow_short``, which grants what there is.

    One need: one conditional UPDATE. Several, whatever their number: one statement
    locks and reads the products (in id order), one writes the reservations. Needs are
    granted in product id order, each from what the previous ones left.

    Each need reserves at its location: what is available there, and in all. One need: a
    conditional UPDATE of the product, one of its balance. Several: one statement locks the
    products and reads both figures, one writes the products, one the balances.

    A need at the default location, with orphaned locations (:func:`orphaned_locations`), needs
    what is available at the default and the orphaned locations together; it is kept at the
    default location (whose reserved may then exceed its on hand), and its stock leaves where
    it is when it ships (:func:`take_out`). One need: only when the default alone is short, under
    the product's row lock (one query for the orphaned locations, one locking their balances).
    Several: the orphaned locations are read first and their balances locked in the one
    statement."""
    if not needs:
        return []
    if len(needs) == 1:  # one conditional UPDATE of the product, one of its balance
        return [_reserve_one(session, needs[0], allow_short)]
    pairs = {(need.product_id, need.location_id) for need in needs}
    at_default = sorted({need.product_id for need in needs if need.location_id == DEFAULT_LOCATION_ID})
    orphans = orphaned_locations(session) if at_default else []
    # one statement locks every row it reads, the orphaned locations' too (in the one order)
    available, available_at = _lock_at(session, pairs | {(pid, lid) for pid in at_default for lid in orphans})
    for product_id in at_default:   # the default location, with the orphaned locations' stock
        available_at[(product_id, DEFAULT_LOCATION_ID)] += sum(   # (not one a need here reserves at)
            (available_at.pop((product_id, lid)) for lid in orphans if (product_id, lid) not in pairs), ZERO)
    granted, short, taken, taken_at = _grant(needs, available, available_at, allow_short)
    if short and not allow_short:
        raise _short_error(session, short)
    _change_many(session, "reserved", taken)
    if orphans:   # the default's row may not exist yet (its stock all at orphaned locations)
        for (product_id, location_id), delta in sorted(taken_at.items()):
            if delta and location_id == DEFAULT_LOCATION_ID:
                _balance_add(session, product_id, location_id, reserved=delta)
        taken_at = {pair: delta for pair, delta in taken_at.items() if pair[1] != DEFAULT_LOCATION_ID}
    _balance_many(session, "reserved", taken_at)
    return [granted[i] for i in range(len(needs))]


def _grant(needs: list[Need], available: dict[int, Decimal], available_at: dict[tuple[int, int], Decimal],
           allow_short: bool) -> tuple[dict[int, Decimal], dict[int, Decimal], dict[int, Decimal],
                                       dict[tuple[int, int], Decimal]]:
    """What each need (by index) is granted, in product id order, each from what the previous ones
    left: ``(granted, short per product, taken per product, taken per (product, location))``."""
    granted: dict[int, Decimal] = {}
    short: dict[int, Decimal] = {}
    taken: dict[int, Decimal] = defaultdict(lambda: ZERO)
    taken_at: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for index, need in sorted(enumerate(needs), key=lambda pair: (pair[1].product_id, pair[1].location_id)):
        pair = (need.product_id, need.location_id)
        left = min(available.get(need.product_id, ZERO) - taken[need.product_id],
                   available_at.get(pair, ZERO) - taken_at[pair])
        if left >= need.quantity:
            granted[index] = need.quantity
        else:
            left = max(left, ZERO)
            short[need.product_id] = short.get(need.product_id, ZERO) + need.quantity - left
            granted[index] = min(left, need.quantity) if allow_short else ZERO
        taken[need.product_id] += granted[index]
        taken_at[pair] += granted[index]
    return granted, short, dict(taken), dict(taken_at)


def _reserve_one(session: Session, need: Need, allow_short: bool) -> Decimal:
    if _change(session, need.product_id, Item.on_hand - Item.reserved >= need.quantity, reserved=need.quantity):
        if _balance(session, need, StockBalance.on_hand - StockBalance.reserved >= need.quantity,
                    reserved=need.quantity):
            return need.quantity
        free = _pooled_free(session, need) if need.location_id == DEFAULT_LOCATION_ID else None
        if free is not None and free >= need.quantity:   # with the orphaned locations' stock
            _balance_add(session, need.product_id, DEFAULT_LOCATION_ID, reserved=need.quantity)
            return need.quantity
        _change(session, need.product_id, reserved=-need.quantity)   # short at the location: undone
    available = max(_available_at(session, need), ZERO)
    if not allow_short:
        raise _short_error(session, {need.product_id: need.quantity - available})
    take = min(available, need.quantity)
    if take:
        _change(session, need.product_id, reserved=take)
        _balance_add(session, need.product_id, need.location_id, reserved=take)
    return take


def release(session: Session, needs: list[Need]) -> None:
    """Give back reserved quantities: one statement locks the products (in id order),
    one writes (a single product: just the one UPDATE)."""
    if not needs:
        return
    given_back: dict[int, Decimal] = defaultdict(lambda: ZERO)
    given_back_at: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for need in needs:
        given_back[need.product_id] -= need.quantity
        given_back_at[(need.product_id, need.location_id)] -= need.quantity
    if len(given_back) > 1:  # one UPDATE of several rows: lock them in id order first
        _lock(session, given_back)
    _change_many(session, "reserved", given_back)
    _balance_many(session, "reserved", given_back_at)


def take_out(session: Session, needs_and_reserved: list[tuple[Need, Decimal]], document: Document, *,
             kind: str = "shipment", reason: str = "") -> list[StockMove]:
    """Stock out: each need consumes ``reserved`` of its own reservation and takes the
    rest from what is available; refused (InsufficientStock) when that is short,
    unless negative stock is allowed. Each need takes from its location (where its
    reservation is), checked there and in all. Returns the moves written.

    A need at the default location that the default cannot cover alone, with orphaned
    locations: see :func:`_take_pooled` (one move per location the stock leaves)."""
    allow_negative = _allow_negative(session)
    short: dict[int, Decimal] = {}
    moves: list[StockMove] = []
    for need, from_reservation in sorted(needs_and_reserved, key=lambda p: (p[0].product_id, p[0].location_id)):
        extra = need.quantity - from_reservation
        conditions = () if allow_negative else (  # never below zero, never into other orders' reservations
            Item.on_hand - need.quantity >= 0, Item.on_hand - Item.reserved >= extra)
        done = _change(session, need.product_id, *conditions, on_hand=-need.quantity, reserved=-from_reservation)
        if done and allow_negative:
            parts = None
            if need.location_id == DEFAULT_LOCATION_ID and not _balance(
                    session, need, StockBalance.on_hand - need.quantity >= 0, on_hand=-need.quantity,
                    reserved=-from_reservation):   # the default short: the orphaned locations' first
                parts = _take_pooled(session, need, from_reservation, allow_negative=True)
            elif need.location_id != DEFAULT_LOCATION_ID:
                _balance_add(session, need.product_id, need.location_id, on_hand=-need.quantity,
                             reserved=-from_reservation)
            if parts is not None:
                moves.extend(_move(session, replace(need, location_id=location_id), -part, kind, document=document,
                                   reason=reason) for location_id, part in parts)
                continue
        elif done and not _balance(session, need, StockBalance.on_hand - need.quantity >= 0,
                                   StockBalance.on_hand - StockBalance.reserved >= extra,
                                   on_hand=-need.quantity, reserved=-from_reservation):
            parts = _take_pooled(session, need, from_reservation) if need.location_id == DEFAULT_LOCATION_ID else None
            if parts is not None:   # from the default location, then the orphaned ones
                moves.extend(_move(session, replace(need, location_id=location_id), -part, kind, document=document,
                                   reason=reason) for location_id, part in parts)
                continue
            _change(session, need.product_id, on_hand=need.quantity, reserved=from_reservation)   # undone
            done = False
        if not done:
            short[need.product_id] = short.get(need.product_id, ZERO) + extra - max(_available_at(session, need), ZERO)
            continue
        moves.append(_move(session, need, -need.quantity, kind, document=document, reason=reason))
    if short:
        raise _short_error(session, short)
    return _posted(session, moves)


def _held(session: Session, product_id: int, location_ids: list[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """``{location_id: (on_hand, reserved)}`` of a product's balances there, the rows locked in
    location order (the caller holds the product's row)."""
    return {location_id: (on_hand, reserved) for location_id, on_hand, reserved in session.execute(
        select(StockBalance.location_id, StockBalance.on_hand, StockBalance.reserved)
        .where(StockBalance.product_id == product_id, StockBalance.location_id.in_(location_ids))
        .order_by(StockBalance.location_id).with_for_update())}


def _take_pooled(session: Session, need: Need, from_reservation: Decimal, *,
                 allow_negative: bool = False) -> list[tuple[int, Decimal]] | None:
    """Stock out of a need at the default location that the default cannot cover alone: what is
    available at the default and the orphaned locations together must cover what does not come
    from the need's reservation (unless negative stock is allowed); the quantity leaves the
    default location first (up to its on hand), then each orphaned location in id order (up to
    what is available there: never their own orders' reservations), and what none holds (negative
    stock allowed) the default. Written to the balances; ``[(location_id, quantity)]`` where it
    left, or None (short). The caller changed the product's row."""
    sources = _sources(session, need)
    held = _held(session, need.product_id, sources)
    if not allow_negative and (len(sources) == 1 or sum(
            (on_hand - reserved for on_hand, reserved in held.values()), ZERO) < need.quantity - from_reservation):
        return None
    parts: list[tuple[int, Decimal]] = []
    left = need.quantity
    for location_id in sources:
        on_hand, reserved = held.get(location_id, (ZERO, ZERO))
        room = on_hand if location_id == DEFAULT_LOCATION_ID else on_hand - reserved
        part = min(max(room, ZERO), left)
        if part:
            parts.append((location_id, part))
            left -= part
    if left and not allow_negative:
        return None
    if left:
        at_default = dict(parts).get(DEFAULT_LOCATION_ID, ZERO)
        parts = [(DEFAULT_LOCATION_ID, at_default + left)] + [p for p in parts if p[0] != DEFAULT_LOCATION_ID]
    for location_id, part in parts:
        _balance_add(session, need.product_id, location_id, on_hand=-part)
    if from_reservation:
        _balance(session, need, reserved=-from_reservation)
    return parts


def put_back(session: Session, needs: list[Need], document: Document, *, reason: str) -> list[StockMove]:
    """Stock back in (a cancelled direct invoice), each need at its location; the moves written."""
    moves = []
    for need in _locked_order(needs):
        _change(session, need.product_id, on_hand=need.quantity)
        _balance_add(session, need.product_id, need.location_id, on_hand=need.quantity)
        moves.append(_move(session, need, need.quantity, "return", document=document, reason=reason))
    return _posted(session, moves)


def move_between(session: Session, product_id: int, quantity: Decimal, from_location_id: int,
                 to_location_id: int, *, document: Document | None = None, note: str = "",
                 reason: str = "") -> list[StockMove]:
    """Move ``quantity`` of a product from one location to another (a transfer between
    warehouses, into or out of a plugin's "in transit" location): a pair of moves of kind
    ``transfer``, ``-quantity`` at the source and ``+quantity`` at the destination, so the
    product's total on hand and reserved never change.

    Under the same locks as a reservation: the product's row, then the source's balance by a
    conditional UPDATE that never takes more than is available there (on hand - reserved;
    whatever the setting ``allow_negative_stock``), then the destination's. Two transactions
    moving the last units of a location never both get them (PostgreSQL); a caller moving
    several products calls this in product id order. Short: 409 ``insufficient_stock`` naming
    ``quantity``; a bad argument: 422 naming it. Announced as ``crm_stock_moved`` (both moves)."""
    if not isinstance(quantity, Decimal) or quantity <= 0 or quantity > MAX_QUANTITY \
            or quantity != round_quantity(quantity):
        raise ValidationError.for_field("quantity", _("must be a quantity above 0 and at most %(max)s, with up to "
                                                      "3 decimals", max=decimal_text(MAX_QUANTITY)))
    source = checked_location_field(session, from_location_id, "from_location_id")
    target = checked_location_field(session, to_location_id, "to_location_id")
    if source == target:
        raise ValidationError.for_field("to_location_id", _("the stock is already there: choose another location"))
    product = session.get(Item, product_id) if isinstance(product_id, int) else None
    if product is None or product.kind != "product":
        raise ValidationError.for_field("product_id", _("unknown product %(id)s", id=product_id))
    if product.is_bundle:
        raise ValidationError.for_field("product_id", _("a bundle has no stock of its own; move its components"))
    _lock(session, [product_id])   # serialises the product's stock changes, as every change does
    out = Need(product_id, quantity, location_id=source)
    if not _balance(session, out, StockBalance.on_hand - StockBalance.reserved >= quantity, on_hand=-quantity):
        found = balances(session, [product_id], [source]).get((product_id, source))
        here = max(found.available, ZERO) if found is not None else ZERO
        raise InsufficientStock(
            _("not enough %(name)s at the source: %(available)s available, %(quantity)s asked", name=product.name,
              available=decimal_text(here), quantity=decimal_text(quantity)),
            {"quantity": [_("only %(available)s available there", available=decimal_text(here))]})
    _balance_add(session, product_id, target, on_hand=quantity)
    moves = [_move(session, out, -quantity, "transfer", document=document, reason=reason, note=note),
             _move(session, Need(product_id, quantity, location_id=target), quantity, "transfer",
                   document=document, reason=reason, note=note)]
    return _posted(session, moves)


def _short_error(session: Session, short: dict[int, Decimal]) -> InsufficientStock:
    names = _names(session, short)
    parts = [_("%(name)s (short by %(quantity)s)", name=names.get(pid, pid), quantity=decimal_text(q))
             for pid, q in sorted(short.items())]
    return InsufficientStock(_("not enough stock: %(products)s", products="; ".join(parts)),
                             {f"items.{pid}": [_("short by %(quantity)s", quantity=decimal_text(q))]
                              for pid, q in short.items()})


# --- adjustments ----------------------------------------------------------------------------------

def adjust(session: Session, product_id: int, *, quantity: Decimal | None = None,
           counted_quantity: Decimal | None = None, reason: str, note: str = "",
           location_id: int | None = None) -> StockMove:
    """Correct stock at a location: a signed ``quantity``, or the ``counted_quantity`` found on
    the shelf there (the difference is written). ``location_id`` None: the location a plugin
    chooses (``crm_stock_location``, purpose ``adjustment``), else the default. Negative
    on-hand (at the location or in all) is refused unless allowed. Announced to the plugins
    as ``crm_stock_moved`` then ``crm_stock_adjusted``.

    At the default location because nobody chose another, with orphaned locations
    (:func:`orphaned_locations`): a count counts them too, and a negative quantity leaves the
    default location first, then each orphaned one in id order (up to its on hand), one move
    where it leaves (each announced; the first is returned)."""
    if (quantity is None) == (counted_quantity is None):
        raise ValidationError.for_field("quantity", _("give a signed quantity or a counted_quantity, not both"))
    for name, value in (("quantity", quantity), ("counted_quantity", counted_quantity)):
        if value is not None and (abs(value) > MAX_QUANTITY or value != round_quantity(value)):
            raise ValidationError.for_field(name, _("must be a quantity of at most %(max)s, with up to 3 decimals",
                                                    max=decimal_text(MAX_QUANTITY)))
    if reason not in ADJUSTMENT_REASONS:
        raise ValidationError.for_field("reason", _("must be one of %(choices)s",
                                                    choices=", ".join(ADJUSTMENT_REASONS)))
    product = session.scalar(select(Item).where(Item.id == product_id).with_for_update())
    if product is None or product.kind != "product":
        raise ValidationError.for_field("product_id", _("unknown product %(id)s", id=product_id))
    if product.is_bundle:
        raise ValidationError.for_field("product_id", _("a bundle has no stock of its own; adjust its components"))
    if counted_quantity is not None and counted_quantity < 0:
        raise ValidationError.for_field("counted_quantity", _("cannot be negative"))
    chosen = location_id is None
    if location_id is None:
        asked = quantity if quantity is not None else counted_quantity
        assert asked is not None  # one of the two was given (checked above)
        location_id = choose_location(session, "adjustment", document=None, line=None, product_id=product.id,
                                      quantity=asked)
    else:
        location_id = checked_location(session, location_id)
    # at the default location because nobody chose another: a count counts the orphaned locations
    # too, and what is taken out leaves the default first, then the orphaned locations in id order
    pooled = chosen and location_id == DEFAULT_LOCATION_ID and (counted_quantity is not None or (quantity or 0) < 0)
    sources = _sources(session, Need(product.id, ZERO)) if pooled else [location_id]
    held = {lid: on_hand for lid, (on_hand, _reserved) in _held(session, product.id, sources).items()}
    on_hand_here = sum(held.values(), ZERO)
    if counted_quantity is not None:
        quantity = counted_quantity - on_hand_here
        reason = reason or "count_correction"
    assert quantity is not None  # one of the two was given (checked above)
    if quantity == 0:
        raise ValidationError.for_field("quantity", _("nothing to adjust"))
    if min(product.on_hand, on_hand_here) + quantity < 0 and not _allow_negative(session):
        after = min(product.on_hand, on_hand_here) + quantity
        raise InsufficientStock(_("%(name)s: on hand would be %(quantity)s; negative stock is not allowed",
                                  name=product.name, quantity=decimal_text(after)),
                                {"quantity": [_("would make on hand negative")]})
    parts = _adjustment_parts(sources, held, quantity) if quantity < 0 and len(sources) > 1 \
        else [(location_id, quantity)]
    session.execute(update(Item).where(Item.id == product.id).values(on_hand=Item.on_hand + quantity))
    moves = []
    for lid, part in parts:
        _balance_add(session, product.id, lid, on_hand=part)
        moves.append(StockMove(product_id=product.id, product=product, quantity=part, kind="adjustment", reason=reason, note=note,
                               location_id=lid, user_id=current_actor_id()))
    session.add_all(moves)
    session.flush()
    session.refresh(product)
    _posted(session, moves)
    for move in moves:
        hooks.call("crm_stock_adjusted", session=session, move=move)
    return moves[0]


def _adjustment_parts(sources: list[int], held: dict[int, Decimal], quantity: Decimal) -> list[tuple[int, Decimal]]:
    """A negative ``quantity`` taken from ``sources`` in their order, each up to its on hand
    (``held``); what none holds (negative stock allowed) at the first: ``[(location_id, part)]``."""
    parts: list[tuple[int, Decimal]] = []
    left = -quantity
    for location_id in sources:
        part = min(max(held.get(location_id, ZERO), ZERO), left)
        if part:
            parts.append((location_id, -part))
            left -= part
    if left:
        parts.append((sources[0], -left))
    return parts


# --- reading --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StockLevel:
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    incoming: Decimal


def incoming_by_product(session: Session, product_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """Quantities still to be received on approved purchase orders, components of bundles included."""
    line_left = DocumentLine.quantity - DocumentLine.qty_received
    base = (select(Item.id, Item.is_bundle, func.sum(line_left)).select_from(DocumentLine)
            .join(Document, Document.id == DocumentLine.document_id)
            .join(Item, Item.id == DocumentLine.item_id)
            .where(Document.doc_type == "purchase_order", Document.status.in_(OPEN_PURCHASE_STATUSES),
                   DocumentLine.display_type.is_(None), Item.kind == "product")
            .group_by(Item.id, Item.is_bundle))
    incoming: dict[int, Decimal] = defaultdict(lambda: ZERO)
    bundles: dict[int, Decimal] = {}
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


def level(session: Session, product_id: int, location_id: int | None = None) -> StockLevel:
    """A product's stock: in all (``location_id`` None), or at one location, where ``incoming``
    is 0 (the core does not know where purchase orders deliver). A bundle's in bundle units."""
    product = session.scalar(select(Item).where(Item.id == product_id)
                             .options(selectinload(Item.components).selectinload(BundleComponent.component)))
    if product is None or product.kind != "product":
        raise NotFound(_("product %(id)s not found", id=product_id))
    if location_id is not None:
        if session.get(StockLocation, location_id) is None:
            raise NotFound(_("stock location %(id)s not found", id=location_id))
        return _level_at(session, product, location_id)
    if not product.is_bundle:
        incoming = incoming_by_product(session, [product.id])[product.id]
        return StockLevel(product.on_hand, product.reserved, product.on_hand - product.reserved, incoming)
    return bundle_level(session, product)


def bundle_level(session: Session, bundle: Item) -> StockLevel:
    """A bundle's stock in bundle units: how many whole bundles its components make."""
    if not bundle.components:
        return StockLevel(ZERO, ZERO, ZERO, ZERO)
    incoming = incoming_by_product(session, [c.component_id for c in bundle.components])

    def units(values: Callable[[BundleComponent], Decimal]) -> Decimal:
        return min(whole_times(values(c), c.quantity) for c in bundle.components)
    return StockLevel(on_hand=units(lambda c: c.component.on_hand), reserved=ZERO,
                      available=max(units(lambda c: c.component.on_hand - c.component.reserved), ZERO),
                      incoming=units(lambda c: incoming[c.component_id]))


def _level_at(session: Session, product: Item, location_id: int) -> StockLevel:
    ids = [c.component_id for c in product.components] if product.is_bundle else [product.id]
    found = balances(session, ids, [location_id])
    figures = {pid: found.get((pid, location_id), StockLevel(ZERO, ZERO, ZERO, ZERO)) for pid in ids}
    if not product.is_bundle:
        return figures[product.id]
    if not product.components:
        return StockLevel(ZERO, ZERO, ZERO, ZERO)

    def units(values: Callable[[StockLevel], Decimal]) -> Decimal:
        return min(whole_times(values(figures[c.component_id]), c.quantity) for c in product.components)
    return StockLevel(on_hand=units(lambda f: f.on_hand), reserved=ZERO,
                      available=max(units(lambda f: f.available), ZERO), incoming=ZERO)


def balances(session: Session, product_ids: Iterable[int] | None = None,
             location_ids: Iterable[int] | None = None) -> dict[tuple[int, int], StockLevel]:
    """``{(product_id, location_id): StockLevel}`` of the balances kept (a product that never had
    stock at a location has none there), ``incoming`` 0; for reports and plugins, in one query."""
    stmt = select(StockBalance.product_id, StockBalance.location_id, StockBalance.on_hand, StockBalance.reserved)
    if product_ids is not None:
        stmt = stmt.where(StockBalance.product_id.in_(list(product_ids)))
    if location_ids is not None:
        stmt = stmt.where(StockBalance.location_id.in_(list(location_ids)))
    return {(pid, lid): StockLevel(on_hand, reserved, on_hand - reserved, ZERO)
            for pid, lid, on_hand, reserved in session.execute(stmt)}


def available(session: Session, product_ids: Iterable[int], location_id: int | None = None) -> dict[int, Decimal]:
    """What is available of each product for the one acting: a plugin's answer
    (``crm_stock_available``, e.g. at the user's warehouse), else on hand - reserved in all.
    With ``location_id``: what is available at that location (on hand - reserved there; a
    bundle's in whole bundles its components make there; 0 for what has no stock there or is
    not a product), without asking the plugins; an unknown location: 422 naming ``location_id``."""
    ids = list(product_ids)
    if location_id is not None:
        return _available_at_location(session, ids, checked_location(session, location_id))
    answer = hooks.call_first("crm_stock_available", session=session, product_ids=ids) \
        if hooks.implemented("crm_stock_available") else None
    if answer is not None:
        return {pid: answer.get(pid, ZERO) for pid in ids}
    rows = session.execute(select(Item.id, Item.on_hand - Item.reserved).where(Item.id.in_(ids)))
    return {pid: free for pid, free in rows}


def _available_at_location(session: Session, ids: list[int], location_id: int) -> dict[int, Decimal]:
    if not ids:
        return {}
    kinds = dict(session.execute(select(Item.id, Item.is_bundle).where(Item.id.in_(ids), Item.kind == "product")).all())
    bundles = [pid for pid, is_bundle in kinds.items() if is_bundle]
    components = session.execute(select(BundleComponent.bundle_id, BundleComponent.component_id,
                                        BundleComponent.quantity)
                                 .where(BundleComponent.bundle_id.in_(bundles))).all() if bundles else []
    wanted = {pid for pid, is_bundle in kinds.items() if not is_bundle} | {row[1] for row in components}
    free = {pid: figures.available for (pid, _lid), figures in balances(session, wanted, [location_id]).items()}
    answer = {pid: free.get(pid, ZERO) for pid, is_bundle in kinds.items() if not is_bundle}
    made: dict[int, Decimal] = {}
    for bundle_id, component_id, per_bundle in components:
        whole = whole_times(free.get(component_id, ZERO), per_bundle)
        made[bundle_id] = min(made.get(bundle_id, whole), whole)
    answer.update({bundle_id: max(made.get(bundle_id, ZERO), ZERO) for bundle_id in bundles})
    return {pid: answer.get(pid, ZERO) for pid in ids}


def in_stock_at(location_id: int) -> CompoundSelect:
    """A subquery of the ids of the products with something available at ``location_id`` (on
    hand - reserved there above 0) and of the bundles whose every component has at least its
    quantity available there, for searches that filter on it in SQL (the item lookup's in-stock
    filter per warehouse); read with ``item_id.in_(...)``."""
    b, c = StockBalance.__table__.c, BundleComponent.__table__.c
    products = select(b.product_id).where(b.location_id == location_id, b.on_hand > b.reserved)
    part, here = BundleComponent.__table__.alias("part"), StockBalance.__table__.alias("here")
    short = (select(literal(1)).select_from(part.outerjoin(here, and_(here.c.product_id == part.c.component_id,
                                                                       here.c.location_id == location_id)))
             .where(part.c.bundle_id == c.bundle_id,
                    func.coalesce(here.c.on_hand - here.c.reserved, 0) < part.c.quantity))
    bundles = select(c.bundle_id).where(~short.exists()).group_by(c.bundle_id)
    return union_all(products, bundles)


def location_choices(session: Session, user: object = None) -> list[tuple[int, str]]:
    """The stock locations ``user`` may choose to see stock at (``crm_stock_location_choices``,
    every plugin's answers, each location once, in their order): ``[(location_id, label)]``;
    empty without a plugin that offers them."""
    if not hooks.implemented("crm_stock_location_choices"):
        return []
    found: dict[int, str] = {}
    for answer in hooks.call("crm_stock_location_choices", session=session, user=user):
        for location_id, label in answer or []:
            found.setdefault(int(location_id), str(label))
    return list(found.items())


def verify(session: Session) -> list[str]:
    """Differences between the cached quantities and the ledger (empty when all agree): each
    product's on hand and reserved, and each of its balances per location."""
    problems = []
    ledger = dict(session.execute(select(StockMove.product_id, func.sum(StockMove.quantity))
                                  .group_by(StockMove.product_id)).all())
    reserved = _reserved_from_orders(session)
    rows = session.execute(select(Item.id, Item.name, Item.on_hand, Item.reserved)
                           .where(Item.kind == "product", Item.is_bundle.is_(False)))
    for item_id, name, on_hand, cached_reserved in rows:
        expected = ledger.get(item_id) or ZERO
        if on_hand != expected:
            problems.append(f"{name} (#{item_id}): on hand {decimal_text(on_hand)}, ledger says {decimal_text(expected)}")
        expected_reserved = reserved.get(item_id, ZERO)
        if cached_reserved != expected_reserved:
            problems.append(f"{name} (#{item_id}): reserved {decimal_text(cached_reserved)}, "
                            f"sales orders say {decimal_text(expected_reserved)}")
    return problems + _verify_locations(session)


def _verify_locations(session: Session) -> list[str]:
    """Each balance against the moves at its location and the reservations held there."""
    ledger = {(pid, lid): quantity for pid, lid, quantity in session.execute(
        select(StockMove.product_id, StockMove.location_id, func.sum(StockMove.quantity))
        .group_by(StockMove.product_id, StockMove.location_id))}
    reserved = _reserved_from_orders(session, by_location=True)
    kept = {(pid, lid): (on_hand, held) for pid, lid, on_hand, held in session.execute(
        select(StockBalance.product_id, StockBalance.location_id, StockBalance.on_hand, StockBalance.reserved))}
    pairs = sorted(set(ledger) | set(kept) | set(reserved))
    if not pairs:
        return []
    names = _names(session, {pid for pid, _lid in pairs})
    places = dict(session.execute(select(StockLocation.id, StockLocation.name)).all())
    problems = []
    for pid, lid in pairs:
        on_hand, held = kept.get((pid, lid), (ZERO, ZERO))
        where = f"{names.get(pid, '')} (#{pid}) at {places.get(lid, '')} (location #{lid})"
        expected = ledger.get((pid, lid)) or ZERO
        if on_hand != expected:
            problems.append(f"{where}: on hand {decimal_text(on_hand)}, ledger says {decimal_text(expected)}")
        if held != reserved.get((pid, lid), ZERO):
            problems.append(f"{where}: reserved {decimal_text(held)}, "
                            f"sales orders say {decimal_text(reserved.get((pid, lid), ZERO))}")
    return problems


@overload
def _reserved_from_orders(session: Session) -> dict[int, Decimal]: ...
@overload
def _reserved_from_orders(session: Session, by_location: Literal[True]) -> dict[tuple[int, int], Decimal]: ...


def _reserved_from_orders(session: Session, by_location: bool = False) -> dict:
    """What the sales order lines hold, per product (or per product and location)."""
    lines = session.scalars(select(DocumentLine).join(Document, Document.id == DocumentLine.document_id)
                            .where(Document.doc_type == "sales_order", DocumentLine.qty_reserved > 0)
                            .options(selectinload(DocumentLine.item).selectinload(Item.components)))
    total: dict = defaultdict(lambda: ZERO)
    for line in lines:
        for need in product_needs(line, line.qty_reserved, line.stock_location_id or DEFAULT_LOCATION_ID):
            total[(need.product_id, need.location_id) if by_location else need.product_id] += need.quantity
    return dict(total)
