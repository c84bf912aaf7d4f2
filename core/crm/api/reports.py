"""``/api/v1/reports``: the list of reports, and ``/api/v1/reports/<name>`` as JSON or CSV.

Every report of :mod:`crm.services.reports` gets its own route, so that the OpenAPI
description shows its own parameters; any other name answers 404 listing the known
ones. Decimals are strings in JSON; ``?format=csv`` returns every row (unless
``per_page`` is given) with the column labels as header, numbers plain with a dot
decimal, and text cells that a spreadsheet would run as a formula (``=``, ``+``,
``-``, ``@``...) prefixed with a quote.
"""
from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
from decimal import Decimal

from flask import Response
from flask.views import MethodView
from marshmallow import EXCLUDE, fields, validate

from crm.api.fields import Date, IdField, Integer
from crm.api.schemas import MAX_PER_PAGE, Blueprint, Schema
from crm.db import db
from crm.labels import CODE_LABELS
from crm.money import MONEY_MIN_PLACES, decimal_text
from crm.permissions import require
from crm.services import reports
from crm.services.reports import Column, Page, Report, ReportSpec

blp = Blueprint("api_reports", __name__, url_prefix="/api/v1/reports",
                description="Reports (stock, orders, sales, receivables) as JSON or CSV")

DEFAULT_PER_PAGE = 50
#: characters that make a spreadsheet read a cell as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: the marshmallow field of each report parameter (see ``ReportSpec.parameters``)
PARAMETER_FIELDS = {
    "category": lambda: fields.String(validate=validate.Length(max=100),
                                      metadata={"description": "only products of this category (exact match; blank: any)"}),
    "q": lambda: fields.String(validate=validate.Length(max=200),
                               metadata={"description": "text in the product's name or SKU"}),
    "product_id": lambda: IdField(required=True, metadata={"description": "the product whose moves to list"}),
    "date_from": lambda: Date(data_key="from", metadata={
        "description": "first day of the period (default: 1 January of the current year)"}),
    "date_to": lambda: Date(data_key="to", metadata={
        "description": "last day of the period, included (default: 31 December of from's year)"}),
    "as_of": lambda: Date(metadata={"description": "the day the ages are counted to (default: today)"}),
    "currency": lambda: fields.String(validate=validate.Length(equal=3), metadata={
        "description": "documents in this currency only (default: the default currency)"}),
}


class ReportArgs(Schema):
    """What every report accepts: the output format and the page of rows."""

    class Meta:
        unknown = EXCLUDE

    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "json (default) or csv"})
    page = Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = Integer(validate=validate.Range(min=1, max=MAX_PER_PAGE), metadata={
        "description": f"rows per page (JSON default {DEFAULT_PER_PAGE}); a CSV has every row unless given"})


class ColumnOut(Schema):
    key = fields.String()
    label = fields.String()
    type = fields.String(metadata={"enum": ["text", "integer", "quantity", "money", "date", "datetime",
                                            *CODE_LABELS],
                                   "description": "how the cells are written; a kind of code (status, "
                                                  "item_kind, ...) is written as the stored code"})


class SectionOut(Schema):
    title = fields.String()
    columns = fields.List(fields.Nested(ColumnOut))
    rows = fields.List(fields.Dict())


