"""Quotes, sales orders, purchase orders and invoices: create, change, status, totals.

Every function takes the session first and never commits. Amounts are always
computed here, on the server, by :mod:`crm.totals`; nothing a client sends as
a computed amount is trusted.
"""
from __future__ import annotations

import datetime as dt
import operator
from decimal import Decimal
from typing import Any, Callable, NoReturn, Protocol, cast

from flask_babel import gettext as _
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.interfaces import LoaderOption

from crm import money, totals
from crm.context import current_actor_id
from crm.errors import Conflict, NotFound, ValidationError
from crm.labels import doc_type_label, status_label
from crm.models import (
    Account,
    BundleComponent,
    Contact,
    Document,
    DocumentLine,
    Item,
    PriceBook,
    PriceBookEntry,
    RecurringSchedule,
    StatusChange,
    Tax,
    Vendor,
)
from crm.services import hooks
from crm.services.custom_fields import validate_custom
from crm.services.doctypes import DOC_TYPES, DocType
from crm.services.numbering import next_number
from crm.services.records import check_version
from crm.services.taxes import taxes_by_id

ZERO = Decimal("0")

#: header fields that may change in any status
FREE_FIELDS = ("subject", "customer_reference", "description", "terms", "contact_id", "billing_address",
               "shipping_address", "due_date", "valid_until", "invoice_date")
ADDRESS_FIELDS = ("billing_address", "shipping_address")
#: fields that change amounts: only while the document is editable
AMOUNT_FIELDS = ("currency", "conversion_rate", "tax_mode", "discount_percent", "discount_amount",
                 "shipping_amount", "adjustment")
DISPLAY_TYPES = ("section", "subtotal", "note")
MAX_LINES = 1000
#: the longest text a line's plugin column may hold
MAX_LINE_TEXT = 2000


# --- reading --------------------------------------------------------------------------------------

def load_options() -> tuple[LoaderOption, ...]:
    """The lines with their items (in the lines' query; bundles' components: see
    :func:`load_bundle_components`), and the party, whose name every response shows."""
    return (selectinload(Document.lines).joinedload(DocumentLine.item),
            joinedload(Document.account), joinedload(Document.vendor))


def get_document(session: Session, doc_type: str, doc_id: int, *, for_update: bool = False) -> Document:
    """The document, with its lines; ``for_update`` locks its row until the commit."""
    stmt = select(Document).where(Document.id == doc_id, Document.doc_type == doc_type).options(*load_options())
    if doc_type == "sales_order":  # its recurring schedule (the answer shows it) in the same query
        stmt = stmt.add_columns(RecurringSchedule).outerjoin(
            RecurringSchedule, RecurringSchedule.sales_order_id == Document.id)
    if for_update:  # lock, and read the row again even if this session already holds it
        stmt = stmt.with_for_update(of=Document).execution_options(populate_existing=True)
    row: Any = session.execute(stmt).first()  # (document,) or (sales order, its schedule or None)
    if row is None:
        raise NotFound(_("%(doc_type)s %(doc_id)s not found", doc_type=doc_type_label(doc_type).lower(),
                         doc_id=doc_id))
    document = row[0]
    if doc_type == "sales_order":
        setattr(document, _SCHEDULE, row[1])
    load_bundle_components(session, document)
    return document


def load_bundle_components(session: Session, document: Document) -> None:
    """Load the components of the bundles on the document's lines, in one query and
    only when there are bundles (stock needs them; a plain product has none)."""
    bundles = {line.item.id: line.item for line in document.lines
               if line.item is not None and line.item.is_bundle and "components" in inspect(line.item).unloaded}
    if not bundles:
        return
    found: dict[int, list[BundleComponent]] = {bundle_id: [] for bundle_id in bundles}
    for component in session.scalars(select(BundleComponent).where(BundleComponent.bundle_id.in_(list(bundles)))
                                     .order_by(BundleComponent.bundle_id, BundleComponent.component_id)):
        found[component.bundle_id].append(component)
    for bundle_id, components in found.items():
        set_committed_value(bundles[bundle_id], "components", components)


def children(session: Session, document: Document) -> list[Document]:
    """Documents created from this one (orders from a quote, invoices from an order, ...)."""
    return list(session.scalars(select(Document).where(Document.source_id == document.id).order_by(Document.id)))


# --- creating and changing ------------------------------------------------------------------------

def create_document(session: Session, doc_type: str, data: dict, *, source: Document | None = None,
                    status: str | None = None) -> Document:
    """A new document numbered from its sequence, with computed totals."""
    kind = DOC_TYPES[doc_type]
    data = dict(data)
    document = Document(doc_type=doc_type, status=status or kind.initial, source_id=source.id if source else None,
                        source=source, created_by_id=current_actor_id(), updated_by_id=current_actor_id(), lines=[],
                        received=Decimal("0"), **_new_document_defaults(session))
    _set_party(session, kind, document, data)
    _fill_addresses(session, document, data, new=True)
    _set_header(session, document, data, amounts=True)
    _set_lines(session, kind, document, data.get("lines") or [], price_book_id=data.get("price_book_id"))
    if doc_type == "invoice" and "received" in data:
        set_received_by_hand(session, document, data["received"])
    document.number = next_number(session, doc_type)
    recompute(session, document)
    hooks.call("crm_document_validate", session=session, document=document, data=data)
    document.history.append(StatusChange(from_status=None, to_status=document.status, user_id=current_actor_id()))
    session.add(document)
    session.flush()
    if doc_type == "invoice" and document.received:
        refresh_balance(session, document)  # its status follows what was received
    _set_recurring(session, document, data)
    if doc_type == "sales_order" and not hasattr(document, _SCHEDULE):
        setattr(document, _SCHEDULE, None)  # a new order has no schedule: nothing to read back
    hooks.call("crm_record_saved", session=session, entity=kind.path, record=document, created=True)
    return document


