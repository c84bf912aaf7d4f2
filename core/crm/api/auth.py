"""``/api/v1/auth/tokens``: exchange a username and password for a bearer token."""
from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from marshmallow import fields, validate

from crm.api.schemas import Blueprint, ListOf, Schema
from crm.db import db
from crm.permissions import require
from crm.security import check_credentials
from crm.services import users

blp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth", description="Sign in and API tokens")


class Credentials(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    name = fields.String(load_default="", validate=validate.Length(max=100), metadata={"description": "a label for the token"})


class NewToken(Schema):
    id = fields.Integer()
    token = fields.String(metadata={"description": "shown once; store it safely"})
    expires_at = fields.DateTime()


class TokenInfo(Schema):
    id = fields.Integer()
    name = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


@blp.route("/tokens")
class Tokens(MethodView):
    @require(public=True)
    @blp.arguments(Credentials)
    @blp.response(201, NewToken)
    @blp.alt_response(401, description="wrong username or password")
    @blp.alt_response(429, description="too many failed attempts")
    def post(self, body):
        """Create an API token (sign in)."""
        session = db.session
        try:
            user = check_credentials(session, body["username"], body["password"])
        except users.TooManyAttempts as exc:
            from crm.api import error_response
            return error_response(429, exc.code, exc.message)
        if user is None:
            session.commit()  # keep the failed attempt for rate limiting
            from crm.api import error_response
            return error_response(401, "invalid_credentials", "wrong username or password")
        token, plain = users.issue_token(session, user, name=body["name"],
                                         lifetime_days=current_app.config["TOKEN_LIFETIME_DAYS"])
        session.commit()
        return {"id": token.id, "token": plain, "expires_at": token.expires_at}

    @require()
    @blp.response(200, ListOf(TokenInfo))
    def get(self):
        """Your tokens (never the secret)."""
        from sqlalchemy import select

        from crm.models import ApiToken
        items = list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == g.user.id).order_by(ApiToken.id)))
        return {"items": items, "total": len(items), "page": 1, "per_page": len(items)}


@blp.route("/tokens/<int:token_id>")
class TokenById(MethodView):
    @require()
    @blp.response(204)
    def delete(self, token_id):
        """Revoke a token."""
        with db.transaction() as session:
            users.revoke_token(session, g.user, token_id)
