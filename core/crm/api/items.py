"""``/api/v1/products``, ``/api/v1/services`` and ``/api/v1/items/<id>``.

Products and services share one id space (items): ``/products/<id>`` answers
404 for a service's id and ``/services/<id>`` for a product's; ``/items/<id>``
answers either, told apart by ``kind``.
"""
from __future__ import annotations

from decimal import Decimal

from flask import request
from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import func, select

from crm.api.collection import as_bool, paginate
from crm.api.fields import Integer, MoneyField, QuantityField
from crm.api.records import Custom, Id, IdsOf, RecordListArgs, Text, as_id, as_text, patch_schema
from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.models import Item
from crm.money import decimal_text
from crm.permissions import require
from crm.services import items, search as item_search

blp = Blueprint("api_items", __name__, url_prefix="/api/v1", description="Products (and bundles) and services")

VERSION_DOC = {"description": "the version you read; 409 if it changed"}


def _stock(figure: str):
    """A read-only stock figure of a product (see ``crm.services.items.stock_of``)."""
    def serialize(item):
        stock = items.stock_of(item)
        return decimal_text(getattr(stock, figure)) if stock is not None else None
    return fields.Function(serialize, dump_only=True, metadata={"type": "string", "readOnly": True})


class BundleComponentSchema(Schema):
    product_id = Id(required=True, attribute="component_id")
    quantity = QuantityField(required=True, metadata={"description": "per bundle, greater than 0"})
    product_name = fields.String(attribute="component.name", dump_only=True)
    sku = fields.String(attribute="component.sku", dump_only=True, allow_none=True)


class ItemSchema(Schema):
    """What products and services have in common."""

    id = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True, metadata={"enum": ["product", "service"]})
    name = Text(200, required=True)
    unit_price = MoneyField(required=True)
    purchase_cost = MoneyField(load_default=Decimal("0"))
    usage_unit = Text(30)
    category = Text(100)
    active = fields.Boolean(load_default=True)
    tax_ids = IdsOf("taxes", load_default=list,
                    metadata={"description": "taxes applied by default in individual tax mode"})
    description = Text(10_000)
    custom = Custom()
    version = fields.Integer(dump_only=True)


class ProductSchema(ItemSchema):
    sku = Text(100, allow_none=True, load_default=None, metadata={"description": "unique when set"})
    qty_per_unit = QuantityField(load_default=Decimal("1"))
    subcategory = Text(100)
    manufacturer = Text(100)
    vendor_id = Id(allow_none=True, load_default=None)
    reorder_level = QuantityField(load_default=Decimal("0"))
    reorder_quantity = QuantityField(load_default=Decimal("0"), metadata={
        "description": "replenishment orders up to this quantity (at least up to the reorder level)"})
    components = fields.List(fields.Nested(BundleComponentSchema), load_default=list, validate=validate.Length(max=100),
                             metadata={"description": "products in this bundle; empty for a plain product"})
    is_bundle = fields.Boolean(dump_only=True)
    on_hand = _stock("on_hand")
    reserved = _stock("reserved")
    available = _stock("available")


class ServiceSchema(ItemSchema):
    pass


class ProductPatchSchema(ProductSchema):
    version = Integer(metadata=VERSION_DOC)


class ServicePatchSchema(ServiceSchema):
    version = Integer(metadata=VERSION_DOC)


SORTABLE = {"name": func.lower(Item.name), "sku": func.lower(Item.sku), "unit_price": Item.unit_price,
            "category": func.lower(Item.category), "created_at": Item.created_at}
SEARCH = [Item.name, Item.sku, Item.description]
PRODUCT_FILTERS = {
    "active": (Item.active, as_bool), "category": (Item.category, as_text),
    "subcategory": (Item.subcategory, as_text), "manufacturer": (Item.manufacturer, as_text),
    "vendor_id": (Item.vendor_id, as_id), "is_bundle": (Item.is_bundle, as_bool),
}
SERVICE_FILTERS = {"active": (Item.active, as_bool), "category": (Item.category, as_text)}


def searched_items(kind: str, q: str | None):
    """The statement of the items of ``kind`` and the columns ``q`` is searched in (none when the
    full-text index already answers it: SQLite, see crm.services.search)."""
    stmt, search = select(Item).where(Item.kind == kind), SEARCH
    indexed = item_search.items_matching(db.session, q)
    if indexed is not None:
        stmt, search = stmt.where(indexed), ()
    return stmt, search


