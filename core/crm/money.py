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
* Bounds (the one place they are decided; see docs/documents.md, "Limits"):
  every amount a user types is within ``±MAX_AMOUNT``, every quantity within
  ``±MAX_QUANTITY``, every percentage within 0..``MAX_PERCENT``, a conversion
  rate within ``MIN_CONVERSION_RATE``..``MAX_CONVERSION_RATE``, and every
  amount computed and stored (line and document totals, tax, balance,
  payments, plugin amounts) within ``±MAX_TOTAL``.  The money columns hold
  NUMERIC(18,4) (14 whole digits), quantities NUMERIC(18,3) (15), rates
  NUMERIC(9,4) (5): the bounds leave two orders of magnitude of room.
* Numbers typed as text (:func:`parse_decimal`, :func:`parse_whole`) are ASCII
  digits with an optional sign and at most one dot: ``"1_000"``, ``"1e3"``,
  Arabic-Indic or full-width digits are refused, although Python's ``Decimal``
  and ``int`` accept them.
* :func:`multiply`, :func:`percent_of`, :func:`scale`, :func:`add`,
  :func:`subtract` and :func:`total` are exact (no rounding) as long as the
  result fits in 34 significant digits; rounding is always an explicit call
  to :func:`round_money` or :func:`round_quantity`.
* This module is the only one that rounds (``make lint`` refuses ``quantize``,
  ``to_integral*`` and ``ROUND_*`` anywhere else but :mod:`crm.totals`):
  :func:`round_money` (to a currency), :func:`round_quantity` (3 decimals),
  :func:`round_places` (to a given number of decimals, half up),
  :func:`round_half_even` (ties to even, for agreeing with a remote system that
  rounds so), :func:`floor_quantity`, :func:`whole_times` (how many whole units
  fit) and :func:`scaled_integer` (the integer an exact column stores);
  :func:`is_whole` tells a whole number.
* Decimals are written as text by :func:`decimal_text` only: never scientific
  notation, trailing zeros dropped (down to a minimum of decimals), ``-0`` as ``0``.
"""

from __future__ import annotations

import re
from decimal import (
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
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
    "round_places",
    "round_half_even",
    "floor_quantity",
    "whole_times",
    "scaled_integer",
    "decimal_text",
    "is_whole",
    "MONEY_MIN_PLACES",
    "multiply",
    "percent_of",
    "scale",
    "add",
    "subtract",
    "total",
    "split_amount",
    "MAX_AMOUNT",
    "MAX_TOTAL",
    "MAX_QUANTITY",
    "MAX_PERCENT",
    "MIN_CONVERSION_RATE",
    "MAX_CONVERSION_RATE",
    "MAX_NUMBER_TEXT",
    "parse_decimal",
    "parse_whole",
    "is_digits",
    "out_of_bounds",
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
_ONE = Decimal(1)
_QUANTITY_QUANTUM = _ONE.scaleb(-QUANTITY_PLACES)
#: for :func:`scaled_integer`: wide enough for any value a column could be handed, so that an
#: out-of-range one is reported by the column's range check rather than by the decimal module
_WIDE = Context(prec=80, traps=[InvalidOperation, DivisionByZero, Overflow])

DecimalInput = Union[str, int, Decimal]

#: Largest amount a user may type (unit price, list price, cost, discount, shipping,
#: adjustment, payment, ...), in any currency; negative amounts (an adjustment) down to -MAX_AMOUNT.
MAX_AMOUNT = Decimal("999999999999.99")
#: Largest amount computed and stored (a line's gross, net, tax and total, a document's totals,
#: tax, received and balance, payments and credits, plugin amounts): a document whose total
#: would pass it is refused, naming the input that pushes it over.
MAX_TOTAL = Decimal("999999999999.99")
#: Largest quantity (of a line, a stock move, a bundle component, a reorder level).
MAX_QUANTITY = Decimal("999999999")
#: Percentages (tax rates, discounts, payment presets) are between 0 and 100.
MAX_PERCENT = Decimal("100")
#: A document's conversion rate (4 decimals are kept).
MIN_CONVERSION_RATE = Decimal("0.0001")
MAX_CONVERSION_RATE = Decimal("99999")
#: Amounts are written (API answers, form inputs) with at least this many decimals: "12.50", "0.1234".
MONEY_MIN_PLACES = 2
#: Longest number text accepted (sign, digits and dot): far more than any bound above needs.
MAX_NUMBER_TEXT = 40

_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_WHOLE_TEXT = re.compile(r"[+-]?[0-9]+")
#: what str(Decimal) may write besides: an exponent ("1E-7"), NaN and Infinity (refused as not finite)
_DECIMAL_REPR = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[sS]?[nN]a[nN][0-9]*"
                           r"|[iI]nf(?:inity)?)", re.IGNORECASE)


def parse_decimal(text: str) -> Decimal:
    """A number typed as text -> Decimal: ASCII digits, an optional sign, at most one dot
    (``"12.50"``, ``"-3"``, ``".5"``), surrounding whitespace ignored. Anything else --
    ``"1_000"``, ``"1e3"``, ``"NaN"``, Arabic-Indic or full-width digits, more than
    :data:`MAX_NUMBER_TEXT` characters -- raises ValueError."""
    text = text.strip()
    if len(text) > MAX_NUMBER_TEXT or not _DECIMAL_TEXT.fullmatch(text):
        raise ValueError(f"invalid decimal value: {text[:MAX_NUMBER_TEXT]!r}")
    return Decimal(text)


def parse_whole(text: str) -> int:
    """A whole number typed as text -> int: ASCII digits and an optional sign (``"42"``,
    ``"-1"``), surrounding whitespace ignored; anything else raises ValueError."""
    text = text.strip()
    if len(text) > MAX_NUMBER_TEXT or not _WHOLE_TEXT.fullmatch(text):
        raise ValueError(f"invalid whole number: {text[:MAX_NUMBER_TEXT]!r}")
    return int(text)


def is_digits(text: str) -> bool:
    """True when ``text`` is one or more ASCII digits (``str.isdigit()`` also says True
    for ``"٣"`` or ``"²"``, which ``int()`` then reads as 3 or refuses)."""
    return text.isascii() and text.isdigit()


def out_of_bounds(value: Decimal, bound: Decimal, *, signed: bool = True) -> bool:
    """True when ``value`` is beyond ``bound`` (below ``-bound`` when ``signed``, else below 0)."""
    return value > bound or value < (-bound if signed else ZERO)


def to_decimal(value: DecimalInput) -> Decimal:
    """Parse ``value`` (str, int or Decimal) into a finite Decimal.

    Raises TypeError for floats, bools and other types (floats cannot carry
    exact cents), ValueError for unparsable strings, NaN and Infinity. Strings
    are ASCII as ``str(Decimal)`` writes them (an exponent is accepted:
    ``"1E-7"``); ``"1_000"`` and non-ASCII digits are refused. Numbers a user
    types go through the stricter :func:`parse_decimal`. Surrounding
    whitespace in strings is ignored.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise TypeError("a boolean is not a decimal value")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 100 or not _DECIMAL_REPR.fullmatch(text):
            raise ValueError(f"invalid decimal value: {text[:100]!r}")
        result = Decimal(text)
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


