"""Money arithmetic: the one module where amounts are computed and rounded.

Rules
-----
* Money is :class:`decimal.Decimal` end to end, never ``float``.
  :func:`to_decimal` is the entry point for outside values: it accepts
  ``str``, ``int`` and ``Decimal`` and refuses ``float`` (JSON bodies are
  parsed with ``parse_float=Decimal`` upstream), ``bool``, NaN and Infinity.
* Every operation runs in the private context :data:`CONTEXT` (34 significant
  digits, invalid operations, division by zero and overflow trapped).  The
  thread's global decimal context is never read for arithmetic nor modified.
* Amounts are rounded ROUND_HALF_UP (ties away from zero: 0.125 -> 0.13,
  -0.125 -> -0.13) to the currency's precision taken from Babel/CLDR
  (2 for EUR and USD, 0 for JPY, 3 for KWD).
* Quantities are rounded ROUND_HALF_UP to 3 decimals.
* :func:`multiply`, :func:`percent_of`, :func:`scale`, :func:`add`,
  :func:`subtract` and :func:`total` are exact (no rounding) as long as the
  result fits in 34 significant digits; rounding is always an explicit call
  to :func:`round_money` or :func:`round_quantity`.
"""

from __future__ import annotations

from decimal import (
    ROUND_DOWN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from functools import lru_cache, reduce
from typing import Iterable, Union

from babel.numbers import get_currency_precision, is_currency

__all__ = [
    "CONTEXT",
    "ZERO",
    "QUANTITY_PLACES",
    "DecimalInput",
    "to_decimal",
    "currency_precision",
    "currency_unit",
    "round_money",
    "round_quantity",
    "multiply",
    "percent_of",
    "scale",
    "add",
    "subtract",
    "total",
    "split_amount",
]

#: Private arithmetic context: 34 digits (IEEE decimal128), HALF_UP, strict traps.
CONTEXT = Context(
    prec=34,
    rounding=ROUND_HALF_UP,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

ZERO = Decimal("0")
QUANTITY_PLACES = 3

_MINUS_TWO = Decimal(-2)
_QUANTITY_QUANTUM = Decimal(1).scaleb(-QUANTITY_PLACES)

DecimalInput = Union[str, int, Decimal]


def to_decimal(value: DecimalInput) -> Decimal:
    """Parse ``value`` (str, int or Decimal) into a finite Decimal.

    Raises TypeError for floats, bools and other types (floats cannot carry
    exact cents), ValueError for unparsable strings, NaN and Infinity.
    Surrounding whitespace in strings is ignored.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise TypeError("a boolean is not a decimal value")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"invalid decimal value: {value!r}") from None
    elif isinstance(value, float):
        raise TypeError(
            f"float {value!r} refused: pass money as str, int or Decimal"
        )
    else:
        raise TypeError(f"cannot convert {type(value).__name__} to a decimal value")
    if not result.is_finite():
        raise ValueError(f"decimal value must be finite, got {value!r}")
    return result


@lru_cache(maxsize=None)
def currency_precision(code: str) -> int:
    """Number of decimals of ``code`` per Babel/CLDR (EUR 2, JPY 0).

    The code must be an ISO 4217 code known to Babel, in upper case;
    anything else raises ValueError (Babel alone would silently answer 2).
    """
    if not is_currency(code):
        raise ValueError(f"unknown currency code: {code!r}")
    return get_currency_precision(code)


@lru_cache(maxsize=None)
def currency_unit(code: str) -> Decimal:
    """Smallest unit of ``code`` as a Decimal: 0.01 for EUR, 1 for JPY."""
    return Decimal(1).scaleb(-currency_precision(code))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` ROUND_HALF_UP to the precision of ``currency``."""
    return amount.quantize(currency_unit(currency), ROUND_HALF_UP, CONTEXT)


def round_quantity(quantity: Decimal) -> Decimal:
    """Round ``quantity`` ROUND_HALF_UP to 3 decimals."""
    return quantity.quantize(_QUANTITY_QUANTUM, ROUND_HALF_UP, CONTEXT)


def multiply(a: Decimal, b: Decimal) -> Decimal:
    """Exact product ``a * b`` (e.g. quantity * unit price)."""
    return CONTEXT.multiply(a, b)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    """Exact ``amount * percent / 100``, not rounded (dividing by 100 only moves the
    decimal point: ``scaleb(-2)``, the same value as the division, at a fraction of its cost)."""
    return CONTEXT.scaleb(CONTEXT.multiply(amount, percent), _MINUS_TWO)


def scale(amount: Decimal, numerator: Decimal, denominator: Decimal) -> Decimal:
    """``amount * numerator / denominator``, not rounded.

    Exact when the quotient terminates, otherwise correct to 34 significant
    digits, far below any currency unit.  A zero denominator raises
    ZeroDivisionError (decimal.DivisionByZero).
    """
    return CONTEXT.divide(CONTEXT.multiply(amount, numerator), denominator)


def add(a: Decimal, b: Decimal) -> Decimal:
    """Exact sum ``a + b``."""
    return CONTEXT.add(a, b)


def subtract(a: Decimal, b: Decimal) -> Decimal:
    """Exact difference ``a - b``."""
    return CONTEXT.subtract(a, b)


def total(amounts: Iterable[Decimal]) -> Decimal:
    """Exact sum of ``amounts`` (ZERO when empty)."""
    return reduce(CONTEXT.add, amounts, ZERO)


def split_amount(total_amount: Decimal, parts: int, currency: str) -> list[Decimal]:
    """Split ``total_amount`` into ``parts`` amounts that sum exactly to it.

    Every part but the last is ``total_amount / parts`` rounded toward zero
    (ROUND_DOWN) to the currency precision; the last part takes the
    remainder, so it is the largest in absolute value and exceeds the others
    by less than ``parts`` currency units.  Example: 100.00 EUR in 3 ->
    33.33, 33.33, 33.34.

    ``total_amount`` must already be at the currency precision (otherwise the
    parts could not be amounts) and ``parts`` must be at least 1; both
    violations raise ValueError.
    """
    if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
        raise ValueError(f"parts must be a positive integer, got {parts!r}")
    unit = currency_unit(currency)
    if total_amount.quantize(unit, ROUND_HALF_UP, CONTEXT) != total_amount:
        raise ValueError(
            f"{total_amount} has more decimals than {currency} allows "
            f"({currency_precision(currency)})"
        )
    count = Decimal(parts)
    # divide_int truncates toward zero, exactly: no 34-digit rounding involved.
    share = CONTEXT.multiply(
        CONTEXT.divide_int(CONTEXT.divide(total_amount, unit), count), unit
    ).quantize(unit, ROUND_DOWN, CONTEXT)
    last = CONTEXT.subtract(total_amount, CONTEXT.multiply(share, count - 1))
    return [share] * (parts - 1) + [last.quantize(unit, ROUND_DOWN, CONTEXT)]