def _set_recurring(session: Session, document: Document, data: dict) -> None:
    if "recurring" not in data:
        return
    if document.doc_type != "sales_order":
        raise ValidationError.for_field("recurring", _("only sales orders invoice on a schedule"))
    from crm.services.recurring import set_schedule
    setattr(document, _SCHEDULE, set_schedule(session, document, data["recurring"]))


#: the sales order's schedule (or None) as :func:`get_document` read it with the order
_SCHEDULE = "_crm_recurring_schedule"


def recurring_schedule(session: Session, document: Document) -> RecurringSchedule | None:
    """The sales order's recurring schedule, or None (read with the order by :func:`get_document`,
    else from the database)."""
    if document.doc_type != "sales_order":
        return None
    if hasattr(document, _SCHEDULE):
        return getattr(document, _SCHEDULE)
    return session.get(RecurringSchedule, document.id)


def _new_document_defaults(session: Session) -> dict:
    from crm.services.settings import get_setting
    return {"currency": get_setting(session, "default_currency") or "EUR", "tax_mode": "individual",
            "conversion_rate": Decimal("1"), "shipping_amount": Decimal("0"), "adjustment": Decimal("0"),
            "group_taxes": [], "shipping_taxes": [], "custom": {}}


def update_document(session: Session, document: Document, data: dict) -> Document:
    """Apply a PATCH: header fields, lines (replacing the list), then a status change if asked."""
    kind = DOC_TYPES[document.doc_type]
    data = dict(data)
    check_version(document, data.pop("version", None))
    new_status = data.pop("status", None)
    changes_amounts = any(k in data for k in AMOUNT_FIELDS + ("lines", "group_tax_ids", "shipping_tax_ids",
                                                               "account_id", "vendor_id"))
    if changes_amounts and document.status not in kind.editable:
        raise Conflict(_("lines and amounts of a %(doc_type)s in status %(status)s cannot change; "
                         "they can in: %(statuses)s", doc_type=doc_type_label(kind.name).lower(),
                         status=status_label(document.status),
                         statuses=", ".join(status_label(s) for s in kind.editable)), code="not_editable")
    if "account_id" in data or "vendor_id" in data:
        _set_party(session, kind, document, data)
    _fill_addresses(session, document, data, new=False)
    _set_header(session, document, data, amounts=changes_amounts)
    if "lines" in data:
        _set_lines(session, kind, document, data["lines"] or [], price_book_id=data.get("price_book_id"))
    if "received" in data:
        set_received_by_hand(session, document, data["received"])
    _set_recurring(session, document, data)
    changes_status = new_status is not None and new_status != document.status
    if not changes_status:  # else change_status stamps them, in the same UPDATE as the status
        document.updated_by_id = current_actor_id()
        document.updated_at = dt.datetime.now(dt.timezone.utc)
    recompute(session, document)
    hooks.call("crm_document_validate", session=session, document=document, data=data)
    session.flush()
    if changes_status:
        change_status(session, document, new_status)
    hooks.call("crm_record_saved", session=session, entity=kind.path, record=document, created=False)
    return document


def delete_document(session: Session, document: Document) -> None:
    """Only a document that nothing depends on: still in its first status, no children, no stock moved."""
    kind = DOC_TYPES[document.doc_type]
    if document.status != kind.initial:
        raise Conflict(_("only a %(doc_type)s in status %(status)s can be deleted; cancel or reject it instead",
                         doc_type=doc_type_label(kind.name).lower(), status=status_label(kind.initial)))
    if children(session, document):
        raise Conflict(_("%(number)s has documents created from it; it cannot be deleted", number=document.number))
    if any(line.qty_shipped or line.qty_received or line.qty_invoiced or line.qty_reserved
           for line in document.lines):
        raise Conflict(_("%(number)s has stock or invoicing recorded; it cannot be deleted", number=document.number))
    from crm.services import orders
    orders.before_delete(session, document)
    doc_id = document.id
    session.delete(document)
    session.flush()
    hooks.call("crm_record_deleted", session=session, entity=kind.path, record_id=doc_id)


# --- status ---------------------------------------------------------------------------------------

def change_status(session: Session, document: Document, new_status: str, *, note: str = "",
                  system: bool = False) -> Document:
    """Move to ``new_status`` if the document's rules allow it, with its side
    effects (stock) in the same transaction, and record it in the history."""
    kind = DOC_TYPES[document.doc_type]
    old = document.status
    if new_status not in kind.statuses:
        raise ValidationError.for_field("status", _("must be one of: %(statuses)s",
                                                    statuses=", ".join(status_label(s) for s in kind.statuses)))
    if new_status == old:
        return document
    if not system:
        if new_status in kind.automatic:
            raise Conflict(_("status %(status)s is set by payments, not by hand", status=status_label(new_status)),
                           {"status": [_("automatic")]}, code="invalid_transition")
        allowed = kind.allowed_from(old)
        if new_status not in allowed:
            where = ", ".join(status_label(s) for s in allowed) if allowed else _("none (it is final)")
            raise Conflict(_("a %(doc_type)s cannot go from %(old)s to %(new)s; allowed: %(allowed)s",
                             doc_type=doc_type_label(kind.name).lower(), old=status_label(old),
                             new=status_label(new_status), allowed=where),
                           {"status": [_("allowed from %(old)s: %(allowed)s", old=status_label(old), allowed=where)]},
                           code="invalid_transition")
    from crm.services import orders
    orders.on_status_change(session, document, old, new_status)
    document.status = new_status
    if document.doc_type == "invoice":
        _set_balance(document)
    document.updated_by_id = current_actor_id()
    document.updated_at = dt.datetime.now(dt.timezone.utc)
    _add_history(session, document, StatusChange(from_status=old, to_status=new_status, user_id=current_actor_id(),
                                                 note=note[:200]))
    session.flush()
    hooks.call("crm_document_status_changed", session=session, document=document, old_status=old,
               new_status=new_status)
    return document


