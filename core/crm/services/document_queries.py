"""Read-only queries the web pages need around documents: a document's
related records, the documents of an account / contact / vendor / item, the
item search of the line editor, and a preview of the totals of an unsaved
editor state (computed by the same engine, :func:`crm.services.documents.recompute`,
on a transient document that is never added to the session).

Session first, never commits, never writes.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from crm.models import Document, DocumentLine, Item, StockMove
from crm.services import hooks
from crm.services.doctypes import DOC_TYPES


def documents_for(session: Session, *, account_id: int | None = None, vendor_id: int | None = None,
                  contact_id: int | None = None, doc_type: str | None = None, limit: int = 20) -> list[Document]:
    """The newest documents of a party (all types unless ``doc_type``)."""
    stmt = select(Document).options(joinedload(Document.account), joinedload(Document.vendor))
    if account_id is not None:
        stmt = stmt.where(Document.account_id == account_id)
    if vendor_id is not None:
        stmt = stmt.where(Document.vendor_id == vendor_id)
    if contact_id is not None:
        stmt = stmt.where(Document.contact_id == contact_id)
    if doc_type is not None:
        stmt = stmt.where(Document.doc_type == doc_type)
    return list(session.scalars(stmt.order_by(Document.id.desc()).limit(limit)))


def documents_with_item(session: Session, item_id: int, limit: int = 20) -> list[Document]:
    """The newest documents that have a line of ``item_id``."""
    ids = select(DocumentLine.document_id).where(DocumentLine.item_id == item_id).distinct()
    return list(session.scalars(select(Document).where(Document.id.in_(ids))
                                .options(joinedload(Document.account), joinedload(Document.vendor))
                                .order_by(Document.id.desc()).limit(limit)))


def related(session: Session, document: Document) -> list[Document]:
    """The document this one came from, its siblings from the same source, and those created from it."""
    found: dict[int, Document] = {}
    if document.source is not None:
        found[document.source.id] = document.source
        if document.source.source is not None:
            found[document.source.source.id] = document.source.source
    for child in session.scalars(select(Document).where(Document.source_id == document.id).order_by(Document.id)):
        found[child.id] = child
        for grandchild in session.scalars(select(Document).where(Document.source_id == child.id)):
            found[grandchild.id] = grandchild
    found.pop(document.id, None)
    return sorted(found.values(), key=lambda d: d.id)


def documents_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Document]:
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(ids)))}


def stock_moves_of(session: Session, *, product_id: int | None = None, document_id: int | None = None,
                   limit: int = 50) -> list[StockMove]:
    stmt = select(StockMove).options(joinedload(StockMove.product))
    if product_id is not None:
        stmt = stmt.where(StockMove.product_id == product_id)
    if document_id is not None:
        stmt = stmt.where(StockMove.document_id == document_id)
    return list(session.scalars(stmt.order_by(StockMove.id.desc()).limit(limit)))


# --- the line editor's item search ----------------------------------------------------------------

def search_items(session: Session, q: str, *, kind: str | None = None, limit: int = 20) -> list[Item]:
    """Items for the line editor: a plugin's answer to ``crm_search_items`` when one answers
    (firstresult), else active items whose name, SKU or category contains ``q``."""
    q = (q or "").strip()[:200]
    answer = hooks.call_first("crm_search_items", session=session, q=q, kind=kind, limit=limit)
    if answer is not None:
        return list(answer)[:limit]
    stmt = select(Item).where(Item.active.is_(True)).options(selectinload(Item.taxes))
    if kind in ("product", "service"):
        stmt = stmt.where(Item.kind == kind)
    elif kind == "bundle":
        stmt = stmt.where(Item.is_bundle.is_(True))
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(func.lower(Item.name).like(pattern, escape="\\"),
                              func.lower(Item.sku).like(pattern, escape="\\"),
                              func.lower(Item.category).like(pattern, escape="\\")))
    return list(session.scalars(stmt.order_by(func.lower(Item.name), Item.id).limit(limit)))


# --- previewing the totals of an editor state -------------------------------------------------------

def preview(session: Session, doc_type: str, data: dict, *, current: Document | None = None) -> Document:
    """A transient document built from ``data`` (the body a create or a PATCH would get)
    with its lines and totals computed by the totals engine and the plugins' stages,
    exactly as saving would. Nothing is added to the session; the lines of ``current``
    (an existing document) are copied so that lines sent with their ``id`` keep
    what they had. Raises ``ValidationError`` like saving would."""
    from crm.services import documents
    kind = DOC_TYPES[doc_type]
    data = dict(data)
    data.pop("status", None)
    data.pop("version", None)
    with session.no_autoflush:
        document = Document(doc_type=doc_type, status=current.status if current else kind.initial, lines=[],
                            number=current.number if current else "", received=current.received if current
                            else Decimal("0"), **documents._new_document_defaults(session))
        if current is not None:
            for name in ("account_id", "vendor_id", "contact_id", "currency", "conversion_rate", "tax_mode",
                         "discount_percent", "discount_amount", "shipping_amount", "adjustment", "custom"):
                setattr(document, name, getattr(current, name))
            document.group_taxes = list(current.group_taxes or [])
            document.shipping_taxes = list(current.shipping_taxes or [])
            document.lines = [_copy_line(line) for line in current.lines]
        documents._set_party(session, kind, document, data)
        documents._set_header(session, document, data, amounts=True)
        documents._set_lines(session, kind, document, data.get("lines") or [],
                             price_book_id=data.get("price_book_id"))
        documents.recompute(session, document)
    return document


def _copy_line(line: DocumentLine) -> DocumentLine:
    copy = DocumentLine(id=line.id, position=line.position, display_type=line.display_type, item_id=line.item_id,
                        description=line.description, comment=line.comment, quantity=line.quantity,
                        unit_price=line.unit_price, discount_percent=line.discount_percent,
                        discount_amount=line.discount_amount, taxes=list(line.taxes or []),
                        custom=dict(line.custom or {}))
    copy.item = line.item
    return copy
