"""``/api/v1/contacts``: people, optionally of an account."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crm.api.collection import as_bool, paginate
from crm.api.fields import Integer
from crm.api.records import Custom, Email, Id, RecordListArgs, Text, as_id, patch_schema
from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.models import Contact
from crm.permissions import require
from crm.services import contacts

#: what ``GET /api/v1/contacts`` searches (``q``) and filters by (and the mass actions' ``filter``)
SEARCH = [Contact.first_name, Contact.last_name, Contact.email, Contact.phone]
FILTERS = {"account_id": (Contact.account_id, as_id), "active": (Contact.active, as_bool)}

blp = Blueprint("api_contacts", __name__, url_prefix="/api/v1/contacts", description="Contacts (people)")


class ContactSchema(Schema):
    id = fields.Integer(dump_only=True)
    first_name = Text(100)
    last_name = Text(100, required=True)
    full_name = fields.String(dump_only=True)
    email = Email()
    phone = Text(50)
    title = Text(100)
    account_id = Id(allow_none=True, load_default=None)
    account_name = fields.Function(lambda contact: contact.account.name if contact.account else None,
                                   dump_only=True, metadata={"type": "string", "nullable": True})
    active = fields.Boolean(load_default=True)
    custom = Custom()
    version = fields.Integer(dump_only=True)


class ContactPatchSchema(ContactSchema):
    version = Integer(metadata={"description": "the version you read; 409 if it changed"})


@blp.route("")
class Contacts(MethodView):
    @require("accounts")
    @blp.arguments(RecordListArgs, location="query")
    @blp.response(200, ListOf(ContactSchema))
    def get(self, args):
        """List contacts.

        ``q`` searches names, email and phone; filters: ``account_id``, ``active``; sort: ``last_name``,
        ``first_name``, ``email``, ``created_at``.
        """
        stmt = select(Contact).options(joinedload(Contact.account))
        return paginate(db.session, stmt, args, model=Contact,
                        search=SEARCH,
                        sortable={"last_name": func.lower(Contact.last_name),
                                  "first_name": func.lower(Contact.first_name),
                                  "email": func.lower(Contact.email), "created_at": Contact.created_at},
                        filters=FILTERS,
                        raw_args=request.args)

    @require("accounts", "write")
    @blp.arguments(ContactSchema)
    @blp.response(201, ContactSchema)
    def post(self, body):
        """Create a contact; ``account_id`` must be an existing account."""
        with db.transaction() as session:
            return contacts.create_contact(session, body)


@blp.route("/<int:contact_id>")
class ContactById(MethodView):
    @require("accounts")
    @blp.response(200, ContactSchema)
    def get(self, contact_id):
        """One contact."""
        return contacts.get_contact(db.session, contact_id)

    @require("accounts", "write")
    @blp.arguments(patch_schema(ContactPatchSchema))
    @blp.response(200, ContactSchema)
    def patch(self, body, contact_id):
        """Change a contact (send ``version`` to be told if someone else changed it)."""
        with db.transaction() as session:
            return contacts.update_contact(session, contacts.get_contact(session, contact_id, for_update=True), body)

    @require("accounts", "write")
    @blp.response(204)
    def delete(self, contact_id):
        """Delete a contact; refused (409) while documents refer to it: deactivate it instead."""
        with db.transaction() as session:
            contacts.delete_contact(session, contacts.get_contact(session, contact_id, for_update=True))
