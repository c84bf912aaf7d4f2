"""``/api/v1/taxes``."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import fields, validate

from crm.api.collection import as_bool, paginate
from crm.api.fields import Integer, PercentField, Text
from crm.api.schemas import Blueprint, ListArgs, ListOf, Schema
from crm.db import db
from crm.models import Tax
from crm.models.catalog import TAX_APPLIES_TO
from crm.permissions import require
from crm.services import taxes

#: what ``GET /api/v1/taxes`` searches (``q``) and filters by (and the mass actions' ``filter``)
SEARCH = [Tax.name]
FILTERS = {"active": (Tax.active, as_bool), "applies_to": (Tax.applies_to, str)}

blp = Blueprint("api_taxes", __name__, url_prefix="/api/v1/taxes", description="Taxes")


class TaxSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(100, required=True)
    rate = PercentField(required=True, metadata={"description": "percent, e.g. \"21\""})
    active = fields.Boolean(load_default=True)
    applies_to = fields.String(load_default="items", validate=validate.OneOf(TAX_APPLIES_TO))
    version = fields.Integer(dump_only=True)


class TaxPatchSchema(TaxSchema):
    class Meta:
        partial = True

    version = Integer(metadata={"description": "the version you read; 409 if it changed"})


@blp.route("")
class Taxes(MethodView):
    @require("taxes")
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, ListOf(TaxSchema))
    def get(self, args):
        """List taxes. Filters: ``active``, ``applies_to``."""
        from sqlalchemy import select
        return paginate(db.session, select(Tax), args, model=Tax, search=SEARCH,
                        sortable={"name": Tax.name, "rate": Tax.rate},
                        filters=FILTERS,
                        raw_args=request.args)

    @require("taxes", "write")
    @blp.arguments(TaxSchema)
    @blp.response(201, TaxSchema)
    def post(self, body):
        """Create a tax."""
        with db.transaction() as session:
            return taxes.create_tax(session, body)


@blp.route("/<int:tax_id>")
class TaxById(MethodView):
    @require("taxes")
    @blp.response(200, TaxSchema)
    def get(self, tax_id):
        """One tax."""
        return taxes.get_tax(db.session, tax_id)

    @require("taxes", "write")
    @blp.arguments(TaxPatchSchema(partial=True))
    @blp.response(200, TaxSchema)
    def patch(self, body, tax_id):
        """Change a tax (send ``version`` to be told if someone else changed it)."""
        with db.transaction() as session:
            return taxes.update_tax(session, taxes.get_tax(session, tax_id), body)

    @require("taxes", "write")
    @blp.response(204)
    def delete(self, tax_id):
        """Delete a tax; refused (409) while items or documents use it."""
        with db.transaction() as session:
            taxes.delete_tax(session, taxes.get_tax(session, tax_id))
