"""``/api/v1/quotes``, ``/sales-orders``, ``/purchase-orders``, ``/invoices``.

The four document types share one shape, so one factory builds their
blueprints and schemas; each gets its own OpenAPI names (``QuoteIn``,
``SalesOrder``, ...).
"""
from __future__ import annotations

from decimal import Decimal

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import INCLUDE, fields, missing, post_dump, validate, validates_schema
from sqlalchemy import select
from werkzeug.utils import secure_filename

from crm.api.collection import paginate
from crm.api.fields import (
    ConversionRateField,
    Date,
    IdField,
    Integer,
    MoneyField,
    PercentField,
    QuantityField,
    Text,
)
from crm.api.idempotency import create_once
from crm.api.openapi import ErrorSchema
from crm.api.schemas import Blueprint, ListArgs, ListOf, Schema, dumped
from crm.db import db
from crm.errors import ValidationError as DomainValidationError
from crm.models import Document
from crm.models.documents import TAX_MODES
from crm.models.stock import FREQUENCIES
from crm.money import MONEY_MIN_PLACES, decimal_text
from crm.permissions import require
from crm.services import documents, hooks, pdf_renders
from crm.services.doctypes import DOC_TYPES, DocType

TOTAL_FIELDS = {"subtotal": "subtotal", "discount": "discount_total", "taxable": "taxable", "tax": "tax_total",
                "shipping": "shipping", "shipping_tax": "shipping_tax", "adjustment": "adjustment",
                "grand_total": "grand_total"}


class Address(Schema):
    street = Text(200)
    city = Text(100)
    state = Text(100)
    postal_code = Text(20)
    country = Text(100)


def _both_discounts(data, prefix=""):
    if data.get("discount_percent") is not None and data.get("discount_amount") is not None:
        raise DomainValidationError.for_field(prefix + "discount_amount",
                                              _("give a discount percent or an amount, not both"))


class DocumentLineIn(Schema):
    id = IdField(allow_none=True, metadata={"description": "send it to keep an existing line"})
    display_type = fields.String(allow_none=True, validate=validate.OneOf(documents.DISPLAY_TYPES),
                                 metadata={"description": "null for an item line; section/subtotal/note rows"})
    item_id = IdField(allow_none=True)
    quantity = QuantityField()
    unit_price = MoneyField(allow_none=True, metadata={"description": "defaults to the item's price"})
    discount_percent = PercentField(allow_none=True)
    discount_amount = MoneyField(allow_none=True)
    tax_ids = fields.List(IdField(), allow_none=True, validate=validate.Length(max=10),
                          metadata={"description": "individual tax mode; defaults to the item's taxes"})
    description = Text(2000)
    comment = Text(2000)
    custom = fields.Dict(keys=fields.String(validate=validate.Length(max=60)),
                         metadata={"description": "values of plugin line columns"})


class LineOut(Schema):
    id = fields.Integer()
    position = fields.Integer()
    display_type = fields.String(allow_none=True)
    item_id = fields.Integer(allow_none=True)
    item_name = fields.Function(lambda line: line.item.name if line.item is not None else None)
    item_kind = fields.Function(lambda line: line.item.kind if line.item is not None else None)
    sku = fields.Function(lambda line: line.item.sku if line.item is not None else None)
    source_line_id = fields.Integer(allow_none=True)
    description = fields.String()
    comment = fields.String()
    quantity = QuantityField()
    unit_price = MoneyField()
    discount_percent = PercentField(allow_none=True)
    discount_amount = MoneyField(allow_none=True)
    tax_ids = fields.Function(lambda line: [t["id"] for t in line.taxes or []])
    gross = MoneyField()
    discount = MoneyField()
    net = MoneyField(minimum=None)
    tax = MoneyField(minimum=None)
    total = MoneyField(minimum=None)
    custom = fields.Dict()


class Related(Schema):
    id = fields.Integer()
    number = fields.String()
    type = fields.String(attribute="doc_type")
    status = fields.String()


