"""The warehouses plugin's pages (blueprint ``warehouses``, under ``/warehouses``): the list of
warehouses, and for the admin the forms to add, change and delete one; transfers between
warehouses (the list, a new draft, a transfer's page with Ship, Receive and Cancel)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _, lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.api.collection import paginate
from crm.db import db
from crm.errors import CRMError
from crm.models import Document, Item, StockMove
from crm.money import decimal_text
from crm.permissions import can, require
from crm.services.doctypes import DOC_TYPES as DOC_TYPE_INFO
from crm.services.documents import get_document
from crm.services.settings import get_setting
from crm.web.common import MAX_PER_PAGE, PER_PAGE, FormErrors, Page, parse_decimal, parse_int, whole_or
from crm_warehouses import bins, reorder, services, stock as warehouse_stock, transfers
from crm_warehouses.models import BIN_KINDS, DOC_TYPES, TRANSFER_STATUSES, Transfer, Warehouse
from crm_warehouses.permissions import WAREHOUSES

bp = Blueprint("warehouses", __name__, url_prefix="/warehouses", template_folder="templates")
#: the transfers' pages, under ``/warehouses/transfers``
transfers_bp = Blueprint("warehouses_transfers", __name__, url_prefix="/warehouses/transfers",
                         template_folder="templates")


def _form_values(form: Mapping[str, str]) -> dict:
    return {"code": form.get("code", ""), "name": form.get("name", ""), "address": form.get("address", ""),
            "active": form.get("active") in ("1", "on", "true")}


@bp.route("/")
@require(WAREHOUSES)
def index() -> str:
    return render_template("warehouses/index.html", warehouses=services.warehouses(db.session),
                           can_write=can(g.user, WAREHOUSES, "write"),
                           mine=services.user_default(db.session, g.user.id))


@bp.route("/<int:warehouse_id>")
@require(WAREHOUSES)
def detail(warehouse_id: int) -> str:
    """A warehouse and its stock: the products it holds, has reserved or expects, a page at a
    time (``?page=``, ``?per_page=``)."""
    warehouse = services.get_warehouse(db.session, warehouse_id)
    page, per_page = _page_args("", PER_PAGE)
    held = warehouse_stock.warehouse_stock(db.session, warehouse, page=page, per_page=per_page)
    return render_template("warehouses/detail.html", warehouse=warehouse, rows=held.rows,
                           page=Page(held.rows, held.total, held.page, held.per_page, None, ""),
                           can_write=can(g.user, WAREHOUSES, "write"))


@bp.route("/<int:warehouse_id>/report", endpoint="report")
@require(WAREHOUSES)
def report(warehouse_id: int) -> str:
    """A warehouse's stock report: its stock levels valued at purchase cost, a page of products at
    a time (``?page=``, ``?per_page=``), the low ones marked (``?low=1`` keeps only them), the
    value and the low count of all its products; and its stock moves, newest first, a page at a
    time (``?moves_page=``, ``?moves_per_page=``)."""
    session = db.session
    warehouse = services.get_warehouse(session, warehouse_id)
    currency = get_setting(session, "default_currency") or "EUR"
    low_only = request.args.get("low") == "1"
    page, per_page = _page_args("", warehouse_stock.REPORT_PER_PAGE)
    levels = warehouse_stock.stock_report(session, warehouse, currency, low_only=low_only,
                                          page=page, per_page=per_page)
    moves_page, moves_per_page = _page_args("moves_", PER_PAGE)
    found = paginate(session, warehouse_stock.moves_query(warehouse),
                     {"page": moves_page, "per_page": moves_per_page}, model=StockMove,
                     default_sort=[StockMove.id.desc()])
    moves = Page(found["items"], found["total"], moves_page, moves_per_page, None, "")
    doc_ids = {m.document_id for m in moves.items if m.document_id}
    documents = ({d.id: d for d in session.scalars(select(Document).where(Document.id.in_(doc_ids)))}
                 if doc_ids else {})
    return render_template("warehouses/report.html", warehouse=warehouse, rows=levels.rows, value=levels.value,
                           low_count=levels.low_count, low_only=low_only, currency=currency,
                           levels_page=Page(levels.rows, levels.total, levels.page, levels.per_page, None, ""),
                           page=moves, moves=moves.items, move_documents=documents,
                           can_order=can(g.user, "purchase_orders", "write") and warehouse.active)


def _page_args(prefix: str, default: int) -> tuple[int, int]:
    """``?<prefix>page=`` and ``?<prefix>per_page=`` (1 to 200; anything else: the defaults)."""
    page = max(1, min(whole_or(request.args.get(f"{prefix}page"), 1), 1_000_000))
    per_page = max(1, min(whole_or(request.args.get(f"{prefix}per_page"), default), MAX_PER_PAGE))
    return page, per_page


@bp.route("/new", methods=["GET", "POST"])
@require(WAREHOUSES, "write")
def new() -> ResponseReturnValue:
    errors, values = FormErrors(), None
    if request.method == "POST":
        values = _form_values(request.form)
        try:
            with db.transaction() as session:
                warehouse = services.create_warehouse(session, values)
                code = warehouse.code
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
        else:
            flash(_("Warehouse %(code)s added.", code=code), "success")
            return redirect(url_for("warehouses.index"))
    status = 422 if errors else 200
    return render_template("warehouses/form.html", warehouse=None, values=values, errors=errors), status


@bp.route("/<int:warehouse_id>/edit", methods=["GET", "POST"])
@require(WAREHOUSES, "write")
def edit(warehouse_id: int) -> ResponseReturnValue:
    warehouse = services.get_warehouse(db.session, warehouse_id)
    errors, values = FormErrors(), None
    if request.method == "POST":
        values = _form_values(request.form)
        try:
            with db.transaction() as session:
                services.update_warehouse(session, services.get_warehouse(session, warehouse_id, for_update=True),
                                          values)
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
            db.session.rollback()
            warehouse = services.get_warehouse(db.session, warehouse_id)
        else:
            flash(_("Warehouse %(code)s saved.", code=values["code"]), "success")
            return redirect(url_for("warehouses.index"))
    status = 422 if errors else 200
    return render_template("warehouses/form.html", warehouse=warehouse, values=values, errors=errors), status


@bp.route("/<int:warehouse_id>/delete", methods=["POST"])
@require(WAREHOUSES, "write")
def delete(warehouse_id: int) -> ResponseReturnValue:
    try:
        with db.transaction() as session:
            warehouse = services.get_warehouse(session, warehouse_id, for_update=True)
            code = warehouse.code
            services.delete_warehouse(session, warehouse)
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(url_for("warehouses.edit", warehouse_id=warehouse_id))
    flash(_("Warehouse %(code)s deleted.", code=code), "success")
    return redirect(url_for("warehouses.index"))


# --- the warehouse a user works in, the warehouse of a document ----------------------------------

def _chosen_id(form: Mapping[str, str]) -> int | None:
    text = (form.get("warehouse_id") or "").strip()
    return parse_int(text, "warehouse_id") if text else None


@bp.route("/default", methods=["POST"])
@require(WAREHOUSES)
def set_default() -> ResponseReturnValue:
    try:
        with db.transaction() as session:
            chosen = services.set_user_default(session, g.user.id, _chosen_id(request.form))
            code = chosen.code if chosen else None
    except CRMError as exc:
        flash(exc.message, "error")
    else:
        flash(_("You work in warehouse %(code)s.", code=code) if code else _("You work in no warehouse in particular."),
              "success")
    return redirect(url_for("warehouses.index"))


def _document_url(doc_type: str, document_id: int) -> str:
    return url_for(f"{DOC_TYPE_INFO[doc_type].path.replace('-', '_')}.detail", doc_id=document_id)


def document_panel(document: Document) -> Markup:
    """The warehouse panel of an order's or invoice's page."""
    if not can(g.user, WAREHOUSES):
        return Markup("")
    session = db.session
    may_change = (can(g.user, DOC_TYPE_INFO[document.doc_type].resource, "write")
                  and not services.stock_touched(session, document))
    own = [(number, line.item.name if line.item is not None else "", code)
           for number, line in enumerate(document.lines, start=1) if (code := services.line_code(line))]
    return Markup(render_template("warehouses/_document_panel.html", document=document, own=own,
                                  warehouse=services.document_warehouse(session, document.id),
                                  choices=services.warehouses(session, active=True) if may_change else [],
                                  may_change=may_change))


@bp.route("/documents/<int:document_id>", methods=["POST"])
@require(WAREHOUSES)
def set_document(document_id: int) -> ResponseReturnValue:
    doc_type = db.session.scalar(select(Document.doc_type).where(Document.id == document_id))
    if doc_type not in DOC_TYPES:
        abort(404)
    if not can(g.user, DOC_TYPE_INFO[doc_type].resource, "write"):
        abort(403)
    db.session.rollback()
    try:
        with db.transaction() as session:
            document = get_document(session, doc_type, document_id, for_update=True)
            chosen = services.set_document_warehouse(session, document, _chosen_id(request.form))
            code = chosen.code if chosen else None
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(_document_url(doc_type, document_id))
    flash(_("Warehouse %(code)s chosen.", code=code) if code else _("No warehouse chosen: the default location."),
          "success")
    return redirect(_document_url(doc_type, document_id))


def product_panel(product: Item) -> Markup:
    """The product's stock per warehouse, on its page, with its reorder level and quantity in
    each (the warehouse's own, else the product's) and, for who may change stock, a form to set
    them."""
    if not can(g.user, WAREHOUSES):
        return Markup("")
    may_set = can(g.user, "stock", "write")
    return Markup(render_template("warehouses/_product_panel.html", product=product,
                                  rows=warehouse_stock.product_stock(db.session, product),
                                  own=reorder.product_levels(db.session, product.id), may_set=may_set,
                                  choices=services.warehouses(db.session) if may_set else []))


@bp.route("/reorder-levels", methods=["POST"], endpoint="set_reorder_level")
@require("stock", "write")
def set_reorder_level() -> ResponseReturnValue:
    """The product panel's form: a product's reorder level and quantity in a warehouse (a blank
    level: the product's own apply there again)."""
    form = request.form
    try:
        product_id = parse_int(form.get("product_id"), "product_id", required=True)
        warehouse_id = parse_int(form.get("warehouse_id"), "warehouse_id", required=True)
        level_text = (form.get("reorder_level") or "").strip()
        with db.transaction() as session:
            warehouse = services.get_warehouse(session, warehouse_id or 0)
            if level_text:
                quantity = parse_decimal(form.get("reorder_quantity"), "reorder_quantity")
                reorder.set_level(session, warehouse, product_id, {
                    "reorder_level": parse_decimal(level_text, "reorder_level", required=True),
                    "reorder_quantity": quantity if quantity is not None else Decimal("0")})
                done = _("Reorder level in %(code)s saved.", code=warehouse.code)
            else:
                reorder.clear_level(session, warehouse, product_id)
                done = _("%(code)s follows the product's reorder level again.", code=warehouse.code)
    except CRMError as exc:
        messages = [f"{key}: {m}" for key, msgs in exc.fields.items() for m in msgs]
        flash(exc.message if not messages else f"{exc.message} ({'; '.join(messages)})", "error")
        product = form.get("product_id", "")
        return redirect(url_for("products.detail", record_id=int(product)) if product.isdigit() and len(product) < 10
                        else url_for("warehouses.index"))
    flash(done, "success")
    return redirect(url_for("products.detail", record_id=product_id))


@bp.route("/<int:warehouse_id>/replenish", methods=["POST"], endpoint="replenish")
@require("purchase_orders", "write")
def replenish(warehouse_id: int) -> ResponseReturnValue:
    """The warehouse report's "Order the shortfall": draft purchase orders for this warehouse."""
    try:
        with db.transaction() as session:
            result = reorder.replenish(session, services.get_warehouse(session, warehouse_id))
            numbers = [order.number for order in result.orders]
            without = [need.name for need in result.without_vendor]
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(url_for("warehouses.report", warehouse_id=warehouse_id))
    if numbers:
        flash(_("Drafted for approval: %(numbers)s.", numbers=", ".join(numbers)), "success")
    else:
        flash(_("Nothing to order: what is on its way covers every low product."))
    if without:
        flash(_("Not ordered, for lack of a vendor: %(names)s. Set their vendor and order again.",
                names=", ".join(without)), "error")
    return redirect(url_for("purchase_orders.index") if numbers else url_for("warehouses.report", warehouse_id=warehouse_id))


# --- transfers between warehouses ----------------------------------------------------------------

#: how many product rows the new transfer form offers
FORM_LINES = 5
#: a transfer's status as shown
STATUS_LABELS = {"draft": _l("Draft"), "shipped": _l("Shipped"), "received": _l("Received"),
                 "cancelled": _l("Cancelled")}


def _stocked_products() -> list:
    return list(db.session.execute(select(Item.id, Item.name, Item.sku).where(
        Item.kind == "product", Item.is_bundle.is_(False)).order_by(Item.name, Item.id)).all())


def _transfer_form(form: Mapping[str, str]) -> dict:
    """The new transfer form's values, as the service takes them (blank product rows left out)."""
    def whole(name: str) -> object:
        text = (form.get(name) or "").strip()
        return int(text) if text.isdigit() and len(text) < 10 else (text or None)
    lines = []
    for index in range(FORM_LINES):
        product, quantity = whole(f"lines.{index}.product_id"), (form.get(f"lines.{index}.quantity") or "").strip()
        if product is not None or quantity:
            lines.append({"product_id": product, "quantity": quantity})
    return {"from_warehouse_id": whole("from_warehouse_id"), "to_warehouse_id": whole("to_warehouse_id"),
            "note": form.get("note", ""), "lines": lines}


@transfers_bp.route("", endpoint="index")
@require(WAREHOUSES)
def transfers_index() -> str:
    """Transfers, newest first, and the stock in transit."""
    session = db.session
    status = request.args.get("status", "")
    items = transfers.transfers(session, status=status if status in TRANSFER_STATUSES else None)
    transit = transfers.in_transit(session)
    names = {pid: (sku, name) for pid, name, sku in session.execute(
        select(Item.id, Item.name, Item.sku).where(Item.id.in_(list(transit))))} if transit else {}
    return render_template("warehouses/transfers.html", transfers=items, status=status,
                           warehouses=transfers.warehouse_names(session, items), statuses=TRANSFER_STATUSES,
                           transit=[(pid, *names.get(pid, ("", "")), q) for pid, q in sorted(transit.items())],
                           can_move=can(g.user, "stock", "write"), status_labels=STATUS_LABELS)


@transfers_bp.route("/new", methods=["GET", "POST"], endpoint="new")
@require("stock", "write")
def transfer_new() -> ResponseReturnValue:
    errors, values = FormErrors(), None
    if request.method == "POST":
        values = _transfer_form(request.form)
        try:
            with db.transaction() as session:
                made = transfers.create_transfer(session, values)
                transfer_id, number = made.id, made.number
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
            db.session.rollback()
        else:
            flash(_("Transfer %(number)s saved as a draft.", number=number), "success")
            return redirect(url_for("warehouses_transfers.detail", transfer_id=transfer_id))
    status = 422 if errors else 200
    return render_template("warehouses/transfer_form.html", values=values or {"lines": []}, errors=errors,
                           warehouses=services.warehouses(db.session, active=True), products=_stocked_products(),
                           rows=range(FORM_LINES)), status


@transfers_bp.route("/<int:transfer_id>", endpoint="detail")
@require(WAREHOUSES)
def transfer_detail(transfer_id: int) -> str:
    transfer = transfers.get_transfer(db.session, transfer_id)
    return render_template("warehouses/transfer.html", transfer=transfer,
                           warehouses=transfers.warehouse_names(db.session, [transfer]),
                           can_move=can(g.user, "stock", "write"), status_labels=STATUS_LABELS)


def _transfer_step(transfer_id: int, step: Callable[[Session, Transfer], Transfer], done: str) -> ResponseReturnValue:
    try:
        with db.transaction() as session:
            transfer = step(session, transfers.get_transfer(session, transfer_id, for_update=True))
            number = transfer.number
    except CRMError as exc:
        messages = [m for msgs in exc.fields.values() for m in msgs]
        flash(exc.message if not messages else f"{exc.message} ({'; '.join(messages)})", "error")
    else:
        flash(done % {"number": number}, "success")
    return redirect(url_for("warehouses_transfers.detail", transfer_id=transfer_id))


@transfers_bp.route("/<int:transfer_id>/ship", methods=["POST"], endpoint="ship")
@require("stock", "write")
def transfer_ship(transfer_id: int) -> ResponseReturnValue:
    return _transfer_step(transfer_id, transfers.ship, _("Transfer %(number)s shipped: its stock is in transit."))


@transfers_bp.route("/<int:transfer_id>/receive", methods=["POST"], endpoint="receive")
@require("stock", "write")
def transfer_receive(transfer_id: int) -> ResponseReturnValue:
    """What arrived: a quantity per line (``line.<id>``, blank for none), or everything left (``all``)."""
    lines: list[dict] | None = None
    if request.form.get("all") != "1":
        lines = []
        for key, value in request.form.items():
            if key.startswith("line.") and key[5:].isdigit() and value.strip():
                lines.append({"line_id": int(key[5:]), "quantity": value.strip()})
        if not lines:
            flash(_("Give the quantity received of at least one line."), "error")
            return redirect(url_for("warehouses_transfers.detail", transfer_id=transfer_id))
    return _transfer_step(transfer_id, lambda session, transfer: transfers.receive(session, transfer, lines),
                          _("Transfer %(number)s: the goods received are in the destination warehouse."))


@transfers_bp.route("/<int:transfer_id>/cancel", methods=["POST"], endpoint="cancel")
@require("stock", "write")
def transfer_cancel(transfer_id: int) -> ResponseReturnValue:
    return _transfer_step(transfer_id, transfers.cancel,
                          _("Transfer %(number)s cancelled; what was in transit is back at the source."))


# --- locations inside a warehouse (bins) ---------------------------------------------------------

def _bin_form_value(form: Mapping[str, str], name: str) -> object:
    """A select's id (an int), None when blank, else the text (the service refuses it, naming the field)."""
    text = (form.get(name) or "").strip()
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) < 10 else text


