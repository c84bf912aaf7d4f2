"""``/api/v1/price-books``: list prices per item, in one currency."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm.api.collection import as_bool, paginate
from crm.api.fields import Integer, MoneyField
from crm.api.records import Id, RecordListArgs, Text, as_text, clean_text, patch_schema
from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.models import PriceBook
from crm.permissions import require
from crm.services import price_books
from crm.services.price_books import MAX_PRICES

#: what ``GET /api/v1/price-books`` searches (``q``) and filters by (and the mass actions' ``filter``)
SEARCH = [PriceBook.name]
FILTERS = {"active": (PriceBook.active, as_bool), "currency": (PriceBook.currency, as_text)}

blp = Blueprint("api_price_books", __name__, url_prefix="/api/v1/price-books", description="Price books")


class ListPriceSchema(Schema):
    item_id = Id(required=True)
    list_price = MoneyField(required=True)


class PriceBookSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(100, required=True)
    currency = fields.String(load_default="EUR", validate=[validate.Length(max=3), clean_text],
                             metadata={"description": "ISO 4217 code"})
    active = fields.Boolean(load_default=True)
    description = Text(10_000)
    prices = fields.List(fields.Nested(ListPriceSchema), load_default=list, validate=validate.Length(max=MAX_PRICES),
                         metadata={"description": "one list price per item; a PATCH replaces the whole list"})
    version = fields.Integer(dump_only=True)


class PriceBookPatchSchema(PriceBookSchema):
    version = Integer(metadata={"description": "the version you read; 409 if it changed"})


@blp.route("")
class PriceBooks(MethodView):
    @require("catalog")
    @blp.arguments(RecordListArgs, location="query")
    @blp.response(200, ListOf(PriceBookSchema))
    def get(self, args):
        """List price books. ``q`` searches the name; filters: ``active``, ``currency``; sort: ``name``."""
        stmt = select(PriceBook).options(selectinload(PriceBook.prices))
        return paginate(db.session, stmt, args, model=PriceBook, search=SEARCH,
                        sortable={"name": func.lower(PriceBook.name), "currency": PriceBook.currency},
                        filters=FILTERS,
                        raw_args=request.args)

    @require("catalog", "write")
    @blp.arguments(PriceBookSchema)
    @blp.response(201, PriceBookSchema)
    def post(self, body):
        """Create a price book."""
        with db.transaction() as session:
            return price_books.create_price_book(session, body)


@blp.route("/<int:price_book_id>")
class PriceBookById(MethodView):
    @require("catalog")
    @blp.response(200, PriceBookSchema)
    def get(self, price_book_id):
        """One price book with its prices."""
        return price_books.get_price_book(db.session, price_book_id)

    @require("catalog", "write")
    @blp.arguments(patch_schema(PriceBookPatchSchema))
    @blp.response(200, PriceBookSchema)
    def patch(self, body, price_book_id):
        """Change a price book (send ``version`` to be told if someone else changed it).

        ``prices`` sent replace the whole list.
        """
        with db.transaction() as session:
            book = price_books.get_price_book(session, price_book_id, for_update=True)
            return price_books.update_price_book(session, book, body)

    @require("catalog", "write")
    @blp.response(204)
    def delete(self, price_book_id):
        """Delete a price book and its prices."""
        with db.transaction() as session:
            price_books.delete_price_book(session, price_books.get_price_book(session, price_book_id, for_update=True))
