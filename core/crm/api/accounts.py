"""``/api/v1/accounts``: customer organisations."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import func, select

from crm.api.collection import as_bool, paginate
from crm.api.fields import Integer
from crm.api.records import Address, Custom, Email, RecordListArgs, Text, patch_schema
from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.models import Account
from crm.permissions import require
from crm.services import accounts

#: what ``GET /api/v1/accounts`` searches (``q``) and filters by (and the mass actions' ``filter``)
SEARCH = [Account.name, Account.email, Account.phone]
FILTERS = {"active": (Account.active, as_bool)}

blp = Blueprint("api_accounts", __name__, url_prefix="/api/v1/accounts", description="Accounts (customers)")


class AccountSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(200, required=True)
    email = Email()
    phone = Text(50)
    website = Text(200)
    tax_id = Text(50, metadata={"description": "VAT or other tax number"})
    billing_address = Address()
    shipping_address = Address()
    description = Text(10_000)
    active = fields.Boolean(load_default=True)
    custom = Custom()
    version = fields.Integer(dump_only=True)


class AccountPatchSchema(AccountSchema):
    version = Integer(metadata={"description": "the version you read; 409 if it changed"})


@blp.route("")
class Accounts(MethodView):
    @require("accounts")
    @blp.arguments(RecordListArgs, location="query")
    @blp.response(200, ListOf(AccountSchema))
    def get(self, args):
        """List accounts.

        ``q`` searches name, email and phone; filter: ``active``; sort: ``name``, ``email``, ``created_at``.
        """
        return paginate(db.session, select(Account), args, model=Account,
                        search=SEARCH,
                        sortable={"name": func.lower(Account.name), "email": func.lower(Account.email),
                                  "created_at": Account.created_at},
                        filters=FILTERS, raw_args=request.args)

    @require("accounts", "write")
    @blp.arguments(AccountSchema)
    @blp.response(201, AccountSchema)
    def post(self, body):
        """Create an account."""
        with db.transaction() as session:
            return accounts.create_account(session, body)


@blp.route("/<int:account_id>")
class AccountById(MethodView):
    @require("accounts")
    @blp.response(200, AccountSchema)
    def get(self, account_id):
        """One account."""
        return accounts.get_account(db.session, account_id)

    @require("accounts", "write")
    @blp.arguments(patch_schema(AccountPatchSchema))
    @blp.response(200, AccountSchema)
    def patch(self, body, account_id):
        """Change an account (send ``version`` to be told if someone else changed it).

        An address sent replaces the whole address; ``custom`` keys sent replace those keys.
        """
        with db.transaction() as session:
            return accounts.update_account(session, accounts.get_account(session, account_id, for_update=True), body)

    @require("accounts", "write")
    @blp.response(204)
    def delete(self, account_id):
        """Delete an account; refused (409) while documents or contacts refer to it: deactivate it instead."""
        with db.transaction() as session:
            accounts.delete_account(session, accounts.get_account(session, account_id, for_update=True))
