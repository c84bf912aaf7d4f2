"""The IDCA plugin's endpoints."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from crm.db import db
from crm.permissions import require
from crm_idca.models import Layout

blp = Blueprint("idca_api", __name__, url_prefix="/api/v1/idca", description="Line-item columns and totals")

DOC_TYPES = ("quotes", "sales-orders", "purchase-orders", "invoices")


class LayoutSchema(Schema):
    class Meta:
        name = "IdcaLayout"

    doc_type = fields.String(dump_only=True)
    version = fields.Integer(dump_only=True)
    columns = fields.List(fields.Dict())
    totals = fields.List(fields.Dict())


@blp.route("/layouts/<any('quotes', 'sales-orders', 'purchase-orders', 'invoices'):doc_type>")
class Layouts(MethodView):
    @require()
    @blp.response(200, LayoutSchema)
    def get(self, doc_type):
        """The layout of a document type."""
        return db.session.get(Layout, doc_type) or Layout(doc_type=doc_type, version=0, columns=[], totals=[])
