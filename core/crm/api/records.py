"""Schema pieces shared by the master-data resources (accounts, contacts, vendors,
items, price books, custom fields): safe text, ids, addresses, custom values,
list arguments and filters.

Everything here refuses, with a 422 naming the field, what the database would
otherwise answer with an error: NUL characters and lone surrogates (the databases
cannot hold them) and ids beyond 32 bits.
"""
from __future__ import annotations

from flask_babel import gettext as _, lazy_gettext as _l
from marshmallow import ValidationError, fields, validate
from marshmallow.utils import missing

from crm.api.fields import IdField, Text, clean_text
from crm.api.schemas import ListArgs, Schema
from crm.money import parse_whole
from crm.services.records import MAX_ID

_email = validate.Email(error=_l("not a valid email address"))


def Email(**kwargs) -> fields.String:
    """An email address, or ``""`` for none."""
    def check(value: str) -> None:
        if value:
            _email(value)
    kwargs.setdefault("load_default", "")
    return fields.String(validate=[validate.Length(max=200), clean_text, check], **kwargs)


def Id(**kwargs) -> fields.Integer:
    """The id of a record in a JSON body: a whole JSON number that fits the database."""
    return IdField(strict=True, **kwargs)


class IdsOf(fields.List):
    """A list of ids in; out, the ids of the records of the relationship ``source``."""

    def __init__(self, source: str, *, max_length: int = 50, **kwargs):
        super().__init__(Id(), validate=validate.Length(max=max_length), **kwargs)
        self.source = source

    def get_value(self, obj, attr, accessor=None, default=missing):
        if isinstance(obj, dict):
            return obj.get(attr, default)
        return [record.id for record in getattr(obj, self.source)]


ADDRESS_KEYS = ("street", "city", "state", "postal_code", "country")


class PostalAddressSchema(Schema):
    """A postal address: exactly these keys (missing ones are empty)."""

    street = Text(200, dump_default="")
    city = Text(200, dump_default="")
    state = Text(200, dump_default="")
    postal_code = Text(200, dump_default="")
    country = Text(200, dump_default="")


class _AddressField(fields.Nested):
    def _deserialize(self, value, attr, data, partial=None, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError(_("must be an object with the keys %(keys)s", keys=", ".join(ADDRESS_KEYS)))
        return super()._deserialize(value, attr, data, partial=partial, **kwargs)


def Address(**kwargs) -> fields.Nested:
    """An address; a PATCH replaces the whole address."""
    return _AddressField(PostalAddressSchema, load_default=lambda: {key: "" for key in ADDRESS_KEYS}, **kwargs)


def Custom(**kwargs) -> fields.Dict:
    """The record's custom field values (key -> value), checked against ``/custom-fields``."""
    kwargs.setdefault("metadata", {"description": "custom field values by key (see /api/v1/custom-fields); "
                                                  "a PATCH changes the keys it sends, null clears one"})
    return fields.Dict(keys=fields.String(validate=[validate.Length(max=60), clean_text]), load_default=dict, **kwargs)


class RecordListArgs(ListArgs):
    """``?page=&per_page=&q=&sort=`` plus each resource's equality filters."""

    q = fields.String(load_default=None, validate=[validate.Length(max=200), clean_text])
    sort = fields.String(load_default=None, validate=[validate.Length(max=60), clean_text])


def as_id(value: str) -> int:
    """A filter value that must be an id."""
    number = parse_whole(value)
    if not 1 <= number <= MAX_ID:
        raise ValueError(value)
    return number


def as_text(value: str) -> str:
    """A text filter value (exact match)."""
    if len(value) > 200:
        raise ValueError(value)
    try:
        clean_text(value)
    except ValidationError:
        raise ValueError(value) from None
    return value


def patch_schema(schema_cls: type[Schema]) -> Schema:
    """The body of a PATCH: every top-level field optional; nested objects (an
    address, a component, a price) are still checked whole."""
    loadable = tuple(name for name, field in schema_cls._declared_fields.items() if not field.dump_only)
    return schema_cls(partial=loadable)
