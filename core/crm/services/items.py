"""Items: products (with stock; a bundle when it has components) and services
(never any stock). Products and services share one table and one id space."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from flask_babel import gettext as _
from sqlalchemy import Select, Table, bindparam, exists, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from crm import money
from crm.context import current_actor_id
from crm.errors import Conflict, NotFound, ValidationError
from crm.models import (
    AuditEntry,
    BundleComponent,
    DocumentLine,
    Item,
    PriceBookEntry,
    StockMove,
    Tax,
    Vendor,
    item_taxes,
)
from crm.models.base import utcnow
from crm.money import ZERO, whole_times
from crm.services.custom_fields import fields_for, validate_custom
from crm.services.records import (
    apply_changes,
    check_bounds,
    check_version,
    delete_record,
    find,
    flush,
    insert_rows,
    matching,
    new_ids,
    referring,
    refuse_if_used,
    saved,
    saved_many,
    store_change,
    store_changes,
)
from crm.services.taxes import taxes_by_id

ENTITY = "items"
#: the bounds of an item's amounts and quantities (:mod:`crm.money`)
AMOUNT_BOUNDS = {"unit_price": money.MAX_AMOUNT, "purchase_cost": money.MAX_AMOUNT,
                 "qty_per_unit": money.MAX_QUANTITY, "reorder_level": money.MAX_QUANTITY,
                 "reorder_quantity": money.MAX_QUANTITY}
UNIQUE = {"sku": ("uq_items_sku", "items.sku")}
#: what every item response needs, loaded in a few queries instead of one per item
LOAD = (selectinload(Item.taxes),
        selectinload(Item.components).selectinload(BundleComponent.component))


def items_query(kind: str) -> Select:
    return select(Item).where(Item.kind == kind).options(*LOAD)


#: the taxes of a page of items, in the order of ``Item.taxes``
_TAXES_OF = (select(item_taxes.c.item_id, Tax).join(Tax, Tax.id == item_taxes.c.tax_id)
             .where(item_taxes.c.item_id.in_(bindparam("ids", expanding=True)))
             .order_by(item_taxes.c.item_id, Tax.id))


def load_details(session: Session, items: list[Item]) -> list[Item]:
    """What every item response needs (:data:`LOAD`: taxes, and the components of
    bundles), for a page of items loaded without it: one query for the taxes, one
    more only if the page has bundles. Cheaper than the relationship loaders."""
    if not items:
        return items
    taxes: dict[int, list[Tax]] = {item.id: [] for item in items}
    for item_id, tax in session.execute(_TAXES_OF, {"ids": list(taxes)}):
        taxes[item_id].append(tax)
    components: dict[int, list[BundleComponent]] = {item.id: [] for item in items if item.is_bundle}
    if components:
        for row in session.scalars(select(BundleComponent).where(BundleComponent.bundle_id.in_(list(components)))
                                   .options(selectinload(BundleComponent.component))
                                   .order_by(BundleComponent.bundle_id, BundleComponent.component_id)):
            components[row.bundle_id].append(row)
    for item in items:
        set_committed_value(item, "taxes", taxes[item.id])
        set_committed_value(item, "components", components.get(item.id, []))
    return items


def get_item(session: Session, item_id: int, kind: str | None = None, *, for_update: bool = False) -> Item:
    """The item ``item_id``; with ``kind``, only if it is of that kind ("product" or "service").
    ``for_update`` locks its row until the commit."""
    item = find(session, Item, item_id, options=LOAD, with_for_update=True if for_update else None)
    if item is None or (kind is not None and item.kind != kind):
        raise NotFound(_not_found(kind, item_id), {"id": [_("not found")]})
    return item


def _not_found(kind: str | None, item_id: int) -> str:
    if kind == "product":
        return _("product %(id)s not found", id=item_id)
    if kind == "service":
        return _("service %(id)s not found", id=item_id)
    return _("item %(id)s not found", id=item_id)


def create_item(session: Session, kind: str, data: dict) -> Item:
    item = Item(kind=kind, is_bundle=False, custom={}, taxes=[], components=[])
    data.setdefault("custom", {})
    _apply(session, item, data)
    session.add(item)
    flush(session, UNIQUE)
    saved(session, ENTITY, item, True)
    return item


def insert_items(session: Session, kind: str, rows: list[dict]) -> list[int]:
    """:func:`create_item` for many plain items at once (imports), returning their ids in the
    order of ``rows``: the same checks -- bounds, custom fields, a free SKU, an existing vendor,
    applicable taxes -- made with a few queries for the whole batch, then one ``INSERT`` for the
    items (SQLAlchemy Core, no ORM objects), one for their taxes and one for their audit entries
    (as :mod:`crm.services.audit` writes them), and the plugins told once
    (:func:`crm.services.records.saved_many`: ``crm_records_saved``). Bundles (``components``)
    are refused here: create them one by one. The first refusal raises, naming the field, and
    nothing of the batch is written."""
    if any(row.get("components") for row in rows):
        raise ValidationError.for_field("components", _("create bundles one by one"))
    if not rows:
        return []
    custom_fields = fields_for(session, ENTITY)
    skus = [(row.get("sku") or "").strip() or None for row in rows]
    wanted = [sku for sku in skus if sku is not None]
    taken = {sku: item_id for sku, item_id in session.execute(select(Item.sku, Item.id)
                                                              .where(matching(Item.sku, wanted, session)))}
    vendor_ids = {row["vendor_id"] for row in rows if row.get("vendor_id") is not None}
    vendors = set(session.scalars(select(Vendor.id).where(Vendor.id.in_(vendor_ids)))) if vendor_ids else set()
    tax_ids = sorted({tax_id for row in rows for tax_id in row.get("tax_ids") or ()})
    taxes_by_id(session, tax_ids, "tax_ids", applies="items")   # each one known, active, for items
    now = utcnow()
    values: list[dict] = []
    row_taxes: list[list[int]] = []
    for row, sku in zip(rows, skus):
        data = dict(row)
        data.pop("components", None)
        check_bounds(data, AMOUNT_BOUNDS)
        data["custom"] = validate_custom(session, ENTITY, data.get("custom") or {}, fields=custom_fields)
        if sku is not None and sku in taken:
            raise Conflict(_("sku %(sku)s is already used by item %(id)s", sku=repr(sku), id=taken[sku]),
                           {"sku": [_("already exists")]})
        data["sku"] = sku
        if data.get("vendor_id") is not None and data["vendor_id"] not in vendors:
            raise ValidationError.for_field("vendor_id", _("unknown vendor %(id)s", id=data["vendor_id"]))
        ids = list(data.pop("tax_ids", None) or ())
        if len(set(ids)) != len(ids):
            raise ValidationError.for_field("tax_ids", _("the same tax is listed twice"))
        values.append({**data, "kind": kind, "is_bundle": False, "created_at": now, "updated_at": now})
        row_taxes.append(ids)
        if sku is not None:
            taken[sku] = 0
    ids = _insert_rows(session, values)
    links = [{"item_id": item_id, "tax_id": tax_id} for item_id, linked in zip(ids, row_taxes) for tax_id in linked]
    insert_rows(session, item_taxes, links)
    actor = current_actor_id()
    insert_rows(session, cast(Table, AuditEntry.__table__), [
        {"at": now, "user_id": actor, "action": "create", "entity": ENTITY, "entity_id": str(item_id), "changes": {}}
        for item_id in ids])
    saved_many(session, ENTITY, Item, ids, True)
    return ids


def _insert_rows(session: Session, values: list[dict]) -> list[int]:
    """INSERT the items ``values`` (one statement per set of columns given, executemany with
    RETURNING in the order of the rows), their ids in that order; a SKU taken meanwhile is a 409."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, row in enumerate(values):
        groups.setdefault(tuple(sorted(row)), []).append(index)
    ids: list[int] = [0] * len(values)
    table = cast(Table, Item.__table__)
    try:
        with session.no_autoflush:
            for indexes in groups.values():
                rows = [values[i] for i in indexes]
                taken = new_ids(session, table, len(rows))
                if taken is not None:   # PostgreSQL: the ids first, then the rows as arrays
                    insert_rows(session, table, [{**row, "id": item_id} for row, item_id in zip(rows, taken)])
                    written = taken
                else:
                    # SQLite: SQLAlchemy would insert one row a statement to return the ids in the
                    # rows' order; a multi-row INSERT inserts its rows in order and AUTOINCREMENT ids
                    # only grow (one writer at a time), so the ids sorted are in the rows' order
                    written = sorted(session.execute(insert(table).returning(table.c.id), rows).scalars())
                for index, item_id in zip(indexes, written, strict=True):
                    ids[index] = item_id
    except IntegrityError as exc:
        if "sku" in str(exc.orig):
            raise Conflict(_("%(field)s: already exists", field="sku"), {"sku": [_("already exists")]}) from None
        raise Conflict(_("the change conflicts with another change made at the same time; reload and try again")) \
            from None
    return ids


