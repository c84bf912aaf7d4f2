"""The IDCA plugin's endpoints: ``GET|PUT /api/v1/idca/layouts/<documents>``."""
from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields, validate

from crm.api.fields import Integer
from crm.api.schemas import Blueprint, Schema
from crm.db import db
from crm.permissions import require
from crm_idca import layouts as lay
from crm_idca.models import Layout

blp = Blueprint("idca_api", __name__, url_prefix="/api/v1/idca", description="Line-item columns and totals")

class IdcaDefault(Schema):
    class Meta:
        name = "IdcaDefault"

    source = fields.String(required=True, validate=validate.OneOf(lay.DEFAULT_SOURCES),
                           metadata={"description": "value: a fixed value; item: an item field; "
                                                    "item_custom: an item custom field"})
    value = fields.Raw(allow_none=True, metadata={"description": "the fixed value (source value)"})
    field = fields.String(allow_none=True, validate=validate.Length(max=60),
                          metadata={"description": "the item field or custom field key"})


class IdcaColumn(Schema):
    class Meta:
        name = "IdcaColumn"

    key = fields.String(required=True, validate=validate.Length(min=1, max=40),
                        metadata={"description": "a built-in column (item, description, quantity, unit_price, "
                                                 "discount, net, tax, total) or a custom key"})
    builtin = fields.Boolean(metadata={"description": "informative; ignored on input"})
    label = fields.String(allow_none=True, validate=validate.Length(max=lay.MAX_LABEL))
    visible = fields.Boolean(allow_none=True, metadata={"description": "default true"})
    width = fields.String(allow_none=True, validate=validate.Length(max=12),
                          metadata={"description": "a CSS length: 80px, 12%, 6em, 20mm"})
    type = fields.String(allow_none=True, validate=validate.OneOf(lay.COLUMN_TYPES))
    editable = fields.Boolean(allow_none=True)
    formula = fields.String(allow_none=True, validate=validate.Length(max=5000),
                            metadata={"description": "a line formula (see the plugin's README)"})
    default = fields.Nested(IdcaDefault, allow_none=True)
    decimals = Integer(allow_none=True, metadata={"description": "0-6; money: the currency's"})
    choices = fields.List(fields.String(validate=validate.Length(max=lay.MAX_LABEL)), allow_none=True,
                          validate=validate.Length(max=lay.MAX_CHOICES))


class IdcaTotal(Schema):
    class Meta:
        name = "IdcaTotal"

    key = fields.String(required=True, validate=validate.Length(min=1, max=40),
                        metadata={"description": "a built-in total (relabel, hide, or replace with a formula) "
                                                 "or a custom key"})
    builtin = fields.Boolean(metadata={"description": "informative; ignored on input"})
    label = fields.String(allow_none=True, validate=validate.Length(max=lay.MAX_LABEL))
    visible = fields.Boolean(allow_none=True)
    type = fields.String(allow_none=True, validate=validate.OneOf(lay.TOTAL_TYPES))
    formula = fields.String(allow_none=True, validate=validate.Length(max=5000),
                            metadata={"description": "a totals formula: totals and sum(column)"})
    decimals = Integer(allow_none=True)


class IdcaLayoutIn(Schema):
    class Meta:
        name = "IdcaLayoutIn"

    columns = fields.List(fields.Nested(IdcaColumn), load_default=list,
                          validate=validate.Length(max=lay.MAX_COLUMNS + len(lay.BUILTIN_COLUMNS)))
    totals = fields.List(fields.Nested(IdcaTotal), load_default=list,
                         validate=validate.Length(max=lay.MAX_TOTALS + 8))
    version = Integer(allow_none=True, metadata={"description": "the version you read; 409 if it changed"})


class IdcaLayout(Schema):
    class Meta:
        name = "IdcaLayout"

    doc_type = fields.String(metadata={"description": "quotes, sales-orders, purchase-orders or invoices"})
    version = fields.Integer(metadata={"description": "0 until the first save; +1 on each save"})
    columns = fields.List(fields.Dict(), metadata={"description": "display order, built-in and custom"})
    totals = fields.List(fields.Dict())
    updated_at = fields.DateTime(allow_none=True)


def _out(path: str, layout: Layout | None) -> dict:
    if layout is None:
        empty = lay.empty_layout(lay.doc_type_of(path))
        return {"doc_type": path, "version": 0, "columns": empty.stored["columns"], "totals": [],
                "updated_at": None}
    return {"doc_type": path, "version": layout.version, "columns": layout.columns, "totals": layout.totals,
            "updated_at": layout.updated_at}


@blp.route("/layouts/<any('quotes', 'sales-orders', 'purchase-orders', 'invoices'):doc_type>")
class Layouts(MethodView):
    @require()
    @blp.response(200, IdcaLayout)
    def get(self, doc_type: str) -> dict:
        """The layout of a document type: its columns (built-in and custom) and totals."""
        return _out(doc_type, lay.current_layout(db.session, lay.doc_type_of(doc_type)))

    @require("settings", "write")
    @blp.arguments(IdcaLayoutIn)
    @blp.response(200, IdcaLayout)
    def put(self, body: dict, doc_type: str) -> dict:
        """Replace the layout (admins). Every formula is checked; the version goes up by one.
        Documents in their editable statuses follow the new layout on their next save; issued
        documents keep the version they were computed with."""
        with db.transaction() as session:
            layout = lay.save_layout(session, doc_type, body)
            result = _out(doc_type, layout)
        return result
