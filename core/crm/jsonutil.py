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


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number")


class DecimalJSONProvider(DefaultJSONProvider):
    """Numbers with a fraction are parsed as Decimal, never float; Decimals are
    written as strings ("12.50")."""

    sort_keys = False

    def loads(self, s, **kwargs):
        kwargs.setdefault("parse_float", Decimal)
        kwargs.setdefault("parse_constant", _refuse_constant)
        try:
            return json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON document is nested too deeply") from None

    @staticmethod
    def default(value):
        return to_jsonable(value)
