"""Errors the domain raises. They carry what the API needs to answer, but no HTTP.

The API and the web UI translate them: ``ValidationError`` -> 422,
``NotFound`` -> 404, ``Conflict`` -> 409, ``PermissionDenied`` -> 403.
"""
from __future__ import annotations


class CRMError(Exception):
    code = "error"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


class ValidationError(CRMError):
    """Input that can never be accepted as it is."""

    code = "invalid"

    @classmethod
    def for_field(cls, field: str, reason: str) -> "ValidationError":
        return cls(f"{field}: {reason}", {field: [reason]})


class NotFound(CRMError):
    code = "not_found"


class Conflict(CRMError):
    """Input that conflicts with the current state (stock, status, version)."""

    code = "conflict"


class PermissionDenied(CRMError):
    code = "forbidden"


class DatabaseUnavailable(CRMError):
    """The database cannot be reached (refused, missing, gone away): nothing the user sent is
    wrong, trying again later may work. ``detail`` says where and why, for the logs and the CLI."""

    code = "database_unavailable"

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail
