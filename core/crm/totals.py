"""Document totals engine: quotes, orders and invoices share this pipeline.

Pure functions on dataclasses; all arithmetic goes through :mod:`crm.money`.

Formulas
--------
Per line (line taxes only in ``individual`` mode)::

    gross      = quantity * unit_price
    discount   = gross * discount_percent / 100   or   discount_amount
    net        = gross - discount
    line_tax   = sum(net * rate / 100 for each line tax)
    line_total = net + line_tax

Document::

    subtotal     = sum(net)
    doc_discount = subtotal * discount_percent / 100   or   discount_amount
    taxable      = subtotal - doc_discount
    tax_total    = individual: sum(line_tax) scaled by taxable / subtotal
                   group:      sum(taxable * rate / 100 for each group tax)
    shipping     = shipping_amount
    shipping_tax = sum(shipping * rate / 100 for each shipping tax)
    grand_total  = taxable + tax_total + shipping + shipping_tax + adjustment

Rounding policy
---------------
``round`` below is ROUND_HALF_UP (ties away from zero) to the currency's
precision (2 decimals for EUR/USD, 0 for JPY).  Every amount the engine
returns is already rounded, and every sum is a sum of rounded amounts, so the
screen, the API, the PDF and accounting show the same cents.

* Quantities are rounded to 3 decimals (HALF_UP) first.  Unit prices are
  used exactly as given (they may carry more decimals than the currency).
* Line: ``gross = round(quantity * unit_price)``; ``discount =
  round(gross * percent / 100)`` or ``round(discount_amount)``; ``net =
  gross - discount``; each line tax ``round(net * rate / 100)`` (one amount
  per tax); ``tax`` is the sum of those amounts; ``total = net + tax``.
* Document: ``subtotal = sum(net)`` (exact: a sum of rounded amounts);
  ``discount = round(subtotal * percent / 100)`` or ``round(discount_amount)``;
  ``taxable = subtotal - discount``.
* Individual mode: for each tax id, the rounded line amounts of that tax are
  summed, multiplied by ``taxable / subtotal`` and rounded once
  (``round(sum * taxable / subtotal)``); ``tax = sum`` of those per-tax
  amounts.  When ``subtotal`` is 0 every net, hence every line tax, is 0, so
  the tax is 0 (no division happens).
* Group mode: per group tax ``round(taxable * rate / 100)``; ``tax`` is their
  sum.  Line taxes are ignored in group mode (and group taxes in individual
  mode).
* Shipping: ``shipping = round(shipping_amount)``; per shipping tax
  ``round(shipping * rate / 100)``; ``shipping_tax`` is their sum.
* ``adjustment = round(adjustment)``; it may be negative.
* ``grand_total = taxable + tax + shipping + shipping_tax + adjustment``
  (a sum of rounded amounts, so exact).

Tax breakdown: one :class:`TaxAmount` per tax for the items
(``Totals.tax_breakdown``, sorted by tax id) and per shipping tax
(``Totals.shipping_tax_breakdown``, in input order).  Its ``base`` is the
amount the tax applies to after the document discount: in individual mode
``round(sum of the nets of the lines carrying the tax * taxable / subtotal)``,
in group mode ``taxable``; for shipping, ``shipping``.  The ``amount`` values
of a breakdown always add up to the corresponding total.

Rounding bound
--------------
Let ``u`` be the currency's smallest unit (0.01 EUR) and, in individual mode,
``T`` the number of distinct item taxes and ``A`` the number of (line, tax)
applications.  Against the exact tax computed on the same rounded bases,
``E = sum over lines and their taxes of net * rate / 100 * taxable / subtotal``::

    |tax - E| <= (T + A) * u / 2

Each line tax amount is off by at most u/2, the per-tax sum of ``n_t`` of them
by at most ``n_t * u/2``, the scale factor ``taxable / subtotal`` lies in
[0, 1] so it cannot enlarge that error, and the final per-tax rounding adds
u/2; summing over taxes gives ``(T + sum n_t) * u/2``.  In group mode
(``G`` group taxes) the bound is ``G * u/2``, and for shipping tax
``S * u/2`` with ``S`` shipping taxes.

Validation
----------
Invalid input raises :class:`TotalsError` (a ValueError) naming the field:
``lines.<i>.<name>`` with ``i`` the 0-based position in
``DocumentInput.lines``, ``lines.<i>.taxes.<j>.rate`` (or ``.id`` for a
duplicate), ``discount_percent``, ``discount_amount`` (also when both kinds
are set), ``group_taxes.<j>.rate``/``.id``, ``shipping_amount``,
``shipping_taxes.<j>.rate``/``.id``, ``adjustment``, ``tax_mode``,
``currency``.
Refused: a quantity above ``money.MAX_QUANTITY``, a unit price, discount amount,
shipping amount or adjustment (either sign) above ``money.MAX_AMOUNT``; a
negative quantity (zero is allowed) or unit price, both discount
kinds on one line or on the document, a discount percent outside 0..100, a
discount amount below 0 or above the line gross (line) or the subtotal
(document) -- compared before rounding --, a negative tax rate, the same tax
id twice in one list, one tax id with two different rates, a negative
shipping amount, an unknown tax mode or currency, and values that
:func:`crm.money.to_decimal` refuses (floats, NaN, unparsable strings).

Extensions
----------
:func:`compute` calls ``extend(stage, computation)`` once per stage, in the
order of :data:`STAGES`; the core fixes that order, never the order in which
plugins were registered (``extend`` is the caller's dispatcher):

1. ``"line_columns"`` -- after the built-in line amounts, before the document
   totals (``computation.totals`` is None).  Extensions may add values to
   ``LineResult.custom``; built-in line amounts are frozen and the document
   totals are always computed from the engine's own line results.
2. ``"document_totals"`` -- after the built-in totals.  Extensions may add
   named totals to ``Totals.extra``; extras are informative only, never
   rounded by the engine and never part of ``grand_total``.  To replace a
   built-in total an extension calls ``computation.override_total(name,
   value)``: the value is rounded to the currency and, unless
   ``grand_total`` itself has been overridden, ``grand_total`` is recomputed
   from its five parts.  Once an extension overrides ``grand_total`` the
   engine leaves it alone.  Nothing else is recomputed (overriding
   ``subtotal`` does not change ``taxable``, overriding ``tax`` does not
   change the breakdown).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from flask_babel import gettext as _

from crm import money
from crm.money import ZERO, DecimalInput

__all__ = [
    "INDIVIDUAL",
    "GROUP",
    "TAX_MODES",
    "STAGES",
    "TOTAL_NAMES",
    "TotalsError",
    "TaxRate",
    "LineInput",
    "DocumentInput",
    "TaxAmount",
    "LineResult",
    "Totals",
    "Computation",
    "Extension",
    "compute",
]

INDIVIDUAL = "individual"
GROUP = "group"
TAX_MODES = (INDIVIDUAL, GROUP)

#: Extension stages, in the order :func:`compute` runs them.
STAGES = ("line_columns", "document_totals")

#: Built-in totals, in API order (the keys of :meth:`Totals.as_dict`).
TOTAL_NAMES = (
    "subtotal",
    "discount",
    "taxable",
    "tax",
    "shipping",
    "shipping_tax",
    "adjustment",
    "grand_total",
)

_HUNDRED = Decimal("100")


class TotalsError(ValueError):
    """Invalid document input; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxRate:
    """A tax as applied to a document: ``rate`` is a percentage (21 = 21 %)."""

    id: int
    name: str
    rate: DecimalInput


