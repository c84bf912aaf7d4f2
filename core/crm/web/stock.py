"""Stock pages: levels (on hand, reserved, available, incoming), the ledger of
moves, and adjustments (a signed change or a counted quantity, with a reason)."""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crm.db import db
from crm.errors import CRMError, ValidationError
from crm.labels import MOVE_KIND_LABELS, REASON_LABELS
from crm.models import Item, StockMove
from crm.models.stock import ADJUSTMENT_REASONS, MOVE_KINDS
from crm.money import decimal_text, is_digits
from crm.permissions import can, require
from crm.services import stock
from crm.web.common import FormErrors, list_page, list_query, parse_decimal, parse_int
from crm.web.export import ExportColumn, export_response, requested_format
from crm.web.lists import ListColumn, default_view_redirect, export_columns_of, list_state

bp = Blueprint("stock", __name__, url_prefix="/stock")


def _products(session):
    return list(session.execute(select(Item.id, Item.name, Item.sku).where(Item.kind == "product",
                                                                            Item.is_bundle.is_(False))
                                .order_by(func.lower(Item.name))).all())


@bp.route("/")
@require("stock")
def index():
    session = db.session
    opened = default_view_redirect("stock.index")
    if opened is not None:
        return opened
    stmt = select(Item).where(Item.kind == "product", Item.is_bundle.is_(False))
    active = {}
    if request.args.get("low") == "1":
        stmt = stmt.where(Item.active.is_(True), Item.on_hand - Item.reserved <= Item.reorder_level)
        active["low"] = "1"
    category = request.args.get("category", "")
    categories = list(session.scalars(select(Item.category).where(Item.kind == "product", Item.category != "")
                                      .distinct().order_by(Item.category)))
    if category in categories:
        stmt = stmt.where(Item.category == category)
        active["category"] = category
    listing = dict(model=Item, search=[Item.name, Item.sku],
                   sortable={"name": func.lower(Item.name), "sku": Item.sku, "on_hand": Item.on_hand,
                             "reserved": Item.reserved, "available": Item.on_hand - Item.reserved,
                             "reorder_level": Item.reorder_level},
                   default_sort=[func.lower(Item.name), Item.id])
    fmt = requested_format()
    if fmt:
        return export_response(session, list_query(session, stmt, **listing), export_columns_of(LEVEL_COLUMNS),
                               name="stock-levels",
                               fmt=fmt, extra=lambda s, items: stock.incoming_by_product(s, [i.id for i in items]))
    page = list_page(session, stmt, **listing)
    incoming = stock.incoming_by_product(session, [item.id for item in page.items])
    return render_template("stock/levels.html", page=page, incoming=incoming, active=active, categories=categories,
                           can_adjust=can(g.user, "stock", "write"), state=list_state("stock.index", LEVEL_COLUMNS))


@bp.route("/moves")
@require("stock")
def moves():
    session = db.session
    stmt = select(StockMove).options(joinedload(StockMove.product))
    active = {}
    product = request.args.get("product_id", "")
    if is_digits(product) and len(product) < 10:
        stmt = stmt.where(StockMove.product_id == int(product))
        active["product_id"] = product
    kind = request.args.get("kind", "")
    if kind in MOVE_KINDS:
        stmt = stmt.where(StockMove.kind == kind)
        active["kind"] = kind
    listing = dict(model=StockMove, sortable={"at": StockMove.id, "quantity": StockMove.quantity},
                   default_sort=[StockMove.id.desc()])
    fmt = requested_format()
    if fmt:
        return export_response(session, list_query(session, stmt, **listing), MOVE_COLUMNS, name="stock-moves",
                               fmt=fmt, extra=_move_documents)
    page = list_page(session, stmt, **listing)
    docs = _move_documents(session, page.items)
    return render_template("stock/moves.html", page=page, moves=page.items, move_documents=docs, active=active,
                           products=_products(session), kinds=MOVE_KINDS)


def _move_documents(session, moves) -> dict:
    """The documents of ``moves``, by id."""
    from crm.models import Document
    doc_ids = {m.document_id for m in moves if m.document_id}
    return {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(doc_ids)))} if doc_ids else {}


