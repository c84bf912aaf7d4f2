"""The payments plugin's pages (blueprint ``payments``, under ``/payments``) and the
payments panel of the invoice page (slot ``document_panels``).

Every form posts here and comes back to the page it came from (post/redirect/get),
with a flash message saying what happened or why it was refused.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l, lazy_pgettext, pgettext
from markupsafe import Markup
from sqlalchemy import select

from crm import money
from crm.db import db
from crm.errors import CRMError, ValidationError
from crm.models import Document
from crm.money import decimal_text, is_digits
from crm.permissions import can, require
from crm.security import local_path
from crm.web.common import list_page, list_query, parse_date, parse_decimal, parse_int
from crm.web.export import export_response, requested_format
from crm.web.lists import ListColumn, default_view_redirect, export_columns_of, list_state
from crm_payments import services
from crm_payments.models import CREDIT, INTERVALS, Payment
from crm_payments.permissions import PAYMENTS

bp = Blueprint("payments", __name__, url_prefix="/payments", template_folder="templates")

#: the seeded statuses and types, so that they are translated where shown (in the context
#: "payment": a payment is "Pagado" where an invoice is "Pagada")
SEED_LABELS = (lazy_pgettext("payment", "Paid"), lazy_pgettext("payment", "Pending"),
               lazy_pgettext("payment", "Scheduled"), lazy_pgettext("payment", "Failed"),
               lazy_pgettext("payment", "Refunded"), lazy_pgettext("payment", "Credit"),
               lazy_pgettext("payment", "Cash"), lazy_pgettext("payment", "Check"),
               lazy_pgettext("payment", "Credit card"), lazy_pgettext("payment", "Bank transfer"),
               lazy_pgettext("payment", "Direct debit"))
INTERVAL_LABELS = {"weekly": _l("weekly"), "monthly": _l("monthly"), "quarterly": _l("quarterly")}


def label(name: str | None) -> str:
    """A status or type name in the user's language when it is one of the seeded ones."""
    return pgettext("payment", name) if name else ""


@bp.app_template_global("payments_label")
def _payments_label(name):
    return label(name)


# --- reading forms -------------------------------------------------------------------------------

def _ref(text: str | None):
    """A status or method id from a select (``""`` -> None)."""
    text = (text or "").strip()
    return int(text) if is_digits(text) else (text or None)


def _payment_form(form, *, for_update: bool = False) -> dict:
    data = {}
    if not for_update or form.get("amount"):
        data["amount"] = parse_decimal(form.get("amount"), "amount", required=True)
    for key in ("date",):
        if form.get(key):
            data[key] = parse_date(form.get(key), key)
    if "status" in form and form.get("status"):
        data["status"] = _ref(form.get("status"))
    if "method" in form:
        data["method"] = _ref(form.get("method"))
    for key in ("reference", "note"):
        if key in form:
            data[key] = form.get(key, "")[:100 if key == "reference" else 2000]
    data["excess_as_credit"] = form.get("excess_as_credit") in ("1", "on", "true")
    if form.get("version"):
        data["version"] = parse_int(form.get("version"), "version")
    return data


def _invoice_url(invoice_id: int, **args) -> str:
    try:
        url = url_for("invoices.detail", doc_id=invoice_id)
    except Exception:  # noqa: BLE001  an app without the core's invoice pages
        url = url_for("payments.index", invoice_id=invoice_id)
    query = {k: v for k, v in args.items() if v is not None}
    return url + (("?" + urlencode(query)) if query else "") + "#payments"


def _back(invoice_id: int | None = None):
    target = local_path(request.form.get("next") or request.args.get("next"))
    if target:
        return redirect(target)
    if invoice_id is not None:
        return redirect(_invoice_url(invoice_id))
    return redirect(url_for("payments.index"))


def _error(exc: CRMError) -> None:
    flash(exc.message, "error")


# --- the invoice panel -----------------------------------------------------------------------------

def invoice_panel(invoice: Document) -> Markup:
    """The payments panel of an invoice page (called from the ``document_panels`` slot)."""
    session = db.session
    user = g.get("user")
    payments = services.payments_of(session, invoice.id)
    statuses = [s for s in services.list_statuses(session, active_only=True) if s.code != CREDIT]
    methods = [m for m in services.list_methods(session, active_only=True) if m.code is None]
    credits = [c for c in services.list_credits(session, account_id=invoice.account_id, open_only=True)
               if c.currency == invoice.currency] if invoice.account_id else []
    calc = services.calculate(invoice, "balance") if invoice.status in services.PAYABLE else None
    prefill = request.args.get("payments_amount")
    try:
        prefill = str(parse_decimal(prefill, "amount")) if prefill else None
    except ValidationError:
        prefill = None
    html = render_template(
        "payments/_panel.html", invoice=invoice, payments=payments, statuses=statuses, methods=methods,
        credits=credits, calc=calc, payable=invoice.status in services.PAYABLE,
        can_write=can(user, PAYMENTS, "write"), today=services.today(), intervals=INTERVALS,
        interval_labels=INTERVAL_LABELS, prefill=prefill, default_status=_default_status_id(session),
        is_overdue=services.is_overdue, open_scheduled=[p for p in payments if p.status.is_scheduled],
        presets=services.PRESETS, calc_basis=request.args.get("payments_basis") or "balance",
        calc_percent=request.args.get("payments_percent") or "")
    return Markup(html)