def _add_history(session: Session, document: Document, change: StatusChange) -> None:
    """Append to the status history without reading it first (a stored document
    whose history is not loaded gets the row directly; loading it later shows it)."""
    if document.id is not None and "history" in inspect(document).unloaded:
        change.document_id = document.id
        session.add(change)
    else:
        document.history.append(change)


# --- invoices: received and balance ---------------------------------------------------------------

def refresh_balance(session: Session, invoice: Document) -> None:
    """Recompute received (from a plugin, when one keeps payments), balance, and the
    Paid / Partially Paid status. Called after totals or payments change."""
    answer = hooks.call_first("crm_invoice_received", session=session, invoice=invoice)
    if answer is not None:
        invoice.received = money.round_money(answer, invoice.currency)
    _set_balance(invoice)
    if invoice.id is not None and invoice.status not in ("Cancelled", "Credit Invoice"):
        _payment_status(session, invoice)


def owed(invoice: Document) -> Decimal:
    """What the customer still owes on ``invoice`` (its balance): nothing on a cancelled one."""
    left = ZERO if invoice.status == "Cancelled" else invoice.grand_total - invoice.received
    return money.round_money(left, invoice.currency)


def _set_balance(invoice: Document) -> None:
    invoice.balance = owed(invoice)


def _payment_status(session: Session, invoice: Document) -> None:
    if invoice.received > 0 and invoice.received >= invoice.grand_total:
        wanted = "Paid"
    elif invoice.received > 0:
        wanted = "Partially Paid"
    else:
        wanted = _status_before_payments(invoice)
    if wanted != invoice.status:
        became_paid = wanted == "Paid"
        change_status(session, invoice, wanted, note="payments", system=True)
        if became_paid:
            hooks.call("crm_invoice_paid", session=session, invoice=invoice)


def _status_before_payments(invoice: Document) -> str:
    for change in reversed(invoice.history):
        if change.to_status not in ("Paid", "Partially Paid"):
            return change.to_status
    return invoice.status if invoice.status not in ("Paid", "Partially Paid") else "Approved"


def set_received_by_hand(session: Session, invoice: Document, received: Decimal) -> None:
    if invoice.doc_type != "invoice":
        raise ValidationError.for_field("received", _("only invoices have a received amount"))
    if hooks.call_first("crm_invoice_received", session=session, invoice=invoice) is not None:
        raise ValidationError.for_field("received", _("is kept by the payments plugin; record a payment instead"))
    invoice.received = money.round_money(received, invoice.currency)


# --- totals ---------------------------------------------------------------------------------------

def recompute(session: Session, document: Document) -> totals.Computation:
    """Run the totals engine (with the plugins' stages) and store the rounded amounts;
    a document whose amounts would pass ``money.MAX_TOTAL`` is refused (:func:`check_bounds`)."""
    result = computation(session, document)
    check_bounds(document, result)
    # only amounts that changed are set: an unchanged line stays clean, so the flush
    # (and the audit listener) have nothing to look at (Decimal("1.50") == Decimal("1.5000"))
    for r in result.lines:
        line = cast(DocumentLine, r.key)   # computation() keys the engine's lines by the document's
        gross, discount, net, tax, total, custom = _line_amounts(line)
        if gross != r.gross:
            line.gross = r.gross
        if discount != r.discount:
            line.discount = r.discount
        if net != r.net:
            line.net = r.net
        if tax != r.tax:
            line.tax = r.tax
        if total != r.total:
            line.total = r.total
        if r.custom:
            stored = custom or {}
            values = _jsonable(r.custom)
            if not values.items() <= stored.items():   # a value is new or changed
                line.custom = {**stored, **values}
    t = result.totals
    assert t is not None  # the engine computed them
    for column, value in (("subtotal", t.subtotal), ("discount_total", t.discount), ("taxable", t.taxable),
                          ("tax_total", t.tax), ("shipping", t.shipping), ("shipping_tax", t.shipping_tax),
                          ("adjustment", t.adjustment), ("grand_total", t.grand_total),
                          ("extra_totals", _jsonable(t.extra))):
        if getattr(document, column) != value:
            setattr(document, column, value)
    if document.doc_type == "invoice":
        refresh_balance(session, document)
    return result


#: the inputs that make up the grand total, in its order: (built-in total, the input it comes from)
_GRAND_TOTAL_PARTS = (("taxable", "lines"), ("tax", None), ("shipping", "shipping_amount"),
                      ("shipping_tax", "shipping_tax_ids"), ("adjustment", "adjustment"))


