"""Order processing: what status changes do to stock, and receipts, shipments and invoicing."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm.models import Document


def on_status_change(session: Session, document: Document, old: str, new: str) -> None:
    """Side effects of a status change, in the same transaction."""


def before_delete(session: Session, document: Document) -> None:
    """Undo what a deletable document holds (nothing yet)."""
