"""``/api/v1/vendors``: suppliers."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import func, select

from crm.api.collection import as_bool, paginate
from crm.api.fields import Integer
from crm.api.records import Address, Custom, Email, RecordListArgs, Text, patch_schema
from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.models import Vendor
from crm.permissions import require
from crm.services import vendors

#: what ``GET /api/v1/vendors`` searches (``q``) and filters by (and the mass actions' ``filter``)
SEARCH = [Vendor.name, Vendor.email, Vendor.phone]
FILTERS = {"active": (Vendor.active, as_bool)}

blp = Blueprint("api_vendors", __name__, url_prefix="/api/v1/vendors", description="Vendors (suppliers)")


class VendorSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(200, required=True)
    email = Email()
    phone = Text(50)
    website = Text(200)
    address = Address()
    description = Text(10_000)
    active = fields.Boolean(load_default=True)
    custom = Custom()
    version = fields.Integer(dump_only=True)


class VendorPatchSchema(VendorSchema):
    version = Integer(metadata={"description": "the version you read; 409 if it changed"})


@blp.route("")
class Vendors(MethodView):
    @require("vendors")
    @blp.arguments(RecordListArgs, location="query")
    @blp.response(200, ListOf(VendorSchema))
    def get(self, args):
        """List vendors.

        ``q`` searches name, email and phone; filter: ``active``; sort: ``name``, ``email``, ``created_at``.
        """
        return paginate(db.session, select(Vendor), args, model=Vendor,
                        search=SEARCH,
                        sortable={"name": func.lower(Vendor.name), "email": func.lower(Vendor.email),
                                  "created_at": Vendor.created_at},
                        filters=FILTERS, raw_args=request.args)

    @require("vendors", "write")
    @blp.arguments(VendorSchema)
    @blp.response(201, VendorSchema)
    def post(self, body):
        """Create a vendor."""
        with db.transaction() as session:
            return vendors.create_vendor(session, body)


@blp.route("/<int:vendor_id>")
class VendorById(MethodView):
    @require("vendors")
    @blp.response(200, VendorSchema)
    def get(self, vendor_id):
        """One vendor."""
        return vendors.get_vendor(db.session, vendor_id)

    @require("vendors", "write")
    @blp.arguments(patch_schema(VendorPatchSchema))
    @blp.response(200, VendorSchema)
    def patch(self, body, vendor_id):
        """Change a vendor (send ``version`` to be told if someone else changed it).

        An address sent replaces the whole address.
        """
        with db.transaction() as session:
            return vendors.update_vendor(session, vendors.get_vendor(session, vendor_id, for_update=True), body)

    @require("vendors", "write")
    @blp.response(204)
    def delete(self, vendor_id):
        """Delete a vendor; refused (409) while documents or items refer to it: deactivate it instead."""
        with db.transaction() as session:
            vendors.delete_vendor(session, vendors.get_vendor(session, vendor_id, for_update=True))
