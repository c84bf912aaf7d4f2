"""Schemas shared by every resource: collections and list arguments."""
from __future__ import annotations

from operator import attrgetter
from typing import Any

import flask_smorest
import marshmallow
from marshmallow import fields, missing, validate
from webargs.flaskparser import FlaskParser

from crm.api.fields import Integer, clean_text
from crm.api.openapi import schema_name

MAX_PER_PAGE = 200


class Dumped(dict):
    """An answer already dumped by its schema (:func:`dumped`), which the schema's ``dump``
    gives back as it is."""


def dumped(schema: type[marshmallow.Schema] | marshmallow.Schema, obj: Any) -> Dumped:
    """``obj`` dumped now by ``schema``, for a view to return from inside its transaction: the
    answer to a write is then built from what the write's transaction read. Dumped after the
    commit (what the response decorator does with a record), whatever the answer reads that the
    transaction had not (a relationship, a plugin's field: ``crm_document_serialize``) begins a
    new transaction just for it. A schema class is made into an instance once (:func:`shared`)."""
    return Dumped((shared(schema) if isinstance(schema, type) else schema).dump(obj))


_SHARED: dict[type, marshmallow.Schema] = {}


def shared(schema: type[marshmallow.Schema]) -> marshmallow.Schema:
    """The one instance of ``schema`` (made without arguments) that every request shares.
    Making a schema copies and binds each of its fields and, on first use, its nested schemas':
    about 0.15 ms for a document's, twice per write. Loading and dumping do not change a schema,
    so one instance serves every thread."""
    instance = _SHARED.get(schema)
    if instance is None:
        instance = _SHARED.setdefault(schema, schema())
    return instance


class _ArgumentsParser(FlaskParser):
    """webargs' parser, loading with one instance of each argument schema class
    (:func:`shared`) instead of a new one for every request."""

    def _get_schema(self, argmap: Any, req: Any) -> marshmallow.Schema:
        if isinstance(argmap, type) and issubclass(argmap, marshmallow.Schema):
            return shared(argmap)
        return super()._get_schema(argmap, req)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's ``Blueprint``, whose ``arguments`` load with one instance of each schema
    class (:func:`shared`). The core's and the plugins' API blueprints are made with it."""

    ARGUMENTS_PARSER = _ArgumentsParser()


class Schema(marshmallow.Schema):
    """marshmallow's ``Schema``, dumping objects faster: each field reads its attribute with a
    getter made once per schema, where marshmallow looks it up through four calls a field and
    object (a third of the time of dumping a page of products). The output is marshmallow's:
    mappings, fields that read their value their own way (``Function``, ``Method``, their own
    ``get_value``) and attributes an object lacks go through marshmallow's own lookup. An answer
    already dumped (:func:`dumped`) is given back as it is."""

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        if isinstance(obj, Dumped):
            return dict(obj)
        return super().dump(obj, many=many)

    def _serialize(self, obj: Any, *, many: bool = False) -> Any:
        if many and obj is not None:
            return [self._serialize(one) for one in obj]
        if hasattr(obj, "__getitem__"):
            return super()._serialize(obj)
        plan = self.__dict__.get("_dump_plan") or self._make_dump_plan()
        result = self.dict_class()
        for key, name, field, getter in plan:
            if getter is not None:
                try:
                    value = getter(obj)
                except AttributeError:   # absent, or None on a dotted path: marshmallow's default
                    value = field.serialize(name, obj, accessor=self.get_attribute)
                else:
                    value = field._serialize(value, name, obj)
            else:
                value = field.serialize(name, obj, accessor=self.get_attribute)
            if value is not missing:
                result[key] = value
        return result

    def _make_dump_plan(self) -> list[tuple[str, str, fields.Field, Any]]:
        plain_schema = type(self).get_attribute is marshmallow.Schema.get_attribute
        plan = []
        for name, field in self.dump_fields.items():
            plain = plain_schema and field._CHECK_ATTRIBUTE and type(field).get_value is fields.Field.get_value \
                and type(field).serialize is fields.Field.serialize
            key = field.data_key if field.data_key is not None else name
            plan.append((key, name, field, attrgetter(field.attribute or name) if plain else None))
        self._dump_plan = plan
        return plan


def ListOf(item_schema: type[marshmallow.Schema], name: str | None = None) -> type[Schema]:
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


def document_schema(doc_type: str) -> type[marshmallow.Schema]:
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