def update_item(session: Session, item: Item, data: dict) -> Item:
    check_version(item, data.pop("version", None))
    _apply(session, item, data)
    return store_change(session, ENTITY, item, UNIQUE)


def change_item(session: Session, item: Item, data: dict) -> None:
    """:func:`update_item`'s checks and changes without its flush: a refusal raises here, naming
    the field, and leaves the item as it was. :func:`flush_changed_items` then writes many changed
    items with one flush (imports)."""
    check_version(item, data.pop("version", None))
    _apply(session, item, data)


def flush_changed_items(session: Session, changed: list[Item]) -> None:
    """Write the items :func:`change_item` changed together (an executemany ``UPDATE`` per set of
    changed columns, their audit entries in one ``INSERT``), then tell the plugins of each."""
    store_changes(session, ENTITY, changed, UNIQUE)


def delete_item(session: Session, item: Item) -> None:
    """Refused while documents, bundles, price books or stock moves refer to the item."""
    label = (_("product %(name)s", name=repr(item.name)) if item.kind == "product"
             else _("service %(name)s", name=repr(item.name)))
    refuse_if_used(session, label, referring(references(), item.id))
    delete_record(session, ENTITY, item)


def references() -> dict:
    """What refers to an item and keeps it from being deleted: a description -> the column."""
    return {_("documents"): DocumentLine.item_id, _("bundles"): BundleComponent.component_id,
            _("price books"): PriceBookEntry.item_id, _("stock moves"): StockMove.product_id}


# --- stock figures -------------------------------------------------------------

@dataclass(frozen=True)
class Stock:
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


def stock_of(item: Item) -> Stock | None:
    """A product's stock; a bundle's is how many whole bundles its components make
    (``available = min(component available // quantity)``, likewise ``on_hand``;
    ``reserved`` is the difference). None for a service."""
    if item.kind != "product":
        return None
    if not item.is_bundle:
        return Stock(item.on_hand, item.reserved, item.on_hand - item.reserved)
    if not item.components:
        return Stock(ZERO, ZERO, ZERO)
    on_hand = min(whole_times(c.component.on_hand, c.quantity) for c in item.components)
    available = min(whole_times(c.component.on_hand - c.component.reserved, c.quantity) for c in item.components)
    return Stock(on_hand, on_hand - available, available)


# --- validation -------------------------------------------------------------------

def _apply(session: Session, item: Item, data: dict) -> None:
    """Check ``data`` against the database, then change ``item``: nothing is
    flushed half-way (a refusal leaves the item as it was in the database)."""
    with session.no_autoflush:
        check_bounds(data, AMOUNT_BOUNDS)
        if "custom" in data:
            data["custom"] = validate_custom(session, ENTITY, data["custom"], current=item.custom)
        if "sku" in data:
            data["sku"] = _free_sku(session, item, data["sku"])
        if data.get("vendor_id") is not None and find(session, Vendor, data["vendor_id"]) is None:
            raise ValidationError.for_field("vendor_id", _("unknown vendor %(id)s", id=data["vendor_id"]))
        taxes = taxes_by_id(session, data.pop("tax_ids"), "tax_ids", applies="items") if "tax_ids" in data else None
        components = _components(session, item, data.pop("components")) if "components" in data else None
        if taxes is not None and {t.id for t in taxes} != {t.id for t in item.taxes}:
            item.taxes = taxes
            item.updated_at = utcnow()  # a change of the links alone must bump the item's version too
        if components is not None and _changed(item, components):
            _set_components(item, components)
            item.updated_at = utcnow()
        apply_changes(item, data)


