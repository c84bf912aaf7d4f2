"""What every request is checked for before any view runs, API and pages alike.

* No NUL character in the path's parameters, the query string (names and values), a
  posted form, or a JSON body's strings and keys: PostgreSQL cannot store or compare
  text holding one, and no user types one. Refused with 422 naming the parameter
  (``q``, ``lines.0.description``).
* A JSON body must parse (400 otherwise), with no number longer than
  :data:`crm.jsonutil.MAX_NUMBER_LENGTH` characters and no deeper than
  :data:`MAX_JSON_DEPTH` levels of objects and arrays (400): the deepest body the API
  takes (a document's line's custom values) is four levels deep.

Views then read the same body (``request.get_json()`` is cached; marshmallow's checks
follow), so each endpoint keeps its own validation and none sees these inputs.
"""
from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from crm.jsonutil import MAX_NUMBER_LENGTH, JSONLimitError

MAX_JSON_DEPTH = 32
NUL = "\x00"


class Refusal(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def init_request_guard(app: Flask) -> None:
    app.before_request(refuse_bad_input)


def refuse_bad_input():
    """The ``before_request`` check: None when the request may go on, else the refusal."""
    try:
        _check_request()
    except Refusal as refusal:
        return _answer(refusal)
    return None


def _check_request() -> None:
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and NUL in value:
            raise _nul(name)
    _check_pairs(request.args)
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        _check_pairs(request.form)
    if request.is_json and request.method not in ("GET", "HEAD", "OPTIONS"):
        _check_json_body()


def _check_pairs(pairs: MultiDict) -> None:
    for name, value in pairs.items(multi=True):
        if NUL in name or NUL in value:
            raise _nul(_printable(name))


def _check_json_body() -> None:
    body = request.get_json(silent=True)   # cached: the view reads the same value
    if body is None:
        raw = request.get_data(cache=True)
        if not raw.strip():
            return
        try:
            current_app.json.loads(raw)
        except JSONLimitError as exc:
            if exc.kind == "number":
                raise Refusal(400, _("the JSON body has a number longer than %(limit)s characters",
                                     limit=MAX_NUMBER_LENGTH)) from None
            raise _too_deep() from None
        except ValueError as exc:   # a syntax error, bytes that are not UTF-8
            raise Refusal(400, _("the body is not valid JSON: %(reason)s", reason=str(exc))) from None
        return
    _walk(body)


def _walk(body) -> None:
    """Depth and NUL characters of a parsed JSON body, without recursion."""
    stack = [(body, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                raise _nul(path or "_body")
        elif isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                key = str(key)
                where = f"{path}.{key}" if path else key
                if NUL in key:
                    raise _nul(_printable(where))
                stack.append((item, where, depth + 1))


def _nul(field: str) -> Refusal:
    return Refusal(422, _("must not contain NUL characters"), field)


def _too_deep() -> Refusal:
    return Refusal(400, _("the JSON body is nested too deeply (more than %(limit)s levels)", limit=MAX_JSON_DEPTH))


def _printable(name: str) -> str:
    return name.replace(NUL, "\\x00")


def _answer(refusal: Refusal):
    from crm.api import error_response, is_api_request
    if is_api_request():
        if refusal.field is not None:
            return error_response(refusal.status, "invalid", f"{refusal.field}: {refusal.message}",
                                  {refusal.field: [refusal.message]})
        return error_response(refusal.status, "bad_request", refusal.message)
    from crm.web import render_error
    text = f"{refusal.field}: {refusal.message}" if refusal.field is not None else refusal.message
    return render_error(refusal.status, text)


__all__ = ["init_request_guard", "refuse_bad_input", "MAX_JSON_DEPTH"]
