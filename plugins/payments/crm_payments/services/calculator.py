"""The payment calculator: a percentage of an invoice's total or balance."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from crm import money
from crm.errors import ValidationError
from crm.models import Document

BASES = ("total", "balance")


PRESETS = (Decimal("25"), Decimal("33"), Decimal("50"), Decimal("100"))


def calculate(invoice: Document, basis: str = "balance", percent: Decimal = Decimal("100")) -> dict:
    """``percent`` of the invoice's total or balance, rounded to its currency (HALF_UP),
    with the usual presets."""
    if basis not in BASES:
        raise ValidationError.for_field("basis", _("must be total or balance"))
    percent = money.to_decimal(percent)
    if not (0 < percent <= 100):
        raise ValidationError.for_field("percent", _("must be more than 0 and at most 100"))
    cur = invoice.currency
    base = invoice.grand_total if basis == "total" else max(invoice.balance, money.ZERO)

    def amount_of(p: Decimal) -> Decimal:
        return money.round_money(money.percent_of(base, p), cur)

    amount = amount_of(percent)
    return {
        "invoice_id": invoice.id, "currency": cur, "basis": basis, "percent": percent, "base": base,
        "amount": amount, "grand_total": invoice.grand_total, "received": invoice.received,
        "balance": invoice.balance, "full_balance": max(invoice.balance, money.ZERO),
        "exceeds_balance": amount > invoice.balance,
        "presets": [{"percent": p, "amount": amount_of(p)} for p in PRESETS],
    }
