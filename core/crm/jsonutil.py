"""JSON that keeps money exact: decimals in, decimal strings out."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from flask.json.provider import DefaultJSONProvider


def to_jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


#: A JSON number longer than this (sign, digits, dot, exponent) is refused before it is
#: converted: no amount, quantity or id needs more, and Python's int() of thousands of
#: digits is slow (and refused past 4,300 digits).
MAX_NUMBER_LENGTH = 40


class JSONLimitError(ValueError):
    """A JSON document beyond what the application reads: ``kind`` is ``"number"``
    (a number longer than ``limit`` characters) or ``"depth"`` (nested too deeply)."""

    def __init__(self, kind: str, limit: int, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.limit = limit


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number")


def _number(convert):
    def parse(text: str):
        if len(text) > MAX_NUMBER_LENGTH:
            raise JSONLimitError("number", MAX_NUMBER_LENGTH,
                                 f"a number has more than {MAX_NUMBER_LENGTH} characters")
        return convert(text)
    return parse


class DecimalJSONProvider(DefaultJSONProvider):
    """Numbers with a fraction are parsed as Decimal, never float; Decimals are
    written as strings ("12.50"). A number longer than :data:`MAX_NUMBER_LENGTH`
    characters, or a document nested beyond what Python's parser can follow, raises
    :class:`JSONLimitError` (a ValueError)."""

    sort_keys = False

    def loads(self, s, **kwargs):
        kwargs.setdefault("parse_float", _number(Decimal))
        kwargs.setdefault("parse_int", _number(int))
        kwargs.setdefault("parse_constant", _refuse_constant)
        try:
            return json.loads(s, **kwargs)
        except RecursionError:
            raise JSONLimitError("depth", 0, "the JSON document is nested too deeply") from None

    @staticmethod
    def default(value):
        return to_jsonable(value)