@lru_cache(maxsize=64)
def _quantum(places: int) -> Decimal:
    return _ONE.scaleb(-places)


def round_places(value: Decimal, places: int) -> Decimal:
    """Round ``value`` ROUND_HALF_UP to ``places`` decimals (a negative ``places`` rounds to
    tens, hundreds...): a net unit price to 4 decimals, a computed column to its own decimals."""
    return value.quantize(_quantum(places), ROUND_HALF_UP, CONTEXT)


def round_half_even(value: Decimal, places: int) -> Decimal:
    """Round ``value`` to ``places`` decimals, ties to the even digit (0.125 -> 0.12,
    0.135 -> 0.14). Only to agree with a remote system that rounds so (Tryton's
    ``Currency.round``); the CRM's own amounts round half up."""
    return value.quantize(_quantum(places), ROUND_HALF_EVEN, CONTEXT)


def floor_quantity(quantity: Decimal) -> Decimal:
    """``quantity`` rounded down (toward minus infinity) to 3 decimals: what may be reserved
    of a quantity without ever taking more than there is."""
    return quantity.quantize(_QUANTITY_QUANTUM, ROUND_FLOOR, CONTEXT)


def whole_times(quantity: Decimal, per: Decimal) -> Decimal:
    """How many whole ``per`` fit in ``quantity``: ``floor(quantity / per)``, e.g. the bundles
    of 3 units that 10 units on hand make (3). A zero ``per`` raises ZeroDivisionError."""
    return CONTEXT.divide(quantity, per).to_integral_value(ROUND_FLOOR, CONTEXT)


def scaled_integer(value: Decimal, places: int) -> int:
    """``value * 10**places`` rounded half up to an integer (12.345 at 2 places -> 1235): the
    integer an exact column of ``places`` decimals stores on SQLite (:mod:`crm.models.base`)."""
    return int(value.scaleb(places, _WIDE).quantize(_ONE, ROUND_HALF_UP, _WIDE))


def is_whole(value: Decimal) -> bool:
    """True when ``value`` has no fraction (``Decimal("3.000")``, ``Decimal("1E+2")``)."""
    return value == value.to_integral_value(ROUND_DOWN, CONTEXT)


def decimal_text(value: Decimal, min_places: int = 0) -> str:
    """``value`` written as the API answers it and a form shows it: never scientific notation,
    trailing zeros dropped down to ``min_places`` decimals, ``-0`` written ``0``::

        decimal_text(Decimal("21.5000")) == "21.5"     decimal_text(Decimal("1E+2")) == "100"
        decimal_text(Decimal("12.5"), 2) == "12.50"    decimal_text(Decimal("-0.00")) == "0"
    """
    whole, _dot, fraction = format(value, "f").partition(".")
    fraction = fraction.rstrip("0").ljust(min_places, "0")
    if whole == "-0" and not fraction.strip("0"):
        whole = "0"
    return f"{whole}.{fraction}" if fraction else whole


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
