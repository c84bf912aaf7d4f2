"""Locations inside a warehouse (no HTTP here: the API and the pages call these inside their
transaction).

A warehouse may have a tree of zones, aisles, shelves and bins. They are the plugin's own
breakdown of the warehouse's stock: the core still keeps the warehouse's on hand and reserved at
its one stock location (so reservations and availability per warehouse are unchanged), and the
bins say where that on-hand stock lies. For each warehouse and product, what the bins hold
together is at most the on hand there; the rest is **not put away** (just received, say).

* Stock arriving at the warehouse (a receipt, a transfer received, a direct invoice's stock
  coming back) goes into a purchase order line's own bin (``custom.warehouses_bin``, receipts
  only), else the product's default bin there, else it is not put away.
* Stock leaving it (a shipment, a direct invoice, a transfer shipped) is taken from the bins in
  path order (the picking list's order), then from what is not put away.
* An adjustment of the whole warehouse changes what is not put away; when that is not enough
  (the warehouse counted lower than its bins hold) the bins give up the rest, in path order.
* A count of one bin sets that bin's quantity and adjusts the warehouse by the difference.
* A move between two bins of the warehouse (or from what is not put away into a bin: putting
  away) never takes more than the source holds.

Every change runs under the product's row lock (the core's stock changes take it first), so two
moves racing for a bin's last units never both get them. A warehouse without bins behaves as one
location: nothing here runs for it."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from crm.errors import Conflict, NotFound, ValidationError
from crm.models import Document, DocumentLine, Item, StockBalance, StockMove
from crm.money import MAX_QUANTITY, ZERO, decimal_text, round_quantity
from crm.services import stock
from crm_warehouses import services
from crm_warehouses.models import (
    BIN_CODE_LENGTH,
    BIN_KEY,
    BIN_KINDS,
    PATH_SEPARATOR,
    Bin,
    BinStock,
    DefaultBin,
    Warehouse,
)

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
#: the kinds of moves that bring stock to a warehouse and are put away (a bundle's component
#: coming back is ``bundle_component``)
ARRIVALS = ("receipt", "transfer", "return", "bundle_component")


class BinShort(Conflict):
    """A bin (or what is not put away) holds less than asked."""

    code = "insufficient_bin_stock"


# --- the tree -------------------------------------------------------------------------------------

def bins(session: Session, warehouse_id: int) -> list[Bin]:
    """Every node of a warehouse's tree, in path order."""
    return list(session.scalars(select(Bin).where(Bin.warehouse_id == warehouse_id).order_by(Bin.path, Bin.id)))


def has_bins(session: Session, warehouse_id: int) -> bool:
    return session.scalar(select(Bin.id).where(Bin.warehouse_id == warehouse_id).limit(1)) is not None


def get_bin(session: Session, warehouse: Warehouse, bin_id: int) -> Bin:
    """A node of ``warehouse``'s tree (404 for an unknown one or one of another warehouse)."""
    found = session.get(Bin, bin_id)
    if found is None or found.warehouse_id != warehouse.id:
        raise NotFound(_("bin %(id)s not found in warehouse %(code)s", id=bin_id, code=warehouse.code))
    return found


def usable(session: Session, node: Bin) -> bool:
    """Whether the node and every node above it are active."""
    current: Bin | None = node
    while current is not None:
        if not current.active:
            return False
        current = session.get(Bin, current.parent_id) if current.parent_id is not None else None
    return True


def depth(node: Bin) -> int:
    return node.path.count(PATH_SEPARATOR)


def _subtree_ids(session: Session, node: Bin) -> list[int]:
    children: dict[int | None, list[int]] = defaultdict(list)
    for bin_id, parent_id in session.execute(select(Bin.id, Bin.parent_id).where(Bin.warehouse_id == node.warehouse_id)):
        children[parent_id].append(bin_id)
    found, todo = [], [node.id]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children[current])
    return found


def _held_in(session: Session, bin_ids: list[int]) -> Decimal:
    return session.scalar(select(func.sum(BinStock.quantity))
                          .where(BinStock.bin_id.in_(bin_ids), BinStock.quantity != ZERO)) or ZERO


