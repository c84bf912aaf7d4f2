"""Helpers shared by the pages: reading forms (decimals typed in either locale),
listing with search / filters / sorting / pagination, and mapping a domain
``ValidationError`` onto the inputs of a form."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from flask import flash, request
from flask_babel import gettext as _
from sqlalchemy import Select

from crm.api.collection import paginate
from crm.errors import CRMError, ValidationError

PER_PAGE = 25
MAX_PER_PAGE = 200


# --- reading values typed in a form --------------------------------------------------------------

def parse_decimal(text: str | None, field_name: str, *, required: bool = False) -> Decimal | None:
    """``"12,50"``, ``"12.50"``, ``"1.234,50"`` or ``"1,234.50"`` -> ``Decimal``; blank -> None.
    Never a float. A value that is not a number is a ``ValidationError`` on ``field_name``."""
    text = (text or "").strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        if required:
            raise ValidationError.for_field(field_name, _("is required"))
        return None
    if "," in text and "." in text:  # the last separator is the decimal one
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".")
    if len(text) > 40:
        raise ValidationError.for_field(field_name, _("must be a number"))
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError.for_field(field_name, _("must be a number")) from None
    if not value.is_finite():
        raise ValidationError.for_field(field_name, _("must be a number"))
    return value


def parse_int(text: str | None, field_name: str, *, required: bool = False) -> int | None:
    text = (text or "").strip()
    if not text:
        if required:
            raise ValidationError.for_field(field_name, _("is required"))
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValidationError.for_field(field_name, _("must be a whole number")) from None
    if not 0 <= value <= 2**31 - 1:
        raise ValidationError.for_field(field_name, _("is out of range"))
    return value


def parse_date(text: str | None, field_name: str) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError.for_field(field_name, _("must be a date (YYYY-MM-DD)")) from None


def plain(value) -> str:
    """A decimal as typed in an input: ``Decimal("12.5000")`` -> ``"12.5"``; None -> ``""``."""
    if value is None or value == "":
        return ""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text == "-0" else text
    return str(value)


def money_input(value) -> str:
    """An amount as typed in an input, with at least two decimals: ``"12.50"``."""
    text = plain(value)
    if not text:
        return ""
    whole, _sep, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


# --- errors ----------------------------------------------------------------------------------------

@dataclass
class FormErrors:
    """Messages per input name, and one message for the whole form."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    message: str | None = None

    def __bool__(self) -> bool:
        return bool(self.fields or self.message)

    def get(self, name: str) -> list[str]:
        return self.fields.get(name, [])

    def under(self, prefix: str) -> list[str]:
        """Messages of ``prefix`` and of every input below it (``lines.3`` -> ``lines.3.quantity``)."""
        return [m for key, msgs in self.fields.items() if key == prefix or key.startswith(prefix + ".")
                for m in msgs]

    @classmethod
    def from_error(cls, exc: CRMError, rename=None) -> "FormErrors":
        fields_ = {}
        for key, messages in (exc.fields or {}).items():
            key = rename(key) if rename else key
            fields_.setdefault(key, []).extend(messages)
        return cls(fields_, exc.message)


def flash_error(exc: CRMError) -> None:
    flash(exc.message, "error")


# --- lists ------------------------------------------------------------------------------------------

@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int
    sort: str | None
    q: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


def list_page(session, stmt: Select, *, model, search=(), sortable=None, default_sort=None) -> Page:
    """``stmt`` searched (``?q=``), sorted (``?sort=name`` or ``-name``) and cut into pages
    (``?page=``, ``?per_page=``). An unknown sort column is ignored, not an error."""
    args = request.args
    sort = args.get("sort") or None
    if sort and sort.lstrip("-") not in (sortable or {}):
        sort = None
    try:
        page = max(1, min(int(args.get("page", 1)), 1_000_000))
    except ValueError:
        page = 1
    try:
        per_page = max(1, min(int(args.get("per_page", PER_PAGE)), MAX_PER_PAGE))
    except ValueError:
        per_page = PER_PAGE
    q = (args.get("q") or "").strip()[:200]
    result = paginate(session, stmt, {"q": q or None, "sort": sort, "page": page, "per_page": per_page},
                      model=model, search=search, sortable=sortable, default_sort=default_sort)
    return Page(result["items"], result["total"], page, per_page, sort, q)


def url_with(**changes) -> str:
    """The current URL with some query arguments changed (None removes one)."""
    args = {k: v for k, v in request.args.items()}
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = value
    query = urlencode(args)
    return request.path + ("?" + query if query else "")


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "on", "yes")
