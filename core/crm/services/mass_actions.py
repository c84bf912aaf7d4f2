"""Mass actions on the rows of a list: edit one field, change the status (documents), delete,
or assign to a user -- on the rows selected or on every row the list's search and filters
match.

A mass action is all or nothing: every record is tried in a savepoint of its own, so that each
refusal is known (a record still used elsewhere, a status the record cannot reach, a value its
service refuses); if any record is refused, nothing at all is changed and
:class:`MassActionRefused` lists each refused record by name with its reason. The user's role
must be allowed to write the list's resource (:mod:`crm.permissions`). Each changed record is in
the audit trail as if changed alone (the trail's flush listener), and the action itself is
recorded once more as ``mass_<action>`` with the records' ids.

"Assign" sets ``assigned_user_id``: the user responsible for an account or a document (the
models without that column have no "Assign"). It is a change of that one column, whatever the
record's status (a document's lines and totals are not touched).

"Edit" sets one field: one of the list's :data:`EDIT_FIELDS` (its value checked as the record's
form and PATCH check it) or one of its custom fields (``custom.<key>``, checked as its type
requires), see :func:`edit_changes`. A document's dates and terms change in any status, as on the
document's own page; its discount and shipping only in the statuses where its amounts may change
(the others are refused, named).

The pages and the API describe a list's records with a :class:`MassTarget`: what the action
calls on each record (the same services a single change calls); they load the records with
:func:`load_records` and call :func:`run`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from crm.context import current_actor_id
from crm.errors import Conflict, CRMError, PermissionDenied, ValidationError
from crm.models import AuditEntry, User
from crm.permissions import Resource, can
from crm.services.custom_fields import fields_for, validate_custom

ACTIONS = ("edit", "status", "delete", "assign")
#: the most records one mass action changes (a larger selection: narrow the filter)
MAX_RECORDS = 10_000
#: the most ids the audit trail's ``mass_<action>`` entry lists (it always has the count)
MAX_AUDITED_IDS = 10_000
#: the name of a custom field in a mass edit: ``custom.<key>``
CUSTOM_PREFIX = "custom."
#: the fields a mass edit may set, by list (documents: by type): those it makes sense to set on
#: many records at once, named as the record's PATCH names them; custom fields come besides
EDIT_FIELDS: dict[str, tuple[str, ...]] = {
    "accounts": ("active",),
    "contacts": ("account_id", "title", "active"),
    "vendors": ("active",),
    "products": ("category", "subcategory", "manufacturer", "vendor_id", "unit_price", "purchase_cost",
                 "reorder_level", "usage_unit", "active"),
    "bundles": ("category", "vendor_id", "unit_price", "active"),
    "services": ("category", "usage_unit", "unit_price", "purchase_cost", "active"),
    "price_books": ("active",),
    "taxes": ("applies_to", "active"),
    "custom_fields": ("required", "active"),
    "quote": ("valid_until", "terms", "discount_percent", "shipping_amount"),
    "sales_order": ("due_date", "terms", "discount_percent", "shipping_amount"),
    "purchase_order": ("due_date", "terms", "discount_percent", "shipping_amount"),
    "invoice": ("due_date", "invoice_date", "terms", "discount_percent", "shipping_amount"),
}


@dataclass
class Refusal:
    """A record a mass action could not change, by its name, and why."""

    name: str
    reason: str
    id: int | None = None


class MassActionRefused(Conflict):
    """A mass action refused for some records: nothing was changed. ``refusals`` lists them."""

    code = "mass_action_refused"

    def __init__(self, refusals: list[Refusal], total: int):
        self.refusals = refusals
        self.total = total
        message = _("Nothing was changed: %(refused)s of %(total)s records were refused.",
                    refused=len(refusals), total=total)
        super().__init__(message, {"records": [f"{r.name}: {r.reason}" for r in refusals]})


@dataclass
class MassTarget:
    """The records of one list, for its mass actions.

    ``entity`` names them in the audit trail (``accounts``, ``quotes``); ``permission`` is the
    resource whose ``write`` right the action needs; ``label_of(record)`` is the name a refusal
    gives. ``update(session, record, data)``, ``delete(session, record)`` and
    ``change_status(session, record, status)`` are the services a single change calls (None:
    that action is not offered); ``assignable``: the records have ``assigned_user_id``;
    ``fields``: the fields an edit may set (:data:`EDIT_FIELDS`), ``custom_entity``: the records'
    custom fields (``accounts``, ``items``, ``documents``...) an edit may set too."""

    entity: str
    permission: str | Resource
    label_of: Callable[[Any], str]
    update: Callable[[Session, Any, dict], Any] | None = None
    delete: Callable[[Session, Any], Any] | None = None
    change_status: Callable[[Session, Any, str], Any] | None = None
    assignable: bool = False
    fields: tuple[str, ...] = ()
    custom_entity: str | None = None

    def actions(self) -> list[str]:
        """The actions these records offer, in the order of :data:`ACTIONS`."""
        offered = {"edit": self.update is not None, "status": self.change_status is not None,
                   "delete": self.delete is not None, "assign": self.assignable}
        return [a for a in ACTIONS if offered[a]]


@dataclass
class MassResult:
    action: str
    count: int


def assignable_users(session: Session) -> list[User]:
    """The users a record may be assigned to: the active ones, by name."""
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.username)))


def load_records(session: Session, model: Any, ids: Iterable[int], *, within: Select | None = None) -> list:
    """The records of ``model`` whose ids are ``ids`` (in id order, each once), locked until the
    commit; ``within``: the list's statement, whose records only are taken (a quote list acts on
    quotes, never on an invoice whose id was sent). Ids not found are left out: compare."""
    records: list = []
    unique = sorted(set(ids))
    inside = within.with_only_columns(model.id).order_by(None) if within is not None else None
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        stmt = select(model).where(model.id.in_(chunk))
        if inside is not None:
            stmt = stmt.where(model.id.in_(inside))
        records.extend(session.scalars(stmt.order_by(model.id).with_for_update(of=model)))
    return records


def edit_choices(session: Session, target: MassTarget) -> list[str]:
    """The fields a mass edit of ``target``'s records may set: its :attr:`MassTarget.fields`, then
    ``custom.<key>`` for each active custom field of its records."""
    custom = [CUSTOM_PREFIX + f.key for f in fields_for(session, target.custom_entity)] if target.custom_entity \
        else []
    return list(target.fields) + custom


def edit_changes(session: Session, target: MassTarget, field: Any, value: Any,
                 load: Callable[[dict], dict] | None = None) -> dict:
    """The changes (the data of the records' update service) a mass edit setting ``field`` to
    ``value`` makes: ``value`` as the API's PATCH takes it (JSON-like; the pages turn the text
    typed into it first). A field of :attr:`MassTarget.fields` is checked by ``load({field:
    value})`` (the record's PATCH schema); a custom field ``custom.<key>`` as its type requires
    (``null`` clears it, refused for a required one). A field not offered, or a value refused, is
    a :class:`ValidationError` naming it (``field``, or the field set), before any record is tried."""
    if not isinstance(field, str) or not field:
        raise ValidationError.for_field("field", _("choose a field and its new value"))
    if field.startswith(CUSTOM_PREFIX) and target.custom_entity:
        key = field[len(CUSTOM_PREFIX):]
        definition = next((f for f in fields_for(session, target.custom_entity) if f.key == key), None)
        if definition is None:
            raise ValidationError.for_field("field", _("choose one of the fields offered"))
        checked = validate_custom(session, target.custom_entity, {key: value}, current={}, fields=[definition])
        return {"custom": {key: checked.get(key)}}
    if field not in target.fields:
        raise ValidationError.for_field("field", _("choose one of the fields offered"))
    raw = {field: value}
    return load(raw) if load is not None else raw


def run(session: Session, user: User | None, target: MassTarget, records: Iterable[Any], action: str, *,
        data: dict | None = None, status: str | None = None, assign_to: int | None = None) -> MassResult:
    """Apply ``action`` to each of ``records`` (already loaded, for update): ``edit`` with
    ``data`` (validated changes, as the record's service takes them), ``status`` with
    ``status``, ``delete``, or ``assign`` to the user ``assign_to`` (None: nobody). All or
    nothing: raises :class:`MassActionRefused` listing the refused records, having changed
    nothing; the caller's transaction commits what was done."""
    if user is None or not can(user, target.permission, "write"):
        raise PermissionDenied(_("your role (%(role)s) may not change these records",
                                 role=getattr(user, "role", "-")))
    if action not in target.actions():
        raise ValidationError.for_field("action", _("must be one of: %(actions)s",
                                                    actions=", ".join(target.actions()) or "-"))
    records = list(records)
    if not records:
        raise ValidationError.for_field("ids", _("choose at least one record"))
    if len(records) > MAX_RECORDS:
        raise ValidationError.for_field("ids", _("at most %(max)s records at once: narrow the list first",
                                                 max=MAX_RECORDS))
    apply = _operation(session, target, action, data, status, assign_to)
    refusals = []
    for record in records:
        name = target.label_of(record)
        try:
            with session.begin_nested():
                apply(record)
        except CRMError as exc:
            refusals.append(Refusal(name, exc.message, getattr(record, "id", None)))
    if refusals:
        raise MassActionRefused(refusals, len(records))
    ids = [record_id for record in records if (record_id := getattr(record, "id", None)) is not None]
    changes: dict[str, Any] = {"count": len(records), "ids": ids[:MAX_AUDITED_IDS]}
    if action == "edit":
        changes["fields"] = sorted([key for key in (data or {}) if key != "custom"] +
                                   [CUSTOM_PREFIX + key for key in (data or {}).get("custom") or {}])
    elif action == "status":
        changes["status"] = status
    elif action == "assign":
        changes["assigned_user_id"] = assign_to
    session.add(AuditEntry(user_id=current_actor_id() or user.id, action=f"mass_{action}", entity=target.entity,
                           entity_id="", changes=changes))
    session.flush()
    return MassResult(action, len(records))


def _operation(session: Session, target: MassTarget, action: str, data: dict | None, status: str | None,
               assign_to: int | None) -> Callable[[Any], Any]:
    if action == "edit":
        if not data:
            raise ValidationError.for_field("field", _("choose a field and its new value"))
        update = target.update
        assert update is not None
        return lambda record: update(session, record, dict(data))
    if action == "status":
        if not status:
            raise ValidationError.for_field("status", _("is required"))
        change = target.change_status
        assert change is not None
        return lambda record: change(session, record, status)
    if action == "delete":
        remove = target.delete
        assert remove is not None
        return lambda record: remove(session, record)
    if assign_to is not None:
        assignee = session.get(User, assign_to) if isinstance(assign_to, int) else None
        if assignee is None or not assignee.active:
            raise ValidationError.for_field("user_id", _("must be an active user"))

    def assign(record: Any) -> None:
        record.assigned_user_id = assign_to
        session.flush()
    return assign


def document_target(doc_type: str) -> MassTarget:
    """The mass actions of a document list (``quote``, ``sales_order``...), for its page and its
    API: edit a header field of :data:`EDIT_FIELDS` or a custom field (what a single edit allows
    in each document's status), change status (the type's rules, with their side effects),
    delete (what a single delete allows), assign."""
    from crm.services import documents
    from crm.services.doctypes import DOC_TYPES
    kind = DOC_TYPES[doc_type]
    return MassTarget(kind.path, kind.resource, lambda d: d.number,
                      update=documents.update_document, delete=documents.delete_document,
                      change_status=lambda session, d, status: documents.change_status(session, d, status),
                      assignable=True, fields=EDIT_FIELDS[doc_type], custom_entity="documents")
