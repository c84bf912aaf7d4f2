"""Stock per warehouse: on hand and reserved at each warehouse's location (the core's balances),
available (on hand - reserved) and incoming (what approved purchase orders for that warehouse
still have to deliver, and what shipped transfers are bringing there); and where the core's stock
changes happen (the hooks' answers)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import BigInteger, Numeric, Select, and_, case, func, literal, or_, select, type_coerce
from sqlalchemy.orm import Session, joinedload

from crm import money
from crm.errors import Conflict
from crm.models import BundleComponent, Document, DocumentLine, Item, StockBalance, StockMove
from crm.models.base import Money, Quantity
from crm.money import ZERO
from crm.services import stock
from crm.services.stock import OPEN_PURCHASE_STATUSES
from crm_warehouses import services
from crm_warehouses.models import LINE_KEY, DocumentWarehouse, ReorderLevel, Transfer, TransferLine, Warehouse

#: the purposes of ``crm_stock_location`` an inactive warehouse refuses (new stock commitments);
#: receipts and shipments of what was already ordered or reserved still happen there
REFUSED_WHEN_INACTIVE = ("reservation", "invoice", "adjustment")


@dataclass(frozen=True)
class Figures:
    """A product's stock at a warehouse (``warehouse`` None: the core's default location)."""

    warehouse: Warehouse | None
    product_id: int
    sku: str
    name: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    incoming: Decimal

    @property
    def empty(self) -> bool:
        return not (self.on_hand or self.reserved or self.incoming)


def incoming(session: Session, product_ids: list[int] | None = None, *,
             statuses: tuple[str, ...] = OPEN_PURCHASE_STATUSES,
             in_transit: bool = True) -> dict[tuple[int, int | None], Decimal]:
    """``{(product_id, warehouse_id or None): quantity}`` still to be received: on approved
    purchase orders (components of bundles included), by the warehouse of each order (a line's
    own warehouse first), and with ``in_transit`` on shipped transfers, by their destination.
    ``statuses``: the purchase orders' statuses counted (the drafts, say)."""
    rows = session.execute(
        select(Item.id, Item.is_bundle, DocumentWarehouse.warehouse_id, DocumentLine.quantity,
               DocumentLine.qty_received, DocumentLine.custom).select_from(DocumentLine)
        .join(Document, Document.id == DocumentLine.document_id)
        .join(Item, Item.id == DocumentLine.item_id)
        .outerjoin(DocumentWarehouse, DocumentWarehouse.document_id == Document.id)
        .where(Document.doc_type == "purchase_order", Document.status.in_(statuses),
               DocumentLine.display_type.is_(None), Item.kind == "product",
               DocumentLine.quantity != DocumentLine.qty_received))
    codes = {w.code: w.id for w in services.warehouses(session)}
    found: dict[tuple[int, int | None], Decimal] = defaultdict(lambda: ZERO)
    bundles: dict[tuple[int, int | None], Decimal] = defaultdict(lambda: ZERO)
    for item_id, is_bundle, document_warehouse_id, quantity, received, custom in rows:
        own = (custom or {}).get(LINE_KEY)
        warehouse_id = codes.get(own, document_warehouse_id) if isinstance(own, str) and own else document_warehouse_id
        if is_bundle:
            bundles[(item_id, warehouse_id)] += quantity - received
        else:
            found[(item_id, warehouse_id)] += quantity - received
    if bundles:
        components = session.scalars(select(BundleComponent).where(
            BundleComponent.bundle_id.in_({bundle_id for bundle_id, _w in bundles})))
        by_bundle: dict[int, list[BundleComponent]] = defaultdict(list)
        for component in components:
            by_bundle[component.bundle_id].append(component)
        for (bundle_id, bundle_warehouse), quantity in bundles.items():
            for component in by_bundle[bundle_id]:
                found[(component.component_id, bundle_warehouse)] += quantity * component.quantity
    if in_transit:
        for product_id, warehouse_id, quantity in _in_transit(session, product_ids):
            found[(product_id, warehouse_id)] += quantity
    if product_ids is not None:
        wanted = set(product_ids)
        return {key: value for key, value in found.items() if key[0] in wanted}
    return dict(found)


