"""Schemas shared by every resource: collections and list arguments."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from crm.api.fields import Integer, clean_text
from crm.api.openapi import schema_name

MAX_PER_PAGE = 200


def ListOf(item_schema: type[Schema], name: str | None = None) -> type[Schema]:
    """The collection envelope ``{"items", "total", "page", "per_page"}`` around ``item_schema``,
    named ``name`` or ``<item schema's name>List`` (in a plugin's package like the item schema,
    so that its name starts with the plugin id too: :func:`crm.api.openapi.schema_name`)."""
    envelope = Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema)),
        "total": fields.Integer(),
        "page": fields.Integer(),
        "per_page": fields.Integer(),
    }, name=name or f"{schema_name(item_schema)}List")
    envelope.__module__ = item_schema.__module__
    return envelope


def document_schema(doc_type: str) -> type[Schema]:
    """The schema the API answers a document of ``doc_type`` (``quote``, ``sales_order``,
    ``purchase_order``, ``invoice``) with, for a plugin endpoint that answers a document."""
    from crm.api.documents import BLUEPRINTS  # built with the API's document endpoints (it imports this module)
    return BLUEPRINTS[doc_type].out_schema


class ListArgs(Schema):
    """``?page=&per_page=&q=&sort=`` shared by every collection."""

    class Meta:
        unknown = "exclude"  # equality filters are read by each resource

    page = Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    q = fields.String(load_default=None, validate=[validate.Length(max=200), clean_text])
    sort = fields.String(load_default=None, validate=[validate.Length(max=60), clean_text])
