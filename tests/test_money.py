"""Tests for crm.money: parsing, currency precision, rounding, splitting."""

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings, strategies as st

from crm import money
from crm.money import (
    ZERO,
    currency_precision,
    currency_unit,
    percent_of,
    round_money,
    round_quantity,
    split_amount,
    to_decimal,
)

pytestmark = pytest.mark.no_database   # CI runs it once, on SQLite

D = Decimal
PROPERTY = settings(database=None, deadline=None, max_examples=200)


# -- to_decimal ------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("12.34", D("12.34")),
        (" 7.5 ", D("7.5")),
        ("-0.005", D("-0.005")),
        ("1e3", D("1000")),
        (42, D("42")),
        (D("0.10"), D("0.10")),
    ],
)
def test_to_decimal_accepts_str_int_decimal(value, expected):
    result = to_decimal(value)
    assert isinstance(result, Decimal)
    assert result == expected


def test_to_decimal_keeps_the_written_exponent():
    assert str(to_decimal("0.10")) == "0.10"


@pytest.mark.parametrize("value", [0.1, 1.0, True, None, [1], b"1"])
def test_to_decimal_refuses_floats_bools_and_other_types(value):
    with pytest.raises(TypeError):
        to_decimal(value)


@pytest.mark.parametrize("value", ["", "abc", "1,5", "12.3.4", "--1"])
def test_to_decimal_refuses_invalid_strings(value):
    with pytest.raises(ValueError, match="invalid decimal value"):
        to_decimal(value)


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-inf", D("NaN"), D("Infinity")])
def test_to_decimal_refuses_nan_and_infinity(value):
    with pytest.raises(ValueError, match="finite"):
        to_decimal(value)


# -- currency precision ----------------------------------------------------


@pytest.mark.parametrize(
    "code, places, unit",
    [("EUR", 2, "0.01"), ("USD", 2, "0.01"), ("JPY", 0, "1"), ("KWD", 3, "0.001")],
)
def test_currency_precision_from_babel(code, places, unit):
    assert currency_precision(code) == places
    assert currency_unit(code) == D(unit)


@pytest.mark.parametrize("code", ["ZZZ", "eur", "", None, "EURO"])
def test_unknown_currency_is_refused(code):
    with pytest.raises(ValueError, match="unknown currency"):
        currency_precision(code)


# -- rounding --------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        ("2.675", "EUR", "2.68"),  # the classic float trap: HALF_UP on the exact decimal
        ("0.125", "EUR", "0.13"),  # tie goes up (banker's rounding would give 0.12)
        ("0.135", "EUR", "0.14"),
        ("0.1249999", "EUR", "0.12"),
        ("-0.125", "EUR", "-0.13"),  # ties away from zero
        ("1.005", "USD", "1.01"),
        ("2.5", "JPY", "3"),
        ("3.5", "JPY", "4"),
        ("1000.49", "JPY", "1000"),
        ("1.0005", "KWD", "1.001"),
        ("10", "EUR", "10.00"),
    ],
)
def test_round_money_half_up(amount, currency, expected):
    result = round_money(D(amount), currency)
    assert result == D(expected)
    assert str(result) == expected  # quantized: exactly the currency's decimals


@pytest.mark.parametrize(
    "quantity, expected",
    [("1.0005", "1.001"), ("1.0004", "1.000"), ("2", "2.000"), ("0.0125", "0.013")],
)
def test_round_quantity_three_decimals_half_up(quantity, expected):
    assert str(round_quantity(D(quantity))) == expected


def test_percent_of_is_exact():
    # 10.25 * 10 / 100 = 1.025 exactly (rounding is the caller's explicit step)
    assert percent_of(D("10.25"), D("10")) == D("1.025")
    # 53.97 * 21 / 100 = 11.3337
    assert percent_of(D("53.97"), D("21")) == D("11.3337")
    assert percent_of(D("123.45"), D("0")) == ZERO


def test_arithmetic_ignores_the_global_context():
    # A caller shrinking the thread's context must not change money results.
    with localcontext() as ctx:
        ctx.prec = 3
        assert percent_of(D("12345.67"), D("21")) == D("2592.5907")
        assert money.multiply(D("1234.567"), D("89.99")) == D("111098.68433")
        assert money.total([D("99999.99"), D("0.01")]) == D("100000.00")
        assert round_money(D("123456.785"), "EUR") == D("123456.79")
        assert split_amount(D("100000.00"), 3, "EUR")[-1] == D("33333.34")


def test_arithmetic_does_not_modify_the_global_context():
    with localcontext() as ctx:
        before = (ctx.prec, ctx.rounding)
        round_money(D("1.005"), "EUR")
        percent_of(D("1"), D("3"))
        assert (ctx.prec, ctx.rounding) == before


# -- split_amount ----------------------------------------------------------