@dataclass
class LineInput:
    """One document line; ``key`` is returned untouched in the LineResult."""

    quantity: DecimalInput
    unit_price: DecimalInput
    discount_percent: Optional[DecimalInput] = None
    discount_amount: Optional[DecimalInput] = None
    taxes: Sequence[TaxRate] = ()
    key: object = None


@dataclass
class DocumentInput:
    """A quote, order or invoice as the engine sees it.

    ``fields`` carries other document fields for extensions; the core
    ignores it.
    """

    currency: str
    tax_mode: str
    lines: Sequence[LineInput]
    discount_percent: Optional[DecimalInput] = None
    discount_amount: Optional[DecimalInput] = None
    group_taxes: Sequence[TaxRate] = ()
    shipping_amount: DecimalInput = ZERO
    shipping_taxes: Sequence[TaxRate] = ()
    adjustment: DecimalInput = ZERO
    fields: Mapping[str, object] = field(default_factory=dict)


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxAmount:
    """One row of a tax breakdown: ``amount`` of tax ``rate`` % on ``base``."""

    id: int
    name: str
    rate: Decimal
    base: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LineResult:
    """Rounded amounts of one line.

    Frozen: extensions may only add entries to ``custom``.  ``taxes`` maps
    tax id to the rounded amount of that tax on this line (empty in group
    mode).
    """

    key: object
    quantity: Decimal
    unit_price: Decimal
    gross: Decimal
    discount: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal
    taxes: dict[int, Decimal]
    custom: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Totals:
    """Rounded document totals plus the tax breakdowns.

    Frozen: extensions add to ``extra`` or call
    :meth:`Computation.override_total`.
    """

    subtotal: Decimal
    discount: Decimal
    taxable: Decimal
    tax: Decimal
    shipping: Decimal
    shipping_tax: Decimal
    adjustment: Decimal
    grand_total: Decimal
    tax_breakdown: tuple[TaxAmount, ...] = ()
    shipping_tax_breakdown: tuple[TaxAmount, ...] = ()
    #: extensions' informative totals (None: one that could not be computed)
    extra: dict[str, Decimal | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Decimal]:
        """The eight built-in totals keyed as in the API (``TOTAL_NAMES``)."""
        return {name: getattr(self, name) for name in TOTAL_NAMES}


