"""Column helpers shared by the core's and the plugins' models."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import DateTime, Numeric, func
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

#: Money columns: 18 digits, 4 decimals kept (amounts are rounded to the currency
#: before they are stored; 4 leaves room for unit prices and currencies with 3).
Money = Numeric(18, 4)
#: Quantities keep 3 decimals.
Quantity = Numeric(18, 3)
#: Percentages and tax rates.
Rate = Numeric(9, 4)


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
        return {"version_id_col": cls.__table__.c.version}


__all__ = ["Money", "Quantity", "Rate", "Decimal", "Timestamps", "Versioned", "utcnow"]
