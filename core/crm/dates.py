"""The dates the product accepts: one range, one way to read a typed date.

Every date a user or a client gives (a document's dates, a recurring schedule's
start and end, a payment's date, an installment plan's first date, a report's
period, a custom field of type date) lies between :data:`MIN_DATE` and
:data:`MAX_DATE`, 1900-01-01 to 2999-12-31: older dates are typing mistakes in
an order-management system, and later ones leave every date computed from them
(a due date, the periods of a schedule, the installments of a plan) far from
Python's and the databases' year 9999. A date is written ``YYYY-MM-DD`` with
ASCII digits. See docs/documents.md, "Limits".
"""
from __future__ import annotations

import datetime as dt
import re

from flask_babel import gettext as _

MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2999, 12, 31)

_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class OutOfRange(ValueError):
    """A well-formed date outside :data:`MIN_DATE`..:data:`MAX_DATE`."""


def parse_date(text: str) -> dt.date:
    """``"2025-03-31"`` -> a date. ValueError for any other form (``"20250331"``,
    ``"2025-W13-1"``, non-ASCII digits, ``"2025-02-30"``); :class:`OutOfRange` (a
    ValueError) for a date outside the accepted range."""
    text = text.strip()
    if not _DATE_TEXT.fullmatch(text):
        raise ValueError(f"not a date (YYYY-MM-DD): {text[:40]!r}")
    value = dt.date.fromisoformat(text)
    if not in_range(value):
        raise OutOfRange(f"{text} is outside {MIN_DATE}..{MAX_DATE}")
    return value


def range_message() -> str:
    """What a date outside the accepted range is told (API, pages, CLI, services)."""
    return _("must be between %(first)s and %(last)s", first=MIN_DATE.isoformat(), last=MAX_DATE.isoformat())


def in_range(value: dt.date) -> bool:
    """True when ``value`` is between :data:`MIN_DATE` and :data:`MAX_DATE`."""
    if isinstance(value, dt.datetime):
        value = value.date()
    return MIN_DATE <= value <= MAX_DATE


__all__ = ["MIN_DATE", "MAX_DATE", "OutOfRange", "parse_date", "in_range", "range_message"]