def _code(data: dict[str, Any], errors: dict[str, list[str]]) -> str:
    code = str(data.get("code") or "").strip()
    if not code:
        errors["code"] = [_("give a code")]
    elif len(code) > BIN_CODE_LENGTH or not CODE_PATTERN.match(code):
        errors["code"] = [_("at most %(n)s letters, digits, ., - or _", n=BIN_CODE_LENGTH)]
    return code


def _name(data: dict[str, Any], errors: dict[str, list[str]]) -> str:
    name = str(data.get("name") or "").strip()
    if len(name) > 200:
        errors["name"] = [_("at most 200 characters")]
    return name


def _sibling_taken(session: Session, warehouse_id: int, parent_id: int | None, code: str, own_id: int | None) -> bool:
    stmt = select(Bin.id).where(Bin.warehouse_id == warehouse_id, Bin.code == code,
                                Bin.parent_id.is_(None) if parent_id is None else Bin.parent_id == parent_id)
    return any(found != own_id for found in session.scalars(stmt))


def create_bin(session: Session, warehouse: Warehouse, data: dict[str, Any]) -> Bin:
    """A new zone, aisle, shelf or bin of ``warehouse`` (``kind``, ``code``: unique among its
    siblings, ``name``, ``parent_id``: a node of the same warehouse of an earlier kind, or none
    for the top; ``active``). 422 naming the field."""
    errors: dict[str, list[str]] = {}
    kind = data.get("kind")
    if kind not in BIN_KINDS:
        errors["kind"] = [_("must be one of %(choices)s", choices=", ".join(BIN_KINDS))]
    code, name = _code(data, errors), _name(data, errors)
    parent_id = data.get("parent_id")
    parent = None
    if parent_id is not None:
        parent = session.get(Bin, parent_id) if isinstance(parent_id, int) and not isinstance(parent_id, bool) else None
        if parent is None or parent.warehouse_id != warehouse.id:
            errors["parent_id"] = [_("no location %(id)s in warehouse %(code)s", id=parent_id, code=warehouse.code)]
            parent = None
        elif kind in BIN_KINDS and BIN_KINDS.index(parent.kind) >= BIN_KINDS.index(kind):
            errors["parent_id"] = [_("a %(kind)s cannot be inside a %(parent)s", kind=kind_label(kind),
                                     parent=kind_label(parent.kind))]
    if code and "code" not in errors and "parent_id" not in errors \
            and _sibling_taken(session, warehouse.id, parent.id if parent else None, code, None):
        errors["code"] = [_("another location here has the code %(code)s", code=code)]
    if errors:
        raise ValidationError(_("Check the location's fields."), fields=errors)
    path = parent.path + PATH_SEPARATOR + code if parent is not None else code
    if len(path) > 200:
        raise ValidationError.for_field("code", _("the full path would be longer than 200 characters"))
    node = Bin(warehouse_id=warehouse.id, parent_id=parent.id if parent else None, kind=kind, code=code, name=name,
               path=path, active=bool(data.get("active", True)))
    session.add(node)
    session.flush()
    return node


def update_bin(session: Session, node: Bin, data: dict[str, Any]) -> Bin:
    """Change a node's ``code`` (its path and its descendants' follow), ``name`` or ``active``.
    Deactivating a node whose bins hold stock: 409 ``bin_has_stock`` (move it out first)."""
    errors: dict[str, list[str]] = {}
    if "code" in data:
        code = _code(data, errors)
        if code and "code" not in errors and _sibling_taken(session, node.warehouse_id, node.parent_id, code, node.id):
            errors["code"] = [_("another location here has the code %(code)s", code=code)]
    if "name" in data:
        name = _name(data, errors)
    if errors:
        raise ValidationError(_("Check the location's fields."), fields=errors)
    if "active" in data and not data["active"] and node.active:
        held = _held_in(session, _subtree_ids(session, node))
        if held:
            raise Conflict(_("%(path)s holds stock (%(quantity)s): move it out before deactivating it",
                             path=node.path, quantity=decimal_text(held)),
                           fields={"active": [_("holds stock")]}, code="bin_has_stock")
    if "active" in data:
        node.active = bool(data["active"])
    if "name" in data:
        node.name = name
    if "code" in data and code != node.code:
        node.code = code
        _repath(session, node)
    session.flush()
    return node


