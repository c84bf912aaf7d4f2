"""The stock a plugin's locations hold, and merging it into the core's default location.

A plugin that manages stock locations (a warehouses plugin) makes rows of ``stock_locations``
with its id in ``plugin``; the core's stock moves, balances and sales order lines then point at
them. Purging such a plugin would leave that stock at locations nobody manages, so purging is
refused (:func:`crm.services.plugin_admin.purge_plan`) while :func:`located_stock` finds any,
until :func:`merge_into_default` has brought it to the default location:

* every balance at the plugin's locations is added to the product's balance at the default
  location (on hand and reserved), and removed;
* every stock move at them is now at the default location (the history keeps its dates,
  quantities, documents and notes; a transfer's pair of moves then nets to nothing there);
* every sales order line that reserved there reserves at the default location.

So each product's totals (``items.on_hand``, ``items.reserved``) do not change and ``crm stock
verify`` keeps holding. The products' rows, then their balance rows, are locked in product id
order first, as every change of stock does, so a merge never races a reservation or a receipt.
The plugin's location rows stay (its own tables may point at them) until the purge drops its
tables and then them.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crm.errors import Conflict
from crm.models import DocumentLine, Item, StockBalance, StockLocation, StockMove
from crm.models.stock import DEFAULT_LOCATION_ID
from crm.services.stock import _balance_add

ZERO = Decimal("0")


@dataclass(frozen=True)
class LocatedStock:
    """What refers to a plugin's stock locations: ``locations`` (how many it made), ``moves``
    at them, ``products`` with on hand or reserved stock at them, and sales order ``lines``
    reserving there."""

    locations: int
    moves: int
    products: int
    lines: int

    @property
    def any(self) -> bool:
        return bool(self.moves or self.products or self.lines)


def _location_ids(bind: Connection | Session, plugin_id: str) -> list[int]:
    return list(bind.execute(select(StockLocation.id).where(StockLocation.plugin == plugin_id,
                                                            StockLocation.id != DEFAULT_LOCATION_ID)
                             .order_by(StockLocation.id)).scalars())


def located_stock(bind: Connection | Session, plugin_id: str) -> LocatedStock:
    """How much of the core's stock records point at the stock locations of ``plugin_id``."""
    ids = _location_ids(bind, plugin_id)
    if not ids:
        return LocatedStock(0, 0, 0, 0)
    moves = bind.execute(select(func.count()).select_from(StockMove).where(StockMove.location_id.in_(ids))).scalar_one()
    products = bind.execute(select(func.count(func.distinct(StockBalance.product_id))).where(
        StockBalance.location_id.in_(ids), or_(StockBalance.on_hand != ZERO, StockBalance.reserved != ZERO))).scalar_one()
    lines = bind.execute(select(func.count()).select_from(DocumentLine)
                         .where(DocumentLine.stock_location_id.in_(ids))).scalar_one()
    return LocatedStock(len(ids), moves, products, lines)


@dataclass(frozen=True)
class Merged:
    """What a merge changed: the plugin's ``locations``, the ``moves`` now at the default
    location, the ``products`` whose stock moved there, the sales order ``lines`` reserving there."""

    locations: int
    moves: int
    products: int
    lines: int


def merge_into_default(session: Session, plugin_id: str, *, enabled: bool = False) -> Merged:
    """Bring the stock, the moves and the reservations at the locations of ``plugin_id`` to the
    default location, in the caller's transaction (the caller commits). Refused (409
    ``plugin_enabled``) while the plugin is ``enabled``: it would keep choosing its locations."""
    ids = _location_ids(session, plugin_id)
    if not ids:
        return Merged(0, 0, 0, 0)
    if enabled:
        raise Conflict(_("plugin %(plugin)s is enabled: disable it first, or it keeps putting stock at its locations",
                         plugin=repr(plugin_id)), code="plugin_enabled")
    product_ids = sorted(set(session.scalars(select(StockBalance.product_id).where(StockBalance.location_id.in_(ids))))
                         | set(session.scalars(select(StockMove.product_id).where(StockMove.location_id.in_(ids))
                                               .distinct())))
    # the products' rows first, then their balances, in product id order: as every change of stock
    session.execute(select(Item.id).where(Item.id.in_(product_ids)).order_by(Item.id).with_for_update())
    held: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for product_id, location_id, on_hand, reserved in session.execute(
            select(StockBalance.product_id, StockBalance.location_id, StockBalance.on_hand, StockBalance.reserved)
            .where(StockBalance.product_id.in_(product_ids), StockBalance.location_id.in_([DEFAULT_LOCATION_ID, *ids]))
            .order_by(StockBalance.product_id, StockBalance.location_id).with_for_update()):
        if location_id != DEFAULT_LOCATION_ID:
            held[product_id][0] += on_hand
            held[product_id][1] += reserved
    merged = 0
    for product_id in sorted(held):
        on_hand, reserved = held[product_id]
        if on_hand or reserved:
            _balance_add(session, product_id, DEFAULT_LOCATION_ID, on_hand, reserved)
            merged += 1
    session.execute(delete(StockBalance).where(StockBalance.location_id.in_(ids)))
    moves = session.execute(update(StockMove).where(StockMove.location_id.in_(ids))
                            .values(location_id=DEFAULT_LOCATION_ID).execution_options(synchronize_session=False))
    lines = session.execute(update(DocumentLine).where(DocumentLine.stock_location_id.in_(ids))
                            .values(stock_location_id=None).execution_options(synchronize_session=False))
    session.expire_all()
    return Merged(len(ids), moves.rowcount, merged, lines.rowcount)  # type: ignore[attr-defined]


def forget_locations(connection: Connection, plugin_id: str) -> int:
    """Delete the (empty) stock locations of ``plugin_id`` and their balance rows, once its
    tables are gone (a purge, after :func:`located_stock` found nothing there)."""
    ids = _location_ids(connection, plugin_id)
    if not ids:
        return 0
    connection.execute(delete(StockBalance).where(StockBalance.location_id.in_(ids)))
    connection.execute(delete(StockLocation).where(StockLocation.id.in_(ids)))
    return len(ids)
