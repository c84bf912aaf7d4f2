"""The accounting sync's endpoints."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from crm.db import db
from crm.permissions import require
from crm_accounting_sync.models import Connection

blp = Blueprint("accounting_sync_api", __name__, url_prefix="/api/v1/accounting-sync",
                description="Sync with accounting systems")


class ConnectionSchema(Schema):
    class Meta:
        name = "AccountingSyncConnection"

    name = fields.String(dump_only=True)
    connector = fields.String()
    enabled = fields.Boolean()
    settings = fields.Dict()


@blp.route("/connections/<name>")
class Connections(MethodView):
    @require(roles={"admin", "accounting"})
    @blp.response(200, ConnectionSchema)
    def get(self, name):
        """A connection's settings (never its secrets)."""
        connection = db.session.get(Connection, name)
        if connection is None:
            abort(404, message=f"no connection named {name!r}")
        return connection