def _repath(session: Session, node: Bin) -> None:
    """Rebuild the paths of ``node`` and everything under it."""
    parent = session.get(Bin, node.parent_id) if node.parent_id is not None else None
    node.path = parent.path + PATH_SEPARATOR + node.code if parent is not None else node.code
    if len(node.path) > 200:
        raise ValidationError.for_field("code", _("the full path would be longer than 200 characters"))
    session.flush()
    for child in session.scalars(select(Bin).where(Bin.parent_id == node.id)):
        _repath(session, child)


def delete_bin(session: Session, node: Bin) -> None:
    """Delete a node that has no children and holds no stock (409 ``bin_has_children``,
    ``bin_has_stock``); a product whose default bin it was has none there any more."""
    if session.scalar(select(Bin.id).where(Bin.parent_id == node.id).limit(1)) is not None:
        raise Conflict(_("%(path)s has locations inside it: delete them first", path=node.path),
                       code="bin_has_children")
    held = _held_in(session, [node.id])
    if held:
        raise Conflict(_("%(path)s holds stock (%(quantity)s): move it out first", path=node.path,
                         quantity=decimal_text(held)), code="bin_has_stock")
    session.execute(delete(DefaultBin).where(DefaultBin.bin_id == node.id))
    session.execute(delete(BinStock).where(BinStock.bin_id == node.id))
    session.delete(node)
    session.flush()


def delete_all(session: Session, warehouse_id: int) -> None:
    """Forget a warehouse's tree (the warehouse is being deleted: it holds no stock)."""
    session.execute(delete(DefaultBin).where(DefaultBin.warehouse_id == warehouse_id))
    ids = list(session.scalars(select(Bin.id).where(Bin.warehouse_id == warehouse_id)))
    if ids:
        session.execute(delete(BinStock).where(BinStock.bin_id.in_(ids)))
        session.execute(delete(Bin).where(Bin.warehouse_id == warehouse_id))   # one statement: the tree at once
    session.flush()


def kind_label(kind: str) -> str:
    return {"zone": _("zone"), "aisle": _("aisle"), "shelf": _("shelf"), "bin": _("bin")}.get(kind, kind)


# --- reading what the bins hold -------------------------------------------------------------------

@dataclass(frozen=True)
class Held:
    """A product in a bin (``bin`` None: not put away in the warehouse)."""

    bin: Bin | None
    product_id: int
    sku: str
    name: str
    quantity: Decimal


def on_hand_at(session: Session, warehouse: Warehouse, product_id: int) -> Decimal:
    return session.scalar(select(StockBalance.on_hand).where(
        StockBalance.product_id == product_id, StockBalance.location_id == warehouse.location_id)) or ZERO


def holdings(session: Session, warehouse_id: int, product_id: int, *, for_update: bool = False) -> list[tuple[Bin, BinStock]]:
    """The bins of a warehouse holding some of a product, in path order, with their rows."""
    stmt = (select(Bin, BinStock).join(BinStock, BinStock.bin_id == Bin.id)
            .where(Bin.warehouse_id == warehouse_id, BinStock.product_id == product_id, BinStock.quantity != ZERO)
            .order_by(Bin.path, Bin.id))
    if for_update:
        stmt = stmt.with_for_update(of=BinStock).execution_options(populate_existing=True)
    return [(node, row) for node, row in session.execute(stmt)]


def in_bins(session: Session, warehouse_id: int, product_id: int) -> Decimal:
    return session.scalar(select(func.sum(BinStock.quantity)).join(Bin, Bin.id == BinStock.bin_id)
                          .where(Bin.warehouse_id == warehouse_id, BinStock.product_id == product_id)) or ZERO


