"""Schemas shared by every resource: collections and list arguments."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from crm.api.fields import clean_text

MAX_PER_PAGE = 200


def ListOf(item_schema: type[Schema], name: str | None = None) -> type[Schema]:
    """The collection envelope ``{"items", "total", "page", "per_page"}`` around ``item_schema``."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema)),
        "total": fields.Integer(),
        "page": fields.Integer(),
        "per_page": fields.Integer(),
    }, name=name or f"{item_schema.__name__.removesuffix('Schema')}List")


class ListArgs(Schema):
    """``?page=&per_page=&q=&sort=`` shared by every collection."""

    class Meta:
        unknown = "exclude"  # equality filters are read by each resource

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    q = fields.String(load_default=None, validate=[validate.Length(max=200), clean_text])
    sort = fields.String(load_default=None, validate=[validate.Length(max=60), clean_text])
