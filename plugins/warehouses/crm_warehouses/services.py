"""Warehouses: creating, changing and deleting them (no HTTP here: the API and the pages call
these inside their transaction)."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from crm.errors import Conflict, NotFound, ValidationError
from crm.models import Document, DocumentLine, StockBalance, StockLocation, StockMove
from crm.services import stock
from crm_warehouses.models import (
    CODE_LENGTH,
    DOC_TYPES,
    LINE_KEY,
    LOCATION_PLUGIN,
    DocumentWarehouse,
    UserDefault,
    Warehouse,
)

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
FIELDS = ("code", "name", "address", "active")


def warehouses(session: Session, *, active: bool | None = None) -> list[Warehouse]:
    """Every warehouse by code, or only the active (``active=True``) or inactive ones."""
    stmt = select(Warehouse).order_by(Warehouse.code)
    if active is not None:
        stmt = stmt.where(Warehouse.active.is_(active))
    return list(session.scalars(stmt))


def get_warehouse(session: Session, warehouse_id: int, *, for_update: bool = False) -> Warehouse:
    stmt = select(Warehouse).where(Warehouse.id == warehouse_id)
    found = session.scalar(stmt.with_for_update() if for_update else stmt)
    if found is None:
        raise NotFound(_("warehouse %(id)s not found", id=warehouse_id))
    return found


def _checked(session: Session, data: dict[str, Any], warehouse: Warehouse | None) -> dict[str, Any]:
    """The values of ``data`` to set, normalised; ValidationError naming the field otherwise."""
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if "code" in data or warehouse is None:
        code = str(data.get("code") or "").strip()
        if not code:
            errors["code"] = [_("give a code")]
        elif len(code) > CODE_LENGTH or not CODE_PATTERN.match(code):
            errors["code"] = [_("at most %(n)s letters, digits, - or _", n=CODE_LENGTH)]
        else:
            other = session.scalar(select(Warehouse.id).where(Warehouse.code == code))
            if other is not None and (warehouse is None or other != warehouse.id):
                errors["code"] = [_("another warehouse has the code %(code)s", code=code)]
            clean["code"] = code
    if "name" in data or warehouse is None:
        name = str(data.get("name") or "").strip()
        if not name:
            errors["name"] = [_("give a name")]
        elif len(name) > 200:
            errors["name"] = [_("at most 200 characters")]
        clean["name"] = name
    if "address" in data:
        address = str(data.get("address") or "")
        if len(address) > 2000:
            errors["address"] = [_("at most 2000 characters")]
        clean["address"] = address
    if "active" in data:
        clean["active"] = bool(data["active"])
    if errors:
        raise ValidationError(_("Check the warehouse's fields."), fields=errors)
    return clean


def create_warehouse(session: Session, data: dict[str, Any]) -> Warehouse:
    """A new warehouse (active unless ``active`` is false), with its stock location."""
    values = _checked(session, data, None)
    location = stock.location(session, LOCATION_PLUGIN, values["code"], values["name"])
    warehouse = Warehouse(**{"address": "", "active": True, **values, "location_id": location.id})
    session.add(warehouse)
    session.flush()
    return warehouse


def update_warehouse(session: Session, warehouse: Warehouse, data: dict[str, Any]) -> Warehouse:
    """Change the fields given in ``data``; its stock location takes its new code and name."""
    values = _checked(session, {k: v for k, v in data.items() if k in FIELDS}, warehouse)
    for key, value in values.items():
        setattr(warehouse, key, value)
    location = session.get(StockLocation, warehouse.location_id)
    if location is not None and (location.code, location.name) != (warehouse.code, warehouse.name):
        location.code, location.name = warehouse.code, warehouse.name
    session.flush()
    return warehouse


def delete_warehouse(session: Session, warehouse: Warehouse) -> None:
    """Delete a warehouse that holds no stock, never had any and no document names (409
    otherwise: deactivate it), with its stock location. The users who worked in it have no
    default warehouse any more."""
    here = warehouse.location_id
    held = session.scalar(select(func.count()).select_from(StockBalance).where(
        StockBalance.location_id == here, (StockBalance.on_hand != Decimal("0")) | (StockBalance.reserved != Decimal("0"))))
    if held:
        raise Conflict(_("warehouse %(code)s holds stock of %(count)s product(s): deactivate it instead",
                         code=warehouse.code, count=held), code="warehouse_has_stock")
    moved = session.scalar(select(StockMove.id).where(StockMove.location_id == here).limit(1))
    reserving = session.scalar(select(DocumentLine.id).where(DocumentLine.stock_location_id == here).limit(1))
    if moved is not None or reserving is not None:
        raise Conflict(_("stock has moved through warehouse %(code)s: deactivate it instead", code=warehouse.code),
                       code="warehouse_has_moves")
    used = session.scalar(select(func.count()).select_from(DocumentWarehouse)
                          .where(DocumentWarehouse.warehouse_id == warehouse.id))
    if used:
        raise Conflict(_("%(count)s document(s) name warehouse %(code)s: deactivate it instead", count=used,
                         code=warehouse.code), code="warehouse_in_use")
    session.execute(delete(UserDefault).where(UserDefault.warehouse_id == warehouse.id))
    from crm_warehouses.bins import delete_all
    delete_all(session, warehouse.id)
    session.delete(warehouse)
    session.flush()
    session.execute(delete(StockBalance).where(StockBalance.location_id == here))
    session.execute(delete(StockLocation).where(StockLocation.id == here))
    session.flush()


def refuse_inactive(warehouse: Warehouse, field: str) -> None:
    if not warehouse.active:
        raise Conflict(_("warehouse %(code)s is inactive", code=warehouse.code), fields={field: [_("inactive")]},
                       code="warehouse_inactive")


def _active(session: Session, warehouse_id: object, field: str) -> Warehouse:
    """The active warehouse ``warehouse_id``, else ValidationError naming ``field``."""
    if not isinstance(warehouse_id, int) or isinstance(warehouse_id, bool):
        raise ValidationError.for_field(field, _("give a warehouse id"))
    warehouse = session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise ValidationError.for_field(field, _("warehouse %(id)s not found", id=warehouse_id))
    if not warehouse.active:
        raise ValidationError.for_field(field, _("warehouse %(code)s is inactive", code=warehouse.code))
    return warehouse


# --- the default warehouse of a user -------------------------------------------------------------

def user_default(session: Session, user_id: int | None) -> Warehouse | None:
    """The warehouse ``user_id`` works in, or None."""
    if user_id is None:
        return None
    row = session.get(UserDefault, user_id)
    return session.get(Warehouse, row.warehouse_id) if row is not None else None


def set_user_default(session: Session, user_id: int, warehouse_id: int | None) -> Warehouse | None:
    """Set (an active warehouse) or forget (None) the warehouse ``user_id`` works in."""
    row = session.get(UserDefault, user_id)
    if warehouse_id is None:
        if row is not None:
            session.delete(row)
        session.flush()
        return None
    warehouse = _active(session, warehouse_id, "warehouse_id")
    if row is None:
        session.add(UserDefault(user_id=user_id, warehouse_id=warehouse.id))
    else:
        row.warehouse_id = warehouse.id
    session.flush()
    return warehouse


# --- the warehouse of a document -----------------------------------------------------------------

#: ``session.info`` key: document id -> its warehouse (or None), as the transaction found or set
#: it. An approval asks where to reserve, then its answer shows the warehouse: read once.
#: (``session.get`` answers a row the session still holds without a query, but neither a
#: missing row nor one nothing refers to any more, which the session lets go.)
_KNOWN = "crm_warehouses.document_warehouses"


@event.listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction's end, not a flush's or a savepoint's
        session.info.pop(_KNOWN, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_at_a_rollback(session: Session, _previous: SessionTransaction) -> None:
    session.info.pop(_KNOWN, None)   # a savepoint's too: what it changed is gone


def document_warehouse(session: Session, document_id: int | None) -> Warehouse | None:
    """The warehouse of a document, or None (its stock is at the core's default location)."""
    if document_id is None:
        return None
    known = session.info.setdefault(_KNOWN, {})
    if document_id not in known:
        row = session.get(DocumentWarehouse, document_id)
        known[document_id] = session.get(Warehouse, row.warehouse_id) if row is not None else None
    return known[document_id]


def _known(session: Session, document_id: int, warehouse: Warehouse | None) -> None:
    session.info.setdefault(_KNOWN, {})[document_id] = warehouse


def stock_touched(session: Session, document: Document) -> bool:
    """Whether the document has moved or reserved stock (its warehouse can no longer change)."""
    moved = session.scalar(select(StockMove.id).where(StockMove.document_id == document.id).limit(1))
    if moved is not None:
        return True
    reserved = session.scalar(select(DocumentLine.id).where(DocumentLine.document_id == document.id,
                                                            DocumentLine.qty_reserved != Decimal("0")).limit(1))
    return reserved is not None


def set_document_warehouse(session: Session, document: Document, warehouse_id: int | None) -> Warehouse | None:
    """Choose the warehouse of a purchase order, sales order or direct invoice (an active one; None:
    the default location). Refused (409) once the document has moved or reserved stock."""
    if document.doc_type not in DOC_TYPES:
        raise ValidationError.for_field("document_id", _("only orders and invoices have a warehouse"))
    row = session.get(DocumentWarehouse, document.id)
    current = row.warehouse_id if row is not None else None
    if current == warehouse_id:
        return session.get(Warehouse, warehouse_id) if warehouse_id is not None else None
    warehouse = _active(session, warehouse_id, "warehouse_id") if warehouse_id is not None else None
    if stock_touched(session, document):
        raise Conflict(_("%(number)s has already moved or reserved stock: its warehouse stays", number=document.number),
                       fields={"warehouse_id": [_("stock already moved")]}, code="warehouse_locked")
    if warehouse is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(DocumentWarehouse(document_id=document.id, warehouse_id=warehouse.id))
    else:
        row.warehouse_id = warehouse.id
    session.flush()
    _known(session, document.id, warehouse)
    return warehouse


def document_created(session: Session, document: Document, user_id: int | None) -> None:
    """A new order or invoice gets the warehouse of the document it was made from, else the
    warehouse its author works in (if active)."""
    if document.doc_type not in DOC_TYPES or session.get(DocumentWarehouse, document.id) is not None:
        return
    chosen = document_warehouse(session, document.source_id)
    if chosen is None or not chosen.active:
        chosen = user_default(session, user_id)
    if chosen is not None and chosen.active:
        session.add(DocumentWarehouse(document_id=document.id, warehouse_id=chosen.id))
        session.flush()
    _known(session, document.id, chosen if chosen is not None and chosen.active else None)


# --- a line's own warehouse ----------------------------------------------------------------------

def by_code(session: Session, code: str) -> Warehouse | None:
    return session.scalar(select(Warehouse).where(Warehouse.code == code))


def line_code(line: DocumentLine | None) -> str | None:
    """The code of the warehouse a line names instead of its document's, or None."""
    value = (line.custom or {}).get(LINE_KEY) if line is not None else None
    return value if isinstance(value, str) and value else None


def check_lines(session: Session, document: Document) -> None:
    """Each line's own warehouse, if it names one, is an active warehouse (422 naming
    ``lines.<i>.custom.warehouses_warehouse``)."""
    for index, line in enumerate(document.lines):
        value = (line.custom or {}).get(LINE_KEY)
        if value is None or value == "":
            continue
        where = f"lines.{index}.custom.{LINE_KEY}"
        if not isinstance(value, str):
            raise ValidationError.for_field(where, _("give a warehouse code"))
        warehouse = by_code(session, value)
        if warehouse is None:
            raise ValidationError.for_field(where, _("no warehouse has the code %(code)s", code=value))
        if not warehouse.active:
            raise ValidationError.for_field(where, _("warehouse %(code)s is inactive", code=value))


def line_warehouse(session: Session, document: Document | None, line: DocumentLine | None) -> Warehouse | None:
    """Where a line's stock is: the warehouse it names, else its document's."""
    code = line_code(line)
    if code is not None:
        found = by_code(session, code)
        if found is not None:
            return found
    return document_warehouse(session, document.id) if document is not None else None