def warehouse_bin_stock(session: Session, warehouse: Warehouse, product_id: int | None = None) -> list[Held]:
    """What each bin of the warehouse holds, in path order, then per product what is not put
    away there (on hand - in bins; only while the warehouse has bins)."""
    stmt = (select(Bin, Item, BinStock.quantity).join(BinStock, BinStock.bin_id == Bin.id)
            .join(Item, Item.id == BinStock.product_id)
            .where(Bin.warehouse_id == warehouse.id, BinStock.quantity != ZERO)
            .order_by(Bin.path, Bin.id, Item.sku, Item.name, Item.id))
    if product_id is not None:
        stmt = stmt.where(Item.id == product_id)
    rows = [Held(node, item.id, item.sku or "", item.name, quantity) for node, item, quantity in session.execute(stmt)]
    if not has_bins(session, warehouse.id):
        return rows
    placed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        placed[row.product_id] += row.quantity
    balances = (select(Item, StockBalance.on_hand).join(StockBalance, StockBalance.product_id == Item.id)
                .where(StockBalance.location_id == warehouse.location_id, StockBalance.on_hand != ZERO)
                .order_by(Item.sku, Item.name, Item.id))
    if product_id is not None:
        balances = balances.where(Item.id == product_id)
    for item, on_hand in session.execute(balances):
        left = on_hand - placed[item.id]
        if left:
            rows.append(Held(None, item.id, item.sku or "", item.name, left))
    return rows


def product_bins(session: Session, product_id: int) -> list[tuple[Warehouse, list[Held]]]:
    """A product's stock per bin in each warehouse that has bins and holds some of it (then
    what is not put away there)."""
    found = []
    for warehouse in services.warehouses(session):
        if not has_bins(session, warehouse.id):
            continue
        rows = warehouse_bin_stock(session, warehouse, product_id)
        if rows:
            found.append((warehouse, rows))
    return found


def default_bins(session: Session, warehouse_id: int) -> list[tuple[DefaultBin, Bin, Item]]:
    return [(row, node, item) for row, node, item in session.execute(
        select(DefaultBin, Bin, Item).join(Bin, Bin.id == DefaultBin.bin_id).join(Item, Item.id == DefaultBin.product_id)
        .where(DefaultBin.warehouse_id == warehouse_id).order_by(Item.sku, Item.name, Item.id))]


# --- checking what is asked -----------------------------------------------------------------------

def _stocked(session: Session, product_id: object, field: str = "product_id") -> Item:
    product = session.get(Item, product_id) if isinstance(product_id, int) and not isinstance(product_id, bool) else None
    if product is None or product.kind != "product":
        raise ValidationError.for_field(field, _("unknown product %(id)s", id=product_id))
    if product.is_bundle:
        raise ValidationError.for_field(field, _("a bundle has no stock of its own; use its components"))
    return product


def bin_for_stock(session: Session, warehouse: Warehouse, bin_id: object, field: str) -> Bin:
    """The active bin ``bin_id`` of ``warehouse`` (kind bin), else 422 naming ``field``."""
    if not isinstance(bin_id, int) or isinstance(bin_id, bool):
        raise ValidationError.for_field(field, _("give a bin id"))
    node = session.get(Bin, bin_id)
    if node is None:
        raise ValidationError.for_field(field, _("bin %(id)s not found", id=bin_id))
    if node.warehouse_id != warehouse.id:
        raise ValidationError.for_field(field, _("bin %(id)s is not in warehouse %(code)s", id=bin_id,
                                                 code=warehouse.code))
    if node.kind != "bin":
        raise ValidationError.for_field(field, _("%(path)s is a %(kind)s: only a bin holds stock", path=node.path,
                                                 kind=kind_label(node.kind)))
    if not usable(session, node):
        raise ValidationError.for_field(field, _("bin %(path)s is inactive", path=node.path))
    return node


def quantity_value(value: object, field: str, *, zero: bool = False) -> Decimal:
    """A quantity above 0 (or at least 0 with ``zero``), at most MAX_QUANTITY, with up to 3
    decimals; 422 naming ``field`` otherwise."""
    quantity = None
    if not isinstance(value, bool) and isinstance(value, (int, str, Decimal)):
        try:
            quantity = Decimal(str(value).strip())
        except InvalidOperation:
            quantity = None
    if quantity is None or not quantity.is_finite() or quantity < 0 or (quantity == 0 and not zero) \
            or quantity > MAX_QUANTITY or quantity != round_quantity(quantity):
        raise ValidationError.for_field(field, _("must be a quantity above 0 and at most %(max)s, with up to 3 decimals",
                                                 max=decimal_text(MAX_QUANTITY)) if not zero else
                                        _("must be a quantity of at least 0 and at most %(max)s, with up to 3 "
                                          "decimals", max=decimal_text(MAX_QUANTITY)))
    return quantity


