"""The REST API under ``/api/v1``: flask-smorest resources, bearer-token auth,
one error format, OpenAPI at ``/api/v1/openapi.json``."""
from __future__ import annotations

from flask import Flask, current_app, g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from crm.api.openapi import CrmApi, make_api
from crm.api.schema_messages import translate_fields
from crm.db import db
from crm.errors import CRMError, DatabaseUnavailable, PermissionDenied
from crm.logs import request_id
from crm.permissions import NotSignedIn

API_PREFIX = "/api/v1"

STATUS_FOR = {"ValidationError": 422, "NotFound": 404, "Conflict": 409, "PermissionDenied": 403}


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body["request_id"] = request_id()  # the id of the answer's log lines (X-Request-ID)
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


def invalid_response(messages: dict):
    """The API's 422 ``invalid`` answer for the messages of a marshmallow ``ValidationError``
    (nested fields named ``lines.0.quantity``, in the user's language), as every endpoint of the
    API answers a body or arguments its schema refuses: for a view that loads a schema itself."""
    fields = translate_fields(_flatten_messages(messages))
    first = next(iter(fields.items()), ("_body", ["invalid"]))
    return error_response(422, "invalid", f"{first[0]}: {first[1][0]}", fields)


def _handle_http_error(exc: HTTPException):
    if exc.code == 422:
        return invalid_response(getattr(exc, "data", {}).get("messages"))
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


def _refuse_empty_patch():
    """A ``PATCH`` must send what to change: a JSON object with at least one member. No body,
    ``{}`` or a body that is not JSON is refused with 422 ``nothing_to_change`` (after the
    caller is identified and allowed: an anonymous caller is still told 401 by the view, a role
    without the right 403)."""
    if request.method != "PATCH" or not is_api_request() or getattr(g, "user", None) is None:
        return None
    view = current_app.view_functions.get(request.endpoint)
    allowed = getattr(getattr(getattr(view, "view_class", None), "patch", view), "crm_permission", None)
    if isinstance(allowed, list) and g.user.role not in allowed:
        return None
    body = request.get_json(silent=True)
    if body is None or body == {}:
        message = _("nothing to change: send the fields to change as a JSON object")
        return error_response(422, "nothing_to_change", message, {"_body": [message]})
    return None


def init_api(app: Flask) -> CrmApi:
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
    api = make_api(app)

    @app.errorhandler(CRMError)
    def _crm_error(exc: CRMError):
        if is_api_request():
            return error_response(status_for(exc), exc.code, exc.message, exc.fields)
        from crm.web import render_error
        return render_error(status_for(exc), exc.message)

    @app.errorhandler(DatabaseUnavailable)
    def _database_unavailable(exc: DatabaseUnavailable):
        current_app.logger.error("the database cannot be reached: %s", exc.detail)
        if is_api_request():
            response = error_response(503, exc.code, exc.message)
        else:  # not the usual error page: its layout reads the database (the user, the company name)
            page = current_app.jinja_env.get_template("errors/unavailable.html").render(message=exc.message)
            response = current_app.response_class(page, 503, mimetype="text/html")
        response.headers["Retry-After"] = "30"
        return response

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

    app.before_request(_refuse_empty_patch)

    from crm.api import (
        accounts,
        auth,
        contacts,
        custom_fields,
        items,
        plugins as plugins_api,
        price_books,
        taxes,
        vendors,
    )
    for module in (auth, plugins_api, taxes, accounts, contacts, vendors, items, price_books, custom_fields):
        api.register_blueprint(module.blp)
    from crm.api import documents, email, reports, stock  # noqa: F401  email adds the documents' email routes
    for blueprint in documents.BLUEPRINTS.values():
        api.register_blueprint(blueprint)
    api.register_blueprint(stock.blp)
    from crm.api import timeline
    api.register_blueprint(timeline.blp)
    api.register_blueprint(reports.blp)
    from crm.api import imports
    api.register_blueprint(imports.blp)
    from crm.api import mass_actions
    api.register_blueprint(mass_actions.blp)
    return api


__all__ = ["init_api", "error_response", "API_PREFIX", "PermissionDenied"]
