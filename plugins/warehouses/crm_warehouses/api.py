"""The warehouses plugin's endpoints, under ``/api/v1/warehouses`` (blueprint ``warehouses_api``):
the warehouses (everyone of the warehouse, purchasing and sales teams reads; the admin writes);
transfers between them (the same teams read; who may change stock, the warehouse team and the
admin, writes)."""
from __future__ import annotations

from decimal import Decimal
from functools import wraps
from typing import Any, Callable

from flask import g, request
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.api.fields import IdField, Integer, QuantityField, Text
from crm.api.schemas import MAX_PER_PAGE, Blueprint, ListOf, Schema
from crm.db import db
from crm.errors import NotFound, PermissionDenied
from crm.models import Document, Item, StockMove
from crm.permissions import can, require
from crm.services import stock
from crm.services.doctypes import DOC_TYPES as DOC_TYPE_INFO
from crm.services.documents import get_document
from crm.services.stock import ADJUSTMENT_REASONS
from crm_warehouses import bins, reorder, services, stock as warehouse_stock, transfers
from crm_warehouses.models import BIN_KINDS, DOC_TYPES, TRANSFER_STATUSES, Transfer, Warehouse
from crm_warehouses.permissions import WAREHOUSES

blp = Blueprint("warehouses_api", __name__, url_prefix="/api/v1/warehouses",
                description="Warehouses and the stock in each (warehouses plugin)")


class WarehouseSchema(Schema):
    class Meta:
        name = "Warehouse"

    id = fields.Integer(dump_only=True)
    code = Text(20, required=True, metadata={"description": "unique: letters, digits, - and _"})
    name = Text(200, required=True)
    address = Text(2000, load_default="", required=False)
    active = fields.Boolean(load_default=True, metadata={"description": "an inactive warehouse is offered for nothing new"})
    location_id = fields.Integer(dump_only=True, metadata={"description": "its stock location (stock moves' location_id)"})


class WarehousePatchSchema(WarehouseSchema):
    class Meta:
        name = "WarehousePatch"


class WarehouseListArgs(Schema):
    class Meta:
        name = "WarehouseListArgs"

    active = fields.Boolean(load_default=None, allow_none=True,
                            metadata={"description": "only the active (true) or inactive (false) ones"})


def _sent(body: dict) -> dict:
    """Only the keys the client sent (partial schemas fill load_default values)."""
    raw = request.get_json(silent=True) or {}
    return {k: v for k, v in body.items() if k in raw}


@blp.route("")
class Warehouses(MethodView):
    @require(WAREHOUSES)
    @blp.arguments(WarehouseListArgs, location="query")
    @blp.response(200, ListOf(WarehouseSchema))
    def get(self, args: dict) -> dict:
        """Every warehouse, by code."""
        items = services.warehouses(db.session, active=args.get("active"))
        return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}

    @require(WAREHOUSES, "write")
    @blp.arguments(WarehouseSchema)
    @blp.response(201, WarehouseSchema)
    def post(self, body: dict) -> Warehouse:
        """Add a warehouse (admin); its code is unique."""
        with db.transaction() as session:
            return services.create_warehouse(session, body)


@blp.route("/<int:warehouse_id>")
class WarehouseById(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, WarehouseSchema)
    def get(self, warehouse_id: int) -> Warehouse:
        """One warehouse."""
        return services.get_warehouse(db.session, warehouse_id)

    @require(WAREHOUSES, "write")
    @blp.arguments(WarehousePatchSchema(partial=True))
    @blp.response(200, WarehouseSchema)
    def patch(self, body: dict, warehouse_id: int) -> Warehouse:
        """Change a warehouse's code, name, address, or (de)activate it (admin)."""
        with db.transaction() as session:
            warehouse = services.get_warehouse(session, warehouse_id, for_update=True)
            return services.update_warehouse(session, warehouse, _sent(body))

    @require(WAREHOUSES, "write")
    @blp.response(204)
    def delete(self, warehouse_id: int) -> None:
        """Delete a warehouse that never held stock (409 otherwise: deactivate it)."""
        with db.transaction() as session:
            services.delete_warehouse(session, services.get_warehouse(session, warehouse_id, for_update=True))


# --- the warehouse a user works in, the warehouse of a document ----------------------------------

class WarehouseChoiceSchema(Schema):
    class Meta:
        name = "WarehouseChoice"

    warehouse_id = IdField(required=True, allow_none=True,
                           metadata={"description": "an active warehouse; null: none (the default location)"})


