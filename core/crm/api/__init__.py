"""The REST API under ``/api/v1``: flask-smorest resources, bearer-token auth,
one error format, OpenAPI at ``/api/v1/openapi.json``."""
from __future__ import annotations

from flask import Flask, g, jsonify, request
from flask_babel import gettext as _
from flask_smorest import Api
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from crm.db import db
from crm.api.schema_messages import translate_fields
from crm.errors import CRMError, PermissionDenied
from crm.permissions import NotSignedIn

API_PREFIX = "/api/v1"

STATUS_FOR = {"ValidationError": 422, "NotFound": 404, "Conflict": 409, "PermissionDenied": 403}


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    return response


def status_for(exc: CRMError) -> int:
    for cls in type(exc).__mro__:
        if cls.__name__ in STATUS_FOR:
            return STATUS_FOR[cls.__name__]
    return 400


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX


def _flatten_messages(messages) -> dict[str, list[str]]:
    """webargs' ``{"json": {"lines": {"0": {"quantity": [..]}}}}`` -> ``{"lines.0.quantity": [..]}``."""
    flat: dict[str, list[str]] = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, sub in value.items():
                if key == "_schema":  # a whole nested object is wrong: name the object
                    walk(prefix, sub)
                    continue
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "_body", []).extend(value)
        else:
            flat.setdefault(prefix or "_body", []).append(str(value))

    for location, value in (messages or {}).items():
        walk("" if location in ("json", "query", "form", "headers", "files") else location, value)
    return flat


def _handle_http_error(exc: HTTPException):
    if exc.code == 422:
        fields = translate_fields(_flatten_messages(getattr(exc, "data", {}).get("messages")))
        first = next(iter(fields.items()), ("_body", ["invalid"]))
        return error_response(422, "invalid", f"{first[0]}: {first[1][0]}", fields)
    names = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
             405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
             429: "too_many_requests"}
    return error_response(exc.code or 500, names.get(exc.code, "error"), exc.description or exc.name)


def _authenticate_bearer():
    """Resolve ``Authorization: Bearer`` into ``g.user`` for API requests."""
    from crm.context import set_actor
    from crm.i18n import remember_language
    from crm.services.users import user_for_token
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_for_token(db.session, header[7:].strip())
        if user is not None:
            g.user = user
            remember_language(user)
            set_actor(user)


def _conflict(code: str, message: str):
    if is_api_request():
        return error_response(409, code, message)
    from crm.web import render_error
    return render_error(409, message)


def init_api(app: Flask) -> Api:
    app.config.setdefault("API_TITLE", "CRM")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "info": {"description": "Order management: master data, documents, stock, reports and plugins. "
                                "Money and quantities are decimal strings."},
    })
    api = Api(app)

    @app.errorhandler(CRMError)
    def _crm_error(exc: CRMError):
        if is_api_request():
            return error_response(status_for(exc), exc.code, exc.message, exc.fields)
        from crm.web import render_error
        return render_error(status_for(exc), exc.message)

    @app.errorhandler(StaleDataError)
    def _stale(_exc):
        db.session.rollback()
        return _conflict("stale_version", _("this record was changed by someone else at the same moment; "
                                            "reload it and try again"))

    @app.errorhandler(IntegrityError)
    def _integrity(_exc):
        db.session.rollback()
        return _conflict("conflict", _("this change conflicts with another one made at the same moment "
                                       "(a duplicate or a record in use); reload and try again"))

    @app.errorhandler(NotSignedIn)
    def _not_signed_in(_exc):
        if is_api_request():
            return error_response(401, "unauthorized", "sign in: send Authorization: Bearer <token>")
        from crm.web import redirect_to_login
        return redirect_to_login()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if is_api_request():
            return _handle_http_error(exc)
        from crm.web import render_error
        return render_error(exc.code or 500, exc.description or exc.name)

    @app.before_request
    def _api_auth():
        if is_api_request():
            _authenticate_bearer()

    from crm.api import (accounts, auth, contacts, custom_fields, items, plugins as plugins_api, price_books,
                         taxes, vendors)
    for module in (auth, plugins_api, taxes, accounts, contacts, vendors, items, price_books, custom_fields):
        api.register_blueprint(module.blp)
    from crm.api import documents, reports, stock
    for blueprint in documents.BLUEPRINTS.values():
        api.register_blueprint(blueprint)
    api.register_blueprint(stock.blp)
    api.register_blueprint(reports.blp)
    return api


__all__ = ["init_api", "error_response", "API_PREFIX", "PermissionDenied"]
