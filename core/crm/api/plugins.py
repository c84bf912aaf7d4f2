"""``GET /api/v1/plugins``: what is installed, enabled, and what failed."""
from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields

from crm.api.schemas import Blueprint, ListOf, Schema
from crm.permissions import require
from crm.plugins import get_registry

blp = Blueprint("api_plugins", __name__, url_prefix="/api/v1/plugins", description="Installed plugins")


class PluginSchema(Schema):
    name = fields.String()
    version = fields.String()
    enabled = fields.Boolean()
    hooks = fields.List(fields.String())
    requires = fields.List(fields.String())
    error = fields.String(allow_none=True)


@blp.route("")
class Plugins(MethodView):
    @require("plugins")
    @blp.response(200, ListOf(PluginSchema))
    def get(self):
        """Installed plugins with their version, state, hooks and load error."""
        items = get_registry().describe()
        return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}
