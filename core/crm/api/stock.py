"""``/api/v1/products/<id>/stock``, ``/api/v1/stock/moves``, ``/api/v1/stock/adjustments``."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from crm.api.collection import paginate
from crm.api.fields import IdField, QuantityField, Text
from crm.api.schemas import ListArgs, ListOf
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