def _totals(document: Document) -> dict:
    return {name: decimal_text(getattr(document, column), MONEY_MIN_PLACES) for name, column in TOTAL_FIELDS.items()}


class Recurring(Schema):
    frequency = fields.String(required=True, validate=validate.OneOf(FREQUENCIES))
    start_date = Date(required=True)
    end_date = Date(allow_none=True)
    payment_terms_days = Integer(load_default=30, validate=validate.Range(min=0, max=3650))
    invoice_status = fields.String(load_default="AutoCreated",
                                   validate=validate.OneOf(("AutoCreated", "Created", "Approved", "Sent")))
    active = fields.Boolean(dump_only=True)


_RECURRING = Recurring()  # schemas keep no state between dumps: one instance, not one per response
_RELATED = Related()


def _recurring_out(document):
    from flask import has_app_context
    if not has_app_context():
        return None
    schedule = documents.recurring_schedule(db.session, document)
    return _RECURRING.dump(schedule) if schedule is not None and schedule.active else None


def _backorder(line) -> str:
    order = line.document
    if order.status != "Approved" or line.item is None or line.item.kind != "product":
        return "0"
    return decimal_text(max(line.quantity - line.qty_shipped - line.qty_reserved, Decimal("0")))


def _input_fields(kind: DocType) -> dict:
    party = ({"vendor_id": IdField(required=True)} if kind.party == "vendor"
             else {"account_id": IdField(required=True),
                   "customer_reference": Text(100, metadata={"description": "the customer's own order reference "
                                                                           "(their purchase order number)"})})
    extra = {}
    if kind.name == "quote":
        extra["valid_until"] = Date(allow_none=True)
    if kind.name in ("sales_order", "purchase_order", "invoice"):
        extra["due_date"] = Date(allow_none=True)
    if kind.name == "sales_order":
        extra["recurring"] = fields.Nested(Recurring, allow_none=True,
                                           metadata={"description": "invoice this order on a schedule; null stops it"})
    if kind.name == "invoice":
        extra["invoice_date"] = Date(allow_none=True)
        extra["received"] = MoneyField(metadata={"description": "kept by hand unless the payments plugin is on"})
    return {
        **party,
        "contact_id": IdField(allow_none=True, metadata={"description": "a contact of the account (purchase "
                                                                        "orders: one linked to no account)"}),
        "subject": Text(200),
        "currency": fields.String(validate=validate.Length(equal=3)),
        "conversion_rate": ConversionRateField(),
        "tax_mode": fields.String(validate=validate.OneOf(TAX_MODES)),
        "group_tax_ids": fields.List(IdField(), validate=validate.Length(max=10)),
        "shipping_tax_ids": fields.List(IdField(), validate=validate.Length(max=10)),
        "price_book_id": IdField(allow_none=True, load_only=True,
                                        metadata={"description": "take default unit prices from this price book"}),
        "lines": fields.List(fields.Nested(DocumentLineIn), validate=validate.Length(max=documents.MAX_LINES)),
        "discount_percent": PercentField(allow_none=True),
        "discount_amount": MoneyField(allow_none=True),
        "shipping_amount": MoneyField(),
        "adjustment": MoneyField(minimum=None),
        "billing_address": fields.Nested(Address),
        "shipping_address": fields.Nested(Address),
        "terms": Text(10000),
        "description": Text(10000),
        "custom": fields.Dict(keys=fields.String(validate=validate.Length(max=60))),
        **extra,
    }


