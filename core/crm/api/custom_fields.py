"""``/api/v1/custom-fields``: the admin-defined fields of accounts, contacts,
vendors, items and documents. Records carry the values in their ``custom`` dict."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate
from sqlalchemy import func, select

from crm.api.collection import as_bool, paginate
from crm.api.fields import Integer
from crm.api.records import RecordListArgs, Text, as_text, clean_text
from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.models import CustomField
from crm.models.catalog import CUSTOM_FIELD_ENTITIES, CUSTOM_FIELD_TYPES
from crm.permissions import require
from crm.services import custom_fields
from crm.services.custom_fields import MAX_CHOICES

#: what ``GET /api/v1/custom-fields`` searches (``q``) and filters by (and the mass actions' ``filter``)
SEARCH = [CustomField.key, CustomField.label]
FILTERS = {"entity": (CustomField.entity, as_text), "type": (CustomField.type, as_text),
           "active": (CustomField.active, as_bool)}

blp = Blueprint("api_custom_fields", __name__, url_prefix="/api/v1/custom-fields", description="Custom fields")


class CustomFieldSchema(Schema):
    id = fields.Integer(dump_only=True)
    entity = fields.String(required=True, validate=validate.OneOf(CUSTOM_FIELD_ENTITIES),
                           metadata={"description": "the kind of record that carries the field"})
    key = fields.String(required=True, validate=[validate.Regexp(custom_fields.KEY, error=_l(
        "use lower case letters, digits and _ (starting with a letter), at most 60")), clean_text],
        metadata={"description": "the key in the records' custom dict; fixed once created"})
    label = Text(100, required=True)
    type = fields.String(required=True, validate=validate.OneOf(CUSTOM_FIELD_TYPES),
                         metadata={"description": "fixed once created"})
    choices = fields.List(Text(100, required=True), load_default=list, validate=validate.Length(max=MAX_CHOICES),
                          metadata={"description": "the values a select field allows"})
    required = fields.Boolean(load_default=False)
    position = Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=1_000_000))
    active = fields.Boolean(load_default=True)


class CustomFieldPatchSchema(CustomFieldSchema):
    """label, choices, required, position and active may change; entity, key and type
    are accepted only unchanged."""

    class Meta:
        partial = True


@blp.route("")
class CustomFields(MethodView):
    @require("custom_fields")
    @blp.arguments(RecordListArgs, location="query")
    @blp.response(200, ListOf(CustomFieldSchema))
    def get(self, args):
        """List custom fields, by default ordered by entity and position.

        ``q`` searches key and label; filters: ``entity``, ``type``, ``active``; sort: ``key``, ``label``,
        ``position``.
        """
        return paginate(db.session, select(CustomField), args, model=CustomField,
                        search=SEARCH,
                        sortable={"key": CustomField.key, "label": func.lower(CustomField.label),
                                  "position": CustomField.position},
                        default_sort=[CustomField.entity, CustomField.position, CustomField.id],
                        filters=FILTERS,
                        raw_args=request.args)

    @require("custom_fields", "write")
    @blp.arguments(CustomFieldSchema)
    @blp.response(201, CustomFieldSchema)
    def post(self, body):
        """Create a custom field (admins only)."""
        with db.transaction() as session:
            return custom_fields.create_field(session, body)


@blp.route("/<int:field_id>")
class CustomFieldById(MethodView):
    @require("custom_fields")
    @blp.response(200, CustomFieldSchema)
    def get(self, field_id):
        """One custom field."""
        return custom_fields.get_field(db.session, field_id)

    @require("custom_fields", "write")
    @blp.arguments(CustomFieldPatchSchema(partial=True))
    @blp.response(200, CustomFieldSchema)
    def patch(self, body, field_id):
        """Change the label, choices, required flag, position or active flag (admins only).

        Changing entity, key or type is refused (422): create a new field instead.
        """
        with db.transaction() as session:
            field = custom_fields.get_field(session, field_id, for_update=True)
            return custom_fields.update_field(session, field, body)

    @require("custom_fields", "write")
    @blp.response(204)
    def delete(self, field_id):
        """Delete a custom field (admins only).

        Values records carry stay with them; deactivating (``"active": false``) keeps the field for later
        instead.
        """
        with db.transaction() as session:
            custom_fields.delete_field(session, custom_fields.get_field(session, field_id, for_update=True))