def _default_status_id(session):
    try:
        return services.default_status(session).id
    except CRMError:
        return None


@bp.route("/invoices/<int:invoice_id>/calculator")
@require(PAYMENTS)
def calculator(invoice_id: int):
    """The calculator of the payment form: percent of the total or the balance, rounded
    by the server. htmx gets the amount input back; a plain form goes back to the invoice
    page with the amount filled in; ``?format=json`` gets the numbers."""
    invoice = services.get_invoice(db.session, invoice_id)
    basis = request.args.get("basis") or "balance"
    raw = request.args.get("percent") or request.args.get("custom") or "100"
    try:
        percent = parse_decimal(raw, "percent", required=True)
        result = services.calculate(invoice, basis, percent)
    except CRMError as exc:
        if request.headers.get("HX-Request"):
            return render_template("payments/_amount_input.html", value=request.args.get("amount", ""),
                                   error=exc.message), 422
        if request.args.get("format") == "json":
            return jsonify({"error": exc.as_dict()}), 422
        _error(exc)
        return redirect(_invoice_url(invoice_id))
    amount = money.round_money(result["amount"], invoice.currency)
    if request.args.get("format") == "json":
        return jsonify({"amount": str(amount), "percent": str(result["percent"]), "basis": basis,
                        "exceeds_balance": result["exceeds_balance"]})
    if request.headers.get("HX-Request"):
        return render_template("payments/_amount_input.html", value=str(amount),
                               note=_("%(percent)s %% of the %(basis)s", percent=decimal_text(percent),
                                      basis=_("total") if basis == "total" else _("balance")),
                               warn=result["exceeds_balance"])
    return redirect(_invoice_url(invoice_id, payments_amount=str(amount), payments_basis=basis,
                                 payments_percent=decimal_text(percent)))


@bp.route("/invoices/<int:invoice_id>/add", methods=["POST"])
@require(PAYMENTS, "write")
def add(invoice_id: int):
    try:
        data = _payment_form(request.form)
        with db.transaction() as session:
            payment = services.record_payment(session, invoice_id, data)
            credit = payment.credits_created[0] if payment.credits_created else None
        if credit is not None:
            flash(_("Payment of %(amount)s recorded; %(credit)s recorded as customer credit.",
                    amount=_money(payment.amount, payment.invoice.currency),
                    credit=_money(credit.amount, credit.currency)))
        else:
            flash(_("Payment of %(amount)s recorded.", amount=_money(payment.amount, payment.invoice.currency)))
    except CRMError as exc:
        _error(exc)
    return _back(invoice_id)


def _money(amount, currency) -> str:
    from flask_babel import format_currency
    return format_currency(amount, currency)


def _invoice_of_payment(payment_id: int) -> int:
    invoice_id = db.session.scalar(select(Payment.invoice_id).where(Payment.id == payment_id))
    if invoice_id is None:
        abort(404)
    return invoice_id


@bp.route("/<int:payment_id>/edit", methods=["POST"])
@require(PAYMENTS, "write")
def edit(payment_id: int):
    invoice_id = _invoice_of_payment(payment_id)
    try:
        data = _payment_form(request.form, for_update=True)
        with db.transaction() as session:
            services.update_payment(session, payment_id, data)
        flash(_("Payment changed."))
    except CRMError as exc:
        _error(exc)
    return _back(invoice_id)


@bp.route("/<int:payment_id>/mark-paid", methods=["POST"])
@require(PAYMENTS, "write")
def mark_paid(payment_id: int):
    """The quick action of a scheduled (or pending) payment: paid today, in the default
    received status."""
    invoice_id = _invoice_of_payment(payment_id)
    try:
        with db.transaction() as session:
            data = {"status": services.default_status(session).id,
                    "date": parse_date(request.form.get("date"), "date") or services.today()}
            if request.form.get("version"):
                data["version"] = parse_int(request.form.get("version"), "version")
            payment = services.update_payment(session, payment_id, data)
        flash(_("Payment of %(amount)s marked as paid.", amount=_money(payment.amount, payment.invoice.currency)))
    except CRMError as exc:
        _error(exc)
    return _back(invoice_id)