class DefaultWarehouseSchema(Schema):
    class Meta:
        name = "DefaultWarehouse"

    warehouse_id = fields.Integer(allow_none=True)
    warehouse = fields.Nested(WarehouseSchema, allow_none=True)


class DocumentWarehouseSchema(Schema):
    class Meta:
        name = "DocumentWarehouse"

    document_id = fields.Integer()
    warehouse_id = fields.Integer(allow_none=True)
    warehouse = fields.Nested(WarehouseSchema, allow_none=True)
    locked = fields.Boolean(metadata={"description": "the document moved or reserved stock: its warehouse stays"})


def _default(warehouse: Warehouse | None) -> dict:
    return {"warehouse_id": warehouse.id if warehouse else None, "warehouse": warehouse}


@blp.route("/default")
class DefaultWarehouse(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, DefaultWarehouseSchema)
    def get(self) -> dict:
        """The warehouse the signed-in user works in: their new orders and invoices get it."""
        return _default(services.user_default(db.session, g.user.id))

    @require(WAREHOUSES)
    @blp.arguments(WarehouseChoiceSchema)
    @blp.response(200, DefaultWarehouseSchema)
    def put(self, body: dict) -> dict:
        """Choose the warehouse you work in (an active one), or none (null)."""
        with db.transaction() as session:
            return _default(services.set_user_default(session, g.user.id, body["warehouse_id"]))


def _refuse_unless_may(session: Session, document_id: int, action: str) -> str | None:
    """The document's type, or None when no order or invoice has that id; 403 if the user may
    not ``action`` it."""
    doc_type = session.scalar(select(Document.doc_type).where(Document.id == document_id))
    if doc_type not in DOC_TYPES:
        return None
    if not can(g.user, DOC_TYPE_INFO[doc_type].resource, action):
        raise PermissionDenied(_("you may not change this document"))
    return doc_type


def _document(session: Session, document_id: int, action: str, *, for_update: bool = False) -> Document:
    """The order or invoice ``document_id`` if the user may ``action`` it (404, 403)."""
    doc_type = _refuse_unless_may(session, document_id, action)
    if doc_type is None:
        raise NotFound(_("document %(id)s not found", id=document_id))
    return get_document(session, doc_type, document_id, for_update=for_update)


def _may_change_document(view: Callable) -> Callable:
    """Refuse one who may not change the document (403) before its body is read, as a role is
    refused before its body anywhere; the body is then checked (422) before the document is
    looked for (404), as on every endpoint."""
    @wraps(view)
    def checked(*args: Any, document_id: int, **kwargs: Any) -> Any:
        _refuse_unless_may(db.session, document_id, "write")
        db.session.rollback()
        return view(*args, document_id=document_id, **kwargs)
    return checked


def _document_answer(session: Session, document: Document, warehouse: Warehouse | None) -> dict:
    return {"document_id": document.id, "warehouse_id": warehouse.id if warehouse else None, "warehouse": warehouse,
            "locked": services.stock_touched(session, document)}


@blp.route("/documents/<int:document_id>")
class DocumentWarehouseById(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, DocumentWarehouseSchema)
    def get(self, document_id: int) -> dict:
        """The warehouse of a purchase order (receipts go there), sales order (reservations and
        shipments come from there) or direct invoice (its stock goes out there)."""
        document = _document(db.session, document_id, "read")
        return _document_answer(db.session, document, services.document_warehouse(db.session, document.id))

    @require(WAREHOUSES)
    @_may_change_document
    @blp.arguments(WarehouseChoiceSchema)
    @blp.response(200, DocumentWarehouseSchema)
    def put(self, body: dict, document_id: int) -> dict:
        """Choose the document's warehouse (an active one; null: the default location), whoever
        may change the document; 409 once it has moved or reserved stock."""
        with db.transaction() as session:
            document = _document(session, document_id, "write", for_update=True)
            chosen = services.set_document_warehouse(session, document, body["warehouse_id"])
            return _document_answer(session, document, chosen)


# --- stock per warehouse ------------------------------------------------------------------------

class WarehouseStockRowSchema(Schema):
    class Meta:
        name = "WarehouseStockRow"

    product_id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    on_hand = QuantityField(minimum=None)
    reserved = QuantityField(minimum=None)
    available = QuantityField(minimum=None, metadata={"description": "on hand - reserved"})
    incoming = QuantityField(minimum=None, metadata={"description": "still to come on approved purchase orders for it"})


