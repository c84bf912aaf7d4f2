from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from crm.api.schemas import ListOf
from crm.db import db
from crm.permissions import require
from crm_hello.models import Greeting

blp = Blueprint("hello_api", __name__, url_prefix="/api/v1/hello", description="Greetings (example plugin)")


class GreetingSchema(Schema):
    class Meta:
        name = "HelloGreeting"  # prefix schema names with the plugin id

    id = fields.Integer(dump_only=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=200))


@blp.route("/greetings")
class Greetings(MethodView):
    @require()
    @blp.response(200, ListOf(GreetingSchema, "HelloGreetingList"))
    def get(self):
        """All greetings."""
        items = list(db.session.scalars(select(Greeting).order_by(Greeting.id)))
        return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}

    @require(roles={"admin", "sales"})
    @blp.arguments(GreetingSchema)
    @blp.response(201, GreetingSchema)
    def post(self, body):
        """Add a greeting."""
        with db.transaction() as session:
            greeting = Greeting(text=body["text"])
            session.add(greeting)
        return greeting
