"""Reading the spreadsheets an import brings: CSV (UTF-8 with or without a BOM, or
Windows-1252; comma, semicolon or tab separated) and XLSX (the first sheet, read with openpyxl
in read-only mode). The first non-empty row holds the column headers.

A cell comes back as text (CSV, and XLSX text cells), a number, a date, a boolean (XLSX), or a
:class:`Formula` (an XLSX formula, or CSV text starting with ``=``): an import never evaluates
a formula, it names the cell instead. Whatever cannot be read is a :class:`FileRefused` (a
:class:`~crm.errors.ValidationError` on ``file``) saying why.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from crm.errors import ValidationError

#: the largest file an import reads (bytes); ``CRM_IMPORT_MAX_BYTES`` changes it
MAX_BYTES = 50 * 1024 * 1024
#: the most rows an import reads
MAX_ROWS = 1_000_000
MAX_COLUMNS = 200
FORMATS = ("csv", "xlsx")
_ZIP_MAGIC = b"PK\x03\x04"


class FileRefused(ValidationError):
    code = "invalid_file"


def refused(reason: str) -> FileRefused:
    return FileRefused(reason, {"file": [reason]})


@dataclass(frozen=True)
class Formula:
    """A cell holding a formula (its text), never evaluated."""

    text: str


@dataclass
class Sheet:
    """The headers and the data rows of a file; ``numbers[i]`` is the row number of ``rows[i]``
    as a spreadsheet shows it (the header row is row 1 when it is the first)."""

    format: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""


def file_format(filename: str, data: bytes) -> str:
    """``csv`` or ``xlsx``, from the file's content (a zip is a workbook) and its name."""
    name = (filename or "").lower()
    if data.startswith(_ZIP_MAGIC):
        return "xlsx"
    if name.endswith((".xlsx", ".xlsm")):
        raise refused(_("the file is not a valid XLSX workbook (it is not a zip archive)"))
    if name.endswith((".xls", ".ods", ".numbers")):
        raise refused(_("this kind of spreadsheet cannot be read: save it as XLSX or CSV"))
    return "csv"


def read(data: bytes, filename: str = "", *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> Sheet:
    """The headers and rows of a CSV or XLSX file."""
    if len(data) > max_bytes:
        raise refused(_("the file is %(size)s MB; an import reads at most %(max)s MB: split it into smaller files",
                        size=_megabytes(len(data)), max=_megabytes(max_bytes)))
    if not data.strip():
        raise refused(_("the file is empty"))
    fmt = file_format(filename, data)
    sheet = _read_xlsx(data, max_rows) if fmt == "xlsx" else _read_csv(data, max_rows)
    if not any(sheet.headers):
        raise refused(_("the file has no header row"))
    return sheet


def _megabytes(size: int) -> str:
    return str(round(size / 1024 / 1024)) if size >= 1024 * 1024 else f"{size / 1024 / 1024:.1f}"


# --- CSV --------------------------------------------------------------------------------------------

def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and its encoding: UTF-8 (a BOM dropped), else Windows-1252."""
    if b"\x00" in data[:65536]:
        raise refused(_("the file is not a text file (CSV) nor an XLSX workbook"))
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise refused(_("the file's encoding cannot be read (byte %(position)s): save it as UTF-8 or "
                        "Windows-1252", position=exc.start + 1)) from None


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (";", "\t", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(data: bytes, max_rows: int) -> Sheet:
    text, encoding = decode(data)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    sheet = Sheet("csv", [], encoding=encoding, delimiter=delimiter)
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(values) > MAX_COLUMNS:
                raise refused(_("row %(row)s has more than %(max)s columns", row=reader.line_num, max=MAX_COLUMNS))
            cells = [Formula(v) if v.startswith("=") and len(v) > 1 else v for v in values]
            if not sheet.headers and not sheet.rows:
                sheet.headers = [str(v).strip() for v in values]
                continue
            _add(sheet, cells, reader.line_num, max_rows)
    except csv.Error as exc:
        raise refused(_("the CSV file is malformed at line %(line)s: %(reason)s", line=reader.line_num,
                        reason=str(exc))) from None
    return sheet


def _add(sheet: Sheet, cells: list, number: int, max_rows: int) -> None:
    if len(sheet.rows) >= max_rows:
        raise refused(_("the file has more than %(max)s rows: split it into smaller files", max=max_rows))
    sheet.rows.append(cells)
    sheet.numbers.append(number)


# --- XLSX -------------------------------------------------------------------------------------------

def _read_xlsx(data: bytes, max_rows: int) -> Sheet:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise refused(_("the file is not a valid XLSX workbook: %(reason)s", reason=str(exc) or type(exc).__name__)) \
            from None
    except Exception as exc:  # noqa: BLE001  openpyxl's own errors (InvalidFileException, parse errors)
        raise refused(_("the file is not a valid XLSX workbook: %(reason)s", reason=str(exc) or type(exc).__name__)) \
            from None
    try:
        worksheet = workbook.worksheets[0] if workbook.worksheets else None
        if worksheet is None:
            raise refused(_("the workbook has no sheet"))
        sheet = Sheet("xlsx", [])
        for number, row in enumerate(worksheet.iter_rows(), start=1):
            cells = [_xlsx_value(cell) for cell in row]
            if not any(c not in (None, "") for c in cells):
                continue
            if len(cells) > MAX_COLUMNS:
                cells = cells[:MAX_COLUMNS] if not any(c not in (None, "") for c in cells[MAX_COLUMNS:]) else cells
                if len(cells) > MAX_COLUMNS:
                    raise refused(_("row %(row)s has more than %(max)s columns", row=number, max=MAX_COLUMNS))
            if not sheet.headers and not sheet.rows:
                sheet.headers = ["" if c is None else str(c.text if isinstance(c, Formula) else c).strip()
                                 for c in cells]
                continue
            _add(sheet, cells, number, max_rows)
    except FileRefused:
        raise
    except Exception as exc:  # noqa: BLE001  a damaged sheet inside a valid zip
        raise refused(_("the file is not a valid XLSX workbook: %(reason)s", reason=str(exc) or type(exc).__name__)) \
            from None
    finally:
        workbook.close()
    while sheet.headers and not sheet.headers[-1]:
        sheet.headers.pop()
    return sheet


def _xlsx_value(cell: Any) -> Any:
    value = getattr(cell, "value", None)
    if value is None:
        return None
    kind = getattr(cell, "data_type", "s")
    if kind == "f" or (isinstance(value, str) and kind != "s" and value.startswith("=")):
        return Formula(str(value))
    if kind == "e":
        return Formula(str(value))  # #DIV/0! and the like: what a formula left
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, (int, bool, Decimal, dt.date, dt.datetime, dt.time)):
        return value
    return str(value)
