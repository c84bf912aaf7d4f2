"""JSON with exact decimal numbers: Decimals are written as JSON numbers digit for digit
(QuickBooks wants numbers) and read back as Decimals. Floats are refused."""
from __future__ import annotations

import json
from decimal import Decimal


def dumps(value) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k)) + ":" + dumps(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("floats are never used for money: use Decimal")
    return json.dumps(value)


def loads(text):
    return json.loads(text, parse_float=Decimal)
