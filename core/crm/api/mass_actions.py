"""``POST /api/v1/<records>/mass-actions``: one action on many records at once -- edit a field,
change status (documents), delete, assign -- on the records named by ``ids`` or on every record
the collection's ``filter`` matches (its ``q`` and equality filters, as ``GET /api/v1/<records>``
takes them).

The same service as the list pages' mass actions (:mod:`crm.services.mass_actions`): allowed by
the role's right to write the records, all or nothing (one record refused: nothing changes, 409
listing every refused record with its reason), each record changed in the audit trail as if
changed alone plus one ``mass_<action>`` entry. See docs/lists.md.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import g, jsonify
from flask_babel import gettext as _
from marshmallow import ValidationError as SchemaError, fields, validate, validates_schema
from sqlalchemy import Select, select

from crm.api import _flatten_messages
from crm.api.fields import IdField, clean_text
from crm.api.openapi import ErrorDetailSchema
from crm.api.records import patch_schema
from crm.api.schema_messages import translate_fields
from crm.api.schemas import Blueprint, Schema
from crm.db import db
from crm.errors import ValidationError
from crm.logs import request_id
from crm.models import Account, Contact, CustomField, Document, Item, PriceBook, Tax, Vendor
from crm.permissions import require
from crm.services import accounts, contacts, custom_fields, items, mass_actions, price_books, taxes, vendors
from crm.services.doctypes import DOC_TYPES
from crm.services.mass_actions import EDIT_FIELDS, MAX_RECORDS, MassActionRefused, MassTarget

blp = Blueprint("api_mass_actions", __name__, url_prefix="/api/v1",
                description="Mass actions: edit a field, change status, delete or assign many records at once")


class MassActionSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(mass_actions.ACTIONS), metadata={
        "description": "edit (one field), status (documents), delete, or assign (accounts and documents)"})
    ids = fields.List(IdField(strict=True), validate=validate.Length(min=1, max=MAX_RECORDS), metadata={
        "description": "the records to act on (unknown ids: 422); or send filter"})
    filter = fields.Dict(keys=fields.String(validate=[validate.Length(max=60), clean_text]), values=fields.Raw(),
                         metadata={"description": "act on every record the collection's q and equality filters "
                                                  "match, as GET takes them ({} for every record); or send ids"})
    field = fields.String(validate=[validate.Length(max=100), clean_text], metadata={
        "description": "edit: the field to set (as a PATCH names it), or custom.<key> for a custom field"})
    value = fields.Raw(allow_none=True, metadata={
        "description": "edit: the new value, as a PATCH takes it (null clears the field)"})
    status = fields.String(validate=[validate.Length(max=40), clean_text], metadata={
        "description": "status: the new status, through the document type's status rules"})
    user_id = IdField(strict=True, allow_none=True, metadata={
        "description": "assign: the active user responsible from now on (null: nobody)"})

    @validates_schema
    def _one_scope(self, data, **_kwargs):
        if ("ids" in data) == ("filter" in data):
            raise SchemaError(_("send either ids or filter"), "ids")
        needs = {"edit": ("field", "value"), "status": ("status",), "assign": ("user_id",)}
        for name in needs.get(data.get("action", ""), ()):
            if name not in data:
                raise SchemaError(_("is required (null clears the field)") if name == "value"
                                  else _("is required"), name)


class MassResultSchema(Schema):
    action = fields.String(required=True)
    count = fields.Integer(required=True, metadata={"description": "how many records were changed (or deleted)"})
    ids = fields.List(fields.Integer(), required=True, metadata={"description": "their ids"})


class RefusedRecordSchema(Schema):
    id = fields.Integer(allow_none=True)
    name = fields.String(required=True, metadata={"description": "the record's name (a document's number)"})
    reason = fields.String(required=True)


class MassRefusalDetailSchema(ErrorDetailSchema):
    total = fields.Integer(metadata={"description": "how many records the action was to change"})
    refused = fields.List(fields.Nested(RefusedRecordSchema), metadata={
        "description": "each record refused, with why: nothing at all was changed"})


class MassRefusalSchema(Schema):
    """A mass action refused for some records (``mass_action_refused``), or another conflict."""

    error = fields.Nested(MassRefusalDetailSchema, required=True)


@dataclass
class MassList:
    """A collection's records for its mass actions: ``statement(q)`` -> (its statement, the
    columns ``q`` searches), its equality ``filters`` (those of its GET), the ``target`` (the
    services each record goes through) and the PATCH schema that checks an edited value."""

    path: str
    model: type
    statement: Callable[[str | None], tuple[Select, list]]
    filters: dict
    target: Callable[[], MassTarget]
    schema: Callable[[], Schema]


def _plain(model, search) -> Callable[[str | None], tuple[Select, list]]:
    return lambda _q: (select(model), list(search))


def _items(kind: str) -> Callable[[str | None], tuple[Select, list]]:
    def statement(q):
        from crm.api.items import searched_items
        return searched_items(kind, q)
    return statement


def _lists() -> dict[str, MassList]:
    from crm.api import (
        accounts as accounts_api,
        contacts as contacts_api,
        custom_fields as custom_fields_api,
        documents as documents_api,
        items as items_api,
        price_books as price_books_api,
        taxes as taxes_api,
        vendors as vendors_api,
    )

    def target(entity, permission, label, service, delete, fields_key, custom=None, assignable=False):
        return lambda: MassTarget(entity, permission, label, update=service, delete=delete, assignable=assignable,
                                  fields=EDIT_FIELDS[fields_key], custom_entity=custom)

    def name(record) -> str:
        return record.name

    found = {
        "accounts": MassList("accounts", Account, _plain(Account, accounts_api.SEARCH), accounts_api.FILTERS,
                             target("accounts", "accounts", name, accounts.update_account, accounts.delete_account,
                                    "accounts", "accounts", assignable=True),
                             lambda: patch_schema(accounts_api.AccountPatchSchema)),
        "contacts": MassList("contacts", Contact, _plain(Contact, contacts_api.SEARCH), contacts_api.FILTERS,
                             target("contacts", "accounts", lambda c: c.full_name, contacts.update_contact,
                                    contacts.delete_contact, "contacts", "contacts"),
                             lambda: patch_schema(contacts_api.ContactPatchSchema)),
        "vendors": MassList("vendors", Vendor, _plain(Vendor, vendors_api.SEARCH), vendors_api.FILTERS,
                            target("vendors", "vendors", name, vendors.update_vendor, vendors.delete_vendor,
                                   "vendors", "vendors"),
                            lambda: patch_schema(vendors_api.VendorPatchSchema)),
        "products": MassList("products", Item, _items("product"), items_api.PRODUCT_FILTERS,
                             target("items", "catalog", name, items.update_item, items.delete_item, "products",
                                    "items"),
                             lambda: patch_schema(items_api.ProductPatchSchema)),
        "services": MassList("services", Item, _items("service"), items_api.SERVICE_FILTERS,
                             target("items", "catalog", name, items.update_item, items.delete_item, "services",
                                    "items"),
                             lambda: patch_schema(items_api.ServicePatchSchema)),
        "price-books": MassList("price-books", PriceBook, _plain(PriceBook, price_books_api.SEARCH),
                                price_books_api.FILTERS,
                                target("price_books", "catalog", name, price_books.update_price_book,
                                       price_books.delete_price_book, "price_books"),
                                lambda: patch_schema(price_books_api.PriceBookPatchSchema)),
        "taxes": MassList("taxes", Tax, _plain(Tax, taxes_api.SEARCH), taxes_api.FILTERS,
                          target("taxes", "taxes", name, taxes.update_tax, taxes.delete_tax, "taxes"),
                          lambda: patch_schema(taxes_api.TaxPatchSchema)),
        "custom-fields": MassList("custom-fields", CustomField, _plain(CustomField, custom_fields_api.SEARCH),
                                  custom_fields_api.FILTERS,
                                  target("custom_fields", "custom_fields", lambda f: f.label,
                                         custom_fields.update_field, custom_fields.delete_field, "custom_fields"),
                                  lambda: patch_schema(custom_fields_api.CustomFieldPatchSchema)),
    }
    for doc_type, kind in DOC_TYPES.items():
        def statement(_q, doc_type=doc_type):
            return select(Document).where(Document.doc_type == doc_type), list(documents_api.LIST_SEARCH)
        found[kind.path] = MassList(kind.path, Document, statement, documents_api.list_filters(kind),
                                    lambda doc_type=doc_type: mass_actions.document_target(doc_type),
                                    lambda doc_type=doc_type: documents_api.BLUEPRINTS[doc_type].patch_schema())
    return found


def _load(schema: Schema, raw: dict) -> dict:
    """``raw`` checked by a PATCH schema; a refusal names the field, as a PATCH's 422 does."""
    try:
        return schema.load(raw)
    except SchemaError as exc:
        problems = translate_fields(_flatten_messages({"json": exc.messages}))
        first = next(iter(problems.items()))
        raise ValidationError(f"{first[0]}: {first[1][0]}", problems) from None


