"""``/api/v1/quotes``, ``/sales-orders``, ``/purchase-orders``, ``/invoices``.

The four document types share one shape, so one factory builds their
blueprints and schemas; each gets its own OpenAPI names (``QuoteIn``,
``SalesOrder``, ...).
"""
from __future__ import annotations

from decimal import Decimal

from flask import Response, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import Schema, fields, missing, post_dump, validate, validates_schema
from sqlalchemy import select
from werkzeug.utils import secure_filename

from crm.api.collection import paginate
from crm.api.fields import IdField, MoneyField, PercentField, QuantityField, Text, money_text, plain
from crm.api.idempotency import create_once
from crm.api.schemas import ListArgs, ListOf
from crm.db import db
from crm.errors import ValidationError as DomainValidationError
from crm.models import Document
from crm.models.documents import TAX_MODES
from crm.models.stock import FREQUENCIES
from crm.permissions import require
from crm.services import documents, hooks, pdf
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


class DocumentAddress(Address):
    class Meta:
        name = "DocumentAddress"


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


class TotalsOut(Schema):
    subtotal = fields.String()
    discount = fields.String()
    taxable = fields.String()
    tax = fields.String()
    shipping = fields.String()
    shipping_tax = fields.String()
    adjustment = fields.String()
    grand_total = fields.String()


class Related(Schema):
    id = fields.Integer()
    number = fields.String()
    type = fields.String(attribute="doc_type")
    status = fields.String()


def _totals(document: Document) -> dict:
    return {name: money_text(getattr(document, column)) for name, column in TOTAL_FIELDS.items()}


class Recurring(Schema):
    frequency = fields.String(required=True, validate=validate.OneOf(FREQUENCIES))
    start_date = fields.Date(required=True)
    end_date = fields.Date(allow_none=True)
    payment_terms_days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=3650))
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
    return plain(max(line.quantity - line.qty_shipped - line.qty_reserved, Decimal("0")))


def _input_fields(kind: DocType) -> dict:
    party = ({"vendor_id": IdField(required=True)} if kind.party == "vendor"
             else {"account_id": IdField(required=True)})
    extra = {}
    if kind.name == "quote":
        extra["valid_until"] = fields.Date(allow_none=True)
    if kind.name in ("sales_order", "purchase_order", "invoice"):
        extra["due_date"] = fields.Date(allow_none=True)
    if kind.name == "sales_order":
        extra["recurring"] = fields.Nested(Recurring, allow_none=True,
                                           metadata={"description": "invoice this order on a schedule; null stops it"})
    if kind.name == "invoice":
        extra["invoice_date"] = fields.Date(allow_none=True)
        extra["received"] = MoneyField(metadata={"description": "kept by hand unless the payments plugin is on"})
    return {
        **party,
        "contact_id": IdField(allow_none=True),
        "subject": Text(200),
        "currency": fields.String(validate=validate.Length(equal=3)),
        "conversion_rate": fields.Decimal(as_string=True, validate=validate.Range(min=Decimal("0.000001"),
                                                                                  max=Decimal("1000000"))),
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
        line_extra = {"reserved": QuantityField(attribute="qty_reserved"), "shipped": QuantityField(attribute="qty_shipped"),
                      "invoiced": QuantityField(attribute="qty_invoiced"),
                      "backorder": fields.Function(_backorder, metadata={"description": "approved but not reserved"})}
    elif kind.name == "purchase_order":
        line_extra = {"received": QuantityField(attribute="qty_received")}
    line_schema = type(f"{_camel(kind.name)}Line", (LineOut,), line_extra)
    out = {
        "id": fields.Integer(),
        "number": fields.String(),
        "type": fields.String(attribute="doc_type"),
        "status": fields.String(),
        "version": fields.Integer(),
        "lines": fields.List(fields.Nested(line_schema)),
        "totals": fields.Function(_totals, metadata={"description": "decimal strings"}),
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
        "version": fields.Integer(metadata={"description": "the version you read; 409 if it changed"}),
        "check_discounts": validates_schema(_check_discounts),
    })
    output = type(name, (DocumentOut,), {**{k: v for k, v in inputs.items()
                                       if k not in ("lines", "group_tax_ids", "shipping_tax_ids", "price_book_id")},
                                    **_output_fields(kind)})
    summary_fields = {k: v for k, v in _output_fields(kind).items() if k not in ("lines", "recurring", "source")}
    summary = type(f"{name}Summary", (DocumentOut,), {
        **{k: v for k, v in _input_fields(kind).items() if k in ("subject", "currency", "account_id", "vendor_id",
                                                                 "due_date", "valid_until", "invoice_date")},
        **summary_fields})
    return create, patch, output, summary


class DocumentOut(Schema):
    """Base of the four document schemas; plugins add fields through ``crm_document_serialize``."""

    @post_dump(pass_original=True)
    def _plugin_fields(self, data, document, **_kwargs):
        hooks.call("crm_document_serialize", document=document, data=data)
        return data