@dataclass
class Computation:
    """What :func:`compute` returns and what extensions receive."""

    document: DocumentInput
    lines: tuple[LineResult, ...]
    totals: Optional[Totals] = None
    overridden: set[str] = field(default_factory=set)

    def override_total(self, name: str, value: DecimalInput) -> None:
        """Replace built-in total ``name`` (stage ``document_totals`` only).

        ``value`` is rounded to the currency.  ``grand_total`` is then
        recomputed from its parts unless it has itself been overridden.
        """
        if self.totals is None:
            raise RuntimeError("totals can only be overridden once they exist")
        if name not in TOTAL_NAMES:
            raise ValueError(f"unknown total {name!r}; expected one of {TOTAL_NAMES}")
        amount = money.round_money(money.to_decimal(value), self.document.currency)
        changes: dict[str, Any] = {name: amount}
        totals = dataclasses.replace(self.totals, **changes)
        self.overridden.add(name)
        if "grand_total" not in self.overridden:
            totals = dataclasses.replace(totals, grand_total=_grand_total(totals))
        self.totals = totals


Extension = Callable[[str, Computation], None]


# --------------------------------------------------------------------------
# Pipeline
# --------------------------------------------------------------------------


def compute(doc: DocumentInput, extend: Optional[Extension] = None) -> Computation:
    """Run the pipeline: lines, ``line_columns``, totals, ``document_totals``."""
    _check_currency(doc.currency)
    if doc.tax_mode not in TAX_MODES:
        raise TotalsError(
            "tax_mode", _("must be one of %(modes)s, got %(mode)s", modes=str(TAX_MODES), mode=repr(doc.tax_mode))
        )
    line_taxes = _LineTaxes() if doc.tax_mode == INDIVIDUAL else None
    lines = []
    for index, line in enumerate(doc.lines):
        try:
            lines.append(_compute_line(line, doc.currency, line_taxes))
        except TotalsError as error:  # the line's field, named from the document
            raise TotalsError(f"lines.{index}.{error.field}", error.message) from None
    computation = Computation(document=doc, lines=tuple(lines))
    if extend is not None:
        extend(STAGES[0], computation)
    computation.totals = _compute_totals(doc, computation.lines)
    if extend is not None:
        extend(STAGES[1], computation)
    return computation


def _compute_line(line: LineInput, currency: str, line_taxes: Optional["_LineTaxes"]) -> LineResult:
    """Rounded amounts of one line (see the module rounding policy); errors name the
    line's field (``quantity``, ``taxes.0.rate``), :func:`compute` adds which line."""
    quantity = _decimal(line.quantity, "quantity")
    _check_not_negative(quantity, "quantity")
    _check_at_most(quantity, money.MAX_QUANTITY, "quantity")
    quantity = money.round_quantity(quantity)
    unit_price = _decimal(line.unit_price, "unit_price")
    _check_not_negative(unit_price, "unit_price")
    _check_at_most(unit_price, money.MAX_AMOUNT, "unit_price")
    gross = money.round_money(money.multiply(quantity, unit_price), currency)
    discount = _discount(line.discount_percent, line.discount_amount, gross, "line gross", currency)
    net = money.subtract(gross, discount)
    taxes: dict[int, Decimal] = {}
    if line_taxes is not None:
        for tax_id, rate in line_taxes(line.taxes):
            taxes[tax_id] = money.round_money(money.percent_of(net, rate), currency)
    tax_amount = _sum(taxes.values(), currency)
    return LineResult(
        key=line.key,
        quantity=quantity,
        unit_price=unit_price,
        gross=gross,
        discount=discount,
        net=net,
        tax=tax_amount,
        total=money.add(net, tax_amount),
        taxes=taxes,
    )