class WarehouseStockSchema(Schema):
    class Meta:
        name = "WarehouseStock"

    warehouse = fields.Nested(WarehouseSchema)
    items = fields.List(fields.Nested(WarehouseStockRowSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class WarehouseStockArgs(Schema):
    class Meta:
        name = "WarehouseStockArgs"

    product_id = IdField(metadata={"description": "only this product"})
    page = Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


@blp.route("/<int:warehouse_id>/stock")
class WarehouseStock(MethodView):
    @require(WAREHOUSES)
    @blp.arguments(WarehouseStockArgs, location="query")
    @blp.response(200, WarehouseStockSchema)
    def get(self, args: dict, warehouse_id: int) -> dict:
        """What the warehouse holds, has reserved and expects: the products with on hand,
        reserved, available and incoming there (by SKU), a page at a time."""
        warehouse = services.get_warehouse(db.session, warehouse_id)
        held = warehouse_stock.warehouse_stock(db.session, warehouse, args.get("product_id"),
                                               page=args["page"], per_page=args["per_page"])
        return {"warehouse": warehouse, "items": held.rows, "total": held.total, "page": held.page,
                "per_page": held.per_page}


class WarehouseAdjustmentSchema(Schema):
    class Meta:
        name = "WarehouseAdjustment"

    product_id = IdField(required=True)
    quantity = QuantityField(minimum=None, allow_none=True, metadata={"description": "signed change"})
    counted_quantity = QuantityField(allow_none=True, metadata={"description": "what was counted in this warehouse"})
    reason = fields.String(required=True, validate=validate.OneOf(ADJUSTMENT_REASONS))
    note = Text(1000)


class WarehouseMoveSchema(Schema):
    class Meta:
        name = "WarehouseMove"

    id = fields.Integer()
    product_id = fields.Integer()
    quantity = QuantityField(minimum=None)
    kind = fields.String()
    reason = fields.String(allow_none=True)
    location_id = fields.Integer()


@blp.route("/<int:warehouse_id>/adjustments")
class WarehouseAdjustments(MethodView):
    @require("stock", "write")
    @blp.arguments(WarehouseAdjustmentSchema)
    @blp.response(201, WarehouseMoveSchema)
    def post(self, body: dict, warehouse_id: int) -> StockMove:
        """Correct the stock of this warehouse by a signed ``quantity`` or a ``counted_quantity``
        (a count of this warehouse only), like ``POST /stock/adjustments``; 409 for an inactive one."""
        with db.transaction() as session:
            warehouse = services.get_warehouse(session, warehouse_id)
            services.refuse_inactive(warehouse, "warehouse_id")
            return stock.adjust(session, body["product_id"], quantity=body.get("quantity"),
                                counted_quantity=body.get("counted_quantity"), reason=body["reason"],
                                note=body.get("note", ""), location_id=warehouse.location_id)


# --- reorder levels per warehouse, ordering a warehouse's shortfall ------------------------------

class ReorderLevelSchema(Schema):
    class Meta:
        name = "WarehouseReorderLevel"

    warehouse_id = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    reorder_level = QuantityField(metadata={"description": "low in this warehouse when available there is at or below it"})
    reorder_quantity = QuantityField(metadata={"description": "its shortfall is ordered up to it (at least up to the level)"})
    own = fields.Boolean(metadata={"description": "the warehouse's own levels (false: the product's apply)"})


class ReorderLevelInSchema(Schema):
    class Meta:
        name = "WarehouseReorderLevelIn"

    reorder_level = QuantityField(required=True, metadata={"description": "0 or more; 0 stops watching it here"})
    reorder_quantity = QuantityField(load_default=Decimal("0"), metadata={"description": "0 or more (default 0)"})


@blp.route("/<int:warehouse_id>/reorder-levels")
class WarehouseReorderLevels(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, ListOf(ReorderLevelSchema))
    def get(self, warehouse_id: int) -> dict:
        """The warehouse's own reorder levels (elsewhere the products' own apply), by SKU."""
        items = reorder.levels(db.session, services.get_warehouse(db.session, warehouse_id))
        return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}


@blp.route("/<int:warehouse_id>/reorder-levels/<int:product_id>")
class WarehouseReorderLevel(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, ReorderLevelSchema)
    def get(self, warehouse_id: int, product_id: int) -> reorder.Level:
        """A product's reorder level and quantity in the warehouse: its own there (``own``), else
        the product's."""
        return reorder.level(db.session, services.get_warehouse(db.session, warehouse_id), product_id)

    @require("stock", "write")
    @blp.arguments(ReorderLevelInSchema)
    @blp.response(200, ReorderLevelSchema)
    def put(self, body: dict, warehouse_id: int, product_id: int) -> reorder.Level:
        """Give the product its own reorder level and quantity in the warehouse (a stocked
        product: 422 naming ``product_id`` otherwise)."""
        with db.transaction() as session:
            warehouse = services.get_warehouse(session, warehouse_id)
            return reorder.set_level(session, warehouse, product_id, body)

    @require("stock", "write")
    @blp.response(200, ReorderLevelSchema)
    def delete(self, warehouse_id: int, product_id: int) -> reorder.Level:
        """Forget the product's own levels in the warehouse: the product's apply there again
        (answered)."""
        with db.transaction() as session:
            return reorder.clear_level(session, services.get_warehouse(session, warehouse_id), product_id)


class WarehouseReplenishSchema(Schema):
    class Meta:
        name = "WarehouseReplenish"

    product_ids = fields.List(IdField(), validate=validate.Length(min=1, max=10_000), metadata={
        "description": "only these products (default: every product low in the warehouse)"})
    dry_run = fields.Boolean(load_default=False, metadata={"description": "say what would be ordered; draft nothing"})


class WarehouseNeedSchema(Schema):
    class Meta:
        name = "WarehouseNeed"

    product_id = fields.Integer()
    sku = fields.String(allow_none=True)
    name = fields.String()
    available = QuantityField(minimum=None, metadata={"description": "in this warehouse"})
    incoming = QuantityField(minimum=None, metadata={"description": "on approved purchase orders for this warehouse"})
    in_drafts = QuantityField(minimum=None, metadata={"description": "on draft purchase orders for this warehouse"})
    target = QuantityField(minimum=None)
    quantity = QuantityField(minimum=None, metadata={"description": "to order"})


class WarehousePlannedOrderSchema(Schema):
    class Meta:
        name = "WarehousePlannedOrder"

    vendor_id = fields.Integer()
    purchase_order_id = fields.Integer(allow_none=True, metadata={"description": "null on a dry run"})
    number = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(WarehouseNeedSchema))


