from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate
from sqlalchemy import select

from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.permissions import EVERYONE, Resource, require
from crm_hello.models import Greeting

#: who may read and add greetings; shown on the roles page (/admin/roles)
GREETINGS = Resource("hello_greetings", _l("Greetings"), read=EVERYONE, write={"admin", "sales"},
                     description=_l("The example plugin's greetings"))

blp = Blueprint("hello_api", __name__, url_prefix="/api/v1/hello", description="Greetings (example plugin)")


class GreetingSchema(Schema):  # "HelloGreeting" in the OpenAPI description
    id = fields.Integer(dump_only=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=200))


@blp.route("/greetings")
class Greetings(MethodView):
    @require(GREETINGS)
    @blp.response(200, ListOf(GreetingSchema))  # "HelloGreetingList"
    def get(self):
        """All greetings."""
        items = list(db.session.scalars(select(Greeting).order_by(Greeting.id)))
        return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}

    @require(GREETINGS, "write")
    @blp.arguments(GreetingSchema)
    @blp.response(201, GreetingSchema)
    def post(self, body):
        """Add a greeting."""
        with db.transaction() as session:
            greeting = Greeting(text=body["text"])
            session.add(greeting)
        return greeting