class _LineTaxes:
    """The checked ``(id, rate)`` pairs of the line taxes of one document (individual mode).

    Each tax list is checked once -- rates, a tax twice in the list, one tax id with two
    rates on the document -- at the first line that has it: lines usually share a few
    tax lists (the same objects), and a list that passed once passes again, since every
    rate it records is already recorded."""

    def __init__(self) -> None:
        self.rates: dict[int, Decimal] = {}      # tax id -> its rate on this document
        self._checked: dict[int, tuple[tuple[int, Decimal], ...]] = {}   # id(list) -> pairs
        self._lists: list[Sequence[TaxRate]] = []    # keeps each list alive, so its id() stays its own

    def __call__(self, taxes: Sequence[TaxRate]) -> tuple[tuple[int, Decimal], ...]:
        found = self._checked.get(id(taxes))
        if found is None:
            found = self._checked[id(taxes)] = self._check(taxes)
            self._lists.append(taxes)
        return found

    def _check(self, taxes: Sequence[TaxRate]) -> tuple[tuple[int, Decimal], ...]:
        seen: dict[int, Decimal] = {}
        for position, tax in enumerate(taxes):
            tax_where = f"taxes.{position}"
            rate = _rate(tax, tax_where, seen)
            if self.rates.setdefault(tax.id, rate) != rate:
                raise TotalsError(
                    f"{tax_where}.rate",
                    _(
                        "tax %(tax)s has rate %(rate)s here and %(other)s on another line",
                        tax=repr(tax.id), rate=rate, other=self.rates[tax.id],
                    ),
                )
            seen[tax.id] = rate
        return tuple(seen.items())


def _compute_totals(doc: DocumentInput, lines: Sequence[LineResult]) -> Totals:
    """Rounded document totals from the rounded line amounts."""
    currency = doc.currency
    subtotal = _sum((line.net for line in lines), currency)
    discount = _discount(doc.discount_percent, doc.discount_amount, subtotal, "subtotal", currency)
    taxable = money.subtract(subtotal, discount)
    if doc.tax_mode == INDIVIDUAL:
        breakdown = _individual_taxes(doc, lines, subtotal, taxable)
    else:
        breakdown = _taxes_on(taxable, doc.group_taxes, "group_taxes", currency)
    shipping = _rounded(doc.shipping_amount, "shipping_amount", currency)
    _check_not_negative(shipping, "shipping_amount")
    _check_at_most(shipping, money.MAX_AMOUNT, "shipping_amount")
    adjustment = _rounded(doc.adjustment, "adjustment", currency)
    if money.out_of_bounds(adjustment, money.MAX_AMOUNT):
        raise TotalsError("adjustment", _("must be between %(min)s and %(max)s, got %(value)s",
                                          min=-money.MAX_AMOUNT, max=money.MAX_AMOUNT, value=adjustment))
    shipping_breakdown = _taxes_on(shipping, doc.shipping_taxes, "shipping_taxes", currency)
    totals = Totals(
        subtotal=subtotal,
        discount=discount,
        taxable=taxable,
        tax=_sum((row.amount for row in breakdown), currency),
        shipping=shipping,
        shipping_tax=_sum((row.amount for row in shipping_breakdown), currency),
        adjustment=adjustment,
        grand_total=ZERO,
        tax_breakdown=breakdown,
        shipping_tax_breakdown=shipping_breakdown,
    )
    return dataclasses.replace(totals, grand_total=_grand_total(totals))


def _sum(amounts: Iterable[Decimal], currency: str) -> Decimal:
    """Sum of already rounded amounts, written at the currency's precision
    (so an empty sum is 0.00 in EUR, not 0)."""
    return money.round_money(money.total(amounts), currency)


def _grand_total(totals: Totals) -> Decimal:
    """taxable + tax + shipping + shipping_tax + adjustment."""
    return money.total(
        (totals.taxable, totals.tax, totals.shipping, totals.shipping_tax, totals.adjustment)
    )


def _individual_taxes(
    doc: DocumentInput, lines: Sequence[LineResult], subtotal: Decimal, taxable: Decimal
) -> tuple[TaxAmount, ...]:
    """Per tax id: round(sum of rounded line amounts * taxable / subtotal)."""
    amounts: dict[int, list[Decimal]] = {}   # tax id -> the line amounts of that tax
    bases: dict[int, list[Decimal]] = {}     # tax id -> the nets of the lines carrying it
    for line in lines:
        for tax_id, amount in line.taxes.items():
            if tax_id not in amounts:
                amounts[tax_id], bases[tax_id] = [], []
            amounts[tax_id].append(amount)
            bases[tax_id].append(line.net)
    taxes = _first_tax_by_id(doc)
    currency = doc.currency
    breakdown = []
    for tax_id in sorted(amounts):
        tax = taxes[tax_id]
        breakdown.append(
            TaxAmount(
                id=tax_id,
                name=tax.name,
                rate=_decimal(tax.rate, "rate"),
                base=_scaled(money.total(bases[tax_id]), taxable, subtotal, currency),
                amount=_scaled(money.total(amounts[tax_id]), taxable, subtotal, currency),
            )
        )
    return tuple(breakdown)


