"""Marshmallow fields for money, quantities and rates: decimal strings out,
strings or numbers in, never floats.

Output: money keeps at least two decimals and drops trailing zeros beyond them
(``"12.50"``, ``"0.1234"``); quantities and rates drop trailing zeros
(``"2"``, ``"2.5"``, ``"21"``).
"""
from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate

MAX_MONEY = Decimal("999999999999.99")
MAX_QUANTITY = Decimal("999999999")


def plain(value: Decimal) -> str:
    """``Decimal("21.5000")`` -> ``"21.5"``; never scientific notation."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def money_text(value: Decimal) -> str:
    text = plain(value)
    whole, _sep, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


class _DecimalText(fields.Decimal):
    def __init__(self, formatter, max_places: int, **kwargs):
        kwargs.setdefault("as_string", True)
        checks = kwargs.pop("validate", [])
        checks = list(checks) if isinstance(checks, (list, tuple)) else [checks]
        super().__init__(validate=[*checks, _max_places(max_places)], **kwargs)
        self._formatter = formatter

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return self._formatter(Decimal(value))


def _max_places(places: int):
    def check(value: Decimal) -> None:
        if value.as_tuple().exponent < -places:
            raise ValidationError(_("at most %(places)s decimals", places=places))
    return check


def MoneyField(*, minimum: Decimal | None = Decimal("0"), **kwargs) -> fields.Decimal:
    """An amount of money: ``"12.50"``; non-negative unless ``minimum=None``."""
    low = minimum if minimum is not None else -MAX_MONEY
    return _DecimalText(money_text, 4, validate=validate.Range(min=low, max=MAX_MONEY), **kwargs)


def QuantityField(*, minimum: Decimal | None = Decimal("0"), **kwargs) -> fields.Decimal:
    """A quantity with up to 3 decimals: ``"2.5"``."""
    low = minimum if minimum is not None else -MAX_QUANTITY
    return _DecimalText(plain, 3, validate=validate.Range(min=low, max=MAX_QUANTITY), **kwargs)


def PercentField(**kwargs) -> fields.Decimal:
    """A percentage between 0 and 100: ``"21"``."""
    return _DecimalText(plain, 4, validate=validate.Range(min=0, max=100), **kwargs)


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


class _Id(fields.Integer):
    def _validated(self, value):
        if isinstance(value, bool) or (isinstance(value, (Decimal, float)) and value != int(value)):
            raise self.make_error("invalid")
        return super()._validated(value)


def IdField(**kwargs) -> fields.Integer:
    """A record id: a whole number (``7``, never ``7.5``) that fits the database's
    integer column; ``strict=True`` also refuses ``"7"`` (JSON bodies of master data)."""
    return _Id(validate=validate.Range(min=1, max=MAX_ID, error=_l("not a valid id")), **kwargs)


def Text(max_length: int = 200, *, required: bool = False, **kwargs) -> fields.String:
    """A string of at most ``max_length`` characters the database can store; a
    required one may not be blank."""
    validators = [validate.Length(max=max_length), clean_text]
    if required:
        validators.append(_not_blank)
    else:
        kwargs.setdefault("load_default", "")
    return fields.String(validate=validators, required=required, **kwargs)