class WarehouseReplenishmentSchema(Schema):
    class Meta:
        name = "WarehouseReplenishment"

    dry_run = fields.Boolean()
    purchase_orders = fields.List(fields.Nested(WarehousePlannedOrderSchema))
    covered = fields.List(fields.Nested(WarehouseNeedSchema), metadata={
        "description": "low, but what is on its way covers it"})
    without_vendor = fields.List(fields.Nested(WarehouseNeedSchema), metadata={
        "description": "low, not ordered: no vendor"})


@blp.route("/<int:warehouse_id>/replenish")
class WarehouseReplenish(MethodView):
    @require("purchase_orders", "write")
    @blp.arguments(WarehouseReplenishSchema)
    @blp.response(200, WarehouseReplenishmentSchema)
    def post(self, body: dict, warehouse_id: int) -> dict:
        """Order the warehouse's shortfall: draft a purchase order per vendor for this warehouse
        (its receipts go there) for the products low there, up to each one's reorder quantity
        there (at least its level), counting what is incoming and in draft orders for it, like
        ``POST /stock/replenish`` for the totals; 409 for an inactive warehouse."""
        with db.transaction() as session:
            warehouse = services.get_warehouse(session, warehouse_id)
            result = reorder.replenish(session, warehouse, body.get("product_ids"), dry_run=body["dry_run"])
            orders = dict(zip(result.planned, result.orders))
            answer = {"dry_run": result.dry_run, "covered": result.covered, "without_vendor": result.without_vendor,
                      "purchase_orders": [{"vendor_id": vendor_id, "lines": needs,
                                           "purchase_order_id": orders[vendor_id].id if vendor_id in orders else None,
                                           "number": orders[vendor_id].number if vendor_id in orders else None}
                                          for vendor_id, needs in result.planned.items()]}
            if result.dry_run:
                session.rollback()
        return answer


# --- transfers between warehouses ----------------------------------------------------------------

class TransferLineInSchema(Schema):
    class Meta:
        name = "TransferLineIn"

    product_id = IdField(required=True, metadata={"description": "a stocked product (not a bundle, not a service)"})
    quantity = QuantityField(required=True, metadata={"description": "above 0"})


class TransferSchema(Schema):
    class Meta:
        name = "TransferIn"

    from_warehouse_id = IdField(required=True, metadata={"description": "an active warehouse: the stock leaves it"})
    to_warehouse_id = IdField(required=True, metadata={"description": "another active warehouse: the stock arrives there"})
    note = Text(2000)
    lines = fields.List(fields.Nested(TransferLineInSchema), required=True,
                        metadata={"description": "a product once each"})


