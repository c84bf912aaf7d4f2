"""Marshmallow fields for money, quantities and rates: decimal strings out,
strings or numbers in, never floats; whole numbers and dates.

Numbers sent as text are ASCII digits, a sign and at most one dot
(:func:`crm.money.parse_decimal`): ``"1_000"``, ``"1e3"``, Arabic-Indic or
full-width digits are refused although Python would read them. Their bounds
come from :mod:`crm.money`; dates are ``YYYY-MM-DD`` within :mod:`crm.dates`' range.

Output: money keeps at least two decimals and drops trailing zeros beyond them
(``"12.50"``, ``"0.1234"``); quantities and rates drop trailing zeros
(``"2"``, ``"2.5"``, ``"21"``).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import gettext as _, lazy_gettext as _l
from marshmallow import ValidationError, fields, validate

from crm import dates, money
from crm.money import MAX_AMOUNT, MAX_QUANTITY, MONEY_MIN_PLACES


class _DecimalText(fields.Decimal):
    def __init__(self, min_places: int, max_places: int, **kwargs):
        kwargs.setdefault("as_string", True)
        checks = kwargs.pop("validate", [])
        checks = list(checks) if isinstance(checks, (list, tuple)) else [checks]
        super().__init__(validate=[*checks, _max_places(max_places)], **kwargs)
        self.min_places = min_places
        self.max_places = max_places  # the OpenAPI description's pattern shows it (crm.api.openapi)

    def _format_num(self, value):
        if isinstance(value, str):
            return money.parse_decimal(value)  # ASCII digits, sign, one dot (ValueError: "Not a valid number.")
        return super()._format_num(value)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return money.decimal_text(Decimal(value), self.min_places)


def _max_places(places: int):
    def check(value: Decimal) -> None:
        if value.as_tuple().exponent < -places:
            raise ValidationError(_("at most %(places)s decimals", places=places))
    return check


def MoneyField(*, minimum: Decimal | None = Decimal("0"), **kwargs) -> fields.Decimal:
    """An amount of money: ``"12.50"``, at most ``MAX_AMOUNT``; non-negative unless ``minimum=None``."""
    low = minimum if minimum is not None else -MAX_AMOUNT
    return _DecimalText(MONEY_MIN_PLACES, 4, validate=validate.Range(min=low, max=MAX_AMOUNT), **kwargs)


def QuantityField(*, minimum: Decimal | None = Decimal("0"), **kwargs) -> fields.Decimal:
    """A quantity with up to 3 decimals: ``"2.5"``."""
    low = minimum if minimum is not None else -MAX_QUANTITY
    return _DecimalText(0, 3, validate=validate.Range(min=low, max=MAX_QUANTITY), **kwargs)


def PercentField(**kwargs) -> fields.Decimal:
    """A percentage between 0 and 100: ``"21"``."""
    return _DecimalText(0, 4, validate=validate.Range(min=0, max=money.MAX_PERCENT), **kwargs)


def ConversionRateField(**kwargs) -> fields.Decimal:
    """A document's conversion rate, up to 4 decimals: ``"1.0833"``."""
    return _DecimalText(0, 4, validate=validate.Range(min=money.MIN_CONVERSION_RATE,
                                                      max=money.MAX_CONVERSION_RATE), **kwargs)


MAX_ID = 2**31 - 1


def clean_text(value: str) -> None:
    """Text the databases can store: no NUL character, no lone UTF-16 surrogate."""
    if "\x00" in value:
        raise ValidationError(_("must not contain NUL characters"))
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(_("must be valid Unicode text")) from None


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError(_("must not be blank"))


class Integer(fields.Integer):
    """A whole number: ``7`` or ``"7"`` (ASCII digits and a sign), never ``7.5``, ``"٧"``
    or ``"1_000"``; ``strict=True`` also refuses ``"7"``."""

    def _validated(self, value):
        if isinstance(value, bool) or (isinstance(value, (Decimal, float)) and value != int(value)):
            raise self.make_error("invalid")
        return super()._validated(value)

    def _format_num(self, value):
        if isinstance(value, str):
            return money.parse_whole(value)
        return super()._format_num(value)


def IdField(**kwargs) -> fields.Integer:
    """A record id: a whole number (``7``, never ``7.5``) that fits the database's
    integer column; ``strict=True`` also refuses ``"7"`` (JSON bodies of master data)."""
    return Integer(validate=validate.Range(min=1, max=MAX_ID, error=_l("not a valid id")), **kwargs)


class Date(fields.Date):
    """A date ``YYYY-MM-DD`` between :data:`crm.dates.MIN_DATE` and :data:`crm.dates.MAX_DATE`."""

    def _deserialize(self, value, attr, data, **kwargs) -> dt.date:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return dates.parse_date(value)
        except dates.OutOfRange:
            raise ValidationError(dates.range_message()) from None
        except ValueError:
            raise self.make_error("invalid") from None


def Text(max_length: int = 200, *, required: bool = False, **kwargs) -> fields.String:
    """A string of at most ``max_length`` characters the database can store; a
    required one may not be blank."""
    validators = [validate.Length(max=max_length), clean_text]
    if required:
        validators.append(_not_blank)
    else:
        kwargs.setdefault("load_default", "")
    return fields.String(validate=validators, required=required, **kwargs)
