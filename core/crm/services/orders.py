"""Order processing: reservations, receipts, shipments, invoicing from orders,
and what status changes do to stock. Called by :mod:`crm.services.documents`
and by the order actions of the API, the web UI and the jobs.

Rules (see ``docs/stock-and-orders.md``):

* Approving a sales order reserves its products (bundles: their components);
  short stock refuses the approval, or with the ``allow_backorders`` setting
  reserves what there is and reports the rest as backorder.
* Shipments consume the reservation and move stock out; a fully shipped order
  becomes Delivered. Cancelling releases what is still reserved.
* Receipts of a purchase order never exceed what was ordered; Received Shipment
  receives the rest; a purchase order with receipts cannot be cancelled.
* A direct invoice (not from a sales order) moves stock out when it leaves
  Created, and back in when it is cancelled. Invoices from a sales order never
  move stock: the order's shipments do.
* Stock moves and reservations are at a location: the one a plugin chooses
  (``crm_stock_location``), else the default. A sales order line keeps its
  reservation's (``stock_location_id``), and its shipments take from there.
* Invoicing an order never exceeds the ordered quantity across all its invoices;
  a cancelled invoice gives its quantities back.

Every receipt and shipment is announced to the plugins in the same transaction, after
its stock moves (``crm_stock_moved``): ``crm_receipt_recorded`` / ``crm_shipment_recorded``
with the lines and quantities of this receipt or shipment.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from typing import Callable, NamedTuple

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.errors import Conflict, ValidationError
from crm.labels import status_label
from crm.models import Document, DocumentLine, StockMove
from crm.models.stock import DEFAULT_LOCATION_ID
from crm.money import decimal_text, floor_quantity
from crm.services import hooks, stock
from crm.services.settings import get_setting

ZERO = Decimal("0")
ISSUED_INVOICE = ("Approved", "Sent", "Partially Paid", "Paid")


class QuantityBeyondLeft(Conflict):
    code = "quantity_exceeds_remaining"


class LineQuantity(NamedTuple):
    """A line of an order and the quantity a receipt or a shipment took of it (in the
    line's own units: a bundle line counts bundles, its stock moves count components)."""

    line: DocumentLine
    quantity: Decimal


def item_lines(document: Document) -> list[DocumentLine]:
    return [line for line in document.lines if line.display_type is None]


def moves_stock(invoice: Document) -> bool:
    """A direct invoice moves stock; one created from a sales order does not."""
    return invoice.source is None or invoice.source.doc_type != "sales_order"


# --- status side effects --------------------------------------------------------------------------

def on_status_change(session: Session, document: Document, old: str, new: str) -> None:
    """Side effects of a status change, in the same transaction (called before it is recorded)."""
    handler = {"sales_order": _sales_order_status, "purchase_order": _purchase_order_status,
               "invoice": _invoice_status}.get(document.doc_type)
    if handler is not None:
        handler(session, document, old, new)


def _sales_order_status(session: Session, order: Document, old: str, new: str) -> None:
    shipped = any(line.qty_shipped for line in order.lines)
    if new == "Approved":
        reserve_order(session, order)
    elif new == "Created" and old == "Approved":
        if shipped:
            raise Conflict(_("%(number)s has shipments; it cannot go back to %(status)s",
                             number=order.number, status=status_label("Created")), code="invalid_transition")
        release_order(session, order)
    elif new == "Cancelled":
        release_order(session, order)
    elif new == "Created" and old == "Cancelled" and shipped:
        raise Conflict(_("%(number)s has shipments; it cannot be reopened", number=order.number),
                       code="invalid_transition")
    elif new == "Delivered" and old == "Approved":
        left = {line.id: line.quantity - line.qty_shipped for line in item_lines(order)
                if line.quantity > line.qty_shipped}
        if left:
            _ship(session, order, left)


def _purchase_order_status(session: Session, order: Document, old: str, new: str) -> None:
    received = any(line.qty_received for line in order.lines)
    if new == "Cancelled" and received:
        raise Conflict(_("%(number)s has receipts and cannot be cancelled; return the goods with a "
                         "stock adjustment instead", number=order.number), code="invalid_transition")
    if new == "Created" and received:
        raise Conflict(_("%(number)s has receipts; it cannot go back to %(status)s",
                         number=order.number, status=status_label("Created")), code="invalid_transition")
    if new == "Received Shipment":
        left = {line.id: line.quantity - line.qty_received for line in item_lines(order)
                if line.quantity > line.qty_received}
        if left:
            _receive(session, order, left)


def _invoice_status(session: Session, invoice: Document, old: str, new: str) -> None:
    if moves_stock(invoice):
        if new in ISSUED_INVOICE and not invoice.stock_moved:
            needs = [need for line in item_lines(invoice) for need in stock.product_needs(line, line.quantity)]
            taken = [(need, ZERO) for need in stock.located(session, "invoice", needs, invoice)]
            stock.take_out(session, taken, invoice, reason="invoice")
            invoice.stock_moved = True
        elif new == "Cancelled" and invoice.stock_moved:
            needs = [need for line in item_lines(invoice) for need in stock.product_needs(line, line.quantity)]
            stock.put_back(session, _where_taken(session, invoice, needs), invoice, reason="invoice cancelled")
            invoice.stock_moved = False
    elif new == "Cancelled":
        _give_back_invoiced(invoice)


def _where_taken(session: Session, invoice: Document, needs: list[stock.Need]) -> list[stock.Need]:
    """A cancelled direct invoice's needs, each back at the location its stock went out from (a
    need whose stock left several locations: split, each part back where it left)."""
    taken: dict[tuple[int | None, int], list[tuple[int, Decimal]]] = defaultdict(list)
    for line_id, product_id, location_id, net in session.execute(
            select(StockMove.line_id, StockMove.product_id, StockMove.location_id, func.sum(StockMove.quantity))
            .where(StockMove.document_id == invoice.id)
            .group_by(StockMove.line_id, StockMove.product_id, StockMove.location_id)
            .order_by(func.min(StockMove.id))):
        if net < 0:   # still out there (an earlier issue's stock came back when it was cancelled)
            taken[(line_id, product_id)].append((location_id, -net))
    back = []
    for need in needs:
        parts = taken.get((need.line.id if need.line else None, need.product_id), [])
        left, last = need.quantity, DEFAULT_LOCATION_ID
        while left > 0 and parts:
            last, quantity = parts[0]
            part = min(quantity, left)
            back.append(replace(need, quantity=part, location_id=last))
            left -= part
            if part == quantity:
                parts.pop(0)
            else:
                parts[0] = (last, quantity - part)
        if left > 0:
            back.append(replace(need, quantity=left, location_id=last))
    return back


def before_delete(session: Session, document: Document) -> None:
    """A deletable document holds nothing (no reservation, receipt or stock move)."""


# --- reservations ---------------------------------------------------------------------------------

def reserve_order(session: Session, order: Document) -> dict[int, Decimal]:
    """Reserve what each product line still needs. With the ``allow_backorders``
    setting, short lines reserve what there is; returns the backorder per line id."""
    allow_short = bool(get_setting(session, "allow_backorders"))
    wanted: dict[DocumentLine, Decimal] = {}
    needs: list[stock.Need] = []
    for line in item_lines(order):
        to_reserve = line.quantity - line.qty_shipped - line.qty_reserved
        if to_reserve > 0 and stock.product_needs(line, to_reserve):
            wanted[line] = to_reserve
            needs.extend(stock.product_needs(line, to_reserve, _reservation_location(session, order, line, to_reserve)))
    granted = dict(zip(range(len(needs)), stock.reserve(session, needs, allow_short=allow_short)))
    backorders, index, excess = {}, 0, []
    for line, to_reserve in wanted.items():
        line_needs = stock.product_needs(line, to_reserve, line.stock_location_id or DEFAULT_LOCATION_ID)
        grants = [granted[index + i] for i in range(len(line_needs))]
        index += len(line_needs)
        # the line holds as many units as its scarcest product allows; the rest goes back
        got = min(grant / (need.quantity / to_reserve) for grant, need in zip(grants, line_needs))
        got = floor_quantity(got)
        for grant, need in zip(grants, line_needs):
            keep = need.quantity / to_reserve * got
            if grant > keep:
                excess.append(stock.Need(need.product_id, grant - keep, location_id=need.location_id))
        line.qty_reserved += got
        if got < to_reserve:
            backorders[line.id] = to_reserve - got
    stock.release(session, excess)
    return backorders


def _reservation_location(session: Session, order: Document, line: DocumentLine, quantity: Decimal) -> int:
    """Where a line reserves: where it already holds stock (or last tried to), else where a
    plugin chooses (kept on the line; None for the default location)."""
    if line.stock_location_id is None and not line.qty_reserved and stock.locations_chosen():
        chosen = stock.choose_location(session, "reservation", document=order, line=line,
                                       product_id=line.item_id or 0, quantity=quantity)
        line.stock_location_id = None if chosen == DEFAULT_LOCATION_ID else chosen
    return line.stock_location_id or DEFAULT_LOCATION_ID


def release_order(session: Session, order: Document) -> None:
    needs = []
    for line in item_lines(order):
        if line.qty_reserved:
            needs.extend(stock.product_needs(line, line.qty_reserved, line.stock_location_id or DEFAULT_LOCATION_ID))
            line.qty_reserved = ZERO
        if line.stock_location_id is not None and not line.qty_shipped:
            line.stock_location_id = None   # holds nothing: chosen again when approved again
    stock.release(session, needs)


# --- receipts and shipments -----------------------------------------------------------------------

def _quantities(document: Document, requested: list[dict] | None, left_of: Callable[[DocumentLine], Decimal],
                action: str) -> dict[int, Decimal]:
    """``{line_id: quantity}`` from a request (or everything left), checked against what is left."""
    lines = {line.id: line for line in item_lines(document)}
    if requested is None:
        return {lid: left_of(line) for lid, line in lines.items() if left_of(line) > 0}
    if not requested:
        raise ValidationError.for_field("lines", _no_lines(action))
    chosen: dict[int, Decimal] = {}
    for index, entry in enumerate(requested):
        line = lines.get(entry["line_id"])
        if line is None:
            raise ValidationError.for_field(f"lines.{index}.line_id",
                                            _("line %(line_id)s is not a line of %(number)s",
                                              line_id=entry["line_id"], number=document.number))
        quantity = entry["quantity"]
        if quantity <= 0:
            raise ValidationError.for_field(f"lines.{index}.quantity", _("must be more than 0"))
        chosen[line.id] = chosen.get(line.id, ZERO) + quantity
        left = left_of(line)
        if chosen[line.id] > left:
            plain = decimal_text(left)
            raise QuantityBeyondLeft(_beyond_left(action, index + 1, line.item.name if line.item else "", plain),
                                     {f"lines.{index}.quantity": [_("only %(left)s left", left=plain)]})
    return chosen


def _no_lines(action: str) -> str:
    if action == "receive":
        return _("name at least one line to receive")
    if action == "ship":
        return _("name at least one line to ship")
    return _("name at least one line to invoice")


def _beyond_left(action: str, number: int, name: str, left: str) -> str:
    if action == "receive":
        return _("line %(line)s (%(name)s): only %(left)s left to receive", line=number, name=name, left=left)
    if action == "ship":
        return _("line %(line)s (%(name)s): only %(left)s left to ship", line=number, name=name, left=left)
    return _("line %(line)s (%(name)s): only %(left)s left to invoice", line=number, name=name, left=left)


def receive_purchase_order(session: Session, order: Document, requested: list[dict] | None) -> Document:
    """Receive (part of) an approved purchase order; everything received -> Received Shipment."""
    if order.status not in ("Approved", "Delivered"):
        raise Conflict(_("%(number)s is %(status)s; only an approved purchase order can be received",
                         number=order.number, status=status_label(order.status)), code="invalid_transition")
    quantities = _quantities(order, requested, lambda line: line.quantity - line.qty_received, "receive")
    if not quantities:
        raise QuantityBeyondLeft(_("everything on %(number)s was already received", number=order.number))
    _receive(session, order, quantities)
    if all(line.qty_received >= line.quantity for line in item_lines(order)):
        from crm.services.documents import change_status
        change_status(session, order, "Received Shipment", note="all received", system=True)
    return order


def _receive(session: Session, order: Document, quantities: dict[int, Decimal]) -> None:
    needs, lines = [], []
    for line in item_lines(order):
        if line.id in quantities:
            needs.extend(stock.product_needs(line, quantities[line.id]))
            line.qty_received += quantities[line.id]
            lines.append(LineQuantity(line, quantities[line.id]))
    moves = stock.receive(session, stock.located(session, "receipt", needs, order), order)
    session.flush()
    hooks.call("crm_receipt_recorded", session=session, order=order, lines=lines, moves=moves)


def ship_sales_order(session: Session, order: Document, requested: list[dict] | None) -> Document:
    """Ship (part of) an approved sales order; everything shipped -> Delivered."""
    if order.status != "Approved":
        raise Conflict(_("%(number)s is %(status)s; only an approved sales order can be shipped",
                         number=order.number, status=status_label(order.status)), code="invalid_transition")
    quantities = _quantities(order, requested, lambda line: line.quantity - line.qty_shipped, "ship")
    if not quantities:
        raise QuantityBeyondLeft(_("everything on %(number)s was already shipped", number=order.number))
    _ship(session, order, quantities)
    if all(line.qty_shipped >= line.quantity for line in item_lines(order)):
        from crm.services.documents import change_status
        change_status(session, order, "Delivered", note="all shipped", system=True)
    return order


def _ship(session: Session, order: Document, quantities: dict[int, Decimal]) -> None:
    needs, lines = [], []
    for line in item_lines(order):
        quantity = quantities.get(line.id)
        if not quantity:
            continue
        from_reservation = min(quantity, line.qty_reserved)
        reserved_parts = {n.product_id: n.quantity for n in stock.product_needs(line, from_reservation)}
        line_needs = stock.product_needs(line, quantity)
        if line.stock_location_id is not None or line.qty_reserved:   # from where the line reserved
            line_needs = [replace(n, location_id=line.stock_location_id or DEFAULT_LOCATION_ID) for n in line_needs]
        else:
            line_needs = stock.located(session, "shipment", line_needs, order)
        for need in line_needs:
            needs.append((need, reserved_parts.get(need.product_id, ZERO)))
        line.qty_reserved -= from_reservation
        line.qty_shipped += quantity
        lines.append(LineQuantity(line, quantity))
    moves = stock.take_out(session, needs, order)
    session.flush()
    hooks.call("crm_shipment_recorded", session=session, order=order, lines=lines, moves=moves)


# --- invoicing from a sales order -----------------------------------------------------------------

def invoice_sales_order(session: Session, order: Document, requested: list[dict] | None) -> Document:
    """An invoice for (part of) an approved or delivered sales order."""
    from crm.services import documents
    if order.status not in ("Approved", "Delivered"):
        raise Conflict(_("%(number)s is %(status)s; approve it before invoicing",
                         number=order.number, status=status_label(order.status)), code="invalid_transition")
    quantities = _quantities(order, requested, lambda line: line.quantity - line.qty_invoiced, "invoice")
    if not quantities:
        raise QuantityBeyondLeft(_("everything on %(number)s was already invoiced", number=order.number))
    first_invoice = not any(line.qty_invoiced for line in item_lines(order))
    header = documents._copy_header(order)
    header.update(invoice_date=_today(), due_date=order.due_date)
    if not first_invoice:  # shipping and adjustment are charged once, on the first invoice
        header.update(shipping_amount=ZERO, adjustment=ZERO)
    if order.discount_amount is not None:
        header["discount_amount"] = _prorated_discount(order, quantities)
    for line in item_lines(order):
        if line.id in quantities:
            line.qty_invoiced += quantities[line.id]
    return documents._new_from(session, "invoice", order, header, quantities=quantities)


def _prorated_discount(order: Document, quantities: dict[int, Decimal]) -> Decimal:
    """A document discount given as an amount is shared out by the invoiced share of the subtotal."""
    from crm import money
    if not order.subtotal:
        return ZERO
    part = sum((line.net * quantities[line.id] / line.quantity for line in item_lines(order)
                if line.id in quantities and line.quantity), ZERO)
    return money.round_money((order.discount_amount or ZERO) * part / order.subtotal, order.currency)


def _give_back_invoiced(invoice: Document) -> None:
    order = invoice.source
    if order is None or order.doc_type != "sales_order":
        return
    invoiced = {line.source_line_id: line.quantity for line in item_lines(invoice) if line.source_line_id}
    for line in item_lines(order):
        if line.id in invoiced:
            line.qty_invoiced = max(line.qty_invoiced - invoiced[line.id], ZERO)


def _today() -> dt.date:
    return dt.date.today()