class TransferPatchSchema(TransferSchema):
    class Meta:
        name = "TransferPatch"


class TransferLineOutSchema(Schema):
    class Meta:
        name = "TransferLine"

    id = fields.Integer()
    position = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String(attribute="product.sku", allow_none=True)
    name = fields.String(attribute="product.name")
    quantity = QuantityField()
    qty_received = QuantityField()
    in_transit = QuantityField(metadata={"description": "shipped, not yet received (0 unless shipped)"})


class TransferOutSchema(Schema):
    class Meta:
        name = "Transfer"

    id = fields.Integer()
    number = fields.String()
    from_warehouse_id = fields.Integer()
    from_warehouse_code = fields.String()
    to_warehouse_id = fields.Integer()
    to_warehouse_code = fields.String()
    status = fields.String(metadata={"description": "draft, shipped (in transit, maybe received in part), received, cancelled"})
    note = fields.String()
    created_at = fields.DateTime()
    shipped_at = fields.DateTime(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    lines = fields.List(fields.Nested(TransferLineOutSchema))


class TransferListArgs(Schema):
    class Meta:
        name = "TransferListArgs"

    status = fields.String(validate=validate.OneOf(TRANSFER_STATUSES))
    warehouse_id = IdField(metadata={"description": "from or to this warehouse"})


class TransferReceiptLineSchema(Schema):
    class Meta:
        name = "TransferReceiptLine"

    line_id = IdField(required=True)
    quantity = QuantityField(required=True, metadata={"description": "above 0, at most what is still in transit"})


class TransferReceiptSchema(Schema):
    class Meta:
        name = "TransferReceipt"

    lines = fields.List(fields.Nested(TransferReceiptLineSchema), load_default=None, allow_none=True,
                        metadata={"description": "what arrived; none or empty: everything still in transit"})


class InTransitRowSchema(Schema):
    class Meta:
        name = "InTransitRow"

    product_id = fields.Integer()
    quantity = QuantityField()


class InTransitSchema(Schema):
    class Meta:
        name = "InTransit"

    items = fields.List(fields.Nested(InTransitRowSchema))
    total = fields.Integer()


def _transfer_answer(session: Session, transfer: Transfer) -> dict:
    names = transfers.warehouse_names(session, [transfer])
    shipped = transfer.status == "shipped"
    return {
        "id": transfer.id, "number": transfer.number, "status": transfer.status, "note": transfer.note,
        "from_warehouse_id": transfer.from_warehouse_id, "from_warehouse_code": names[transfer.from_warehouse_id].code,
        "to_warehouse_id": transfer.to_warehouse_id, "to_warehouse_code": names[transfer.to_warehouse_id].code,
        "created_at": transfer.created_at, "shipped_at": transfer.shipped_at, "received_at": transfer.received_at,
        "cancelled_at": transfer.cancelled_at,
        "lines": [{"id": line.id, "position": line.position, "product_id": line.product_id, "product": line.product,
                   "quantity": line.quantity, "qty_received": line.qty_received,
                   "in_transit": line.quantity - line.qty_received if shipped else Decimal("0")}
                  for line in transfer.lines],
    }


@blp.route("/transfers")
class Transfers(MethodView):
    @require(WAREHOUSES)
    @blp.arguments(TransferListArgs, location="query")
    @blp.response(200, ListOf(TransferOutSchema))
    def get(self, args: dict) -> dict:
        """Transfers between warehouses, newest first; by ``status``, or from or to a ``warehouse_id``."""
        items = [_transfer_answer(db.session, t) for t in transfers.transfers(
            db.session, status=args.get("status"), warehouse_id=args.get("warehouse_id"))]
        return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}

    @require("stock", "write")
    @blp.arguments(TransferSchema)
    @blp.response(201, TransferOutSchema)
    def post(self, body: dict) -> dict:
        """A draft transfer from one active warehouse to another (422 naming the field: the same
        warehouse, an inactive or unknown one, a product twice, a bundle or service); nothing moves yet."""
        with db.transaction() as session:
            return _transfer_answer(session, transfers.create_transfer(session, body))


@blp.route("/transfers/in-transit")
class InTransit(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, InTransitSchema)
    def get(self) -> dict:
        """Stock in transit per product: shipped by a transfer, not yet received nor returned."""
        rows = [{"product_id": pid, "quantity": q} for pid, q in sorted(transfers.in_transit(db.session).items())]
        return {"items": rows, "total": len(rows)}