#: the columns of the stock pages (stock/levels.html, stock/_moves_table.html), as their exports write them
#: the columns of the stock levels list (its value functions take the incoming quantities as ``extra``)
LEVEL_COLUMNS = [
    ListColumn("name", _l("Product"), lambda i, _x: i.name, sort="name"),
    ListColumn("sku", _l("SKU"), lambda i, _x: i.sku or "", sort="sku"),
    ListColumn("on_hand", _l("On hand"), lambda i, _x: i.on_hand, "quantity", sort="on_hand"),
    ListColumn("reserved", _l("Reserved"), lambda i, _x: i.reserved, "quantity", sort="reserved"),
    ListColumn("available", _l("Available"), lambda i, _x: i.on_hand - i.reserved, "quantity", sort="available"),
    ListColumn("incoming", _l("Incoming"), lambda i, incoming: incoming.get(i.id, Decimal(0)), "quantity"),
    ListColumn("reorder_level", _l("Reorder level"), lambda i, _x: i.reorder_level, "quantity", sort="reorder_level"),
    ListColumn("reorder_quantity", _l("Reorder quantity"), lambda i, _x: i.reorder_quantity, "quantity", shown=False),
    ListColumn("category", _l("Category"), lambda i, _x: i.category, shown=False),
]
MOVE_COLUMNS = [
    ExportColumn(_l("When"), lambda m, _x: m.at, "datetime"),
    ExportColumn(_l("Product"), lambda m, _x: m.product.name),
    ExportColumn(_l("Quantity"), lambda m, _x: m.quantity, "quantity"),
    ExportColumn(_l("Kind"), lambda m, _x: str(MOVE_KIND_LABELS.get(m.kind, m.kind))),
    ExportColumn(_l("Reason"), lambda m, _x: str(REASON_LABELS.get(m.reason, m.reason)) if m.reason else ""),
    ExportColumn(_l("Document"), lambda m, docs: docs[m.document_id].number if m.document_id in docs else ""),
    ExportColumn(_l("Note"), lambda m, _x: m.note),
]


@bp.route("/replenish", methods=["POST"])
@require("purchase_orders", "write")
def replenish():
    """The low-stock page's "Order the shortfall": draft purchase orders, one per vendor."""
    from crm.services.replenishment import replenish as draft_orders
    with db.transaction() as session:
        result = draft_orders(session)
        numbers = [order.number for order in result.orders]
        without = [need.name for need in result.without_vendor]
    if numbers:
        flash(_("Drafted for approval: %(numbers)s.", numbers=", ".join(numbers)))
    else:
        flash(_("Nothing to order: what is on its way covers every low product."))
    if without:
        flash(_("Not ordered, for lack of a vendor: %(names)s. Set their vendor and order again.",
                names=", ".join(without)), "error")
    return redirect(url_for("purchase_orders.index") if numbers else url_for("reports.show", name="low-stock"))


@bp.route("/adjust", methods=["GET", "POST"])
@require("stock", "write")
def adjust():
    session = db.session
    errors = FormErrors()
    if request.method == "POST":
        form = request.form
        try:
            product_id = parse_int(form.get("product_id"), "product_id", required=True)
            mode = form.get("mode", "change")
            value = parse_decimal(form.get("quantity"), "quantity", required=True)
            reason = form.get("reason", "")
            note = form.get("note", "")
            if len(note) > 1000:
                raise ValidationError.for_field("note", _("at most 1000 characters"))
            with db.transaction() as session:
                if mode == "counted":
                    try:
                        stock.adjust(session, product_id, counted_quantity=value, reason=reason or "count_correction",
                                     note=note)
                    except ValidationError as exc:
                        raise ValidationError(exc.message, {("quantity" if k == "counted_quantity" else k): v
                                                            for k, v in exc.fields.items()}) from None
                else:
                    stock.adjust(session, product_id, quantity=value, reason=reason, note=note)
                product = session.get(Item, product_id)
                message = _("Stock of %(name)s adjusted: %(on_hand)s on hand.", name=product.name,
                            on_hand=decimal_text(product.on_hand))
            flash(message)
            return redirect(url_for("stock.moves", product_id=product_id))
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
    selected = request.values.get("product_id", "")
    return render_template("stock/adjust.html", products=_products(session), reasons=ADJUSTMENT_REASONS,
                           errors=errors, values=request.form if request.method == "POST" else None,
                           selected=selected), (422 if errors else 200)
