"""Report pages: the catalogue of :mod:`crm.services.reports`, each report as a
table with its totals, sections and a chart where a picture helps, and its CSV
(the same CSV the API serves, through the session-signed web route)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request
from flask_babel import format_date, gettext, lazy_gettext as _l

from crm.db import db
from crm.errors import CRMError, ValidationError
from crm.permissions import require
from crm.web.common import FormErrors, parse_date, parse_int, whole_or

bp = Blueprint("reports", __name__, url_prefix="/reports")
PER_PAGE = 50

#: The English labels the reports service uses, listed so that they are extracted for
#: translation; pages show ``gettext(label)``.
LABELS = [
    _l("Stock levels"), _l("Low stock"), _l("Stock valuation"), _l("Stock moves of a product"),
    _l("Open sales orders"), _l("Open purchase orders"), _l("Sales by product"), _l("Sales by account"),
    _l("Invoice aging"), _l("SKU"), _l("Product"), _l("Category"), _l("On hand"), _l("Reserved"), _l("Available"),
    _l("Incoming"), _l("Reorder level"), _l("Products"), _l("Vendor"), _l("Shortfall"), _l("Purchase cost"),
    _l("Value"), _l("Stock value by category"), _l("Date"), _l("Kind"), _l("Reason"), _l("Document"),
    _l("Quantity"), _l("Balance"), _l("Note"), _l("Moves"), _l("Opening balance"), _l("In"), _l("Out"),
    _l("Closing balance"), _l("Number"), _l("Account"), _l("Status"), _l("Due date"), _l("Grand total"),
    _l("To ship"), _l("To invoice"), _l("To receive"), _l("Value to invoice"), _l("Value to receive"),
    _l("Orders"), _l("Item"), _l("Invoices"), _l("Net (before document discounts)"), _l("Document discounts"),
    _l("Net after document discounts"), _l("Sales by month"), _l("Month"), _l("Net"), _l("Subtotal"),
    _l("Current"), _l("Total"), _l("Balance by days past due"), _l("Days past due"),
]
PARAMETER_LABELS = {"category": _l("Category"), "q": _l("Search"), "product_id": _l("Product"),
                    "date_from": _l("From"), "date_to": _l("To"), "currency": _l("Currency"),
                    "as_of": _l("As of")}


def _spec_or_404(name: str):
    from crm.services import reports
    return reports.get_spec(name)


def _parameters(spec) -> dict:
    """The report's parameters from the query string; bad values are a ValidationError."""
    values, problems = {}, {}
    for name in spec.parameters:
        text = request.args.get(name, "").strip()
        try:
            if name in ("date_from", "date_to", "as_of"):
                values[name] = parse_date(text, name)
            elif name == "product_id":
                values[name] = parse_int(text, name, required=True)
            elif name == "currency":
                values[name] = text.upper()[:3] or None
            else:
                values[name] = text[:200] or None
        except ValidationError as exc:
            problems.update(exc.fields)
    if problems:
        raise ValidationError(gettext("Check the highlighted fields."), problems)
    return values


def _chart(report) -> dict | None:
    """Chart.js data from the report's chart hint: a section's (or the rows') x and y columns."""
    hint = report.chart
    if not hint:
        return None
    rows = report.sections[hint["section"]].rows if hint.get("section") in report.sections else report.rows
    if not rows:
        return None
    labels = []
    for row in rows:
        x = row.get(hint["x"])
        if isinstance(x, dt.datetime):
            x = format_date(x.date(), "short")
        elif isinstance(x, str) and len(x) == 7 and x[4] == "-":  # "2027-03"
            x = format_date(dt.date(int(x[:4]), int(x[5:]), 1), "MMM yy")
        labels.append(gettext(str(x)) if x not in (None, "") else "—")
    column = next((c for c in ([*report.columns] + [c for s in report.sections.values() for c in s.columns])
                   if c.key == hint["y"]), None)
    return {"type": hint.get("type", "bar"), "labels": labels,
            "series": [{"label": gettext(column.label) if column else hint["y"],
                        "values": [str(row.get(hint["y"]) or 0) for row in rows]}]}


@bp.route("/")
@require("reports")
def index():
    from crm.services import reports
    return render_template("reports/index.html", specs=list(reports.REPORTS.values()))


@bp.route("/<name>")
@require("reports")
def show(name: str):
    from crm.services import reports
    spec = _spec_or_404(name)
    session = db.session
    errors, report, chart = FormErrors(), None, None
    page = max(1, min(whole_or(request.args.get("page"), 1), 1_000_000))
    products = []
    if "product_id" in spec.parameters:
        from sqlalchemy import func, select

        from crm.models import Item
        products = list(session.execute(select(Item.id, Item.name).where(Item.kind == "product",
                                                                         Item.is_bundle.is_(False))
                                        .order_by(func.lower(Item.name))).all())
    if "product_id" in spec.parameters and not request.args.get("product_id"):
        pass  # ask for a product first
    else:
        try:
            report = spec.function(session, page=reports.Page(page, PER_PAGE), **_parameters(spec))
            chart = _chart(report)
        except CRMError as exc:
            errors = FormErrors.from_error(exc)
    return render_template("reports/show.html", spec=spec, report=report, chart=chart, errors=errors, page=page,
                           per_page=PER_PAGE, parameter_labels=PARAMETER_LABELS, products=products), \
        (422 if errors else 200)


@bp.route("/<name>/csv")
@require("reports")
def csv(name: str):
    """Every row of the report as CSV: the same file as ``GET /api/v1/reports/<name>?format=csv``."""
    from crm.api.reports import csv_response
    from crm.services import reports
    spec = _spec_or_404(name)
    report = spec.function(db.session, page=reports.ALL, **_parameters(spec))
    return csv_response(report)
