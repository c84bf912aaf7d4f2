"""Hook implementations of the warehouses plugin (id ``warehouses``)."""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint
from flask_smorest import Blueprint as SmorestBlueprint
from markupsafe import Markup
from sqlalchemy.orm import Session

from crm import hookimpl
from crm.models import Document, DocumentLine, Item, User
from crm.ui import MenuItem
from crm_warehouses import models  # noqa: F401  (registers the plugin's tables)
from crm_warehouses.models import BIN_KEY, DOC_TYPES, LINE_KEY

#: the ``entity`` of ``crm_record_saved`` for the documents that have a warehouse
DOCUMENT_ENTITIES = ("purchase-orders", "sales-orders", "invoices")


@hookimpl
def crm_api_blueprints() -> list[SmorestBlueprint]:
    from crm_warehouses.api import blp
    return [blp]


@hookimpl
def crm_web_blueprints() -> list[Blueprint]:
    from crm_warehouses.web import bp, transfers_bp
    return [bp, transfers_bp]


@hookimpl
def crm_menu_items(user: User) -> list[MenuItem]:
    from flask import url_for
    from flask_babel import gettext as _

    from crm.permissions import can
    from crm_warehouses.permissions import WAREHOUSES
    if not can(user, WAREHOUSES):
        return []
    return [MenuItem(_("Warehouses"), url_for("warehouses.index"), order=86, group=_("Stock"))]


@hookimpl
def crm_record_saved(session: Session, entity: str, record: object, created: bool) -> None:
    """A new order or invoice gets the warehouse of its source document, else its author's."""
    if created and entity in DOCUMENT_ENTITIES and isinstance(record, Document):
        from crm.context import current_actor_id
        from crm_warehouses.services import document_created
        document_created(session, record, current_actor_id())


@hookimpl
def crm_document_serialize(document: Document, data: dict) -> None:
    """``warehouses_warehouse_id`` and ``warehouses_warehouse_code`` of an order or invoice (null
    for none: the default location)."""
    if document.doc_type not in DOC_TYPES:
        return
    from sqlalchemy.orm import object_session

    from crm_warehouses.services import document_warehouse
    session = object_session(document)
    warehouse = document_warehouse(session, document.id) if session is not None else None
    data["warehouses_warehouse_id"] = warehouse.id if warehouse else None
    data["warehouses_warehouse_code"] = warehouse.code if warehouse else None


@hookimpl
def crm_template_slot(slot: str, context: dict) -> Markup | None:
    """The warehouse of an order or invoice on its page (slot ``document_panels``), with a form to
    change it while it has moved no stock; the stock per warehouse on a product's page (slot
    ``record_panels``)."""
    document = context.get("document")
    if slot == "document_panels" and isinstance(document, Document) and document.doc_type in DOC_TYPES:
        from crm_warehouses.web import document_panel
        return document_panel(document)
    record = context.get("record")
    if slot == "record_panels" and context.get("entity") == "products" and isinstance(record, Item) \
            and not record.is_bundle:
        from crm_warehouses.web import product_bins_panel, product_panel
        return product_panel(record) + product_bins_panel(record)
    return None


@hookimpl
def crm_stock_location(session: Session, purpose: str, document: Document | None, line: object,
                       product_id: int, quantity: Decimal) -> int | None:
    """The line's own warehouse, else its document's (receipts, reservations, shipments, direct
    invoices), or for an adjustment the warehouse the user works in; None for the default location."""
    from crm.context import current_actor_id
    from crm_warehouses.stock import location_for
    return location_for(session, purpose, document, line if isinstance(line, DocumentLine) else None,
                        current_actor_id())


@hookimpl
def crm_stock_available(session: Session, product_ids: list[int]) -> dict[int, Decimal] | None:
    """What is available at the warehouse the user works in (None: the core's totals)."""
    from crm.context import current_actor_id
    from crm_warehouses.stock import available_for
    return available_for(session, product_ids, current_actor_id())


@hookimpl
def crm_stock_location_choices(session: Session, user: User | None) -> list[tuple[int, str]]:
    """The active warehouses, by code, to see stock at (the item lookup's warehouse filter)."""
    from crm_warehouses.services import warehouses
    return [(w.location_id, f"{w.name} ({w.code})") for w in warehouses(session, active=True)]


@hookimpl
def crm_line_custom_keys(doc_type: str) -> dict[str, bool] | None:
    """A line of an order or invoice may name its own warehouse (by code) in ``custom``; a
    purchase order line, the bin (by id) its receipts are put away in."""
    if doc_type == "purchase_order":
        return {LINE_KEY: True, BIN_KEY: True}
    return {LINE_KEY: True} if doc_type in DOC_TYPES else None


@hookimpl
def crm_document_validate(session: Session, document: Document) -> None:
    """A line's own warehouse must be an active warehouse, a purchase order line's bin an active bin."""
    if document.doc_type in DOC_TYPES:
        from crm_warehouses import bins
        from crm_warehouses.services import check_lines
        check_lines(session, document)
        bins.check_lines(session, document)


@hookimpl
def crm_stock_moved(session: Session, moves: list) -> None:
    """The bins of a warehouse follow its stock: arrivals are put away (a purchase order line's
    bin, else the product's default bin), departures leave the bins in path order."""
    from crm_warehouses.bins import stock_moved
    stock_moved(session, moves)


@hookimpl
def crm_demo_data(session: Session) -> dict[str, int]:
    """Two warehouses (Madrid, Barcelona); the demo's warehouse user works in Madrid."""
    from crm_warehouses.demo import load_demo_warehouses
    return load_demo_warehouses(session)
