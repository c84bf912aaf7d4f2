"""Column helpers shared by the core's and the plugins' models.

Money, quantities and rates are stored exactly on both databases (:class:`ExactNumeric`):
``NUMERIC(p, s)`` on PostgreSQL; on SQLite, whose NUMERIC columns keep a value with decimals as
a float (123333332223337.65 came back as ...337.6562), an INTEGER holding the value times
10**s (a 64-bit integer holds every 18-digit value exactly). Sums and comparisons in SQL stay
exact: the stored integers of one scale add and compare like the amounts they hold.
"""
from __future__ import annotations

import datetime as dt
from decimal import Context, Decimal
from typing import Any, cast

from sqlalchemy import BigInteger, ColumnElement, DateTime, Integer, Numeric, func
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.sql import operators
from sqlalchemy.sql.operators import OperatorType
from sqlalchemy.types import TypeDecorator, TypeEngine

from crm.money import scaled_integer

#: wide enough for any value a column could be handed, so that an out-of-range one is reported
#: by the range check rather than by the decimal module
_CONTEXT = Context(prec=80)


class ExactNumeric(TypeDecorator):
    """An exact decimal column: ``NUMERIC(precision, scale)`` on PostgreSQL, an INTEGER of
    ``value * 10**scale`` on SQLite. Python sees :class:`~decimal.Decimal` with ``scale``
    decimals on both (a value with more decimals is rounded half up, as PostgreSQL does).

    SQL expressions on these columns stay right on both databases when they add, subtract,
    compare, ``sum()``, ``min()``/``max()`` or ``coalesce()`` columns of the same scale and
    Python values (which are bound scaled), multiply by a Python ``int`` or an integer column,
    or multiply two of these columns (the product is typed with the sum of their scales; on
    SQLite a product beyond 9.2e18 stored units becomes a float, fine to sort on, refused when
    read). What would silently mix scales on SQLite is refused with a ``TypeError`` when the
    expression is built, on both databases: adding or comparing columns of different scales,
    multiplying by a non-integer, dividing. Do that arithmetic in Python with
    :mod:`crm.money`. Write the amount first (``column * 2``, not ``integer_column * column``),
    and type a literal amount placed in SQL other than through an operator (a ``case()``
    branch, a function argument): ``literal(value, Money)``. ``cast()`` to text shows the
    stored integer on SQLite.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int):
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision, self.scale = precision, scale

    class comparator_factory(TypeDecorator.Comparator, Numeric.Comparator):
        def operate(self, op: OperatorType, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
            for operand in other:
                _check_operation(cast(ExactNumeric, self.expr.type), op, operand)
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op: OperatorType, other: Any, **kwargs: Any) -> ColumnElement[Any]:
            _check_operation(cast(ExactNumeric, self.expr.type), op, other)
            return super().reverse_operate(op, other, **kwargs)

        def _adapt_expression(self, op: OperatorType, other_comparator: TypeEngine.Comparator[Any]
                              ) -> tuple[OperatorType, TypeEngine[Any]]:
            """The type of ``self <op> other``: the column's (same scale, or times an integer), or
            for the product of two of these columns one whose scale is the sum of theirs (on
            SQLite the product of the stored integers is the product's value times 10**(s1 + s2))."""
            other, own = other_comparator.type, cast(ExactNumeric, self.type)
            if op is operators.mul and isinstance(other, ExactNumeric):
                return op, ExactNumeric(own.precision + other.precision, own.scale + other.scale)
            return op, self.type

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def coerce_compared_value(self, op: OperatorType | None, value: Any) -> Any:
        """A Python value beside one of these columns is an amount of the same scale (bound
        scaled), except a factor (``column * 2``), which is a plain integer."""
        return Integer() if op is operators.mul else self

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return self.scaled(value)

    process_literal_param = process_bind_param

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        if not isinstance(value, int):
            raise TypeError(f"an ExactNumeric column read {value!r} ({type(value).__name__}): an SQL expression "
                            f"mixed stored integers with other numbers")
        return Decimal(value).scaleb(-self.scale, _CONTEXT)

    def scaled(self, value: Decimal | int | str) -> int:
        """The integer SQLite stores for ``value`` (``Decimal``, ``int`` or decimal text)."""
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if not number.is_finite():
            raise ValueError(f"{value!r} cannot be stored in NUMERIC({self.precision}, {self.scale})")
        stored = scaled_integer(number, self.scale)
        if abs(stored) >= 10 ** self.precision:
            raise ValueError(f"{value} does not fit in NUMERIC({self.precision}, {self.scale})")
        return stored


def _check_operation(column_type: ExactNumeric, op: OperatorType, other: Any) -> None:
    """Refuse the SQL arithmetic that would mix scales on SQLite (see :class:`ExactNumeric`)."""
    other_type = getattr(other, "type", None)
    if op in (operators.truediv, operators.floordiv, operators.mod):
        raise TypeError("an ExactNumeric column cannot be divided in SQL: compute it in Python (crm.money)")
    if op is operators.mul:
        allowed = (isinstance(other, int) and not isinstance(other, bool)) if other_type is None else (
            isinstance(other_type, ExactNumeric) or other_type._type_affinity is Integer)
        if not allowed:
            raise TypeError(f"an ExactNumeric column can only be multiplied by an integer or another ExactNumeric "
                            f"in SQL, not {other!r}: compute it in Python (crm.money)")
    elif isinstance(other_type, ExactNumeric) and other_type.scale != column_type.scale:
        raise TypeError(f"ExactNumeric columns of scales {column_type.scale} and {other_type.scale} cannot be "
                        f"combined in SQL")


#: Money columns: 18 digits, 4 decimals kept (amounts are rounded to the currency
#: before they are stored; 4 leaves room for unit prices and currencies with 3).
Money = ExactNumeric(18, 4)
#: Quantities keep 3 decimals.
Quantity = ExactNumeric(18, 3)
#: Percentages and tax rates.
Rate = ExactNumeric(9, 4)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Timestamps:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow,
                                                    server_default=func.now())


class Versioned:
    """Optimistic concurrency: ``version`` goes up by one on every UPDATE and a
    stale write fails (SQLAlchemy's version counter)."""

    version: Mapped[int] = mapped_column(nullable=False, default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]  # the model's table


__all__ = ["ExactNumeric", "Money", "Quantity", "Rate", "Decimal", "Timestamps", "Versioned", "utcnow"]