@bp.route("/<int:payment_id>/delete", methods=["POST"])
@require(PAYMENTS, "write")
def delete(payment_id: int):
    invoice_id = _invoice_of_payment(payment_id)
    try:
        with db.transaction() as session:
            services.delete_payment(session, payment_id)
        flash(_("Payment deleted."))
    except CRMError as exc:
        _error(exc)
    return _back(invoice_id)


@bp.route("/invoices/<int:invoice_id>/schedule", methods=["POST"])
@require(PAYMENTS, "write")
def schedule(invoice_id: int):
    try:
        data = {"installments": parse_int(request.form.get("installments"), "installments"),
                "first_date": parse_date(request.form.get("first_date"), "first_date"),
                "interval": request.form.get("interval") or "monthly",
                "method": _ref(request.form.get("method")),
                "replace": request.form.get("replace") in ("1", "on", "true")}
        with db.transaction() as session:
            created = services.create_schedule(session, invoice_id, data)
            count = len(created.payments)
        flash(_("The balance is scheduled in %(count)s installments.", count=count))
    except CRMError as exc:
        _error(exc)
    return _back(invoice_id)


@bp.route("/credits/<int:credit_id>/apply", methods=["POST"])
@require(PAYMENTS, "write")
def apply_credit(credit_id: int):
    invoice_id = parse_int(request.form.get("invoice_id"), "invoice_id")
    if invoice_id is None:
        abort(400)
    try:
        data = {"amount": parse_decimal(request.form.get("amount"), "amount")}
        with db.transaction() as session:
            payment = services.apply_credit(session, credit_id, invoice_id, data)
        flash(_("Credit of %(amount)s applied.", amount=_money(payment.amount, payment.invoice.currency)))
    except CRMError as exc:
        _error(exc)
    return _back(invoice_id)


# --- the payments list ------------------------------------------------------------------------------

#: the payments list's sort keys, its order when none is asked for, and its columns (as the
#: page shows them and its exports write them: a refund's amount is negative)
SORTABLE = {"date": Payment.date, "amount": Payment.amount}
DEFAULT_SORT = [Payment.date.desc(), Payment.id.desc()]
#: the columns of the payments list (the column chooser, saved views and exports use them)
COLUMNS = [
    ListColumn("date", _l("Date"), lambda p, _x: p.date, "date", sort="date"),
    ListColumn("invoice", _l("Invoice"), lambda p, _x: p.invoice.number),
    ListColumn("account", _l("Account"), lambda p, _x: p.invoice.account.name if p.invoice.account else ""),
    ListColumn("amount", _l("Amount"), lambda p, _x: -p.amount if p.status.is_refund else p.amount, "money",
               sort="amount"),
    ListColumn("status", _l("Status"), lambda p, _x: label(p.status.name)),
    ListColumn("method", _l("Type"), lambda p, _x: label(p.method.name) if p.method else ""),
    ListColumn("reference", _l("Reference"), lambda p, _x: p.reference),
    ListColumn("note", _l("Note"), lambda p, _x: p.note, shown=False),
]


@bp.route("/")
@require(PAYMENTS)
def index():
    """The payments list: its filters, search (``?q=``), sort and pages, chosen columns and saved
    views; ``?export=csv`` or ``xlsx`` answers every payment it lists, in the columns shown."""
    session = db.session
    opened = default_view_redirect("payments.index")
    if opened is not None:
        return opened
    filters, errors = _list_filters(request.args)
    stmt = services.payments_query(filters)
    listing = dict(model=Payment, sortable=SORTABLE, default_sort=DEFAULT_SORT)
    fmt = requested_format()
    if fmt:
        return export_response(session, list_query(session, stmt, **listing), export_columns_of(COLUMNS),
                               name="payments", fmt=fmt)
    return render_template("payments/index.html", page=list_page(session, stmt, **listing), errors=errors,
                           args=request.args, state=list_state("payments.index", COLUMNS),
                           statuses=services.list_statuses(session), methods=services.list_methods(session),
                           is_overdue=services.is_overdue)


def _list_filters(args) -> tuple[dict, list[str]]:
    """The filters of the payments list asked for in ``args``, and what was wrong in them."""
    filters: dict = {}
    errors = []
    for key in ("status", "method"):
        value = args.get(key)
        if value and is_digits(value):
            filters[f"{key}_id"] = int(value)
    for key in ("invoice_id", "account_id"):
        if is_digits(args.get(key, "")):
            filters[key] = int(args[key])
    if args.get("overdue") in ("1", "true", "on"):
        filters["overdue"] = True
    if args.get("scheduled") in ("1", "true", "on"):
        filters["scheduled"] = True
    try:
        filters["date_from"] = parse_date(args.get("from"), "from")
        filters["date_to"] = parse_date(args.get("to"), "to")
    except CRMError as exc:
        errors.append(exc.message)
    filters["q"] = args.get("q")
    return filters, errors