def _free_sku(session: Session, item: Item, sku: str | None) -> str | None:
    sku = (sku or "").strip() or None
    if sku is not None and sku != item.sku:
        taken = session.scalar(select(Item.id).where(Item.sku == sku))
        if taken is not None:
            raise Conflict(_("sku %(sku)s is already used by item %(id)s", sku=repr(sku), id=taken),
                           {"sku": [_("already exists")]})
    return sku


def _components(session: Session, bundle: Item, rows: list[dict]) -> list[tuple[Item, Decimal]]:
    """``[{"component_id", "quantity"}]`` -> ``[(product, quantity)]``: existing
    products that are not bundles, not the bundle itself, each once, quantity > 0."""
    ids = [row["component_id"] for row in rows]
    found = {p.id: p for p in session.scalars(select(Item).where(Item.id.in_(ids)))} if ids else {}
    result, seen = [], set()
    for index, row in enumerate(rows):
        where, product = f"components.{index}", found.get(row["component_id"])
        if product is None or product.kind != "product":
            raise ValidationError.for_field(f"{where}.product_id", _("unknown product %(id)s", id=row["component_id"]))
        if product.id == bundle.id:
            raise ValidationError.for_field(f"{where}.product_id", _("a bundle cannot contain itself"))
        if product.is_bundle:
            raise ValidationError.for_field(f"{where}.product_id",
                                            _("%(name)s is a bundle; a bundle cannot contain bundles",
                                              name=repr(product.name)))
        if product.id in seen:
            raise ValidationError.for_field(f"{where}.product_id", _("this product is listed twice"))
        if row["quantity"] <= 0:
            raise ValidationError.for_field(f"{where}.quantity", _("must be greater than 0"))
        check_bounds(row, {"quantity": money.MAX_QUANTITY}, where=f"{where}.")
        seen.add(product.id)
        result.append((product, row["quantity"]))
    if result and bundle.id is not None and _is_component(session, bundle.id):
        raise ValidationError.for_field("components", _("this product is a component of a bundle; "
                                                        "a bundle cannot be inside another bundle"))
    if bool(result) != bundle.is_bundle and bundle.id is not None and _has_history(session, bundle):
        message = (_("product %(name)s has stock or is on documents: it cannot become a bundle; "
                     "create a new product instead", name=repr(bundle.name)) if result else
                   _("product %(name)s has stock or is on documents: it cannot stop being a bundle; "
                     "create a new product instead", name=repr(bundle.name)))
        raise Conflict(message, {"components": [_("cannot change whether this product is a bundle")]})
    return result


def _set_components(bundle: Item, components: list[tuple[Item, Decimal]]) -> None:
    """Replace the components, keeping the rows of products that stay (their quantity updated)."""
    current = {c.component_id: c for c in bundle.components}
    rows = []
    for product, quantity in components:
        row = current.get(product.id) or BundleComponent(component_id=product.id)
        row.component, row.quantity = product, quantity
        rows.append(row)
    bundle.components = sorted(rows, key=lambda row: row.component_id)  # the order they load in
    bundle.is_bundle = bool(rows)


def _changed(bundle: Item, components: list[tuple[Item, Decimal]]) -> bool:
    return {c.component_id: c.quantity for c in bundle.components} != {p.id: q for p, q in components}


def _is_component(session: Session, product_id: int) -> bool:
    return bool(session.scalar(select(exists().where(BundleComponent.component_id == product_id))))


def _has_history(session: Session, item: Item) -> bool:
    if item.on_hand or item.reserved:
        return True
    return bool(session.scalar(select(or_(exists().where(DocumentLine.item_id == item.id),
                                          exists().where(StockMove.product_id == item.id)))))