def _lock_product(session: Session, product_id: int) -> None:
    """Take the product's row lock, which every change of its stock takes first (the core's
    too): the bins of one product change one transaction at a time."""
    session.execute(select(Item.id).where(Item.id == product_id).with_for_update())


def _row(session: Session, bin_id: int, product_id: int) -> BinStock:
    row = session.scalar(select(BinStock).where(BinStock.bin_id == bin_id, BinStock.product_id == product_id)
                         .with_for_update().execution_options(populate_existing=True))
    if row is None:
        row = BinStock(bin_id=bin_id, product_id=product_id, quantity=ZERO)
        session.add(row)
        session.flush()
    return row


def _set(session: Session, row: BinStock, quantity: Decimal) -> None:
    if quantity:
        row.quantity = quantity
    else:
        session.delete(row)
    session.flush()


# --- writing --------------------------------------------------------------------------------------

def move(session: Session, warehouse: Warehouse, data: dict[str, Any]) -> dict[str, Any]:
    """Move ``quantity`` of ``product_id`` from ``from_bin_id`` to ``to_bin_id``, two active bins
    of ``warehouse`` (either None: what is not put away there, so ``from_bin_id`` None puts
    stock away). Never more than the source holds: 409 ``insufficient_bin_stock`` naming
    ``quantity``. The warehouse's stock is unchanged."""
    product = _stocked(session, data.get("product_id"))
    source_id, target_id = data.get("from_bin_id"), data.get("to_bin_id")
    if source_id is None and target_id is None:
        raise ValidationError.for_field("to_bin_id", _("give the bin to move to, the bin to move from, or both"))
    source = bin_for_stock(session, warehouse, source_id, "from_bin_id") if source_id is not None else None
    target = bin_for_stock(session, warehouse, target_id, "to_bin_id") if target_id is not None else None
    if source is not None and target is not None and source.id == target.id:
        raise ValidationError.for_field("to_bin_id", _("the stock is already there: choose another bin"))
    quantity = quantity_value(data.get("quantity"), "quantity")
    _lock_product(session, product.id)
    if source is not None:
        row = _row(session, source.id, product.id)
        if row.quantity < quantity:
            raise BinShort(_("%(path)s holds %(held)s of %(name)s, %(quantity)s asked", path=source.path,
                             held=decimal_text(row.quantity), name=product.name, quantity=decimal_text(quantity)),
                           {"quantity": [_("at most %(held)s", held=decimal_text(row.quantity))]})
        _set(session, row, row.quantity - quantity)
    else:
        loose = on_hand_at(session, warehouse, product.id) - in_bins(session, warehouse.id, product.id)
        if loose < quantity:
            raise BinShort(_("%(held)s of %(name)s is not put away in %(code)s, %(quantity)s asked",
                             held=decimal_text(max(loose, ZERO)), name=product.name, code=warehouse.code,
                             quantity=decimal_text(quantity)),
                           {"quantity": [_("at most %(held)s", held=decimal_text(max(loose, ZERO)))]})
    if target is not None:
        row = _row(session, target.id, product.id)
        _set(session, row, row.quantity + quantity)
    return {"product_id": product.id, "quantity": quantity, "from_bin_id": source.id if source else None,
            "to_bin_id": target.id if target else None}


def count(session: Session, warehouse: Warehouse, data: dict[str, Any]) -> dict[str, Any]:
    """A count of one bin: ``counted_quantity`` of ``product_id`` in ``bin_id`` (an active bin of
    ``warehouse``). The bin then holds that, and the warehouse's on hand changes by the same
    difference (a core adjustment at the warehouse, reason ``count_correction``, the ``note``
    given), both in the caller's transaction. Nothing to change: 422 naming
    ``counted_quantity``."""
    services.refuse_inactive(warehouse, "warehouse_id")
    product = _stocked(session, data.get("product_id"))
    node = bin_for_stock(session, warehouse, data.get("bin_id"), "bin_id")
    counted = quantity_value(data.get("counted_quantity"), "counted_quantity", zero=True)
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > 1000:
        raise ValidationError.for_field("note", _("at most 1000 characters"))
    _lock_product(session, product.id)
    row = _row(session, node.id, product.id)
    difference = counted - row.quantity
    if not difference:
        raise ValidationError.for_field("counted_quantity", _("%(path)s already holds %(quantity)s",
                                                              path=node.path, quantity=decimal_text(counted)))
    _set(session, row, counted)
    moved = stock.adjust(session, product.id, quantity=difference, reason="count_correction",
                         note=note or _("count of bin %(path)s", path=node.path), location_id=warehouse.location_id)
    return {"bin_id": node.id, "product_id": product.id, "quantity": counted, "difference": difference,
            "move_id": moved.id}