def check_bounds(document: Document, result: totals.Computation) -> None:
    """Every amount of the engine's ``result`` -- each line's gross, net, tax and total, each
    document total -- is within ``±money.MAX_TOTAL``, so it fits its column with room to spare.
    Otherwise a ValidationError names what pushes it over: a line's quantity and unit price,
    ``lines`` (the lines together), ``group_tax_ids``, ``shipping_amount``,
    ``shipping_tax_ids`` or ``adjustment``."""
    limit = money.MAX_TOTAL
    for r in result.lines:
        for amount in (r.gross, r.net, r.tax, r.total):
            if money.out_of_bounds(amount, limit):
                where = f"lines.{document.lines.index(cast(DocumentLine, r.key))}"
                message = _("makes the line's amount %(amount)s, more than the largest amount %(limit)s",
                            amount=amount, limit=limit)
                raise ValidationError(f"{where}: {message}", {f"{where}.quantity": [message],
                                                              f"{where}.unit_price": [message]})
    t = result.totals
    running = money.ZERO
    for name, field in _GRAND_TOTAL_PARTS:
        field = field or ("lines" if document.tax_mode == "individual" else "group_tax_ids")
        value = getattr(t, name)
        running = money.add(running, value)
        for amount in (value, running):
            if money.out_of_bounds(amount, limit):
                _too_large(field, amount, limit)
    for name in ("subtotal", "discount", "grand_total"):   # a plugin may have replaced any total
        if money.out_of_bounds(getattr(t, name), limit):
            _too_large("lines", getattr(t, name), limit)


def _too_large(field: str, amount: Decimal, limit: Decimal) -> NoReturn:
    raise ValidationError.for_field(field, _("makes the document's total %(amount)s, more than the largest "
                                             "amount %(limit)s", amount=amount, limit=limit))


def computation(session: Session, document: Document) -> totals.Computation:
    """The engine's full result (lines, totals, tax breakdown) for ``document``, with the
    plugins' stages; changes nothing (the PDF reads it; :func:`recompute` stores it)."""
    all_lines = document.lines
    tax_mode = document.tax_mode
    rates = _RateCache() if tax_mode == "individual" else None
    item_lines, line_inputs = [], []
    for line in all_lines:
        display_type, quantity, unit_price, discount_percent, discount_amount, taxes = _line_inputs(line)
        if display_type is None:
            item_lines.append(line)
            line_inputs.append(totals.LineInput(
                quantity=quantity, unit_price=unit_price, discount_percent=discount_percent,
                discount_amount=discount_amount, taxes=rates(taxes) if rates is not None else (), key=line))
    doc_input = totals.DocumentInput(
        currency=document.currency,
        tax_mode=tax_mode,
        lines=line_inputs,
        discount_percent=document.discount_percent,
        discount_amount=document.discount_amount,
        group_taxes=_rates(document.group_taxes) if tax_mode == "group" else (),
        shipping_amount=document.shipping_amount or Decimal("0"),
        shipping_taxes=_rates(document.shipping_taxes),
        adjustment=document.adjustment or Decimal("0"),
        fields={"doc_type": document.doc_type, "custom": document.custom or {}},
    )

    def extend(stage: str, running: totals.Computation) -> None:
        hooks.call("crm_totals_stage", stage=stage, computation=running, document=document, session=session)

    try:
        result = totals.compute(doc_input, extend)
    except totals.TotalsError as exc:
        field = exc.field
        parts = field.split(".")
        if parts[0] == "lines" and len(parts) > 1 and money.is_digits(parts[1]):  # its position among all lines
            parts[1] = str(next(index for index, line in enumerate(all_lines)
                                if line is item_lines[int(parts[1])]))
            field = ".".join(parts)
        raise ValidationError.for_field(field, exc.message) from None
    return result


def _line_reader(*names: str) -> Callable[[DocumentLine], tuple]:
    """A function giving ``tuple(getattr(line, name) for name in names)`` of a line, read
    straight from its loaded state when every one is loaded (the ORM's attribute access
    costs ~4x a dict read, and recomputing a 500-line document makes thousands), else
    through the ORM (an expired attribute, one never set on a new line)."""
    from_state = operator.itemgetter(*names)

    def read(line: DocumentLine) -> tuple:
        try:
            return from_state(line.__dict__)
        except KeyError:
            return tuple(getattr(line, name) for name in names)
    return read


#: what :func:`computation` reads of a line, and what :func:`recompute` compares before storing
_line_inputs = _line_reader("display_type", "quantity", "unit_price", "discount_percent", "discount_amount",
                            "taxes")
_line_amounts = _line_reader("gross", "discount", "net", "tax", "total", "custom")


def _rates(snapshots: list[dict] | None) -> tuple[totals.TaxRate, ...]:
    return tuple(totals.TaxRate(id=t["id"], name=t["name"], rate=Decimal(t["rate"])) for t in snapshots or ())


class _RateCache:
    """:func:`_rates` for many lines: lines usually share a few tax snapshots, each
    turned into TaxRates once (the same tuple, which the engine then checks once).
    Consecutive lines mostly carry the same snapshot: it is compared first."""

    def __init__(self) -> None:
        self._seen: dict[tuple, tuple[totals.TaxRate, ...]] = {}
        self._last: tuple[list, tuple[totals.TaxRate, ...]] = ([], ())

    def __call__(self, snapshots: list[dict] | None) -> tuple[totals.TaxRate, ...]:
        if not snapshots:
            return ()
        if snapshots == self._last[0]:
            return self._last[1]
        key = tuple((t["id"], t["name"], t["rate"]) for t in snapshots)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = _rates(snapshots)
        self._last = (snapshots, found)
        return found


