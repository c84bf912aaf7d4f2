"""The item lookup's endpoints."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from crm.db import db
from crm.permissions import require
from crm_item_lookup import settings

blp = Blueprint("item_lookup_api", __name__, url_prefix="/api/v1/item-lookup", description="Item lookup")


class FacetFields(Schema):
    product = fields.List(fields.String(validate=validate.Length(max=60)), validate=validate.Length(max=3))
    service = fields.List(fields.String(validate=validate.Length(max=60)), validate=validate.Length(max=3))
    bundle = fields.List(fields.String(validate=validate.Length(max=60)), validate=validate.Length(max=3))


class SettingsSchema(Schema):
    class Meta:
        name = "ItemLookupSettings"

    facets = fields.Nested(FacetFields)
    default_kind = fields.String(validate=validate.OneOf(settings.KINDS))
    switches = fields.List(fields.String(validate=validate.OneOf(["in_stock", "include_inactive", "bundles_only"])))
    show_picture = fields.Boolean()


@blp.route("/settings")
class Settings(MethodView):
    @require("catalog")
    @blp.response(200, SettingsSchema)
    def get(self):
        """The picker's settings."""
        return settings.load(db.session)

    @require("settings", "write")
    @blp.arguments(SettingsSchema)
    @blp.response(200, SettingsSchema)
    def put(self, body):
        """Change the picker's settings."""
        with db.transaction() as session:
            return settings.save(session, body)