def _output_fields(kind: DocType) -> dict:
    line_extra = {}
    if kind.name == "sales_order":
        line_extra = {"reserved": QuantityField(attribute="qty_reserved", metadata={
                          "description": "held in stock for this line (approved, not shipped yet)"}),
                      "shipped": QuantityField(attribute="qty_shipped", metadata={
                          "description": "shipped so far (POST /sales-orders/{doc_id}/shipments)"}),
                      "invoiced": QuantityField(attribute="qty_invoiced", metadata={
                          "description": "on this order's invoices that are not cancelled"}),
                      "backorder": fields.Function(_backorder, metadata={"description": "approved but not reserved"})}
    elif kind.name == "purchase_order":
        line_extra = {"received": QuantityField(attribute="qty_received", metadata={
            "description": "received so far (POST /purchase-orders/{doc_id}/receipts)"})}
    line_schema = type(f"{_camel(kind.name)}Line", (LineOut,), line_extra)
    out = {
        "id": fields.Integer(),
        "number": fields.String(),
        "type": fields.String(attribute="doc_type"),
        "status": fields.String(),
        "version": fields.Integer(),
        "lines": fields.List(fields.Nested(line_schema)),
        "totals": fields.Function(_totals, metadata={"description": "decimal strings: " + ", ".join(TOTAL_FIELDS)}),
        "extra_totals": fields.Dict(),
        "group_tax_ids": fields.Function(lambda d: [t["id"] for t in d.group_taxes or []]),
        "shipping_tax_ids": fields.Function(lambda d: [t["id"] for t in d.shipping_taxes or []]),
        "source": fields.Function(lambda d: _RELATED.dump(d.source) if d.source is not None else None),
        "created_at": fields.DateTime(),
        "updated_at": fields.DateTime(),
        "created_by_id": fields.Integer(allow_none=True),
    }
    if kind.party == "vendor":
        out["vendor_name"] = fields.Function(lambda d: d.vendor.name if d.vendor else None)
    else:
        out["account_name"] = fields.Function(lambda d: d.account.name if d.account else None)
    if kind.name == "sales_order":
        out["recurring"] = fields.Function(_recurring_out)
    if kind.name == "invoice":
        out["received"] = MoneyField()
        out["balance"] = MoneyField(minimum=None)
    return out


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _check_discounts(self, data, **_kwargs):
    _both_discounts(data)
    for index, line in enumerate(data.get("lines") or []):
        _both_discounts(line, f"lines.{index}.")


def build_schemas(kind: DocType):
    name = _camel(kind.name)
    inputs = _input_fields(kind)
    create = type(f"{name}In", (Schema,), {**inputs, "check_discounts": validates_schema(_check_discounts)})
    patch_fields = _input_fields(kind)
    for f in patch_fields.values():  # a PATCH changes only what it sends
        f.required = False
        f.load_default = missing
    patch = type(f"{name}Patch", (Schema,), {
        **patch_fields,
        "status": fields.String(validate=validate.OneOf(kind.statuses)),
        "version": Integer(metadata={"description": "the version you read; 409 if it changed"}),
        "check_discounts": validates_schema(_check_discounts),
    })
    output = type(name, (DocumentOut,), {**{k: v for k, v in inputs.items()
                                       if k not in ("lines", "group_tax_ids", "shipping_tax_ids", "price_book_id")},
                                    **_output_fields(kind)})
    summary_fields = {k: v for k, v in _output_fields(kind).items() if k not in ("lines", "recurring", "source")}
    summary = type(f"{name}Summary", (DocumentOut,), {
        **{k: v for k, v in _input_fields(kind).items() if k in ("subject", "customer_reference", "currency",
                                                                 "account_id", "vendor_id", "due_date", "valid_until",
                                                                 "invoice_date")},
        **summary_fields})
    return create, patch, output, summary


class DocumentOut(Schema):
    """Base of the four document schemas; plugins add fields through ``crm_document_serialize``."""

    class Meta:
        unknown = INCLUDE  # described as additionalProperties: the plugins' members (never loaded)

    @post_dump(pass_original=True)
    def _plugin_fields(self, data, document, **_kwargs):
        hooks.call("crm_document_serialize", document=document, data=data)
        return data


#: what a document list searches (``q``)
LIST_SEARCH = [Document.number, Document.subject, Document.customer_reference]


def list_filters(kind: DocType) -> dict:
    """The equality filters of a document list (and of its mass actions' ``filter``)."""
    party, party_column = ("vendor_id", Document.vendor_id) if kind.party == "vendor" else \
        ("account_id", Document.account_id)
    return {"status": (Document.status, str), party: (party_column, int),
            "contact_id": (Document.contact_id, int), "currency": (Document.currency, str)}