# --- the business summary ---------------------------------------------------------------------------

@bp.route("/summary")
@require(PAYMENTS)
def summary():
    errors = []
    try:
        date_from = parse_date(request.args.get("from"), "from")
        date_to = parse_date(request.args.get("to"), "to")
    except CRMError as exc:
        errors.append(exc.message)
        date_from = date_to = None
    data = services.summary(db.session, date_from, date_to)
    chart = {}
    for row in data["by_month"]:
        chart.setdefault(row["currency"], []).append({"month": row["month"], "received": str(row["received"])})
    return render_template("payments/summary.html", data=data, chart=chart, errors=errors,
                           date_from=date_from, date_to=date_to)


# --- settings: statuses and types --------------------------------------------------------------------

def _flag(form, name: str) -> bool:
    return form.get(name) in ("1", "on", "true")


@bp.route("/settings/statuses", methods=["GET"])
@require("settings", "write")
def statuses():
    session = db.session
    counts = _uses(session, Payment.status_id)
    return render_template("payments/statuses.html", statuses=services.list_statuses(session), counts=counts)


@bp.route("/settings/statuses", methods=["POST"])
@require("settings", "write")
def status_create():
    form = request.form
    try:
        with db.transaction() as session:
            status = services.create_status(session, {
                "name": form.get("name", ""), "counts_as_received": _flag(form, "counts_as_received"),
                "is_refund": _flag(form, "is_refund"), "is_scheduled": _flag(form, "is_scheduled"),
                "is_failure": _flag(form, "is_failure"),
                "position": parse_int(form.get("position"), "position"), "active": True})
        flash(_("Status %(name)s added.", name=status.name))
    except CRMError as exc:
        _error(exc)
    return redirect(url_for("payments.statuses"))


@bp.route("/settings/statuses/<int:status_id>", methods=["POST"])
@require("settings", "write")
def status_update(status_id: int):
    form = request.form
    try:
        with db.transaction() as session:
            status = services.get_status(session, status_id)
            services.update_status(session, status, {
                "name": form.get("name", status.name), "counts_as_received": _flag(form, "counts_as_received"),
                "is_refund": _flag(form, "is_refund"), "is_scheduled": _flag(form, "is_scheduled"),
                "is_failure": _flag(form, "is_failure"),
                "position": parse_int(form.get("position"), "position"), "active": _flag(form, "active")})
        flash(_("Status %(name)s saved.", name=status.name))
    except CRMError as exc:
        _error(exc)
    return redirect(url_for("payments.statuses"))


@bp.route("/settings/statuses/<int:status_id>/delete", methods=["POST"])
@require("settings", "write")
def status_delete(status_id: int):
    try:
        with db.transaction() as session:
            services.delete_status(session, services.get_status(session, status_id))
        flash(_("Status deleted."))
    except CRMError as exc:
        _error(exc)
    return redirect(url_for("payments.statuses"))


@bp.route("/settings/types", methods=["GET"])
@require("settings", "write")
def methods():
    session = db.session
    counts = _uses(session, Payment.method_id)
    return render_template("payments/methods.html", methods=services.list_methods(session), counts=counts)


@bp.route("/settings/types", methods=["POST"])
@require("settings", "write")
def method_create():
    form = request.form
    try:
        with db.transaction() as session:
            method = services.create_method(session, {"name": form.get("name", ""),
                                                      "position": parse_int(form.get("position"), "position")})
        flash(_("Payment type %(name)s added.", name=method.name))
    except CRMError as exc:
        _error(exc)
    return redirect(url_for("payments.methods"))


@bp.route("/settings/types/<int:method_id>", methods=["POST"])
@require("settings", "write")
def method_update(method_id: int):
    form = request.form
    try:
        with db.transaction() as session:
            method = services.get_method(session, method_id)
            services.update_method(session, method, {"name": form.get("name", method.name),
                                                     "position": parse_int(form.get("position"), "position"),
                                                     "active": _flag(form, "active")})
        flash(_("Payment type %(name)s saved.", name=method.name))
    except CRMError as exc:
        _error(exc)
    return redirect(url_for("payments.methods"))


@bp.route("/settings/types/<int:method_id>/delete", methods=["POST"])
@require("settings", "write")
def method_delete(method_id: int):
    try:
        with db.transaction() as session:
            services.delete_method(session, services.get_method(session, method_id))
        flash(_("Payment type deleted."))
    except CRMError as exc:
        _error(exc)
    return redirect(url_for("payments.methods"))


def _uses(session, column) -> dict:
    from sqlalchemy import func
    return dict(session.execute(select(column, func.count()).group_by(column)).all())


__all__ = ["bp", "invoice_panel"]