def _filter_args(spec: MassList, given: dict) -> tuple[str | None, dict[str, str]]:
    """The body's ``filter`` -> (``q``, the equality filters as GET's query string gives them)."""
    q, args = None, {}
    for key, value in given.items():
        where = f"filter.{key}"
        if key != "q" and key not in spec.filters:
            raise ValidationError.for_field(where, _("unknown filter; use one of: %(names)s",
                                                     names=", ".join(["q", *spec.filters])))
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int) and key != "q":
            value = str(value)
        if not isinstance(value, str):
            raise ValidationError.for_field(where, _("must be text"))
        if len(value) > 200:
            raise ValidationError.for_field(where, _("must be at most %(count)s characters", count=200))
        try:
            clean_text(value)
        except SchemaError as exc:
            raise ValidationError.for_field(where, str(exc.messages[0])) from None
        if key == "q":
            q = value
        else:
            args[key] = value
    return q, args


def _records(session, spec: MassList, body: dict) -> list:
    from crm.api.collection import narrowed
    within, _search = spec.statement(None)
    if "ids" in body:
        records = mass_actions.load_records(session, spec.model, body["ids"], within=within)
        found = {record.id for record in records}
        unknown = [str(i) for i in dict.fromkeys(body["ids"]) if i not in found]
        if unknown:
            raise ValidationError.for_field("ids", _("no such record: %(ids)s", ids=", ".join(unknown[:20])))
        return records
    q, args = _filter_args(spec, body["filter"])
    stmt, search = spec.statement(q)
    stmt = narrowed(session, stmt, search=search, q=q, filters=spec.filters, raw_args=args, prefix="filter.")
    ids = list(session.scalars(stmt.with_only_columns(spec.model.id).order_by(None).limit(MAX_RECORDS + 1)))
    if not ids:
        raise ValidationError.for_field("filter", _("matches no record"))
    if len(ids) > MAX_RECORDS:
        raise ValidationError.for_field("filter", _("at most %(max)s records at once: narrow the list first",
                                                    max=MAX_RECORDS))
    return mass_actions.load_records(session, spec.model, ids, within=within)


