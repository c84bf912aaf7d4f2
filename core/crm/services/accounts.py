"""Accounts: the customer organisations documents are made out to."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from crm.models import Account, Contact, Document
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

ENTITY = "accounts"


def get_account(session: Session, account_id: int, *, for_update: bool = False) -> Account:
    return get_or_404(session, Account, account_id, _("account"), for_update=for_update)


def create_account(session: Session, data: dict) -> Account:
    return add_record(session, ENTITY, new_account(session, data))


def new_account(session: Session, data: dict) -> Account:
    """:func:`create_account`'s checks and the new account, neither added nor flushed: an import
    adds a batch's new accounts together (:func:`crm.services.records.add_records`)."""
    data["custom"] = validate_custom(session, ENTITY, data.get("custom"))
    return Account(**data)


def update_account(session: Session, account: Account, data: dict) -> Account:
    change_account(session, account, data)
    return store_change(session, ENTITY, account)


def change_account(session: Session, account: Account, data: dict) -> None:
    """:func:`update_account`'s checks and changes without its flush: an import writes the changed
    accounts of a batch together (:func:`crm.services.records.store_changes`)."""
    with session.no_autoflush:   # nothing flushed half-way: a batch is written together
        check_change(session, ENTITY, account, data)
        apply_changes(account, data)


def references() -> dict:
    """What refers to an account and keeps it from being deleted: a description -> the column."""
    return {_("documents"): Document.account_id, _("contacts"): Contact.account_id}


def delete_account(session: Session, account: Account) -> None:
    """Refused while documents or contacts refer to the account."""
    refuse_if_used(session, _("account %(name)s", name=repr(account.name)), referring(references(), account.id))
    delete_record(session, ENTITY, account)