@blp.route("/transfers/<int:transfer_id>")
class TransferById(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, TransferOutSchema)
    def get(self, transfer_id: int) -> dict:
        """One transfer, with each line's quantity, quantity received and quantity in transit."""
        return _transfer_answer(db.session, transfers.get_transfer(db.session, transfer_id))

    @require("stock", "write")
    @blp.arguments(TransferPatchSchema(partial=True))
    @blp.response(200, TransferOutSchema)
    def patch(self, body: dict, transfer_id: int) -> dict:
        """Change a draft's warehouses, note or lines (the lines sent replace them); 409 once shipped."""
        with db.transaction() as session:
            transfer = transfers.get_transfer(session, transfer_id, for_update=True)
            return _transfer_answer(session, transfers.update_transfer(session, transfer, _sent(body)))


def _step(transfer_id: int, step: Callable[[Session, Transfer], Transfer]) -> dict:
    with db.transaction() as session:
        transfer = step(session, transfers.get_transfer(session, transfer_id, for_update=True))
        return _transfer_answer(session, transfer)


@blp.route("/transfers/<int:transfer_id>/ship")
class TransferShip(MethodView):
    @require("stock", "write")
    @blp.response(200, TransferOutSchema)
    def post(self, transfer_id: int) -> dict:
        """Ship a draft: its stock leaves the source warehouse and is in transit. 409
        ``insufficient_stock`` naming ``lines.<i>.quantity`` when the source has less available
        (nothing moves), ``warehouse_inactive``, ``transfer_status``."""
        return _step(transfer_id, transfers.ship)


@blp.route("/transfers/<int:transfer_id>/receive")
class TransferReceive(MethodView):
    @require("stock", "write")
    @blp.arguments(TransferReceiptSchema)
    @blp.response(200, TransferOutSchema)
    def post(self, body: dict, transfer_id: int) -> dict:
        """Receive at the destination what arrived (``lines``: ``line_id``, ``quantity``), or all
        still in transit; received once everything has arrived. 422 naming ``lines.<i>.quantity``
        above what is in transit."""
        return _step(transfer_id, lambda session, transfer: transfers.receive(session, transfer, body.get("lines")))


@blp.route("/transfers/<int:transfer_id>/cancel")
class TransferCancel(MethodView):
    @require("stock", "write")
    @blp.response(200, TransferOutSchema)
    def post(self, transfer_id: int) -> dict:
        """Cancel a draft, or a shipped transfer: what is still in transit returns to the source
        warehouse. 409 ``transfer_status`` once received or cancelled."""
        return _step(transfer_id, transfers.cancel)


# --- locations inside a warehouse (bins) ---------------------------------------------------------

class BinSchema(Schema):
    class Meta:
        name = "WarehouseBin"

    id = fields.Integer(dump_only=True)
    warehouse_id = fields.Integer(dump_only=True)
    parent_id = IdField(allow_none=True, load_default=None,
                        metadata={"description": "the zone, aisle or shelf it is in (same warehouse); null: the top"})
    kind = fields.String(required=True, validate=validate.OneOf(BIN_KINDS),
                         metadata={"description": "zone, aisle, shelf or bin (only a bin holds stock); a node is "
                                                  "inside one of an earlier kind"})
    code = Text(20, required=True, metadata={"description": "unique among its siblings: letters, digits, ., - and _"})
    name = Text(200, load_default="", required=False)
    path = fields.String(dump_only=True, metadata={"description": "the codes from the top: \"A / 03 / 2 / B1\""})
    active = fields.Boolean(load_default=True, metadata={"description": "an inactive one takes no stock"})


class BinPatchSchema(Schema):
    class Meta:
        name = "WarehouseBinPatch"

    code = Text(20)
    name = Text(200)
    active = fields.Boolean()


class BinStockRowSchema(Schema):
    class Meta:
        name = "WarehouseBinStockRow"

    bin_id = fields.Integer(allow_none=True, metadata={"description": "null: not put away (on hand, in no bin)"})
    path = fields.String(allow_none=True)
    product_id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    quantity = QuantityField()


class BinStockSchema(Schema):
    class Meta:
        name = "WarehouseBinStock"

    items = fields.List(fields.Nested(BinStockRowSchema))
    total = fields.Integer()


class BinMoveSchema(Schema):
    class Meta:
        name = "WarehouseBinMove"

    product_id = IdField(required=True)
    from_bin_id = IdField(allow_none=True, load_default=None,
                          metadata={"description": "an active bin of the warehouse; null: what is not put away"})
    to_bin_id = IdField(allow_none=True, load_default=None,
                        metadata={"description": "an active bin of the warehouse; null: back to not put away"})
    quantity = QuantityField(required=True, metadata={"description": "above 0, at most what the source holds"})