def set_default_bin(session: Session, warehouse: Warehouse, product_id: object, bin_id: object) -> Bin | None:
    """The bin a product is put away in when it arrives at ``warehouse`` (an active bin of it),
    or none (``bin_id`` None)."""
    product = _stocked(session, product_id)
    row = session.get(DefaultBin, (warehouse.id, product.id))
    if bin_id is None:
        if row is not None:
            session.delete(row)
        session.flush()
        return None
    node = bin_for_stock(session, warehouse, bin_id, "bin_id")
    if row is None:
        session.add(DefaultBin(warehouse_id=warehouse.id, product_id=product.id, bin_id=node.id))
    else:
        row.bin_id = node.id
    session.flush()
    return node


# --- following the core's stock moves (hook crm_stock_moved) -------------------------------------

def _line_bin(session: Session, warehouse: Warehouse, line: DocumentLine | None) -> Bin | None:
    """The bin a purchase order line names for its receipts (409 naming the line's key when it
    is not an active bin of the warehouse receiving)."""
    value = (line.custom or {}).get(BIN_KEY) if line is not None else None
    if line is None or value is None or value == "":
        return None
    document = session.get(Document, line.document_id)
    index = next((i for i, other in enumerate(document.lines) if other.id == line.id), 0) if document else 0
    try:
        return bin_for_stock(session, warehouse, value, f"lines.{index}.custom.{BIN_KEY}")
    except ValidationError as refused:
        raise Conflict(refused.message, refused.fields, code="bin_refused") from refused


def _arrival_bin(session: Session, warehouse: Warehouse, move: StockMove) -> Bin | None:
    if move.kind not in ARRIVALS:
        return None
    if move.kind == "receipt" and move.line_id is not None:
        chosen = _line_bin(session, warehouse, session.get(DocumentLine, move.line_id))
        if chosen is not None:
            return chosen
    row = session.get(DefaultBin, (warehouse.id, move.product_id))
    node = session.get(Bin, row.bin_id) if row is not None else None
    return node if node is not None and usable(session, node) else None


def _take(session: Session, warehouse_id: int, product_id: int, quantity: Decimal) -> None:
    """Take up to ``quantity`` of a product out of the warehouse's bins, in path order."""
    for _node, row in holdings(session, warehouse_id, product_id, for_update=True):
        if quantity <= 0:
            break
        taken = min(row.quantity, quantity)
        quantity -= taken
        _set(session, row, row.quantity - taken)


def stock_moved(session: Session, moves: list[StockMove]) -> None:
    """Keep the bins of the warehouses where stock moved in step (see the module's rules)."""
    located = {move.location_id for move in moves}
    found = session.scalars(select(Warehouse).where(Warehouse.location_id.in_(located),
                                                    exists(select(Bin.id).where(Bin.warehouse_id == Warehouse.id))))
    by_location = {warehouse.location_id: warehouse for warehouse in found}
    if not by_location:
        return
    touched: set[tuple[int, int]] = set()
    for move in moves:
        warehouse = by_location.get(move.location_id)
        if warehouse is None:
            continue
        touched.add((warehouse.id, move.product_id))
        if move.quantity > 0:
            target = _arrival_bin(session, warehouse, move)
            if target is not None:
                row = _row(session, target.id, move.product_id)
                _set(session, row, row.quantity + move.quantity)
        elif move.quantity < 0 and move.kind != "adjustment":
            _take(session, warehouse.id, move.product_id, -move.quantity)
    warehouses = {w.id: w for w in by_location.values()}
    for warehouse_id, product_id in sorted(touched):
        excess = in_bins(session, warehouse_id, product_id) - max(
            on_hand_at(session, warehouses[warehouse_id], product_id), ZERO)
        if excess > 0:   # the warehouse has less than its bins: they give up the rest, in path order
            _take(session, warehouse_id, product_id, excess)


