"""Marshmallow schemas of the item lookup (OpenAPI names prefixed ``ItemLookup``),
shared by the REST API and the browser's JSON endpoints, and the conversion of a
search result into its JSON shape."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from marshmallow import ValidationError as SchemaValidationError, fields, pre_load, validate, validates

from crm.api.fields import IdField, Integer, MoneyField, PercentField, QuantityField, clean_text
from crm.api.schemas import Schema
from crm.services.doctypes import DOC_TYPES
from crm.services.documents import MAX_LINES
from crm_item_lookup import search as lookup, settings as lookup_settings

SORT_CHOICES = [s for name in lookup.SORTS for s in (name, "-" + name)]


class ItemLookupSearchArgs(Schema):
    class Meta:
        unknown = "exclude"

    kind = fields.String(load_default=None, validate=validate.OneOf(lookup_settings.KINDS),
                         metadata={"description": "product (bundles included), service or bundle; omit for all"})
    q = fields.String(load_default="", validate=[validate.Length(max=200), clean_text],
                      metadata={"description": "words that must all occur in the name, SKU or description"})
    f1 = fields.List(fields.String(validate=[validate.Length(max=200), clean_text]), load_default=list,
                     validate=validate.Length(max=50),
                     metadata={"description": "values of the first facet field (repeat for several: any of them)"})
    f2 = fields.List(fields.String(validate=[validate.Length(max=200), clean_text]), load_default=list,
                     validate=validate.Length(max=50), metadata={"description": "values of the second facet field"})
    f3 = fields.List(fields.String(validate=[validate.Length(max=200), clean_text]), load_default=list,
                     validate=validate.Length(max=50), metadata={"description": "values of the third facet field"})
    vendor_id = IdField(load_default=None)
    in_stock = fields.Boolean(load_default=False,
                              metadata={"description": "products with available > 0, bundles whose components "
                                                       "make at least one; services always pass"})
    include_inactive = fields.Boolean(load_default=False)
    bundles_only = fields.Boolean(load_default=False)
    letter = fields.String(load_default=None, validate=validate.OneOf(lookup.LETTERS),
                           metadata={"description": "names starting with this letter; # for anything else"})
    sort = fields.String(load_default="name", validate=validate.OneOf(SORT_CHOICES),
                         metadata={"description": "unit_price: by the price shown (with a price book, its list price "
                                                  "for the items it lists)"})
    price_book_id = IdField(load_default=None, metadata={
        "description": "show (and sort by) this active price book's list prices: each item's price is its list price "
                       "in the book where the book lists it, else its unit price"})
    doc_type = fields.String(load_default="quote", validate=validate.OneOf(list(DOC_TYPES)), metadata={
        "description": "the kind of document the prices are for: on a purchase order an item's price is its "
                       "purchase cost"})
    location_id = IdField(load_default=None, metadata={
        "description": "a stock location offered by a plugin (a warehouses plugin's warehouse; see the hook "
                       "crm_stock_location_choices): in_stock, available and sort=available follow what is "
                       "available there instead of the totals; another id: 422"})
    page = Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = Integer(load_default=50, validate=validate.Range(min=1, max=lookup.MAX_PER_PAGE))
    facets = fields.Boolean(load_default=True, metadata={"description": "false: skip total and facet counts"})

    @pre_load
    def _drop_empty(self, data: dict, **_kwargs: object) -> dict:
        """``?kind=&letter=`` (an empty form field) means "not given"."""
        return {key: data[key] for key in data if data[key] not in ("", None)}


def to_query(args: dict) -> lookup.Query:
    return lookup.Query(
        kind=args.get("kind"), q=args.get("q") or "",
        facets={n: [v for v in args.get(f"f{n}") or [] if v] for n in lookup.POSITIONS},
        vendor_id=args.get("vendor_id"), in_stock=args.get("in_stock", False),
        include_inactive=args.get("include_inactive", False), bundles_only=args.get("bundles_only", False),
        letter=args.get("letter"), sort=args.get("sort") or "name", page=args.get("page", 1),
        per_page=args.get("per_page", 50), with_facets=args.get("facets", True),
        price_book_id=args.get("price_book_id"), doc_type=args.get("doc_type") or "quote",
        location_id=args.get("location_id"))


class ItemLookupTax(Schema):
    id = fields.Integer()
    name = fields.String()
    rate = fields.String()


class ItemLookupItem(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(lookup_settings.KINDS)})
    name = fields.String()
    sku = fields.String(allow_none=True)
    unit_price = MoneyField()
    purchase_cost = MoneyField()
    price = MoneyField(metadata={"description": "the unit price a new line of the item takes on the document kind "
                                                "asked (doc_type): the purchase cost on a purchase order, else its "
                                                "list price in the price book asked where the book lists it, else "
                                                "its unit price"})
    list_price = MoneyField(allow_none=True, metadata={"description": "its list price in the price book asked; null "
                                                                      "when the book does not list it or none was "
                                                                      "asked"})
    usage_unit = fields.String()
    category = fields.String()
    subcategory = fields.String()
    manufacturer = fields.String()
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.String(allow_none=True),
                          metadata={"description": "the values of this request's facet fields"})
    vendor_id = fields.Integer(allow_none=True)
    vendor_name = fields.String(allow_none=True)
    available = fields.String(allow_none=True, metadata={"description": "products and bundles; null for services"})
    active = fields.Boolean()
    tax_ids = fields.List(fields.Integer(), metadata={"description": "the item's active taxes"})
    taxes = fields.List(fields.Nested(ItemLookupTax))
    picture = fields.String(allow_none=True, metadata={"description": "the picture's URL when the picture column "
                                                                      "is on and the item has one"})


class ItemLookupFacetField(Schema):
    param = fields.String(metadata={"description": "f1, f2 or f3"})
    field = fields.String()
    label = fields.String()
    selected = fields.List(fields.String())


class ItemLookupResult(Schema):
    items = fields.List(fields.Nested(ItemLookupItem))
    total = fields.Integer(allow_none=True)
    page = fields.Integer()
    per_page = fields.Integer()
    facets = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()),
                         metadata={"description": "per facet field, each value with matches and its count under "
                                                  "every other filter"})
    fields_ = fields.List(fields.Nested(ItemLookupFacetField), data_key="fields")


def result_dict(result: lookup.Result) -> dict:
    """The JSON body of a search (the items are JSON-ready already)."""
    return {"items": result.items, "total": result.total, "page": result.page, "per_page": result.per_page,
            "facets": result.facets,
            "fields": [{"param": f"f{f.position}", "field": f.field, "label": f.label, "selected": f.selected}
                       for f in result.fields]}


class ItemLookupFacetLists(Schema):
    product = fields.List(fields.String(validate=validate.Length(max=80)), validate=validate.Length(max=3))
    service = fields.List(fields.String(validate=validate.Length(max=80)), validate=validate.Length(max=3))
    bundle = fields.List(fields.String(validate=validate.Length(max=80)), validate=validate.Length(max=3))


class ItemLookupSettings(Schema):
    facets = fields.Nested(ItemLookupFacetLists, metadata={
        "description": "up to three facet fields per kind: category, subcategory, manufacturer, usage_unit or "
                       "custom.<key> (an active text or select custom field of items)"})
    default_kind = fields.String(validate=validate.OneOf(lookup_settings.KINDS),
                                 metadata={"description": "the kind the picker opens with"})
    switches = fields.List(fields.String(validate=validate.OneOf(lookup_settings.SWITCHES)),
                           validate=validate.Length(max=3), metadata={"description": "the switches the picker shows"})
    show_picture = fields.Boolean()
    picture_field = fields.String(allow_none=True, metadata={
        "description": "custom.<key> of a text custom field holding each item's picture URL"})


class ItemLookupField(Schema):
    name = fields.String()
    label = fields.String()
    type = fields.String()
    builtin = fields.Boolean()


class ItemLookupFieldList(Schema):
    items = fields.List(fields.Nested(ItemLookupField))


class ItemLookupLineIn(Schema):
    item_id = IdField(required=True)
    quantity = QuantityField(load_default=Decimal("1"), metadata={"description": "above 0; default 1"})
    unit_price = MoneyField(allow_none=True, load_default=None,
                            metadata={"description": "defaults to the item's list price in the price book given "
                                                     "(price_book_id) where it lists the item, else its unit price; "
                                                     "the purchase cost on purchase orders"})
    discount_percent = PercentField(allow_none=True, load_default=None)

    @validates("quantity")
    def _above_zero(self, value: Decimal, **_kwargs: object) -> None:
        if value <= 0:
            raise SchemaValidationError(_("must be above 0"))


class ItemLookupLinesIn(Schema):
    items = fields.List(fields.Nested(ItemLookupLineIn), required=True, validate=validate.Length(min=1, max=MAX_LINES))
    version = Integer(metadata={"description": "the document version you read; 409 if it changed"})
    price_book_id = IdField(allow_none=True, load_default=None, metadata={
        "description": "the active price book new lines without a unit_price take their price from (a document "
                       "keeps no price book: the core's document PATCH takes it the same way)"})