class BinMovedSchema(Schema):
    class Meta:
        name = "WarehouseBinMoved"

    product_id = fields.Integer()
    from_bin_id = fields.Integer(allow_none=True)
    to_bin_id = fields.Integer(allow_none=True)
    quantity = QuantityField()


class BinCountSchema(Schema):
    class Meta:
        name = "WarehouseBinCount"

    bin_id = IdField(required=True)
    product_id = IdField(required=True)
    counted_quantity = QuantityField(required=True, metadata={"description": "what the bin holds of the product"})
    note = Text(1000)


class BinCountedSchema(Schema):
    class Meta:
        name = "WarehouseBinCounted"

    bin_id = fields.Integer()
    product_id = fields.Integer()
    quantity = QuantityField(metadata={"description": "what the bin holds now"})
    difference = QuantityField(minimum=None, metadata={"description": "the warehouse's adjustment"})
    move_id = fields.Integer(metadata={"description": "the stock move of the adjustment"})


class DefaultBinSchema(Schema):
    class Meta:
        name = "WarehouseDefaultBin"

    product_id = fields.Integer()
    sku = fields.String(allow_none=True)
    name = fields.String()
    bin_id = fields.Integer(allow_none=True)
    path = fields.String(allow_none=True)


class DefaultBinChoiceSchema(Schema):
    class Meta:
        name = "WarehouseDefaultBinChoice"

    bin_id = IdField(required=True, allow_none=True,
                     metadata={"description": "an active bin of the warehouse; null: none (arrivals are not put away)"})


class PickSchema(Schema):
    class Meta:
        name = "WarehousePick"

    warehouse_id = fields.Integer(allow_none=True)
    warehouse_code = fields.String(allow_none=True)
    bin_id = fields.Integer(allow_none=True, metadata={"description": "null: from what is not put away"})
    path = fields.String(allow_none=True)
    line_number = fields.Integer(metadata={"description": "the order's line, from 1"})
    line_id = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    quantity = QuantityField()


class PickingListSchema(Schema):
    class Meta:
        name = "WarehousePickingList"

    document_id = fields.Integer()
    number = fields.String()
    items = fields.List(fields.Nested(PickSchema))
    total = fields.Integer()


def _held_rows(rows: list[bins.Held]) -> dict:
    items = [{"bin_id": row.bin.id if row.bin else None, "path": row.bin.path if row.bin else None,
              "product_id": row.product_id, "sku": row.sku, "name": row.name, "quantity": row.quantity}
             for row in rows]
    return {"items": items, "total": len(items)}


@blp.route("/<int:warehouse_id>/bins")
class Bins(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, ListOf(BinSchema))
    def get(self, warehouse_id: int) -> dict:
        """The warehouse's zones, aisles, shelves and bins, in path order."""
        warehouse = services.get_warehouse(db.session, warehouse_id)
        items = bins.bins(db.session, warehouse.id)
        return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}

    @require("stock", "write")
    @blp.arguments(BinSchema)
    @blp.response(201, BinSchema)
    def post(self, body: dict, warehouse_id: int) -> Any:
        """Add a zone, aisle, shelf or bin (422 naming the field: a code taken among its
        siblings, a parent of another warehouse or of a later kind)."""
        with db.transaction() as session:
            return bins.create_bin(session, services.get_warehouse(session, warehouse_id, for_update=True), body)


@blp.route("/<int:warehouse_id>/bins/<int:bin_id>")
class BinById(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, BinSchema)
    def get(self, warehouse_id: int, bin_id: int) -> Any:
        """One zone, aisle, shelf or bin."""
        return bins.get_bin(db.session, services.get_warehouse(db.session, warehouse_id), bin_id)

    @require("stock", "write")
    @blp.arguments(BinPatchSchema)
    @blp.response(200, BinSchema)
    def patch(self, body: dict, warehouse_id: int, bin_id: int) -> Any:
        """Change its code (the paths under it follow), name, or (de)activate it (409
        ``bin_has_stock`` while it, or what is inside it, holds stock)."""
        with db.transaction() as session:
            warehouse = services.get_warehouse(session, warehouse_id, for_update=True)
            return bins.update_bin(session, bins.get_bin(session, warehouse, bin_id), _sent(body))

    @require("stock", "write")
    @blp.response(204)
    def delete(self, warehouse_id: int, bin_id: int) -> None:
        """Delete one that holds no stock and has nothing inside it (409 ``bin_has_stock``,
        ``bin_has_children``)."""
        with db.transaction() as session:
            warehouse = services.get_warehouse(session, warehouse_id, for_update=True)
            bins.delete_bin(session, bins.get_bin(session, warehouse, bin_id))