def _snapshot(taxes: list[Tax]) -> list[dict]:
    return [{"id": t.id, "name": t.name, "rate": money.decimal_text(t.rate)} for t in taxes]


def _jsonable(values: dict) -> dict:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


# --- building blocks ------------------------------------------------------------------------------

def _set_party(session: Session, kind: DocType, document: Document, data: dict) -> None:
    if kind.party == "vendor":
        if "account_id" in data and data["account_id"] is not None:
            raise ValidationError.for_field("account_id", _("a purchase order has a vendor_id, not an account"))
        vendor_id = data.get("vendor_id", document.vendor_id)
        if vendor_id is None:
            raise ValidationError.for_field("vendor_id", _("is required"))
        vendor = session.get(Vendor, vendor_id)
        if vendor is None:
            raise ValidationError.for_field("vendor_id", _("unknown vendor %(vendor_id)s", vendor_id=vendor_id))
        document.vendor_id, document.vendor = vendor.id, vendor
        return
    if "vendor_id" in data and data["vendor_id"] is not None:
        raise ValidationError.for_field("vendor_id", _("a %(doc_type)s has an account_id, not a vendor",
                                                       doc_type=doc_type_label(kind.name).lower()))
    account_id = data.get("account_id", document.account_id)
    if account_id is None:
        raise ValidationError.for_field("account_id", _("is required"))
    account = session.get(Account, account_id)
    if account is None:
        raise ValidationError.for_field("account_id", _("unknown account %(account_id)s", account_id=account_id))
    document.account_id, document.account = account.id, account


# --- what a document takes from its party ---------------------------------------------------------

def is_blank(address: dict | None) -> bool:
    """An address with nothing filled in (missing, empty, or only blank parts)."""
    return not any(str(value).strip() for value in (address or {}).values() if value is not None)


def party_addresses(party: Account | Vendor) -> dict:
    """The addresses a document takes from its party when saved without its own: an
    account's billing and shipping address (its billing one when it has no shipping one); a
    vendor's address as a purchase order's billing address (its shipping address is ours)."""
    if isinstance(party, Vendor):
        return {"billing_address": dict(party.address or {})}
    billing = dict(party.billing_address or {})
    shipping = party.shipping_address
    return {"billing_address": billing, "shipping_address": billing if is_blank(shipping) else dict(shipping)}


def _fill_addresses(session: Session, document: Document, data: dict, *, new: bool) -> None:
    """An address left blank takes the party's (:func:`party_addresses`): on a new document
    when missing or blank, on a change when sent blank (one not sent stays as it is)."""
    wanted = [key for key in ADDRESS_FIELDS if is_blank(data.get(key)) and (new or key in data)]
    if not wanted:
        return
    party = session.get(Vendor, document.vendor_id) if document.doc_type == "purchase_order" \
        else session.get(Account, document.account_id)
    if party is None:
        return   # an unknown party is refused by the document's validation
    defaults = party_addresses(party)
    for key in wanted:
        if key in defaults:
            data[key] = dict(defaults[key])


def contact_account_id(doc_type: str, party_id: int | None) -> int | None:
    """The account a document's contact must belong to: the document's account; on a purchase
    order (vendors have no contacts of their own), none: a contact linked to no account."""
    return None if DOC_TYPES[doc_type].party == "vendor" else party_id


def contacts_for(session: Session, doc_type: str, party_id: int | None) -> list[Contact]:
    """The active contacts a document of ``doc_type`` for this party may name, by name."""
    if party_id is None and DOC_TYPES[doc_type].party == "account":
        return []
    account_id = contact_account_id(doc_type, party_id)
    where = Contact.account_id.is_(None) if account_id is None else Contact.account_id == account_id
    return list(session.scalars(select(Contact).where(where, Contact.active.is_(True))
                                .order_by(Contact.last_name, Contact.first_name, Contact.id)))


def _check_contact(session: Session, document: Document) -> None:
    contact = session.get(Contact, document.contact_id)
    if contact is None:
        raise ValidationError.for_field("contact_id", _("unknown contact %(contact_id)s",
                                                        contact_id=document.contact_id))
    if contact.account_id == contact_account_id(document.doc_type, document.account_id):
        return
    if document.doc_type == "purchase_order":
        message = _("%(name)s is a contact of a customer account; a purchase order takes a contact "
                    "linked to no account", name=contact.full_name)
    else:
        account = session.get(Account, document.account_id)
        message = _("%(name)s is not a contact of %(account)s", name=contact.full_name,
                    account=account.name if account else document.account_id)
    raise ValidationError.for_field("contact_id", message)


def _set_header(session: Session, document: Document, data: dict, *, amounts: bool) -> None:
    for key in FREE_FIELDS + (AMOUNT_FIELDS if amounts else ()):
        if key in data:
            setattr(document, key, data[key])
    if document.contact_id is not None and any(key in data for key in ("contact_id", "account_id", "vendor_id")):
        _check_contact(session, document)
    if amounts and data.get("currency") is not None:
        try:
            money.currency_precision(data["currency"])
        except ValueError:
            raise ValidationError.for_field("currency", _("unknown currency code")) from None
    if data.get("discount_percent") is not None and data.get("discount_amount") is not None:
        raise ValidationError.for_field("discount_amount", _("give a discount percent or an amount, not both"))
    if amounts and "discount_percent" in data and data["discount_percent"] is not None:
        document.discount_amount = None
    if amounts and "discount_amount" in data and data["discount_amount"] is not None:
        document.discount_percent = None
    if "group_tax_ids" in data:
        document.group_taxes = _snapshot(taxes_by_id(session, data["group_tax_ids"], "group_tax_ids"))
    if "shipping_tax_ids" in data:
        document.shipping_taxes = _snapshot(taxes_by_id(session, data["shipping_tax_ids"], "shipping_tax_ids",
                                                        applies="shipping"))
    if "custom" in data:
        document.custom = validate_custom(session, "documents", data["custom"], current=document.custom)
    elif document.id is None:
        document.custom = validate_custom(session, "documents", {}, current={})