@pytest.mark.parametrize(
    "amount, parts, currency, expected",
    [
        # 100.00 / 3 = 33.333... -> 33.33, 33.33, remainder 100.00 - 66.66 = 33.34
        ("100.00", 3, "EUR", ["33.33", "33.33", "33.34"]),
        ("100.00", 4, "EUR", ["25.00", "25.00", "25.00", "25.00"]),
        # 0.05 / 3 = 0.0166... -> 0.01, 0.01, 0.05 - 0.02 = 0.03
        ("0.05", 3, "EUR", ["0.01", "0.01", "0.03"]),
        # 0.02 / 3 -> 0.00, 0.00, 0.02
        ("0.02", 3, "EUR", ["0.00", "0.00", "0.02"]),
        # 1000 JPY / 7 = 142.857... -> 142 x 6 = 852, last 148
        ("1000", 7, "JPY", ["142"] * 6 + ["148"]),
        # refunds mirror payments: toward zero, remainder last
        ("-100.00", 3, "EUR", ["-33.33", "-33.33", "-33.34"]),
        ("59.90", 1, "EUR", ["59.90"]),
    ],
)
def test_split_amount_examples(amount, parts, currency, expected):
    result = split_amount(D(amount), parts, currency)
    assert [str(part) for part in result] == expected
    assert sum(result, ZERO) == D(amount)


@pytest.mark.parametrize("parts", [0, -1, True, 1.0])
def test_split_amount_refuses_bad_part_counts(parts):
    with pytest.raises(ValueError, match="parts"):
        split_amount(D("10.00"), parts, "EUR")


def test_split_amount_refuses_sub_unit_totals():
    with pytest.raises(ValueError, match="more decimals"):
        split_amount(D("10.005"), 2, "EUR")
    with pytest.raises(ValueError, match="more decimals"):
        split_amount(D("10.5"), 2, "JPY")


@PROPERTY
@given(
    currency=st.sampled_from(["EUR", "USD", "JPY", "KWD"]),
    units=st.integers(min_value=-10**12, max_value=10**12),
    parts=st.integers(min_value=1, max_value=60),
)
def test_split_amount_properties(currency, units, parts):
    unit = currency_unit(currency)
    amount = units * unit
    result = split_amount(amount, parts, currency)

    assert len(result) == parts
    assert sum(result, ZERO) == amount  # sums exactly
    assert all(part == round_money(part, currency) for part in result)
    share, last = result[0], result[-1]
    assert result[:-1] == [share] * (parts - 1)  # equal parts, remainder last
    remainder = amount - share * parts
    # the last part differs from the others by exactly the remainder,
    # which is less than one unit per part and has the sign of the total
    assert last - share == remainder
    assert abs(remainder) < parts * unit
    assert remainder * amount >= 0
    assert abs(share) <= abs(last)


# -- the other roundings ---------------------------------------------------
@pytest.mark.parametrize("value, places, expected", [
    ("1.23445", 4, "1.2345"), ("-1.23445", 4, "-1.2345"), ("7.5", 0, "8"), ("125", -1, "1.3E+2"),
])
def test_round_places_half_up(value, places, expected):
    assert str(money.round_places(D(value), places)) == expected


@pytest.mark.parametrize("value, expected", [("0.125", "0.12"), ("0.135", "0.14"), ("-0.125", "-0.12")])
def test_round_half_even_ties_to_even(value, expected):
    assert str(money.round_half_even(D(value), 2)) == expected


@pytest.mark.parametrize("value, expected", [("1.2349", "1.234"), ("-1.2341", "-1.235"), ("2", "2.000")])
def test_floor_quantity_never_rounds_up(value, expected):
    assert str(money.floor_quantity(D(value))) == expected


@pytest.mark.parametrize("quantity, per, expected", [("10", "3", 3), ("9", "3", 3), ("2.5", "0.5", 5), ("-1", "3", -1)])
def test_whole_times_is_the_floor_of_the_quotient(quantity, per, expected):
    assert money.whole_times(D(quantity), D(per)) == expected


def test_scaled_integer_rounds_half_up_at_any_size():
    assert money.scaled_integer(D("12.345"), 2) == 1235
    assert money.scaled_integer(D("-12.345"), 2) == -1235
    assert money.scaled_integer(D("123456789012345678901234567890123456.78"), 4) == \
        1234567890123456789012345678901234567800


@PROPERTY
@given(st.decimals(allow_nan=False, allow_infinity=False), st.integers(min_value=0, max_value=4))
def test_decimal_text_is_the_value_in_plain_digits(value, min_places):
    text = money.decimal_text(value, min_places)
    assert D(text) == value
    assert "E" not in text.upper()                    # never scientific notation
    assert not (text.startswith("-") and value == 0)  # no "-0"
    whole, _dot, fraction = text.partition(".")
    assert len(fraction) >= min_places
    assert len(fraction) == min_places or not fraction.endswith("0")


@pytest.mark.parametrize("value, min_places, expected", [
    ("21.5000", 0, "21.5"), ("1E+2", 0, "100"), ("12.5", 2, "12.50"), ("0.1234", 2, "0.1234"),
    ("-0.00", 0, "0"), ("-0.00", 2, "0.00"), ("-0.5", 0, "-0.5"), ("1E-7", 0, "0.0000001"),
])
def test_decimal_text_examples(value, min_places, expected):
    assert money.decimal_text(D(value), min_places) == expected