@blp.route("/<int:warehouse_id>/bins/stock")
class BinStockReport(MethodView):
    @require(WAREHOUSES)
    @blp.arguments(WarehouseStockArgs, location="query")
    @blp.response(200, BinStockSchema)
    def get(self, args: dict, warehouse_id: int) -> dict:
        """What each bin holds, in path order, then per product what is not put away (on hand
        in the warehouse, in no bin)."""
        warehouse = services.get_warehouse(db.session, warehouse_id)
        return _held_rows(bins.warehouse_bin_stock(db.session, warehouse, args.get("product_id")))


@blp.route("/<int:warehouse_id>/bins/moves")
class BinMoves(MethodView):
    @require("stock", "write")
    @blp.arguments(BinMoveSchema)
    @blp.response(201, BinMovedSchema)
    def post(self, body: dict, warehouse_id: int) -> dict:
        """Move stock from one bin to another of the same warehouse, or put away what is not
        (``from_bin_id`` null). 422 naming the field: an unknown bin, one of another warehouse,
        an inactive one; 409 ``insufficient_bin_stock`` naming ``quantity`` for more than the
        source holds. Nothing moves then."""
        with db.transaction() as session:
            return bins.move(session, services.get_warehouse(session, warehouse_id), body)


@blp.route("/<int:warehouse_id>/bins/counts")
class BinCounts(MethodView):
    @require("stock", "write")
    @blp.arguments(BinCountSchema)
    @blp.response(201, BinCountedSchema)
    def post(self, body: dict, warehouse_id: int) -> dict:
        """A count of one bin: it then holds ``counted_quantity``, and the warehouse's stock is
        adjusted by the difference (reason ``count_correction``), in one transaction."""
        with db.transaction() as session:
            return bins.count(session, services.get_warehouse(session, warehouse_id), body)


@blp.route("/<int:warehouse_id>/default-bins")
class DefaultBins(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, ListOf(DefaultBinSchema))
    def get(self, warehouse_id: int) -> dict:
        """Each product's default bin in the warehouse (where its arrivals are put away)."""
        warehouse = services.get_warehouse(db.session, warehouse_id)
        items = [{"product_id": item.id, "sku": item.sku, "name": item.name, "bin_id": node.id, "path": node.path}
                 for _row, node, item in bins.default_bins(db.session, warehouse.id)]
        return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}


@blp.route("/<int:warehouse_id>/default-bins/<int:product_id>")
class DefaultBinByProduct(MethodView):
    @require("stock", "write")
    @blp.arguments(DefaultBinChoiceSchema)
    @blp.response(200, DefaultBinSchema)
    def put(self, body: dict, warehouse_id: int, product_id: int) -> dict:
        """Choose the product's default bin in the warehouse (an active bin of it), or none."""
        with db.transaction() as session:
            warehouse = services.get_warehouse(session, warehouse_id)
            node = bins.set_default_bin(session, warehouse, product_id, body["bin_id"])
            item = session.get(Item, product_id)
            return {"product_id": product_id, "sku": item.sku if item else None, "name": item.name if item else "",
                    "bin_id": node.id if node else None, "path": node.path if node else None}


@blp.route("/picking-lists/<int:document_id>")
class PickingList(MethodView):
    @require(WAREHOUSES)
    @blp.response(200, PickingListSchema)
    def get(self, document_id: int) -> dict:
        """What to pick for what a sales order still has to ship: per warehouse, in bin path
        order (what is not put away last), the bin and quantity for each line, as shipping
        will take it out of the bins."""
        document = _document(db.session, document_id, "read")
        if document.doc_type != "sales_order":
            raise NotFound(_("sales order %(id)s not found", id=document_id))
        picks = bins.picking_list(db.session, document)
        items = [{"warehouse_id": p.warehouse.id if p.warehouse else None,
                  "warehouse_code": p.warehouse.code if p.warehouse else None,
                  "bin_id": p.bin.id if p.bin else None, "path": p.bin.path if p.bin else None,
                  "line_number": p.line_number, "line_id": p.line_id, "product_id": p.product_id, "sku": p.sku,
                  "name": p.name, "quantity": p.quantity} for p in picks]
        return {"document_id": document.id, "number": document.number, "items": items, "total": len(items)}
