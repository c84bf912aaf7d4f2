"""Logs and request ids.

Every request has an id: the client's ``X-Request-ID`` when it is sane (1 to 128 letters,
digits and ``.-_:``), else a new one. It is on every log line written while the request
runs, in the answer's ``X-Request-ID`` header, on error pages and in the API's error bodies
(``{"error": {..., "request_id": ...}}``), so that a user's report leads to its log lines.

:func:`configure` sets up the process's logging (``crm serve``, ``crm worker``, ``crm run``):
one line per record on stderr, as text, or as one JSON object per line when
``CRM_LOG_FORMAT=json`` (``time``, ``level``, ``logger``, ``message``, ``request_id``, and
``exception`` with the traceback). ``CRM_LOG_LEVEL`` sets the level (default ``INFO``).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import uuid

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-ID"
#: what a client's request id may look like; anything else is replaced by a new id
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        given = request.headers.get(HEADER, "")
        g.request_id = given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return g.request_id


def init_request_ids(app: Flask) -> None:
    """Give every answer its request's id (``X-Request-ID``)."""

    @app.after_request
    def _answer_request_id(response):
        response.headers[HEADER] = request_id()
        return response

    app.jinja_env.globals["request_id"] = request_id


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id``: the current request's, else one given with ``extra``, else ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    #: attributes a caller may add with ``extra`` that are written as fields
    EXTRA_FIELDS = ("http", "job", "task")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or None,
            "process": record.process,
        }
        for name in self.EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def wants_json() -> bool:
    return os.environ.get("CRM_LOG_FORMAT", "").strip().lower() == "json"


def formatter() -> logging.Formatter:
    """The formatter ``CRM_LOG_FORMAT`` asks for."""
    return JsonFormatter() if wants_json() else logging.Formatter(TEXT_FORMAT)


def decorate(handler: logging.Handler) -> logging.Handler:
    """``handler`` writing this project's format, with request ids."""
    handler.setFormatter(formatter())
    if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
        handler.addFilter(RequestIdFilter())
    return handler


def configure() -> None:
    """Log every record of the process (the app's, the libraries', the worker's) to stderr in
    the chosen format. Called once by the commands that run the app for real."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "crm", False):
            root.removeHandler(handler)
    handler = decorate(logging.StreamHandler(sys.stderr))
    handler.crm = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    name = os.environ.get("CRM_LOG_LEVEL", "").strip().upper() or "INFO"
    level = logging.getLevelNamesMapping().get(name)
    root.setLevel(level if level is not None else logging.INFO)
    if level is None:
        logging.getLogger(__name__).warning("CRM_LOG_LEVEL=%s is not a level (DEBUG, INFO, WARNING, ERROR): "
                                            "INFO is used", name)
    # Alembic says "Context impl ..." each time a migration revision is read (/readyz does it)
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