@bp.route("/<int:warehouse_id>/bins", endpoint="bins")
@require(WAREHOUSES)
def bins_page(warehouse_id: int) -> str:
    """A warehouse's zones, aisles, shelves and bins, what each bin holds and what is not put
    away; for who may change stock, the forms to add a location, move or put away stock, count a
    bin and choose a product's default bin."""
    session = db.session
    warehouse = services.get_warehouse(session, warehouse_id)
    nodes = bins.bins(session, warehouse.id)
    held: dict[int | None, list] = {}
    for row in bins.warehouse_bin_stock(session, warehouse):
        held.setdefault(row.bin.id if row.bin else None, []).append(row)
    may_move = can(g.user, "stock", "write")
    return render_template("warehouses/bins.html", warehouse=warehouse, nodes=nodes, held=held,
                           depth=bins.depth, kinds=BIN_KINDS, kind_label=bins.kind_label, may_move=may_move,
                           stock_bins=[n for n in nodes if n.kind == "bin" and bins.usable(session, n)],
                           parents=[n for n in nodes if n.kind != "bin"],
                           defaults=bins.default_bins(session, warehouse.id),
                           products=_stocked_products() if may_move else [])


def _bins_step(warehouse_id: int, step: Callable[[Session, Warehouse], str]) -> ResponseReturnValue:
    """Run a form of the bins page in one transaction; its message, or the refusal's."""
    try:
        with db.transaction() as session:
            done = step(session, services.get_warehouse(session, warehouse_id))
    except CRMError as exc:
        messages = [f"{key}: {m}" for key, msgs in exc.fields.items() for m in msgs]
        flash(exc.message if not messages else f"{exc.message} ({'; '.join(messages)})", "error")
    else:
        flash(done, "success")
    return redirect(url_for("warehouses.bins", warehouse_id=warehouse_id))


