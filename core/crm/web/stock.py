"""Stock pages: levels (on hand, reserved, available, incoming), the ledger of
moves, and adjustments (a signed change or a counted quantity, with a reason)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crm.db import db
from crm.errors import CRMError, ValidationError
from crm.models import Item, StockMove
from crm.models.stock import ADJUSTMENT_REASONS, MOVE_KINDS
from crm.permissions import can, require
from crm.services import stock
from crm.web.common import FormErrors, list_page, parse_decimal, parse_int

bp = Blueprint("stock", __name__, url_prefix="/stock")


def _products(session):
    return list(session.execute(select(Item.id, Item.name, Item.sku).where(Item.kind == "product",
                                                                            Item.is_bundle.is_(False))
                                .order_by(func.lower(Item.name))).all())


@bp.route("/")
@require("stock")
def index():
    session = db.session
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
    page = list_page(session, stmt, model=Item, search=[Item.name, Item.sku],
                     sortable={"name": func.lower(Item.name), "sku": Item.sku, "on_hand": Item.on_hand,
                               "reserved": Item.reserved, "available": Item.on_hand - Item.reserved,
                               "reorder_level": Item.reorder_level},
                     default_sort=[func.lower(Item.name), Item.id])
    incoming = stock.incoming_by_product(session, [item.id for item in page.items])
    return render_template("stock/levels.html", page=page, incoming=incoming, active=active, categories=categories,
                           can_adjust=can(g.user, "stock", "write"))


@bp.route("/moves")
@require("stock")
def moves():
    session = db.session
    stmt = select(StockMove).options(joinedload(StockMove.product))
    active = {}
    product = request.args.get("product_id", "")
    if product.isdigit() and len(product) < 10:
        stmt = stmt.where(StockMove.product_id == int(product))
        active["product_id"] = product
    kind = request.args.get("kind", "")
    if kind in MOVE_KINDS:
        stmt = stmt.where(StockMove.kind == kind)
        active["kind"] = kind
    page = list_page(session, stmt, model=StockMove, sortable={"at": StockMove.id, "quantity": StockMove.quantity},
                     default_sort=[StockMove.id.desc()])
    from crm.models import Document
    doc_ids = {m.document_id for m in page.items if m.document_id}
    docs = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(doc_ids)))} if doc_ids else {}
    return render_template("stock/moves.html", page=page, moves=page.items, move_documents=docs, active=active,
                           products=_products(session), kinds=MOVE_KINDS)


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
                            on_hand=format(product.on_hand.normalize(), "f"))
            flash(message)
            return redirect(url_for("stock.moves", product_id=product_id))
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
    selected = request.values.get("product_id", "")
    return render_template("stock/adjust.html", products=_products(session), reasons=ADJUSTMENT_REASONS,
                           errors=errors, values=request.form if request.method == "POST" else None,
                           selected=selected), (422 if errors else 200)
