"""A value entered for a layout's column (the API, a column's default) as formulas see it, and
as it is stored in JSON."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import gettext as _

from crm import dates, money
from crm_idca.formulas import DATE, NUMBER, TEXT
from crm_idca.layouts.model import MAX_NUMBER, MAX_TEXT_VALUE, Column


def convert_input(column: Column, value: object, currency: str) -> Decimal | str | dt.date | None:
    """A value entered for ``column`` (API, default) as the evaluation sees it: Decimal, str or
    date; None when empty. Raises ValueError with a message for the user."""
    if value is None or (isinstance(value, str) and value.strip() == "" and column.kind != TEXT):
        return None
    if column.kind == NUMBER:
        return _number(column, value, currency)
    if column.kind == DATE:
        return _date(value)
    return _text(column, value)


def _number(column: Column, value: object, currency: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError(_("must be a number (a decimal string like \"12.50\")"))
    try:   # text: ASCII digits, a sign and one dot (never "1_000", "1e3" or "١٢")
        number = money.parse_decimal(value) if isinstance(value, str) else money.to_decimal(value)
    except (TypeError, ValueError):
        raise ValueError(_("must be a number (a decimal string like \"12.50\")")) from None
    if abs(number) >= MAX_NUMBER:
        raise ValueError(_("must be below 10^15"))
    if column.type == "money" and abs(number) > money.MAX_AMOUNT:   # an amount: the core's bound
        raise ValueError(_("must be at most %(max)s", max=money.MAX_AMOUNT))
    places = column.places(currency)
    return number if places is None else money.round_places(number, places)


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dates.parse_date(value)
        except dates.OutOfRange:
            raise ValueError(dates.range_message()) from None
        except ValueError:
            pass
    raise ValueError(_("must be a date (YYYY-MM-DD)"))


def _text(column: Column, sent: object) -> str:
    if isinstance(sent, str):
        value = sent
    elif column.type == "text" and isinstance(sent, (int, Decimal)) and not isinstance(sent, bool):
        value = str(sent)
    else:
        raise ValueError(_("must be text"))
    if len(value) > MAX_TEXT_VALUE:
        raise ValueError(_("must be at most %(limit)s characters", limit=MAX_TEXT_VALUE))
    if "\x00" in value:
        raise ValueError(_("must not contain NUL characters"))
    if column.type == "select" and value not in column.choices:
        raise ValueError(_("must be one of: %(choices)s", choices=", ".join(column.choices)))
    return value


def jsonable(value: object) -> object:
    """How a value is stored in JSON: decimals as plain strings, dates as ISO strings."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return "0" + text[2:] if text.startswith("-0") and not value else text
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