def _list(kind: str, args, filters):
    stmt, search = searched_items(kind, args.get("q"))
    page = paginate(db.session, stmt, args, model=Item, search=search,
                    sortable=SORTABLE, filters=filters, raw_args=request.args)
    items.load_details(db.session, page["items"])
    return page


@blp.route("/products")
class Products(MethodView):
    @require("catalog")
    @blp.arguments(RecordListArgs, location="query")
    @blp.response(200, ListOf(ProductSchema))
    def get(self, args):
        """List products and bundles.

        ``q`` searches name, sku and description; filters: ``active``, ``category``, ``subcategory``,
        ``manufacturer``, ``vendor_id``, ``is_bundle``; sort: ``name``, ``sku``, ``unit_price``, ``category``,
        ``created_at``.
        """
        return _list("product", args, PRODUCT_FILTERS)

    @require("catalog", "write")
    @blp.arguments(ProductSchema)
    @blp.response(201, ProductSchema)
    def post(self, body):
        """Create a product; with ``components`` it is a bundle (of plain products, each once)."""
        with db.transaction() as session:
            return items.create_item(session, "product", body)


@blp.route("/products/<int:item_id>")
class ProductById(MethodView):
    @require("catalog")
    @blp.response(200, ProductSchema)
    def get(self, item_id):
        """One product, with its stock figures (a bundle's come from its components)."""
        return items.get_item(db.session, item_id, "product")

    @require("catalog", "write")
    @blp.arguments(patch_schema(ProductPatchSchema))
    @blp.response(200, ProductSchema)
    def patch(self, body, item_id):
        """Change a product (send ``version`` to be told if someone else changed it).

        ``components`` and ``tax_ids`` sent replace the whole list.
        """
        with db.transaction() as session:
            return items.update_item(session, items.get_item(session, item_id, "product", for_update=True), body)

    @require("catalog", "write")
    @blp.response(204)
    def delete(self, item_id):
        """Delete a product.

        Refused (409) while documents, bundles, price books or stock moves refer to it: deactivate it instead.
        """
        with db.transaction() as session:
            items.delete_item(session, items.get_item(session, item_id, "product", for_update=True))


@blp.route("/services")
class Services(MethodView):
    @require("catalog")
    @blp.arguments(RecordListArgs, location="query")
    @blp.response(200, ListOf(ServiceSchema))
    def get(self, args):
        """List services.

        ``q`` searches name and description; filters: ``active``, ``category``; sort: ``name``,
        ``unit_price``, ``category``, ``created_at``.
        """
        return _list("service", args, SERVICE_FILTERS)

    @require("catalog", "write")
    @blp.arguments(ServiceSchema)
    @blp.response(201, ServiceSchema)
    def post(self, body):
        """Create a service."""
        with db.transaction() as session:
            return items.create_item(session, "service", body)


@blp.route("/services/<int:item_id>")
class ServiceById(MethodView):
    @require("catalog")
    @blp.response(200, ServiceSchema)
    def get(self, item_id):
        """One service."""
        return items.get_item(db.session, item_id, "service")

    @require("catalog", "write")
    @blp.arguments(patch_schema(ServicePatchSchema))
    @blp.response(200, ServiceSchema)
    def patch(self, body, item_id):
        """Change a service (send ``version`` to be told if someone else changed it)."""
        with db.transaction() as session:
            return items.update_item(session, items.get_item(session, item_id, "service", for_update=True), body)

    @require("catalog", "write")
    @blp.response(204)
    def delete(self, item_id):
        """Delete a service.

        Refused (409) while documents or price books refer to it: deactivate it instead.
        """
        with db.transaction() as session:
            items.delete_item(session, items.get_item(session, item_id, "service", for_update=True))


#: schema instances are reusable (they keep no state between dumps): made once, not per request
_ONE_ITEM = {"product": ProductSchema(), "service": ServiceSchema()}
ONE_OF = {"oneOf": [{"$ref": "#/components/schemas/Product"}, {"$ref": "#/components/schemas/Service"}]}


@blp.route("/items/<int:item_id>")
class ItemById(MethodView):
    @require("catalog")
    @blp.response(200)
    @blp.doc(responses={"200": {"description": "a product or a service, told apart by kind",
                                "content": {"application/json": {"schema": ONE_OF}}}})
    def get(self, item_id):
        """One item, product or service (``kind`` tells which)."""
        item = items.get_item(db.session, item_id)
        return _ONE_ITEM[item.kind].dump(item)