def _first_tax_by_id(doc: DocumentInput) -> dict[int, TaxRate]:
    """The first TaxRate seen for each id among the line taxes."""
    taxes: dict[int, TaxRate] = {}
    for line in doc.lines:
        for tax in line.taxes:
            taxes.setdefault(tax.id, tax)
    return taxes


def _scaled(amount: Decimal, taxable: Decimal, subtotal: Decimal, currency: str) -> Decimal:
    """round(amount * taxable / subtotal); 0 when subtotal is 0."""
    if not subtotal:
        return money.round_money(ZERO, currency)
    if taxable == subtotal:
        return amount
    return money.round_money(money.scale(amount, taxable, subtotal), currency)


def _taxes_on(
    base: Decimal, taxes: Sequence[TaxRate], where: str, currency: str
) -> tuple[TaxAmount, ...]:
    """One row per tax: round(base * rate / 100), in input order."""
    seen: dict[int, Decimal] = {}
    rows = []
    for position, tax in enumerate(taxes):
        rate = _rate(tax, f"{where}.{position}", seen)
        seen[tax.id] = rate
        amount = money.round_money(money.percent_of(base, rate), currency)
        rows.append(TaxAmount(id=tax.id, name=tax.name, rate=rate, base=base, amount=amount))
    return tuple(rows)


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


def _discount(
    percent: Optional[DecimalInput],
    amount: Optional[DecimalInput],
    base: Decimal,
    base_name: str,
    currency: str,
) -> Decimal:
    """round(base * percent / 100), round(amount), or 0 when neither is set."""
    if percent is not None and amount is not None:
        raise TotalsError("discount_amount", _("set a discount percent or an amount, not both"))
    if percent is not None:
        value = _decimal(percent, "discount_percent")
        if not ZERO <= value <= _HUNDRED:
            raise TotalsError("discount_percent", _("must be between 0 and 100, got %(value)s", value=value))
        return money.round_money(money.percent_of(base, value), currency)
    if amount is not None:
        value = _decimal(amount, "discount_amount")
        _check_not_negative(value, "discount_amount")
        _check_at_most(value, money.MAX_AMOUNT, "discount_amount")
        if value > base:
            if base_name == "subtotal":
                message = _("%(value)s exceeds the subtotal %(base)s", value=value, base=base)
            else:  # "line gross"
                message = _("%(value)s exceeds the line gross %(base)s", value=value, base=base)
            raise TotalsError("discount_amount", message)
        return money.round_money(value, currency)
    return money.round_money(ZERO, currency)


def _rate(tax: TaxRate, where: str, seen: Mapping[int, Decimal]) -> Decimal:
    """Rate of ``tax``, refusing a negative rate or an id already in ``seen``."""
    rate = _decimal(tax.rate, f"{where}.rate")
    _check_not_negative(rate, f"{where}.rate")
    if tax.id in seen:
        raise TotalsError(f"{where}.id", _("tax %(tax)s appears twice in the same list", tax=repr(tax.id)))
    return rate


def _decimal(value: DecimalInput, field_name: str) -> Decimal:
    """money.to_decimal, reporting failures as TotalsError on ``field_name``."""
    try:
        return money.to_decimal(value)
    except (TypeError, ValueError) as error:
        raise TotalsError(field_name, str(error)) from None


def _rounded(value: DecimalInput, field_name: str, currency: str) -> Decimal:
    """Parse ``value`` and round it to the currency."""
    return money.round_money(_decimal(value, field_name), currency)


def _check_not_negative(value: Decimal, field_name: str) -> None:
    if value < ZERO:
        raise TotalsError(field_name, _("must not be negative, got %(value)s", value=value))


def _check_at_most(value: Decimal, bound: Decimal, field_name: str) -> None:
    if value > bound:
        raise TotalsError(field_name, _("must be at most %(max)s, got %(value)s", max=bound, value=value))


def _check_currency(currency: str) -> None:
    try:
        money.currency_precision(currency)
    except (TypeError, ValueError) as error:
        raise TotalsError("currency", str(error)) from None