def _in_transit(session: Session, product_ids: list[int] | None) -> list[tuple[int, int, Decimal]]:
    """(product id, destination warehouse id, quantity) still in transit on shipped transfers."""
    stmt = (select(TransferLine.product_id, Transfer.to_warehouse_id, TransferLine.quantity, TransferLine.qty_received)
            .join(Transfer, Transfer.id == TransferLine.transfer_id)
            .where(Transfer.status == "shipped", TransferLine.quantity != TransferLine.qty_received))
    if product_ids is not None:
        stmt = stmt.where(TransferLine.product_id.in_(product_ids))
    return [(product_id, warehouse_id, quantity - received)
            for product_id, warehouse_id, quantity, received in session.execute(stmt)]


def product_stock(session: Session, product: Item) -> list[Figures]:
    """The product's stock at every warehouse (active ones always, inactive ones holding or
    expecting some), then at the default location when it has or expects some."""
    levels = stock.balances(session, [product.id])
    expected = incoming(session, [product.id])
    rows = []
    for warehouse in services.warehouses(session):
        level = levels.get((product.id, warehouse.location_id))
        row = _figures(warehouse, product, level, expected.get((product.id, warehouse.id), ZERO))
        if warehouse.active or not row.empty:
            rows.append(row)
    default_id = stock.default_location(session).id
    default = _figures(None, product, levels.get((product.id, default_id)), expected.get((product.id, None), ZERO))
    if not default.empty:
        rows.append(default)
    return rows


def _figures(warehouse: Warehouse | None, product: Item, level: stock.StockLevel | None, coming: Decimal) -> Figures:
    on_hand, reserved = (level.on_hand, level.reserved) if level is not None else (ZERO, ZERO)
    return Figures(warehouse, product.id, product.sku or "", product.name, on_hand, reserved, on_hand - reserved, coming)


