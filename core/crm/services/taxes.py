"""Taxes: the rates applied to items (individual mode), documents (group mode) and shipping."""
from __future__ import annotations

from typing import Iterable

from flask_babel import gettext as _
from sqlalchemy import String, cast, exists, or_, select
from sqlalchemy.orm import Session

from crm.errors import Conflict, NotFound, ValidationError
from crm.models import Document, DocumentLine, Tax, item_taxes
from crm.models.catalog import TAX_APPLIES_TO
from crm.services.records import apply_changes, check_version


def get_tax(session: Session, tax_id: int) -> Tax:
    tax = session.get(Tax, tax_id)
    if tax is None:
        raise NotFound(_("tax %(id)s not found", id=tax_id), {"id": [_("not found")]})
    return tax


def create_tax(session: Session, data: dict) -> Tax:
    _check_unique_name(session, data["name"])
    tax = Tax(**data)
    _validate(tax)
    session.add(tax)
    session.flush()
    return tax


def update_tax(session: Session, tax: Tax, data: dict) -> Tax:
    check_version(tax, data.pop("version", None))
    if "name" in data and data["name"] != tax.name:
        _check_unique_name(session, data["name"])
    apply_changes(tax, data)
    _validate(tax)
    session.flush()
    return tax


def delete_tax(session: Session, tax: Tax) -> None:
    if _in_use(session, tax.id):
        raise Conflict(_("tax %(name)s is used by items or documents; deactivate it instead", name=repr(tax.name)))
    session.delete(tax)
    session.flush()


def _validate(tax: Tax) -> None:
    if tax.applies_to not in TAX_APPLIES_TO:
        raise ValidationError.for_field("applies_to", _("must be one of %(choices)s",
                                                        choices=", ".join(TAX_APPLIES_TO)))


def _check_unique_name(session: Session, name: str) -> None:
    if session.scalar(select(Tax.id).where(Tax.name == name)) is not None:
        raise Conflict(_("a tax named %(name)s already exists", name=repr(name)), {"name": [_("already exists")]})


def _in_use(session: Session, tax_id: int) -> bool:
    """Documents keep a snapshot of their taxes (JSON ``{"id": N, ...}``)."""
    marker = f'%"id": {tax_id},%'
    on_items = exists().where(item_taxes.c.tax_id == tax_id)
    on_lines = exists().where(cast(DocumentLine.taxes, String).like(marker))
    on_documents = exists().where(or_(cast(Document.group_taxes, String).like(marker),
                                      cast(Document.shipping_taxes, String).like(marker)))
    return bool(session.scalar(select(or_(on_items, on_lines, on_documents))))


def taxes_by_id(session: Session, ids: Iterable[int] | None, field: str, *, applies: str = "items") -> list[Tax]:
    """The taxes with these ids, in that order; unknown or inapplicable ids are a 422 on ``field``."""
    ids = list(ids or [])
    if not ids:
        return []
    found = {t.id: t for t in session.scalars(select(Tax).where(Tax.id.in_(ids)))}
    for index, tax_id in enumerate(ids):
        tax = found.get(tax_id)
        if tax is None:
            raise ValidationError.for_field(f"{field}.{index}", _("unknown tax id %(id)s", id=tax_id))
        if not tax.active:
            raise ValidationError.for_field(f"{field}.{index}", _("tax %(name)s is inactive", name=repr(tax.name)))
        if tax.applies_to not in (applies, "both"):
            raise ValidationError.for_field(f"{field}.{index}", _("tax %(name)s does not apply to %(applies)s",
                                                                  name=repr(tax.name), applies=applies))
    if len(set(ids)) != len(ids):
        raise ValidationError.for_field(field, _("the same tax is listed twice"))
    return [found[i] for i in ids]
