"""An amount as sent (checked, at its currency's precision) and as shown in a message."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from crm import money
from crm.errors import ValidationError


def parse_amount(value: Any, currency: str, field: str = "amount") -> Decimal:
    """An amount sent (anything: what is not a decimal is refused naming ``field``) at the currency's precision."""
    try:
        amount = money.to_decimal(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(field, _("must be a decimal number")) from exc
    if amount <= 0:
        raise ValidationError.for_field(field, _("must be greater than zero"))
    if amount > money.MAX_AMOUNT:
        raise ValidationError.for_field(field, _("must be at most %(max)s", max=money.MAX_AMOUNT))
    if money.round_money(amount, currency) != amount:
        raise ValidationError.for_field(field, _("at most %(places)s decimals in %(currency)s",
                                                 places=money.currency_precision(currency), currency=currency))
    return money.round_money(amount, currency)


def format_amount(amount: Decimal, currency: str) -> str:
    return f"{money.round_money(amount, currency)} {currency}"