def make_blueprint(kind: DocType) -> Blueprint:
    create_schema, patch_schema, out_schema, summary_schema = build_schemas(kind)
    blp = Blueprint(f"api_{kind.name}s", __name__, url_prefix=f"/api/v1/{kind.path}",
                    description=f"{kind.label}s")

    def load(session, doc_id):
        return documents.get_document(session, kind.name, doc_id)

    @blp.route("")
    class Collection(MethodView):
        @require(kind.resource)
        @blp.arguments(ListArgs, location="query")
        @blp.response(200, ListOf(summary_schema))
        def get(self, args):
            """List (without lines). Filters: status, account_id / vendor_id, contact_id, currency."""
            from sqlalchemy.orm import joinedload
            stmt = select(Document).where(Document.doc_type == kind.name).options(
                joinedload(Document.vendor if kind.party == "vendor" else Document.account))
            return paginate(db.session, stmt, args, model=Document, search=LIST_SEARCH,
                            sortable={"number": Document.number, "created_at": Document.created_at,
                                      "status": Document.status, "grand_total": Document.grand_total,
                                      "subject": Document.subject, "updated_at": Document.updated_at},
                            default_sort=[Document.id.desc()],
                            filters=list_filters(kind),
                            raw_args=request.args)

        @require(kind.resource, "write")
        @blp.arguments(create_schema)
        @blp.response(201, out_schema)
        @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string"},
                              "required": False, "description": "repeat a creation safely"}])
        def post(self, body):
            """Create; amounts are computed by the server. Honours ``Idempotency-Key``."""
            return create_once(kind.path, request.get_json(silent=True),
                               lambda session: documents.create_document(session, kind.name, body), load, out_schema)

    @blp.route("/<int:doc_id>")
    class One(MethodView):
        @require(kind.resource)
        @blp.response(200, out_schema)
        def get(self, doc_id):
            """One document with its lines and totals."""
            return load(db.session, doc_id)

        @require(kind.resource, "write")
        @blp.arguments(patch_schema)
        @blp.response(200, out_schema)
        def patch(self, body, doc_id):
            """Change fields, replace lines (lines keep their ``id``), or change ``status``."""
            with db.transaction() as session:
                document = documents.get_document(session, kind.name, doc_id, for_update=True)
                documents.update_document(session, document, body)
                return dumped(out_schema, document)

        @require(kind.resource, "write")
        @blp.response(204)
        def delete(self, doc_id):
            """Delete a document still in its first status that nothing depends on."""
            with db.transaction() as session:
                documents.delete_document(session, documents.get_document(session, kind.name, doc_id,
                                                                          for_update=True))

    @blp.route("/<int:doc_id>/related")
    class RelatedDocuments(MethodView):
        @require(kind.resource)
        @blp.response(200, ListOf(Related, f"{_camel(kind.name)}RelatedList"))
        def get(self, doc_id):
            """Documents this one came from and those created from it."""
            session = db.session
            document = documents.get_document(session, kind.name, doc_id)
            items = ([document.source] if document.source else []) + documents.children(session, document)
            return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}

    blp.kind = kind
    blp.out_schema = out_schema
    blp.patch_schema = patch_schema
    return blp


def _copy_field():
    return fields.Boolean(load_default=False, metadata={
        "description": "make another copy although one was already created (else 409 already_converted)"})


class ConversionChoice(Schema):
    copy = _copy_field()


class VendorChoice(Schema):
    vendor_id = IdField(required=True)
    copy = _copy_field()