def _within(page: int, total: int, per_page: int) -> int:
    """``page`` of ``total`` rows ``per_page`` a page, or the last page when it is past it."""
    return min(max(1, page), max(1, -(-total // per_page)))


@dataclass(frozen=True)
class StockPage:
    """A page of the products a warehouse holds, has reserved or expects (``rows``), and how
    many there are in all (``total``)."""

    rows: list[Figures]
    total: int
    page: int
    per_page: int


def warehouse_stock(session: Session, warehouse: Warehouse, product_id: int | None = None, *,
                    page: int = 1, per_page: int = 50) -> StockPage:
    """The products the warehouse holds, has reserved or expects, by SKU then name, ``per_page``
    of them from page ``page`` (past the last page: the last one), read as plain columns."""
    expected = {pid: q for (pid, wid), q in incoming(session, [product_id] if product_id else None).items()
                if wid == warehouse.id and q}
    stmt = (select(Item.id, Item.sku, Item.name, StockBalance.on_hand, StockBalance.reserved)
            .outerjoin(StockBalance, (StockBalance.product_id == Item.id) & (StockBalance.location_id == warehouse.location_id))
            .where(Item.kind == "product", Item.is_bundle.is_(False),
                   or_(StockBalance.on_hand != ZERO, StockBalance.reserved != ZERO, Item.id.in_(list(expected)))))
    if product_id is not None:
        stmt = stmt.where(Item.id == product_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = _within(page, total, per_page)
    found = session.execute(stmt.order_by(Item.sku, Item.name, Item.id).limit(per_page).offset((page - 1) * per_page))
    rows = [Figures(warehouse, item_id, sku or "", name, on_hand or ZERO, reserved or ZERO,
                    (on_hand or ZERO) - (reserved or ZERO), expected.get(item_id, ZERO))
            for item_id, sku, name, on_hand, reserved in found]
    return StockPage(rows, total, page, per_page)


# --- the stock report of a warehouse -------------------------------------------------------------

#: products a page of the stock report shows, unless ``per_page`` says otherwise
REPORT_PER_PAGE = 50


@dataclass(frozen=True)
class ReportRow:
    """A product in a warehouse's stock report: its figures there, its reorder level there (the
    warehouse's own when set, ``own_level``, else the product's), its value at purchase cost (on
    hand x cost, rounded to the currency by ``crm.money``) and whether it is low there (active, a
    reorder level above 0, available at or below it: the core's rule for the low-stock report,
    applied to this warehouse's figures)."""

    figures: Figures
    reorder_level: Decimal
    purchase_cost: Decimal
    value: Decimal
    low: bool
    own_level: bool = False


@dataclass(frozen=True)
class StockReport:
    """One page of a warehouse's stock report (``rows``) and what covers all its products: how
    many the list holds (``total``: the low ones only with ``low_only``), the value of the
    warehouse's whole stock and how many products are low there."""

    rows: list[ReportRow]
    total: int
    page: int
    per_page: int
    value: Decimal
    low_count: int


def stock_report(session: Session, warehouse: Warehouse, currency: str, *, low_only: bool = False,
                 page: int = 1, per_page: int = REPORT_PER_PAGE) -> StockReport:
    """A warehouse's stock levels: every product it holds, has reserved or expects, and every
    active product watched by a reorder level there (the warehouse's own, else the product's),
    which may be low there without holding any, by SKU then name, ``per_page`` of them from page
    ``page`` (past the last page: the last one); only the low ones with ``low_only``.

    The page is read in SQL as plain columns; the counts are one aggregate query over all the
    warehouse's products, and the value of its whole stock is the sum of every product's value
    (on hand x cost, rounded per product by ``crm.money``, exactly as each row shows it) read from
    the two columns it needs."""
    expected = {pid: q for (pid, wid), q in incoming(session).items() if wid == warehouse.id and q}
    zero = literal(ZERO, Quantity)
    held = func.coalesce(StockBalance.on_hand, zero)
    promised = func.coalesce(StockBalance.reserved, zero)
    level = func.coalesce(ReorderLevel.reorder_level, Item.reorder_level)
    watched = and_(Item.active.is_(True), level > ZERO)
    low = and_(watched, held - promised <= level)
    listed = and_(Item.kind == "product", Item.is_bundle.is_(False),
                  or_(StockBalance.on_hand != ZERO, StockBalance.reserved != ZERO, Item.id.in_(list(expected)),
                      watched))

    def joined(stmt: Select) -> Select:
        return (stmt.select_from(Item)
                .outerjoin(StockBalance, (StockBalance.product_id == Item.id)
                           & (StockBalance.location_id == warehouse.location_id))
                .outerjoin(ReorderLevel, (ReorderLevel.product_id == Item.id)
                           & (ReorderLevel.warehouse_id == warehouse.id))
                .where(listed))

    everything, low_count = session.execute(joined(select(func.count(), func.count(case((low, 1)))))).one()
    total = low_count if low_only else everything
    page = _within(page, total, per_page)
    stmt = joined(select(Item.id, Item.sku, Item.name, Item.active, Item.purchase_cost, Item.reorder_level,
                         StockBalance.on_hand, StockBalance.reserved, ReorderLevel.reorder_level))
    if low_only:
        stmt = stmt.where(low)
    stmt = stmt.order_by(Item.sku, Item.name, Item.id).limit(per_page).offset((page - 1) * per_page)
    rows = []
    for product_id, sku, name, active, cost, product_level, on_hand, reserved, own in session.execute(stmt):
        held_here, promised_here = on_hand or ZERO, reserved or ZERO
        figures = Figures(warehouse, product_id, sku or "", name, held_here, promised_here,
                          held_here - promised_here, expected.get(product_id, ZERO))
        reorder_level = own if own is not None else product_level
        rows.append(ReportRow(figures, reorder_level, cost or ZERO, _value(held_here, cost, currency),
                              bool(active) and reorder_level > ZERO and figures.available <= reorder_level,
                              own is not None))
    return StockReport(rows, total, page, per_page, stock_value(session, warehouse, currency), low_count)


def stock_value(session: Session, warehouse: Warehouse, currency: str) -> Decimal:
    """The value of a warehouse's whole stock at purchase cost: each product's on hand x cost
    rounded half up to the currency (as ``crm.money.round_money`` rounds it), then summed. Summed
    in SQL, exactly: PostgreSQL's ``round()`` of a numeric rounds half away from zero as
    ROUND_HALF_UP does; on SQLite the stored integers (quantity x 10**3, cost x 10**4) multiply and
    round by integer division. A product too large for SQLite's 64-bit integers (a value above
    about 900 billion) makes it read the two columns of every product and sum them in Python."""
    places = money.currency_precision(currency)
    held = (select().select_from(StockBalance).join(Item, Item.id == StockBalance.product_id)
            .where(StockBalance.location_id == warehouse.location_id, StockBalance.on_hand != ZERO,
                   Item.kind == "product", Item.is_bundle.is_(False), Item.purchase_cost != ZERO))
    if session.get_bind().dialect.name == "postgresql":
        rounded = func.round(type_coerce(StockBalance.on_hand * Item.purchase_cost, Numeric), places)
        found = session.scalar(held.add_columns(func.sum(rounded)))
        return ZERO if found is None else found
    product = type_coerce(StockBalance.on_hand, BigInteger) * type_coerce(Item.purchase_cost, BigInteger)
    unit = 10 ** (Quantity.scale + Money.scale - places)
    units = case((product < 0, -((-product + unit // 2) // unit)), else_=(product + unit // 2) // unit)
    found = session.scalar(held.add_columns(func.sum(units)))
    if found is None:
        return ZERO
    if isinstance(found, int):
        return Decimal(found).scaleb(-places)
    costs = session.execute(held.add_columns(StockBalance.on_hand, Item.purchase_cost))
    return money.total(_value(on_hand, cost, currency) for on_hand, cost in costs)


def _value(on_hand: Decimal, cost: Decimal | None, currency: str) -> Decimal:
    """A product's stock valued at its purchase cost, rounded to the currency."""
    return money.round_money(money.multiply(on_hand, cost or ZERO), currency)


def moves_query(warehouse: Warehouse) -> Select:
    """The stock moves at a warehouse's location (receipts, shipments, adjustments, transfers in
    and out), with their products; the caller sorts (newest first) and pages them."""
    return (select(StockMove).options(joinedload(StockMove.product))
            .where(StockMove.location_id == warehouse.location_id))


# --- the hooks' answers ---------------------------------------------------------------------------

def location_for(session: Session, purpose: str, document: Document | None, line: DocumentLine | None,
                 actor_id: int | None) -> int | None:
    """Where a change of stock happens: the line's own warehouse or else its document's (receipts,
    reservations, shipments, direct invoices), or for an adjustment the warehouse the user works in; None
    (the default location) when there is none. 409 for new commitments at an inactive one."""
    if document is not None:
        warehouse = services.line_warehouse(session, document, line)
    else:
        warehouse = services.user_default(session, actor_id)
    if warehouse is None:
        return None
    if not warehouse.active and purpose in REFUSED_WHEN_INACTIVE:
        raise Conflict(_("warehouse %(code)s is inactive", code=warehouse.code),
                       fields={"warehouse_id": [_("inactive")]}, code="warehouse_inactive")
    return warehouse.location_id


def available_for(session: Session, product_ids: list[int], actor_id: int | None) -> dict[int, Decimal] | None:
    """What is available of each product at the warehouse the user works in (None: no such
    warehouse, the core answers with the totals)."""
    warehouse = services.user_default(session, actor_id)
    if warehouse is None:
        return None
    here = warehouse.location_id
    levels = stock.balances(session, product_ids, [here])
    return {pid: levels[(pid, here)].available if (pid, here) in levels else ZERO for pid in product_ids}
