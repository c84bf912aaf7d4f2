"""The payments plugin's endpoints."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from crm.api.schemas import ListOf
from crm.db import db
from crm.permissions import require
from crm_payments.models import PaymentMethod, PaymentStatus

blp = Blueprint("payments_api", __name__, url_prefix="/api/v1/payments", description="Payments")


class PaymentStatusSchema(Schema):
    class Meta:
        name = "PaymentsStatus"

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    counts_as_received = fields.Boolean()
    is_refund = fields.Boolean()
    is_scheduled = fields.Boolean()
    active = fields.Boolean()


class PaymentMethodSchema(Schema):
    class Meta:
        name = "PaymentsMethod"

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    active = fields.Boolean()


def _all(model):
    items = list(db.session.scalars(select(model).order_by(model.position, model.id)))
    return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}


@blp.route("/statuses")
class Statuses(MethodView):
    @require("invoices")
    @blp.response(200, ListOf(PaymentStatusSchema, "PaymentsStatusList"))
    def get(self):
        """Payment statuses and whether each counts as received."""
        return _all(PaymentStatus)


@blp.route("/methods")
class Methods(MethodView):
    @require("invoices")
    @blp.response(200, ListOf(PaymentMethodSchema, "PaymentsMethodList"))
    def get(self):
        """Payment types (methods)."""
        return _all(PaymentMethod)