def add_conversions() -> None:
    """The conversion actions: quote -> sales order / invoice, sales order -> purchase order.
    Each converts once per target (a sales order once per vendor) unless ``copy`` is sent."""
    quotes, orders = BLUEPRINTS["quote"], BLUEPRINTS["sales_order"]

    def convert(target: str):
        @require(DOC_TYPES[target].resource, "write")
        @quotes.arguments(ConversionChoice, required=False)
        @quotes.response(201, BLUEPRINTS[target].out_schema)
        def view(body, doc_id):
            with db.transaction() as session:
                quote = documents.get_document(session, "quote", doc_id, for_update=True)
                return dumped(BLUEPRINTS[target].out_schema,
                              documents.convert_quote(session, quote, target, copy=bool(body and body.get("copy"))))
        view.__name__ = f"quote_to_{target}"
        view.__doc__ = (f"Convert an accepted quote into a {DOC_TYPES[target].label.lower()}: once, unless "
                        f"``copy`` is true (409 ``already_converted`` names the existing one).")
        return view

    quotes.route("/<int:doc_id>/sales-order", methods=["POST"])(convert("sales_order"))
    quotes.route("/<int:doc_id>/invoice", methods=["POST"])(convert("invoice"))

    @orders.route("/<int:doc_id>/purchase-order", methods=["POST"])
    @require("purchase_orders", "write")
    @orders.arguments(VendorChoice)
    @orders.response(201, BLUEPRINTS["purchase_order"].out_schema)
    def sales_order_to_purchase_order(body, doc_id):
        """Order the sales order's products from a vendor, at purchase cost: once per vendor,
        unless ``copy`` is true (409 ``already_converted`` names the existing one)."""
        with db.transaction() as session:
            order = documents.get_document(session, "sales_order", doc_id, for_update=True)
            return dumped(BLUEPRINTS["purchase_order"].out_schema,
                          documents.order_from_vendor(session, order, body["vendor_id"], copy=body["copy"]))


class LineQuantity(Schema):
    """A line of the order and how much of it to receive, ship or invoice this time."""

    line_id = IdField(required=True, metadata={
        "description": "the id of an item line of this order (its `lines[].id`); a line may be named twice: "
                       "the quantities add up"})
    quantity = QuantityField(required=True, metadata={
        "description": "in the line's units (bundles for a bundle line); more than 0 and at most what is left "
                       "of the line (ordered minus received / shipped / invoiced), else 409 "
                       "quantity_exceeds_remaining naming lines.<n>.quantity"})


class LineQuantities(Schema):
    """Which lines, and how much of each; no body (or no ``lines``) takes everything left."""

    lines = fields.List(fields.Nested(LineQuantity), validate=validate.Length(min=1, max=documents.MAX_LINES),
                        metadata={"description": "omit the body (or lines) to take everything left"})


#: what a receipt, a shipment or an invoice of an order answers besides success
ORDER_ACTION_ERRORS = (
    (404, "no such order"),
    (409, "the order is not in a status that allows it (invalid_transition), nothing is left "
          "or a quantity is beyond what is left of its line (quantity_exceeds_remaining), "
          "not enough stock (insufficient_stock, shipments), or a plugin refused it"),
)


def _documented_errors(blp: Blueprint):
    """``alt_response`` for each of :data:`ORDER_ACTION_ERRORS` (the API's error body)."""
    def decorate(view):
        for status, description in reversed(ORDER_ACTION_ERRORS):
            view = blp.alt_response(status, schema=ErrorSchema, description=description)(view)
        return view
    return decorate