def _run(spec: MassList, body: dict):
    action = body["action"]
    try:
        with db.transaction() as session:
            target = spec.target()
            records = _records(session, spec, body)
            ids = [record.id for record in records]
            data = None
            if action == "edit":
                schema = spec.schema()
                data = mass_actions.edit_changes(session, target, body["field"], body["value"],
                                                 load=lambda raw: _load(schema, raw))
            result = mass_actions.run(session, g.user, target, records, action, data=data,
                                      status=body.get("status"), assign_to=body.get("user_id"))
    except MassActionRefused as exc:
        response = jsonify({"error": {
            "code": exc.code, "message": exc.message, "fields": exc.fields, "total": exc.total,
            "refused": [{"id": r.id, "name": r.name, "reason": r.reason} for r in exc.refusals],
            "request_id": request_id()}})
        response.status_code = 409
        return response
    return {"action": action, "count": result.count, "ids": ids}


DOC = """One action on many {records}: edit a field, change status (documents), delete, assign (accounts, documents).

On the records of ``ids``, or on every record ``filter`` matches (``q`` and the equality filters of
``GET /api/v1/{path}``). All or nothing: if one record is refused (in use, a status it cannot
reach, a value its service refuses) nothing changes and the answer (409) lists each refused record
with its reason. Needs the right to change these records; bad input is a 422 naming the field.
"""


def _register(spec: MassList) -> None:
    permission = spec.target().permission

    @require(permission, "write")
    @blp.arguments(MassActionSchema)
    @blp.response(200, MassResultSchema)
    @blp.alt_response(409, schema=MassRefusalSchema,
                      description="refused for some records (mass_action_refused): nothing was changed; "
                                  "error.refused lists each with its reason")
    def view(body):
        return _run(spec, body)

    view.__doc__ = DOC.format(records=spec.path.replace("-", " "), path=spec.path)
    blp.route(f"/{spec.path}/mass-actions", endpoint=f"mass_{spec.path.replace('-', '_')}",
              methods=["POST"])(view)


LISTS = _lists()
for _spec in LISTS.values():
    _register(_spec)

__all__ = ["blp", "LISTS", "MassActionSchema"]