@bp.route("/<int:warehouse_id>/bins/new", methods=["POST"], endpoint="bin_new")
@require("stock", "write")
def bin_new(warehouse_id: int) -> ResponseReturnValue:
    form = request.form

    def step(session: Session, warehouse: Warehouse) -> str:
        node = bins.create_bin(session, warehouse, {"kind": form.get("kind"), "code": form.get("code", ""),
                                                    "name": form.get("name", ""),
                                                    "parent_id": _bin_form_value(form, "parent_id")})
        return _("%(path)s added.", path=node.path)
    return _bins_step(warehouse_id, step)


@bp.route("/<int:warehouse_id>/bins/<int:bin_id>/delete", methods=["POST"], endpoint="bin_delete")
@require("stock", "write")
def bin_delete(warehouse_id: int, bin_id: int) -> ResponseReturnValue:
    def step(session: Session, warehouse: Warehouse) -> str:
        node = bins.get_bin(session, warehouse, bin_id)
        path = node.path
        bins.delete_bin(session, node)
        return _("%(path)s deleted.", path=path)
    return _bins_step(warehouse_id, step)


@bp.route("/<int:warehouse_id>/bins/move", methods=["POST"], endpoint="bin_move")
@require("stock", "write")
def bin_move(warehouse_id: int) -> ResponseReturnValue:
    """Move stock between two bins, or put away what is not (no source bin)."""
    form = request.form

    def step(session: Session, warehouse: Warehouse) -> str:
        moved = bins.move(session, warehouse, {
            "product_id": _bin_form_value(form, "product_id"), "from_bin_id": _bin_form_value(form, "from_bin_id"),
            "to_bin_id": _bin_form_value(form, "to_bin_id"),
            "quantity": parse_decimal(form.get("quantity"), "quantity", required=True)})
        return _("%(quantity)s moved.", quantity=decimal_text(moved["quantity"]))
    return _bins_step(warehouse_id, step)