def _set_lines(session: Session, kind: DocType, document: Document, lines_data: list[dict],
               *, price_book_id: int | None = None) -> None:
    """Replace the document's lines; a line sent with its ``id`` keeps it."""
    if len(lines_data) > MAX_LINES:
        raise ValidationError.for_field("lines", _("at most %(count)s lines", count=MAX_LINES))
    items = _items_for(session, lines_data)
    tax_ids = {t for ld in lines_data for t in (ld.get("tax_ids") or [])}
    taxes = {t.id: t for t in session.scalars(select(Tax).where(Tax.id.in_(tax_ids)))} if tax_ids else {}
    book = price_book_prices(session, price_book_id, list(items))
    existing = {line.id: line for line in document.lines if line.id is not None}
    custom_keys = None
    new_lines = []
    for index, line_data in enumerate(lines_data):
        where = f"lines.{index}"
        line_id = line_data.get("id")
        if line_id is not None:
            line = existing.pop(line_id, None)
            if line is None:
                raise ValidationError.for_field(f"{where}.id", _("line %(line_id)s is not a line of this document",
                                                                 line_id=line_id))
        else:
            line = DocumentLine()
        _fill_line(line, line_data, where, kind, items, taxes, book, document.tax_mode, is_new=line_id is None)
        if line_data.get("custom") is not None:
            if custom_keys is None:
                custom_keys = line_custom_keys(session, kind.name, document)
            line.custom = _line_custom(custom_keys, line.custom, line_data["custom"], where)
        line.position = index
        new_lines.append(line)
    document.lines = new_lines


def line_custom_keys(session: Session, doc_type: str, document: Document) -> dict[str, bool]:
    """The keys the lines of ``document`` may carry in ``custom``, from the plugins: the keys
    of their line columns (``crm_line_columns``) and the others they keep
    (``crm_line_custom_keys``); key -> True when a client may set it, False when the plugin
    computes it."""
    keys: dict[str, bool] = {}
    shown = document if document.id is not None else None
    for columns in hooks.call("crm_line_columns", doc_type=doc_type, session=session, document=shown):
        for column in columns or ():
            keys[column.key] = keys.get(column.key, False) or bool(column.editable)
    for answer in hooks.call("crm_line_custom_keys", doc_type=doc_type, session=session, document=shown):
        for key, editable in (answer or {}).items():
            keys[key] = keys.get(key, False) or bool(editable)
    return keys


def _line_custom(keys: dict[str, bool], current: dict | None, sent: dict, where: str) -> dict:
    """The line's new ``custom``: ``current`` with the values ``sent``, checked like a record's
    custom fields (:func:`crm.services.custom_fields.validate_custom`). A key a client may set
    takes text of at most ``MAX_LINE_TEXT`` characters, a whole number, true/false or null (its plugin
    checks the type in ``crm_document_validate``); what is sent for a computed key is ignored;
    any other key is refused unless sent back unchanged, or null to clear it (a value left by
    a column since removed)."""
    result = dict(current or {})
    for key, value in sent.items():
        here = f"{where}.custom.{key}"
        editable = keys.get(key)
        if editable:
            result[key] = _line_value(value, here)
        elif editable is False:
            continue
        elif key in result and value is None:
            del result[key]
        elif key not in result or value != result[key]:
            raise ValidationError.for_field(here, _("no line column has this key") if key not in result else
                                            _("this line column was removed: send its value unchanged or null"))
    return result


def _line_value(value: Any, where: str) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_LINE_TEXT:
            raise ValidationError.for_field(where, _("must be at most %(count)s characters", count=MAX_LINE_TEXT))
        return value
    if value is None or isinstance(value, (bool, int, Decimal)):   # never a float: decimals are sent as text
        return value
    raise ValidationError.for_field(where, _("must be text, a whole number, true or false, or null (a decimal "
                                             "as text: \"12.50\")"))


def _items_for(session: Session, lines_data: list[dict]) -> dict[int, Item]:
    ids = {ld["item_id"] for ld in lines_data if ld.get("item_id") is not None}
    if not ids:
        return {}
    return {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(ids)).options(selectinload(Item.taxes)))}


def usable_price_book(session: Session, price_book_id: int) -> PriceBook:
    """The price book new lines may take their prices from; refuses an unknown or inactive one
    (``price_book_id``)."""
    book = session.get(PriceBook, price_book_id)
    if book is None:
        raise ValidationError.for_field("price_book_id", _("unknown price book %(price_book_id)s",
                                                             price_book_id=price_book_id))
    if not book.active:
        raise ValidationError.for_field("price_book_id", _("price book %(name)s is inactive", name=repr(book.name)))
    return book


def price_book_prices(session: Session, price_book_id: int | None, item_ids: list[int]) -> dict[int, Decimal]:
    """The list prices of these items in the price book (those it has); refuses an unknown
    or inactive price book (``price_book_id``)."""
    if price_book_id is None or not item_ids:
        return {}
    usable_price_book(session, price_book_id)
    rows = session.execute(select(PriceBookEntry.item_id, PriceBookEntry.list_price)
                           .where(PriceBookEntry.price_book_id == price_book_id,
                                  PriceBookEntry.item_id.in_(item_ids)))
    return dict(rows.all())


