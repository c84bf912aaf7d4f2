"""Helpers shared by the pages: reading forms (decimals typed in either locale),
listing with search / filters / sorting / pagination, and mapping a domain
``ValidationError`` onto the inputs of a form."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from babel.numbers import NumberFormatError, parse_decimal as parse_localized
from flask import request
from flask_babel import get_locale, gettext as _
from sqlalchemy import Select

from crm import dates
from crm.api.collection import ordered, paginate, searched
from crm.errors import CRMError, ValidationError
from crm.i18n import LANGUAGES
from crm.money import MAX_NUMBER_TEXT, MONEY_MIN_PLACES, decimal_text, parse_decimal as parse_number, parse_whole

PER_PAGE = 25
MAX_PER_PAGE = 200


# --- reading values typed in a form --------------------------------------------------------------

#: a number typed in a form, spaces dropped, before Babel reads it: ASCII digits, a sign, dots
#: and commas (Babel alone would also take "1e3", "1_000" and digits of other scripts)
_TYPED_NUMBER = re.compile(r"[+-]?[0-9.,]+")


def parse_decimal(text: str | None, field_name: str, *, required: bool = False) -> Decimal | None:
    """A number typed in a form -> ``Decimal``; blank -> None; never a float. Read as the forms
    show numbers (``"1234.50"``), else as the user's language writes them, else as the app's
    other language does (Babel's ``parse_decimal``, strict grouping): ``"1.234,50"`` and
    ``"12,50"`` (Spanish), ``"1,234.50"`` (English); spaces are ignored. Only ASCII digits. A
    value that is not a number is a ``ValidationError`` on ``field_name``."""
    text = (text or "").strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        if required:
            raise ValidationError.for_field(field_name, _("is required"))
        return None
    value = _typed_number(text)
    if value is None:
        raise ValidationError.for_field(field_name, _("must be a number"))
    return value


def _typed_number(text: str) -> Decimal | None:
    try:
        return parse_number(text)   # ASCII digits, a sign, one dot: how the forms show numbers
    except ValueError:
        pass
    if len(text) > MAX_NUMBER_TEXT or not _TYPED_NUMBER.fullmatch(text):
        return None
    language = str(get_locale() or LANGUAGES[0])
    for locale in (language, *(other for other in LANGUAGES if other != language)):
        try:
            return parse_localized(text, locale=locale, strict=True)
        except NumberFormatError:
            continue
    return None


def parse_int(text: str | None, field_name: str, *, required: bool = False) -> int | None:
    text = (text or "").strip()
    if not text:
        if required:
            raise ValidationError.for_field(field_name, _("is required"))
        return None
    try:
        value = parse_whole(text)
    except ValueError:
        raise ValidationError.for_field(field_name, _("must be a whole number")) from None
    if not 0 <= value <= 2**31 - 1:
        raise ValidationError.for_field(field_name, _("is out of range"))
    return value


def whole_or(text: str | None, default: int) -> int:
    """A query argument that should be a whole number (``?page=2``), or ``default`` when it is
    missing or anything else (``"٢"``, ``"2.5"``)."""
    try:
        return parse_whole(text) if text is not None else default
    except ValueError:
        return default


def parse_date(text: str | None, field_name: str) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dates.parse_date(text)
    except dates.OutOfRange:
        raise ValidationError.for_field(field_name, dates.range_message()) from None
    except ValueError:
        raise ValidationError.for_field(field_name, _("must be a date (YYYY-MM-DD)")) from None


def plain(value, min_places: int = 0) -> str:
    """A decimal as typed in an input: ``Decimal("12.5000")`` -> ``"12.5"``; None -> ``""``."""
    if value is None or value == "":
        return ""
    return decimal_text(value, min_places) if isinstance(value, Decimal) else str(value)


def money_input(value) -> str:
    """An amount as typed in an input, with at least two decimals: ``"12.50"``."""
    return plain(value, MONEY_MIN_PLACES)


def read_document_form(session, doc_type: str, form, *, patch: bool = False) -> dict:
    """What the document editor's posted ``form`` asks for: the API's create body of a
    ``doc_type`` document (its PATCH body with ``patch``) after the schema, as
    :func:`crm.services.document_queries.preview` and the documents service take it. Bad input
    raises :class:`crm.errors.ValidationError` naming the editor's inputs."""
    from crm.services.doctypes import DOC_TYPES
    from crm.web.documents import validated  # the editor's own reading (it imports this module)
    data, _keys = validated(session, DOC_TYPES[doc_type], form, patch=patch)
    return data


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
    sort, q = _sort_and_search(sortable)
    page = max(1, min(whole_or(args.get("page"), 1), 1_000_000))
    per_page = max(1, min(whole_or(args.get("per_page"), PER_PAGE), MAX_PER_PAGE))
    result = paginate(session, stmt, {"q": q or None, "sort": sort, "page": page, "per_page": per_page},
                      model=model, search=search, sortable=sortable, default_sort=default_sort)
    return Page(result["items"], result["total"], page, per_page, sort, q)


def list_query(session, stmt: Select, *, model, search=(), sortable=None, default_sort=None) -> Select:
    """The statement :func:`list_page` runs -- searched and sorted the same way -- without its
    pages: what an export of the list reads."""
    sort, q = _sort_and_search(sortable)
    return ordered(searched(session, stmt, search, q or None), sort, model=model, sortable=sortable,
                   default_sort=default_sort)


def _sort_and_search(sortable) -> tuple[str | None, str]:
    """``?sort=`` (None unless a key of ``sortable``) and ``?q=`` of the request."""
    sort = request.args.get("sort") or None
    if sort and sort.lstrip("-") not in (sortable or {}):
        sort = None
    return sort, (request.args.get("q") or "").strip()[:200]


def url_with(**changes) -> str:
    """The current URL with some query arguments changed (None removes one); an argument given
    several times (``?columns=a&columns=b``) keeps each value."""
    args: dict = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [value]
    query = urlencode(args, doseq=True)
    return request.path + ("?" + query if query else "")


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "on", "yes")