def make_blueprint(kind: DocType) -> Blueprint:
    create_schema, patch_schema, out_schema, summary_schema = build_schemas(kind)
    blp = Blueprint(f"api_{kind.name}s", __name__, url_prefix=f"/api/v1/{kind.path}",
                    description=f"{kind.label}s")
    party_column = Document.vendor_id if kind.party == "vendor" else Document.account_id

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
            party = "vendor_id" if kind.party == "vendor" else "account_id"
            return paginate(db.session, stmt, args, model=Document, search=[Document.number, Document.subject],
                            sortable={"number": Document.number, "created_at": Document.created_at,
                                      "status": Document.status, "grand_total": Document.grand_total,
                                      "subject": Document.subject, "updated_at": Document.updated_at},
                            default_sort=[Document.id.desc()],
                            filters={"status": (Document.status, str), party: (party_column, int),
                                     "contact_id": (Document.contact_id, int), "currency": (Document.currency, str)},
                            raw_args=request.args)

        @require(kind.resource, "write")
        @blp.arguments(create_schema)
        @blp.response(201, out_schema)
        @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string"},
                              "required": False, "description": "repeat a creation safely"}])
        def post(self, body):
            """Create; amounts are computed by the server. Honours ``Idempotency-Key``."""
            return create_once(kind.path, request.get_json(silent=True),
                               lambda session: documents.create_document(session, kind.name, body), load)

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
            return document

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
    return blp


class VendorChoice(Schema):
    vendor_id = IdField(required=True)


def add_conversions() -> None:
    """The conversion actions: quote -> sales order / invoice, sales order -> purchase order."""
    quotes, orders = BLUEPRINTS["quote"], BLUEPRINTS["sales_order"]

    def convert(target: str):
        @require(DOC_TYPES[target].resource, "write")
        @quotes.response(201, BLUEPRINTS[target].out_schema)
        def view(doc_id):
            with db.transaction() as session:
                quote = documents.get_document(session, "quote", doc_id, for_update=True)
                return documents.convert_quote(session, quote, target)
        view.__name__ = f"quote_to_{target}"
        view.__doc__ = f"Convert an accepted quote into a {DOC_TYPES[target].label.lower()}."
        return view

    quotes.route("/<int:doc_id>/sales-order", methods=["POST"])(convert("sales_order"))
    quotes.route("/<int:doc_id>/invoice", methods=["POST"])(convert("invoice"))

    @orders.route("/<int:doc_id>/purchase-order", methods=["POST"])
    @require("purchase_orders", "write")
    @orders.arguments(VendorChoice)
    @orders.response(201, BLUEPRINTS["purchase_order"].out_schema)
    def sales_order_to_purchase_order(body, doc_id):
        """Order the sales order's products from a vendor, at purchase cost."""
        with db.transaction() as session:
            order = documents.get_document(session, "sales_order", doc_id, for_update=True)
            return documents.order_from_vendor(session, order, body["vendor_id"])


class LineQuantity(Schema):
    line_id = IdField(required=True)
    quantity = QuantityField(required=True)


class LineQuantities(Schema):
    lines = fields.List(fields.Nested(LineQuantity), validate=validate.Length(min=1, max=documents.MAX_LINES),
                        metadata={"description": "omit the body (or lines) to take everything left"})


def add_order_actions() -> None:
    """Receipts of purchase orders; shipments and invoices of sales orders."""
    from crm.services import orders
    sales, purchases = BLUEPRINTS["sales_order"], BLUEPRINTS["purchase_order"]

    def lines_of(body):
        return body.get("lines") if body else None

    @purchases.route("/<int:doc_id>/receipts", methods=["POST"])
    @require("receipts", "write")
    @purchases.arguments(LineQuantities, required=False)
    @purchases.response(200, purchases.out_schema)
    def receive(body, doc_id):
        """Receive (part of) an approved purchase order into stock."""
        with db.transaction() as session:
            order = documents.get_document(session, "purchase_order", doc_id, for_update=True)
            return orders.receive_purchase_order(session, order, lines_of(body))

    @sales.route("/<int:doc_id>/shipments", methods=["POST"])
    @require("shipments", "write")
    @sales.arguments(LineQuantities, required=False)
    @sales.response(200, sales.out_schema)
    def ship(body, doc_id):
        """Ship (part of) an approved sales order: stock out, reservation consumed."""
        with db.transaction() as session:
            order = documents.get_document(session, "sales_order", doc_id, for_update=True)
            return orders.ship_sales_order(session, order, lines_of(body))

    @sales.route("/<int:doc_id>/invoices", methods=["POST"])
    @require("invoices", "write")
    @sales.arguments(LineQuantities, required=False)
    @sales.response(201, BLUEPRINTS["invoice"].out_schema)
    def invoice(body, doc_id):
        """Invoice (part of) a sales order; never beyond the ordered quantity across its invoices."""
        with db.transaction() as session:
            order = documents.get_document(session, "sales_order", doc_id, for_update=True)
            return orders.invoice_sales_order(session, order, lines_of(body))


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
                        "404": {"description": f"unknown {kind.label.lower()}"}})
    def document_pdf(doc_id):
        document = documents.get_document(db.session, kind.name, doc_id)
        filename = secure_filename(f"{document.number}.pdf") or "document.pdf"
        return Response(pdf.render_document_pdf(db.session, document), mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{filename}"'})


BLUEPRINTS = {name: make_blueprint(kind) for name, kind in DOC_TYPES.items()}
add_conversions()
add_order_actions()
add_pdf_routes()