@bp.route("/<int:warehouse_id>/bins/count", methods=["POST"], endpoint="bin_count")
@require("stock", "write")
def bin_count(warehouse_id: int) -> ResponseReturnValue:
    """A count of one bin: the bin holds what was counted, the warehouse is adjusted by the difference."""
    form = request.form

    def step(session: Session, warehouse: Warehouse) -> str:
        counted = bins.count(session, warehouse, {
            "product_id": _bin_form_value(form, "product_id"), "bin_id": _bin_form_value(form, "bin_id"),
            "counted_quantity": parse_decimal(form.get("counted_quantity"), "counted_quantity", required=True),
            "note": form.get("note", "")})
        return _("Count saved: the warehouse's stock changed by %(difference)s.",
                 difference=decimal_text(counted["difference"]))
    return _bins_step(warehouse_id, step)


@bp.route("/<int:warehouse_id>/bins/default", methods=["POST"], endpoint="bin_default")
@require("stock", "write")
def bin_default(warehouse_id: int) -> ResponseReturnValue:
    """A product's default bin in the warehouse (blank: none)."""
    form = request.form

    def step(session: Session, warehouse: Warehouse) -> str:
        node = bins.set_default_bin(session, warehouse, _bin_form_value(form, "product_id"),
                                    _bin_form_value(form, "bin_id"))
        return _("Default bin %(path)s chosen.", path=node.path) if node else _("No default bin.")
    return _bins_step(warehouse_id, step)


def product_bins_panel(product: Item) -> Markup:
    """The product's stock per bin in each warehouse that has bins, on its page."""
    if not can(g.user, WAREHOUSES):
        return Markup("")
    found = bins.product_bins(db.session, product.id)
    if not found:
        return Markup("")
    return Markup(render_template("warehouses/_product_bins.html", product=product, found=found))


@bp.route("/picking/<int:document_id>", endpoint="picking")
@require(WAREHOUSES)
def picking(document_id: int) -> str:
    """A sales order's picking list, printable: per warehouse, in bin path order."""
    session = db.session
    doc_type = session.scalar(select(Document.doc_type).where(Document.id == document_id))
    if doc_type != "sales_order":
        abort(404)
    if not can(g.user, DOC_TYPE_INFO[doc_type].resource, "read"):
        abort(403)
    order = get_document(session, doc_type, document_id)
    return render_template("warehouses/picking.html", order=order, picks=bins.picking_list(session, order),
                           order_url=_document_url(doc_type, document_id))