def _fill_line(line: DocumentLine, data: dict, where: str, kind: DocType, items: dict[int, Item], taxes: dict[int, Tax],
               book: dict[int, Decimal], tax_mode: str, *, is_new: bool) -> None:
    if data.get("display_type") is not None:
        _fill_display_line(line, data, where)
        return
    item = _line_item(line, data, where, items, is_new=is_new)
    changed_item = line.item_id != item.id
    line.display_type, line.item_id, line.item = None, item.id, item
    if "quantity" in data or is_new:
        line.quantity = data.get("quantity", Decimal("1"))
    if data.get("unit_price") is not None:
        line.unit_price = data["unit_price"]
    elif is_new or changed_item:
        line.unit_price = default_price(kind.name, item, book)
    percent, amount = data.get("discount_percent"), data.get("discount_amount")
    if percent is not None and amount is not None:
        raise ValidationError.for_field(f"{where}.discount_amount",
                                        _("give a discount percent or an amount, not both"))
    if "discount_percent" in data or "discount_amount" in data or is_new:
        line.discount_percent, line.discount_amount = percent, amount
    if data.get("tax_ids") is not None:
        line.taxes = _snapshot(_chosen_taxes(data["tax_ids"], taxes, where))
    elif is_new or changed_item:
        line.taxes = _snapshot([t for t in item.taxes if t.active]) if tax_mode == "individual" else []
    for key in ("description", "comment"):
        if key in data:
            setattr(line, key, data[key] or "")


def _fill_display_line(line: DocumentLine, data: dict, where: str) -> None:
    """A section, note or subtotal line: no item, no amounts."""
    display_type = data["display_type"]
    if display_type not in DISPLAY_TYPES:
        raise ValidationError.for_field(f"{where}.display_type", _("must be one of %(choices)s",
                                                                   choices=", ".join(DISPLAY_TYPES)))
    line.display_type, line.item_id = display_type, None
    line.description = data.get("description", line.description or "")
    line.quantity, line.unit_price, line.taxes = Decimal("0"), Decimal("0"), []
    line.discount_percent = line.discount_amount = None
    line.custom = line.custom or {}   # values sent: see _set_lines


def _line_item(line: DocumentLine, data: dict, where: str, items: dict, *, is_new: bool) -> Item:
    """The item an item line names (the one it has when ``item_id`` is not sent); a new line
    takes only an active one."""
    item_id = data.get("item_id", line.item_id)
    if item_id is None:
        raise ValidationError.for_field(f"{where}.item_id", _("is required"))
    item = items.get(item_id) if item_id in items else (line.item if line.item_id == item_id else None)
    if item is None:
        raise ValidationError.for_field(f"{where}.item_id", _("unknown item %(item_id)s", item_id=item_id))
    if is_new and not item.active:
        raise ValidationError.for_field(f"{where}.item_id", _("item %(name)s is inactive", name=repr(item.name)))
    return item


def _chosen_taxes(tax_ids: list[int], taxes: dict, where: str) -> list[Tax]:
    """The taxes a line's ``tax_ids`` name, each known and listed once."""
    chosen = []
    for pos, tax_id in enumerate(tax_ids):
        tax = taxes.get(tax_id)
        if tax is None:
            raise ValidationError.for_field(f"{where}.tax_ids.{pos}", _("unknown tax id %(tax_id)s", tax_id=tax_id))
        chosen.append(tax)
    if len({t.id for t in chosen}) != len(chosen):
        raise ValidationError.for_field(f"{where}.tax_ids", _("the same tax is listed twice"))
    return chosen


class PricedItem(Protocol):
    """What :func:`default_price` reads of an item: a :class:`~crm.models.Item`, or a row with its fields."""

    @property
    def id(self) -> int: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def purchase_cost(self) -> Decimal: ...


def default_price(doc_type: str, item: PricedItem, book: dict[int, Decimal]) -> Decimal:
    """The unit price a new line of ``item`` gets: its purchase cost on a purchase order, else
    its list price in the chosen price book (``book``: :func:`price_book_prices`), else its
    unit price."""
    if doc_type == "purchase_order":
        return item.purchase_cost
    return book.get(item.id, item.unit_price)


# --- conversions ----------------------------------------------------------------------------------

def _copy_header(source: Document) -> dict:
    return {
        "subject": source.subject, "customer_reference": source.customer_reference,
        "contact_id": source.contact_id, "currency": source.currency,
        "conversion_rate": source.conversion_rate, "tax_mode": source.tax_mode,
        "billing_address": dict(source.billing_address or {}), "shipping_address": dict(source.shipping_address or {}),
        "terms": source.terms, "description": source.description,
        "discount_percent": source.discount_percent, "discount_amount": source.discount_amount,
        "shipping_amount": source.shipping_amount, "adjustment": source.adjustment,
        "custom": {},
    }


