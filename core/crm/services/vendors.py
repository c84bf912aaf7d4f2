"""Vendors: the suppliers purchase orders go to."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from crm.models import Document, Item, Vendor
from crm.services.custom_fields import check_change, validate_custom
from crm.services.records import (
    add_record,
    apply_changes,
    delete_record,
    get_or_404,
    referring,
    refuse_if_used,
    store_change,
)

ENTITY = "vendors"


def get_vendor(session: Session, vendor_id: int, *, for_update: bool = False) -> Vendor:
    return get_or_404(session, Vendor, vendor_id, _("vendor"), for_update=for_update)


def create_vendor(session: Session, data: dict) -> Vendor:
    return add_record(session, ENTITY, new_vendor(session, data))


def new_vendor(session: Session, data: dict) -> Vendor:
    """:func:`create_vendor`'s checks and the new vendor, neither added nor flushed: an import
    adds a batch's new vendors together (:func:`crm.services.records.add_records`)."""
    data["custom"] = validate_custom(session, ENTITY, data.get("custom"))
    return Vendor(**data)


def update_vendor(session: Session, vendor: Vendor, data: dict) -> Vendor:
    change_vendor(session, vendor, data)
    return store_change(session, ENTITY, vendor)


def change_vendor(session: Session, vendor: Vendor, data: dict) -> None:
    """:func:`update_vendor`'s checks and changes without its flush: an import writes the changed
    vendors of a batch together (:func:`crm.services.records.store_changes`)."""
    with session.no_autoflush:   # nothing flushed half-way: a batch is written together
        check_change(session, ENTITY, vendor, data)
        apply_changes(vendor, data)


def references() -> dict:
    """What refers to a vendor and keeps it from being deleted: a description -> the column."""
    return {_("documents"): Document.vendor_id, _("items"): Item.vendor_id}


def delete_vendor(session: Session, vendor: Vendor) -> None:
    """Refused while documents or items refer to the vendor."""
    refuse_if_used(session, _("vendor %(name)s", name=repr(vendor.name)), referring(references(), vendor.id))
    delete_record(session, ENTITY, vendor)
