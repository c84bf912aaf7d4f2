"""Adding many items to a document in one transaction, through the core's
``documents.update_document``: the existing lines are sent back with their ids
(so they keep everything), the new ones are appended, and the core applies its
own validation, default prices and taxes, totals and status rules (409 when the
document is no longer editable)."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from crm.errors import ValidationError
from crm.models import Document, DocumentLine
from crm.services import documents

_LINE_FIELD = re.compile(r"^lines\.(\d+)(\..*)?$")


def _kept(line: DocumentLine) -> dict:
    """An existing line as ``update_document`` keeps it unchanged: its id (and kind of row)."""
    if line.display_type is not None:
        return {"id": line.id, "display_type": line.display_type}
    return {"id": line.id}


def _new(row: dict) -> dict:
    line = {"item_id": row["item_id"], "quantity": row.get("quantity", Decimal("1"))}
    for key in ("unit_price", "discount_percent", "discount_amount"):
        if row.get(key) is not None:
            line[key] = row[key]
    return line


def append_items(session: Session, document: Document, rows: list[dict], *, version: int | None = None,
                 price_book_id: int | None = None) -> Document:
    """Append one line per row (``item_id``, ``quantity``, optional ``unit_price``) to ``document``.
    A row without a unit price takes the core's default price (``documents.default_price``: the
    purchase cost on a purchase order, else its list price in the price book ``price_book_id``
    where the book lists it, else its unit price). A bundle is one line; the core's stock rules
    move its components. Errors about the new lines name them ``items.<n>.<field>``."""
    if not rows:
        raise ValidationError.for_field("items", _("give at least one item"))
    kept = [_kept(line) for line in document.lines]
    data: dict[str, Any] = {"lines": kept + [_new(row) for row in rows]}
    if version is not None:
        data["version"] = version
    if price_book_id is not None:
        data["price_book_id"] = price_book_id
    try:
        return documents.update_document(session, document, data)
    except ValidationError as exc:
        raise _renamed(exc, len(kept)) from None


def _renamed(exc: ValidationError, offset: int) -> ValidationError:
    def rename(name: str) -> str:
        match = _LINE_FIELD.match(name)
        if match and int(match.group(1)) >= offset:
            return f"items.{int(match.group(1)) - offset}{match.group(2) or ''}"
        return name
    fields = {rename(name): reasons for name, reasons in exc.fields.items()}
    message = exc.message
    if exc.fields and len(exc.fields) == 1:
        (old, reasons), = exc.fields.items()
        message = f"{rename(old)}: {reasons[0]}" if message.startswith(old) else message
    return ValidationError(message, fields, code=exc.code)