def _copy_lines(target: Document, source: Document, quantities: dict[int, Decimal] | None = None,
                *, unit_price_from: Callable[[DocumentLine], Decimal] | None = None) -> None:
    """Copy the source's lines (all, or ``quantities`` per source line id) onto ``target``."""
    lines: list[DocumentLine] = []
    for line in source.lines:
        if quantities is not None and line.display_type is None and line.id not in quantities:
            continue
        copy = DocumentLine(
            position=len(lines), display_type=line.display_type, item_id=line.item_id, item=line.item,
            source_line_id=line.id, description=line.description, comment=line.comment,
            quantity=quantities[line.id] if quantities is not None and line.display_type is None else line.quantity,
            unit_price=unit_price_from(line) if unit_price_from and line.display_type is None else line.unit_price,
            discount_percent=line.discount_percent, discount_amount=line.discount_amount,
            taxes=list(line.taxes or []), custom=dict(line.custom or {}))
        lines.append(copy)
    while lines and lines[-1].display_type in ("section", "subtotal"):
        lines.pop()  # a section left without lines after a partial copy
    target.lines = lines


def _new_from(session: Session, doc_type: str, source: Document, header: dict, *, status: str | None = None,
              quantities: dict[int, Decimal] | None = None,
              unit_price_from: Callable[[DocumentLine], Decimal] | None = None) -> Document:
    kind = DOC_TYPES[doc_type]
    document = Document(doc_type=doc_type, status=status or kind.initial, source_id=source.id, source=source,
                        created_by_id=current_actor_id(), updated_by_id=current_actor_id(), received=Decimal("0"),
                        account_id=source.account_id if kind.party == "account" else None,
                        account=source.account if kind.party == "account" else None,
                        group_taxes=list(source.group_taxes or []), shipping_taxes=list(source.shipping_taxes or []))
    for key, value in header.items():
        setattr(document, key, value)
    _copy_lines(document, source, quantities, unit_price_from=unit_price_from)
    document.number = next_number(session, doc_type)
    recompute(session, document)
    document.history.append(StatusChange(from_status=None, to_status=document.status, user_id=current_actor_id(),
                                         note=f"from {source.number}"))
    if doc_type == "sales_order":
        setattr(document, _SCHEDULE, None)  # a new order has no schedule: nothing to read back
    session.add(document)
    session.flush()
    hooks.call("crm_record_saved", session=session, entity=kind.path, record=document, created=True)
    return document


class AlreadyConverted(Conflict):
    """The source already has such a document; the user may ask for another copy."""

    code = "already_converted"


def conversions(session: Session, source: Document, doc_type: str, *, vendor_id: int | None = None) -> list[Document]:
    """The documents of ``doc_type`` created from ``source`` that count (any but cancelled
    ones), oldest first; with ``vendor_id``, only those ordered from that vendor."""
    stmt = select(Document).where(Document.source_id == source.id, Document.doc_type == doc_type,
                                  Document.status != "Cancelled")
    if vendor_id is not None:
        stmt = stmt.where(Document.vendor_id == vendor_id)
    return list(session.scalars(stmt.order_by(Document.id)))


def _refuse_second(session: Session, source: Document, doc_type: str, *, vendor: Vendor | None = None) -> None:
    """A document converts once per target (a sales order once per vendor): another one
    is refused, naming what exists. The caller holds the source's row lock, so a request
    racing with this one waits, then finds the first one's document."""
    existing = conversions(session, source, doc_type, vendor_id=vendor.id if vendor else None)
    if not existing:
        return
    numbers = ", ".join(document.number for document in existing)
    if vendor is not None:
        message = _("%(source)s was already ordered from %(vendor)s: %(numbers)s; make another copy to order "
                    "it again", source=source.number, vendor=vendor.name, numbers=numbers)
    else:
        message = _("%(source)s was already converted: %(numbers)s; make another copy to create one more",
                    source=source.number, numbers=numbers)
    raise AlreadyConverted(message, {"copy": [_("already created: %(numbers)s", numbers=numbers)]})


def convert_quote(session: Session, quote: Document, target: str, *, copy: bool = False) -> Document:
    """An accepted quote becomes a sales order or an invoice, linked to it: once per
    target unless ``copy`` (the user asked for another copy). Lock the quote first."""
    if quote.status != "Accepted":
        raise Conflict(_("only an accepted quote can be converted; %(number)s is %(status)s",
                         number=quote.number, status=status_label(quote.status)), code="invalid_transition")
    if not copy:
        _refuse_second(session, quote, target)
    header = _copy_header(quote)
    if target == "invoice":
        header["invoice_date"] = dt.date.today()
    return _new_from(session, target, quote, header)


def order_from_vendor(session: Session, sales_order: Document, vendor_id: int, *, copy: bool = False) -> Document:
    """A purchase order for the sales order's products (not services), at purchase cost:
    once per vendor unless ``copy``. Lock the sales order first."""
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise ValidationError.for_field("vendor_id", _("unknown vendor %(vendor_id)s", vendor_id=vendor_id))
    if sales_order.status == "Cancelled":
        raise Conflict(_("%(number)s is cancelled", number=sales_order.number), code="invalid_transition")
    quantities = {line.id: line.quantity for line in sales_order.lines
                  if line.display_type is None and line.item is not None and line.item.kind == "product"}
    if not quantities:
        raise Conflict(_("%(number)s has no products to order", number=sales_order.number))
    if not copy:
        _refuse_second(session, sales_order, "purchase_order", vendor=vendor)
    header = _copy_header(sales_order)
    header.update(party_addresses(vendor), contact_id=None, customer_reference="",
                  discount_percent=None, discount_amount=None, shipping_amount=Decimal("0"), adjustment=Decimal("0"))
    header["vendor_id"], header["vendor"] = vendor.id, vendor
    return _new_from(session, "purchase_order", sales_order, header, quantities=quantities,
                     unit_price_from=lambda line: line.item.purchase_cost)