class PaginationOut(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer(metadata={"description": "rows in the whole report"})


class ReportOut(Schema):
    name = fields.String()
    title = fields.String()
    notes = fields.String(metadata={"description": "the rules of the figures, in a sentence or two"})
    parameters = fields.Dict(metadata={"description": "the parameters used, defaults filled in"})
    columns = fields.List(fields.Nested(ColumnOut))
    rows = fields.List(fields.Dict(), metadata={"description": "keyed by column; decimals as strings; "
                                                               "ids of linked records (product_id...) too"})
    totals = fields.Dict(metadata={"description": "keyed like total_columns"})
    total_columns = fields.List(fields.Nested(ColumnOut))
    pagination = fields.Nested(PaginationOut)
    chart = fields.Dict(allow_none=True, metadata={
        "description": 'what the web UI draws: {"type": "bar", "section": "by_month", "x": "month", "y": "net"}'})
    by_category = fields.Nested(SectionOut, metadata={"description": "stock-valuation: value per category"})
    by_month = fields.Nested(SectionOut, metadata={"description": "sales reports: every month of the period"})
    by_bucket = fields.Nested(SectionOut, metadata={"description": "invoice-aging: balance per bucket"})


class ReportInfo(Schema):
    name = fields.String()
    title = fields.String()
    description = fields.String()
    parameters = fields.List(fields.String())
    url = fields.String()


class ReportList(Schema):
    items = fields.List(fields.Nested(ReportInfo))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


# --- turning a report into JSON or CSV ------------------------------------------------------------

def _decimal(min_places: int):
    return lambda value: decimal_text(value if isinstance(value, Decimal) else Decimal(value), min_places)


def _utc_iso(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with its offset (SQLite gives back naive UTC datetimes)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat()


#: how a cell of each column type is written: decimals as strings (money with 2 decimals at
#: least), dates ISO 8601, text as it is, a stored code (a status, a kind: crm.labels.CODE_LABELS)
#: as the code, which a client translates itself
CELL_TEXT = {"money": _decimal(MONEY_MIN_PLACES), "quantity": _decimal(0), "integer": int,
             "date": dt.date.isoformat, "datetime": _utc_iso, "text": str,
             **{kind: str for kind in CODE_LABELS}}


def json_value(value):
    """A parameter's value as JSON."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return decimal_text(value) if isinstance(value, Decimal) else value


def _json_rows(columns: list[Column], rows: list[dict]) -> list[dict]:
    """Rows as JSON; keys that are not columns are ids of linked records (integers)."""
    write = {column.key: CELL_TEXT[column.type] for column in columns}
    return [{key: None if value is None else write.get(key, int)(value) for key, value in row.items()}
            for row in rows]


def _columns_json(columns: list[Column]) -> list[dict]:
    return [column._asdict() for column in columns]


def report_json(report: Report) -> dict:
    body = {"name": report.name, "title": report.title, "notes": report.notes,
            "parameters": {key: json_value(value) for key, value in report.parameters.items()},
            "columns": _columns_json(report.columns), "rows": _json_rows(report.columns, report.rows),
            "totals": _json_rows(report.total_columns, [report.totals])[0],
            "total_columns": _columns_json(report.total_columns),
            "pagination": report.pagination, "chart": report.chart}
    for key, section in report.sections.items():
        body[key] = {"title": section.title, "columns": _columns_json(section.columns),
                     "rows": _json_rows(section.columns, section.rows)}
    return body


def guarded_text(value) -> str:
    """Text for a spreadsheet cell: a leading quote keeps a cell that would start a formula
    (``=``, ``+``, ``-``, ``@``, tab, carriage return) from being run."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_response(report: Report) -> Response:
    """Every row of ``report`` under a header of its column labels. Numbers are plain with a
    dot decimal, so spreadsheets read them as numbers (negative ones too: only text cells
    are guarded against formulas)."""
    writers = [(column.key, guarded_text if column.type == "text" else CELL_TEXT[column.type])
               for column in report.columns]
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow([column.label for column in report.columns])
    out.writerows([["" if row.get(key) is None else write(row[key]) for key, write in writers]
                   for row in report.rows])
    response = Response(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{report.name}.csv"'
    return response


# --- routes ---------------------------------------------------------------------------------------

def _args_schema(spec: ReportSpec) -> type[Schema]:
    name = "".join(part.title() for part in spec.name.split("-")) + "ReportArgs"
    return type(name, (ReportArgs,), {parameter: PARAMETER_FIELDS[parameter]() for parameter in spec.parameters})


def _page(args: dict) -> Page:
    if args.get("per_page") is None and args["format"] == "csv":
        return Page()
    return Page(args["page"], args.get("per_page") or DEFAULT_PER_PAGE)


def _add_report_route(spec: ReportSpec) -> None:
    args_schema = _args_schema(spec)

    class ReportView(MethodView):
        @require("reports")
        @blp.arguments(args_schema, location="query")
        @blp.response(200, ReportOut)
        @blp.alt_response(200, schema={"type": "string"}, content_type="text/csv", success=True,
                          description="the report as JSON; with ?format=csv, its rows as CSV under a header "
                                      "of the column labels")
        @blp.doc(summary=spec.title, description=inspect.getdoc(spec.function))
        def get(self, args):
            page = _page(args)
            parameters = {key: args[key] for key in spec.parameters if key in args}
            report = spec.function(db.session, page=page, **parameters)
            return csv_response(report) if args["format"] == "csv" else report_json(report)

    ReportView.__name__ = ReportView.__qualname__ = args_schema.__name__.removesuffix("Args")
    blp.route(f"/{spec.name}")(ReportView)


for _spec in reports.REPORTS.values():
    _add_report_route(_spec)


@blp.route("")
class ReportCatalogue(MethodView):
    @require("reports")
    @blp.response(200, ReportList)
    def get(self):
        """The reports there are, with the parameters each takes (besides format, page, per_page)."""
        items = [{"name": spec.name, "title": spec.title, "description": spec.description,
                  "parameters": [PARAMETER_FIELDS[p]().data_key or p for p in spec.parameters],
                  "url": f"/api/v1/reports/{spec.name}"} for spec in reports.REPORTS.values()]
        return {"items": items, "total": len(items), "page": 1, "per_page": len(items)}


@blp.route("/<string:name>")
class UnknownReport(MethodView):
    @require("reports")
    @blp.response(404)
    def get(self, name):
        """Any other name: 404, with the names of the reports there are."""
        reports.get_spec(name)
