"""Contacts: people, optionally of an account."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session, joinedload

from crm.errors import ValidationError
from crm.models import Account, Contact, Document
from crm.services.custom_fields import check_change, validate_custom
from crm.services.records import (
    add_record,
    apply_changes,
    delete_record,
    find,
    get_or_404,
    referring,
    refuse_if_used,
    store_change,
)

ENTITY = "contacts"


def get_contact(session: Session, contact_id: int, *, for_update: bool = False) -> Contact:
    # a row lock and the outer join of the account do not go together (PostgreSQL)
    options = [] if for_update else [joinedload(Contact.account)]
    return get_or_404(session, Contact, contact_id, _("contact"), for_update=for_update, options=options)


def create_contact(session: Session, data: dict) -> Contact:
    return add_record(session, ENTITY, new_contact(session, data))


def new_contact(session: Session, data: dict) -> Contact:
    """:func:`create_contact`'s checks and the new contact, neither added nor flushed: an import
    adds a batch's new contacts together (:func:`crm.services.records.add_records`)."""
    with session.no_autoflush:   # nothing flushed half-way: a batch is written together
        data["custom"] = validate_custom(session, ENTITY, data.get("custom"))
        account_id = data.pop("account_id", None)
        contact = Contact(**data)
        _set_account(session, contact, account_id)
    return contact


def update_contact(session: Session, contact: Contact, data: dict) -> Contact:
    change_contact(session, contact, data)
    return store_change(session, ENTITY, contact)


def change_contact(session: Session, contact: Contact, data: dict) -> None:
    """:func:`update_contact`'s checks and changes without its flush: an import writes the changed
    contacts of a batch together (:func:`crm.services.records.store_changes`)."""
    with session.no_autoflush:   # nothing flushed half-way: a batch is written together
        check_change(session, ENTITY, contact, data)
        if "account_id" in data:
            _set_account(session, contact, data.pop("account_id"))
        apply_changes(contact, data)


def references() -> dict:
    """What refers to a contact and keeps it from being deleted: a description -> the column."""
    return {_("documents"): Document.contact_id}


def delete_contact(session: Session, contact: Contact) -> None:
    """Refused while documents refer to the contact."""
    refuse_if_used(session, _("contact %(name)s", name=repr(contact.full_name)), referring(references(), contact.id))
    delete_record(session, ENTITY, contact)


def _set_account(session: Session, contact: Contact, account_id: int | None) -> None:
    account = None
    if account_id is not None:
        account = find(session, Account, account_id)
        if account is None:
            raise ValidationError.for_field("account_id", _("unknown account %(id)s", id=account_id))
    # both: the column for the audit trail, the relationship for the response's account_name
    contact.account_id = account_id
    contact.account = account
