"""``/api/v1/products/<id>/stock``, ``/api/v1/stock/moves``, ``/api/v1/stock/adjustments``,
``/api/v1/stock/replenish``."""
from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import select

from crm.api.collection import paginate
from crm.api.fields import IdField, QuantityField, Text
from crm.api.schemas import Blueprint, ListArgs, ListOf, Schema
from crm.db import db
from crm.models import StockMove
from crm.models.stock import ADJUSTMENT_REASONS, MOVE_KINDS
from crm.permissions import require
from crm.services import stock

blp = Blueprint("api_stock", __name__, url_prefix="/api/v1", description="Stock ledger")


class StockLevelSchema(Schema):
    on_hand = QuantityField(minimum=None)
    reserved = QuantityField(minimum=None)
    available = QuantityField(minimum=None)
    incoming = QuantityField(minimum=None)


class MoveSchema(Schema):
    id = fields.Integer()
    product_id = fields.Integer()
    product_name = fields.Function(lambda m: m.product.name)
    quantity = QuantityField(minimum=None)
    kind = fields.String()
    reason = fields.String()
    note = fields.String()
    document_id = fields.Integer(allow_none=True)
    line_id = fields.Integer(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    at = fields.DateTime()


class AdjustmentSchema(Schema):
    product_id = IdField(required=True)
    quantity = QuantityField(minimum=None, allow_none=True, metadata={"description": "signed change"})
    counted_quantity = QuantityField(allow_none=True, metadata={"description": "what was counted on the shelf"})
    reason = fields.String(required=True, validate=validate.OneOf(ADJUSTMENT_REASONS))
    note = Text(1000)


class MoveArgs(ListArgs):
    product_id = IdField()
    kind = fields.String(validate=validate.OneOf(MOVE_KINDS))
    document_id = IdField()


@blp.route("/products/<int:product_id>/stock")
class ProductStock(MethodView):
    @require("stock")
    @blp.response(200, StockLevelSchema)
    def get(self, product_id):
        """On hand, reserved, available and incoming (from approved purchase orders)."""
        return stock.level(db.session, product_id)


@blp.route("/stock/moves")
class Moves(MethodView):
    @require("stock")
    @blp.arguments(MoveArgs, location="query")
    @blp.response(200, ListOf(MoveSchema))
    def get(self, args):
        """Stock moves, newest first. Filters: ``product_id``, ``kind``, ``document_id``."""
        from sqlalchemy.orm import joinedload
        stmt = select(StockMove).options(joinedload(StockMove.product))
        for name in ("product_id", "kind", "document_id"):
            if args.get(name) is not None:
                stmt = stmt.where(getattr(StockMove, name) == args[name])
        return paginate(db.session, stmt, args, model=StockMove, default_sort=[StockMove.id.desc()],
                        sortable={"at": StockMove.id, "quantity": StockMove.quantity})


class ReplenishSchema(Schema):
    product_ids = fields.List(IdField(), validate=validate.Length(min=1, max=10_000), metadata={
        "description": "only these products (default: every low product)"})
    dry_run = fields.Boolean(load_default=False, metadata={"description": "say what would be ordered; draft nothing"})


class NeedSchema(Schema):
    product_id = fields.Integer()
    sku = fields.String(allow_none=True)
    name = fields.String()
    available = QuantityField(minimum=None)
    incoming = QuantityField(minimum=None)
    in_drafts = QuantityField(minimum=None)
    target = QuantityField(minimum=None)
    quantity = QuantityField(minimum=None)


class PlannedOrderSchema(Schema):
    vendor_id = fields.Integer()
    purchase_order_id = fields.Integer(allow_none=True, metadata={"description": "null on a dry run"})
    number = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(NeedSchema))


class ReplenishmentSchema(Schema):
    dry_run = fields.Boolean()
    purchase_orders = fields.List(fields.Nested(PlannedOrderSchema))
    covered = fields.List(fields.Nested(NeedSchema), metadata={"description": "low, but what is on its way covers it"})
    without_vendor = fields.List(fields.Nested(NeedSchema), metadata={"description": "low, not ordered: no vendor"})


@blp.route("/stock/replenish")
class Replenish(MethodView):
    @require("purchase_orders", "write")
    @blp.arguments(ReplenishSchema)
    @blp.response(200, ReplenishmentSchema)
    def post(self, body):
        """Draft a purchase order per vendor for the shortfall of the low products, up to each one's
        reorder quantity (at least its reorder level), counting what is incoming and in draft orders.
        Never approves them."""
        from crm.services.replenishment import replenish
        with db.transaction() as session:
            result = replenish(session, body.get("product_ids"), dry_run=body["dry_run"])
            orders = dict(zip(result.planned, result.orders))
            answer = {"dry_run": result.dry_run, "covered": result.covered, "without_vendor": result.without_vendor,
                      "purchase_orders": [{"vendor_id": vendor_id, "lines": needs,
                                           "purchase_order_id": orders[vendor_id].id if vendor_id in orders else None,
                                           "number": orders[vendor_id].number if vendor_id in orders else None}
                                          for vendor_id, needs in result.planned.items()]}
            if result.dry_run:
                session.rollback()
        return answer


@blp.route("/stock/adjustments")
class Adjustments(MethodView):
    @require("stock", "write")
    @blp.arguments(AdjustmentSchema)
    @blp.response(201, MoveSchema)
    def post(self, body):
        """Correct stock by a signed ``quantity`` or a ``counted_quantity``, with a reason."""
        with db.transaction() as session:
            return stock.adjust(session, body["product_id"], quantity=body.get("quantity"),
                                counted_quantity=body.get("counted_quantity"), reason=body["reason"],
                                note=body.get("note", ""))
