"""Exports of the list pages: ``?export=csv`` or ``?export=xlsx`` on a list page's URL answers
every row the page lists -- the same search, filters and sort, without its pages -- with the
page's columns, instead of the page.

Rows are read ``BATCH`` at a time (``yield_per``: a server-side cursor on PostgreSQL), so a
large list never sits in memory:

- CSV is a generator response: each batch is written out as it is read.
- XLSX is written by openpyxl's write-only workbook (each row goes to a temporary file as it is
  added) into an anonymous temporary file, which is then streamed in blocks (``send_file``). An
  XLSX file is a zip whose directory comes last, so it cannot be sent before it is complete;
  the temporary file keeps memory flat while it is built.

Cell values: amounts and quantities are numbers in XLSX, with a number format showing exactly
their decimals, and plain decimal text in CSV (``1234.5``, never ``1,234.50``); dates are
dates (datetimes in the user's time zone). Text is never a formula: in CSV a text starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe, in XLSX every
text cell is written as a string.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from flask import request, send_file, stream_with_context
from flask_babel import gettext as _, to_user_timezone
from werkzeug.wrappers import Response

from crm.db import db
from crm.money import MONEY_MIN_PLACES, decimal_text

BATCH = 1000
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER_KINDS = ("money", "quantity", "percent", "int")
#: characters XML 1.0 cannot hold (an XLSX cell refuses them)
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass
class ExportColumn:
    """A column of an export: its header, how to read it from a record, and its kind (text,
    money, quantity, percent, int, bool, date, datetime). ``value(record, extra)`` gets what
    the list's ``extra`` function computed for the record's batch (None without one)."""

    label: object
    value: Callable
    kind: str = "text"


def requested_format() -> str | None:
    """``csv`` or ``xlsx`` when the list page is asked for an export (``?export=``), else None."""
    wanted = request.args.get("export")
    return wanted if wanted in CONTENT_TYPES else None


def export_response(session, stmt, columns: list[ExportColumn], *, name: str, fmt: str,
                    extra: Callable | None = None) -> Response:
    """Every row of ``stmt`` (already searched, filtered and sorted) as ``fmt``, the file named
    ``name`` (``accounts`` -> ``accounts.csv``). ``extra(session, records)``, if given, computes
    what a batch of records needs beyond themselves (their incoming stock, say).

    The rows are read in a session of their own (:meth:`crm.db.Database.reading_session`), and
    ``session``'s transaction ends here: an export of 100,000 rows takes a minute, and on SQLite
    a request's transaction holds the writers' lock while the export's only reads a snapshot."""
    session.close()
    rows = _rows(db.reading_session(), stmt, columns, extra)
    filename = f"{name}-{dt.date.today().isoformat()}.{fmt}"
    if fmt == "csv":
        response = Response(stream_with_context(_csv(columns, rows)), content_type=CONTENT_TYPES["csv"])
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return send_file(_xlsx_file(columns, rows, name), mimetype=CONTENT_TYPES["xlsx"], as_attachment=True,
                     download_name=filename, max_age=0)


def _rows(session, stmt, columns: list[ExportColumn], extra) -> Iterator[list]:
    """The cells of every record of ``stmt``. The session is closed at the end (a streamed
    answer outlives its view: its transaction must not wait for the client)."""
    try:
        result = session.scalars(stmt.execution_options(yield_per=BATCH))
        for records in result.partitions():
            context = extra(session, records) if extra is not None else None
            for record in records:
                yield [column.value(record, context) for column in columns]
    finally:
        session.close()


# --- CSV -------------------------------------------------------------------------------------------

def _csv(columns: list[ExportColumn], rows: Iterator[list]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_text(str(c.label)) for c in columns])
    count = 0
    for row in rows:
        writer.writerow([csv_value(value, c.kind) for value, c in zip(row, columns)])
        count += 1
        if count % BATCH == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def csv_text(text: str) -> str:
    """A text cell that a spreadsheet will not take for a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_value(value, kind: str) -> str:
    if value is None or value == "":
        return ""
    if kind in NUMBER_KINDS and isinstance(value, (Decimal, int)):
        return decimal_text(Decimal(value), MONEY_MIN_PLACES if kind == "money" else 0)
    if isinstance(value, dt.datetime):
        return _local(value).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return csv_text(_text(value, kind))


def _text(value, kind: str) -> str:
    if kind == "bool" or isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def _local(value: dt.datetime) -> dt.datetime:
    """A stored datetime (UTC) in the user's time zone, without its offset."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return to_user_timezone(value).replace(tzinfo=None)


# --- XLSX ------------------------------------------------------------------------------------------

def _xlsx_file(columns: list[ExportColumn], rows: Iterator[list], title: str):
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=_ILLEGAL_XML.sub("", str(column.label)))
        cell.data_type = "s"
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, WriteOnlyCell, value, c.kind) for value, c in zip(row, columns)])
    file = tempfile.TemporaryFile()
    workbook.save(file)
    file.seek(0)
    return file


def _xlsx_cell(sheet, cell_class, value, kind: str):
    if value is None or value == "":
        return None
    if kind in NUMBER_KINDS and isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        cell = cell_class(sheet, value=value)
        cell.number_format = number_format(value, kind)
        return cell
    if isinstance(value, dt.datetime):
        cell = cell_class(sheet, value=_local(value))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, dt.date):
        cell = cell_class(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    cell = cell_class(sheet, value=_ILLEGAL_XML.sub("", _text(value, kind)))
    cell.data_type = "s"   # a string, never a formula, whatever it starts with
    return cell


def number_format(value, kind: str) -> str:
    """The format showing exactly ``value``'s decimals (money: at least two): ``#,##0.000``."""
    places = max(0, -Decimal(value).normalize().as_tuple().exponent) if isinstance(value, Decimal) else 0
    if kind == "money":
        places = max(places, MONEY_MIN_PLACES)
    return "#,##0." + "0" * places if places else "#,##0"