def check_lines(session: Session, document: Document) -> None:
    """A purchase order line's bin, if it names one, is an active bin (which warehouse receives
    is checked at the receipt): 422 naming ``lines.<i>.custom.warehouses_bin``."""
    for index, line in enumerate(document.lines):
        value = (line.custom or {}).get(BIN_KEY)
        if value is None or value == "":
            continue
        where = f"lines.{index}.custom.{BIN_KEY}"
        if document.doc_type != "purchase_order":
            raise ValidationError.for_field(where, _("only a purchase order line names the bin it is received into"))
        node = session.get(Bin, value) if isinstance(value, int) and not isinstance(value, bool) else None
        if node is None:
            raise ValidationError.for_field(where, _("bin %(id)s not found", id=value))
        if node.kind != "bin":
            raise ValidationError.for_field(where, _("%(path)s is a %(kind)s: only a bin holds stock", path=node.path,
                                                     kind=kind_label(node.kind)))
        if not usable(session, node):
            raise ValidationError.for_field(where, _("bin %(path)s is inactive", path=node.path))


# --- the picking list of a sales order -----------------------------------------------------------

@dataclass(frozen=True)
class Pick:
    """Take ``quantity`` of a product from a bin (``bin`` None: from what is not put away, or from
    a warehouse without bins) for a line of the order."""

    warehouse: Warehouse | None
    bin: Bin | None
    line_number: int
    line_id: int
    product_id: int
    sku: str
    name: str
    quantity: Decimal


def picking_list(session: Session, order: Document) -> list[Pick]:
    """What to pick for what a sales order still has to ship: per warehouse, then in bin path
    order (what is not put away last), each bin's quantity taken for the lines in line order,
    as the shipment will take it."""
    if order.doc_type != "sales_order":
        raise ValidationError.for_field("document_id", _("only a sales order has a picking list"))
    warehouses_at = {w.location_id: w for w in services.warehouses(session)}
    default_id = stock.default_location(session).id
    wanted: list[tuple[int, DocumentLine, stock.Need]] = []
    for number, line in enumerate(order.lines, start=1):
        if line.display_type is not None or line.item is None:
            continue
        left = line.quantity - line.qty_shipped
        if left <= 0:
            continue
        location_id = line.stock_location_id
        if location_id is None:
            warehouse = services.line_warehouse(session, order, line)
            location_id = warehouse.location_id if warehouse is not None else default_id
        for need in stock.product_needs(line, left, location_id):
            wanted.append((number, line, need))
    names = dict((pid, (sku or "", name)) for pid, sku, name in session.execute(
        select(Item.id, Item.sku, Item.name).where(Item.id.in_({need.product_id for _n, _l, need in wanted}))))\
        if wanted else {}
    picks: list[Pick] = []
    left_in: dict[tuple[int, int], list[list]] = {}
    for number, line, need in wanted:
        warehouse = warehouses_at.get(need.location_id)
        sku, name = names.get(need.product_id, ("", ""))
        quantity = need.quantity
        if warehouse is not None:
            key = (warehouse.id, need.product_id)
            if key not in left_in:
                left_in[key] = [[node, row.quantity] for node, row in holdings(session, warehouse.id, need.product_id)]
            for held in left_in[key]:
                if quantity <= 0:
                    break
                taken = min(held[1], quantity)
                if taken > 0:
                    held[1] -= taken
                    quantity -= taken
                    picks.append(Pick(warehouse, held[0], number, line.id, need.product_id, sku, name, taken))
        if quantity > 0:
            picks.append(Pick(warehouse, None, number, line.id, need.product_id, sku, name, quantity))
    picks.sort(key=lambda p: (p.warehouse.code if p.warehouse else "", p.bin is None,
                              p.bin.path if p.bin is not None else "", p.line_number, p.sku))
    return picks