def add_order_actions() -> None:
    """Receipts of purchase orders; shipments and invoices of sales orders."""
    from crm.services import orders
    sales, purchases = BLUEPRINTS["sales_order"], BLUEPRINTS["purchase_order"]

    def lines_of(body):
        return body.get("lines") if body else None

    @purchases.route("/<int:doc_id>/receipts", methods=["POST"])
    @require("receipts", "write")
    @purchases.arguments(LineQuantities, required=False)
    @purchases.response(200, purchases.out_schema, description="the purchase order after the receipt: each "
                        "line's `received`, and status Received Shipment once every line is received")
    @_documented_errors(purchases)
    def receive(body, doc_id):
        """Receive (part of) an approved purchase order into stock.

        The order must be Approved or Delivered. Each line named is received by its quantity
        (stock moves of kind receipt; a bundle line receives its components); without a body,
        everything left. Announced to plugins as ``crm_stock_moved`` and ``crm_receipt_recorded``.
        """
        with db.transaction() as session:
            order = documents.get_document(session, "purchase_order", doc_id, for_update=True)
            return dumped(purchases.out_schema, orders.receive_purchase_order(session, order, lines_of(body)))

    @sales.route("/<int:doc_id>/shipments", methods=["POST"])
    @require("shipments", "write")
    @sales.arguments(LineQuantities, required=False)
    @sales.response(200, sales.out_schema, description="the sales order after the shipment: each line's "
                    "`shipped` and `reserved`, and status Delivered once every line is shipped")
    @_documented_errors(sales)
    def ship(body, doc_id):
        """Ship (part of) an approved sales order: stock out, reservation consumed.

        The order must be Approved. Each line named is shipped by its quantity: it consumes the
        line's reservation first and takes any rest from what is available (stock moves of kind
        shipment; a bundle line's components as bundle_component); services ship without a move.
        Without a body, everything left. Announced to plugins as ``crm_stock_moved`` and
        ``crm_shipment_recorded``.
        """
        with db.transaction() as session:
            order = documents.get_document(session, "sales_order", doc_id, for_update=True)
            return dumped(sales.out_schema, orders.ship_sales_order(session, order, lines_of(body)))

    @sales.route("/<int:doc_id>/invoices", methods=["POST"])
    @require("invoices", "write")
    @sales.arguments(LineQuantities, required=False)
    @sales.response(201, BLUEPRINTS["invoice"].out_schema, description="the new invoice")
    @_documented_errors(sales)
    def invoice(body, doc_id):
        """Invoice (part of) a sales order; never beyond the ordered quantity across its invoices."""
        with db.transaction() as session:
            order = documents.get_document(session, "sales_order", doc_id, for_update=True)
            return dumped(BLUEPRINTS["invoice"].out_schema, orders.invoice_sales_order(session, order, lines_of(body)))


def add_pdf_routes() -> None:
    """``GET /<documents>/<id>/pdf``: every document type printed as PDF (see :mod:`crm.services.pdf`)."""
    for blp in BLUEPRINTS.values():
        _add_pdf_route(blp, blp.kind)


def _add_pdf_route(blp: Blueprint, kind: DocType) -> None:
    @blp.route("/<int:doc_id>/pdf", methods=["GET"])
    @require(kind.resource)
    @blp.doc(summary=f"The {kind.label.lower()} as PDF",
             description="Company header, addresses, lines, tax breakdown, totals and terms; "
                         "plugins add columns and blocks (``crm_line_columns``, ``crm_pdf_context``).",
             responses={"200": {"description": "the PDF, shown inline",
                                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                        "202": {"description": "a large PDF being rendered by a worker: ask again after "
                                               "``Retry-After`` seconds (body: ``status``, ``cells``, "
                                               "``progress`` and ``seconds_left``, estimates)"},
                        "404": {"description": f"unknown {kind.label.lower()}"},
                        "409": {"description": "``pdf_too_large``: more cells than a PDF prints; "
                                               "``pdf_failed``: the worker could not render it (asked "
                                               "again, it is tried again)"}})
    def document_pdf(doc_id):
        document = documents.get_document(db.session, kind.name, doc_id)
        content = pdf_renders.document_pdf(db.session, document)
        if isinstance(content, pdf_renders.Pending):
            body = {"status": "rendering", "cells": content.cells, "progress": round(content.progress, 2),
                    "seconds_left": content.seconds_left}
            return jsonify(body), 202, {"Retry-After": str(min(5, content.seconds_left))}
        filename = secure_filename(f"{document.number}.pdf") or "document.pdf"
        return Response(content, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{filename}"'})


BLUEPRINTS = {name: make_blueprint(kind) for name, kind in DOC_TYPES.items()}
add_conversions()
add_order_actions()
add_pdf_routes()
