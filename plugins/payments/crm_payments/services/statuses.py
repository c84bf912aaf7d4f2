"""Payment statuses and methods: listing, finding, the defaults, and changing them (the flags of a
status only while no payment uses it; built-in ones stay)."""
from __future__ import annotations

from typing import TypeVar

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from crm.errors import Conflict, NotFound, ValidationError
from crm_payments.models import CREDIT, Payment, PaymentMethod, PaymentStatus

#: a payment status or method (they share name, code, position and active)
Named = TypeVar("Named", PaymentStatus, PaymentMethod)


def ordered(model: type[Named]) -> Select[Named]:
    return select(model).order_by(model.position, model.id)


def list_statuses(session: Session, *, active_only: bool = False) -> list[PaymentStatus]:
    stmt = ordered(PaymentStatus)
    if active_only:
        stmt = stmt.where(PaymentStatus.active.is_(True))
    return list(session.scalars(stmt))


def list_methods(session: Session, *, active_only: bool = False) -> list[PaymentMethod]:
    stmt = ordered(PaymentMethod)
    if active_only:
        stmt = stmt.where(PaymentMethod.active.is_(True))
    return list(session.scalars(stmt))


def _lookup(session: Session, model: type[Named], value: int | str, field: str) -> Named:
    """A status or method by id (int) or name (str, case-insensitive)."""
    if isinstance(value, bool):
        raise ValidationError.for_field(field, _("give a name or an id"))
    if isinstance(value, int):
        found = session.get(model, value)
    elif isinstance(value, str) and value.strip():
        found = session.scalar(select(model).where(func.lower(model.name) == value.strip().lower()))
    else:
        raise ValidationError.for_field(field, _("give a name or an id"))
    if found is None:
        names = ", ".join(r.name for r in session.scalars(ordered(model).where(model.active.is_(True)))
                          if r.code != CREDIT)
        if field == "status":
            reason = _("unknown status %(value)s; use one of: %(names)s", value=repr(value), names=names)
        else:
            reason = _("unknown method %(value)s; use one of: %(names)s", value=repr(value), names=names)
        raise ValidationError.for_field(field, reason)
    return found


def find_status(session: Session, value: int | str) -> PaymentStatus:
    return _lookup(session, PaymentStatus, value, "status")


def find_method(session: Session, value: int | str) -> PaymentMethod:
    return _lookup(session, PaymentMethod, value, "method")


def default_status(session: Session) -> PaymentStatus:
    """The first active status that counts as received (not a refund, not built in): "Paid"."""
    found = session.scalar(ordered(PaymentStatus).where(
        PaymentStatus.active.is_(True), PaymentStatus.counts_as_received.is_(True),
        PaymentStatus.is_refund.is_(False), PaymentStatus.is_scheduled.is_(False), PaymentStatus.code.is_(None)))
    if found is None:
        raise ValidationError.for_field("status", _("required: no active status counts as received"))
    return found


def scheduled_status(session: Session) -> PaymentStatus:
    found = session.scalar(ordered(PaymentStatus).where(PaymentStatus.active.is_(True),
                                                         PaymentStatus.is_scheduled.is_(True)))
    if found is None:
        raise Conflict(_("no active payment status is marked as scheduled; add one in the payment settings"),
                       code="no_scheduled_status")
    return found


def builtin(session: Session, model: type[Named], code: str) -> Named:
    found = session.scalar(select(model).where(model.code == code))
    if found is None:  # the migration seeds them; only a hand-edited database lacks them
        raise Conflict(_("the built-in %(model)s %(code)s is missing; run `crm db upgrade`",
                         model=model.__name__, code=repr(code)))
    return found


def _usable(session: Session, model: type[Named], value: int | str, field: str, current: Named | None) -> Named:
    """A status or method a payment may be given: not the built-in credit one, not inactive
    (unless it is the payment's ``current`` one already)."""
    found = _lookup(session, model, value, field)
    if current is None or current.id != found.id:
        if found.code == CREDIT:
            raise ValidationError.for_field(field, _("%(name)s is set only when customer credit is applied",
                                                     name=found.name))
        if not found.active:
            raise ValidationError.for_field(field, _("%(name)s is inactive", name=found.name))
    return found


def usable_status(session: Session, value: int | str, current: PaymentStatus | None = None) -> PaymentStatus:
    return _usable(session, PaymentStatus, value, "status", current)


def usable_method(session: Session, value: int | str | None,
                  current: PaymentMethod | None = None) -> PaymentMethod | None:
    if value is None or value == "":
        return None
    return _usable(session, PaymentMethod, value, "method", current)


def _check_flags(data: dict) -> None:
    counts, refund, scheduled = (data.get("counts_as_received"), data.get("is_refund"), data.get("is_scheduled"))
    if refund and not counts:
        raise ValidationError.for_field("is_refund", _("a refund status must also count as received "
                                                       "(it is subtracted from what was received)"))
    if scheduled and counts:
        raise ValidationError.for_field("is_scheduled", _("a scheduled status cannot count as received"))
    if data.get("is_failure") and (counts or scheduled):
        raise ValidationError.for_field("is_failure", _("a failure status cannot count as received nor be scheduled "
                                                        "(a failed payment brought nothing in)"))


def _unique_name(session: Session, model: type[Named], name: str | None, own_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError.for_field("name", _("is required"))
    clash = session.scalar(select(model.id).where(func.lower(model.name) == name.lower()))
    if clash is not None and clash != own_id:
        raise Conflict(_("%(name)s already exists", name=name), {"name": [_("already exists")]}, code="duplicate")
    return name


def _next_position(session: Session, model: type[Named]) -> int:
    return (session.scalar(select(func.max(model.position))) or 0) + 1


def _uses(session: Session, column: InstrumentedAttribute, value: object) -> int:
    return session.scalar(select(func.count()).select_from(Payment).where(column == value)) or 0


def create_status(session: Session, data: dict) -> PaymentStatus:
    data = dict(data)
    _check_flags(data)
    status = PaymentStatus(name=_unique_name(session, PaymentStatus, data.get("name")),
                           counts_as_received=bool(data.get("counts_as_received")),
                           is_refund=bool(data.get("is_refund")), is_scheduled=bool(data.get("is_scheduled")),
                           is_failure=bool(data.get("is_failure")), active=data.get("active", True),
                           position=data.get("position") if data.get("position") is not None
                           else _next_position(session, PaymentStatus))
    session.add(status)
    session.flush()
    return status


FLAGS = ("counts_as_received", "is_refund", "is_scheduled", "is_failure")


def update_status(session: Session, status: PaymentStatus, data: dict) -> PaymentStatus:
    """Name, position and active always; the flags only while no payment uses the status
    (changing them would silently change the balance of every invoice that does, or what its
    payments meant: a failure is announced when a payment gets the status)."""
    changed_flags = [f for f in FLAGS if f in data and bool(data[f]) != getattr(status, f)]
    if changed_flags:
        if status.code is not None:
            raise Conflict(_("%(name)s is built in: its flags cannot change", name=status.name), code="builtin")
        uses = _uses(session, Payment.status_id, status.id)
        if uses:
            raise Conflict(_("%(name)s is used by %(count)s payment(s): its flags cannot change (they would change "
                             "the balance of those invoices); create a new status and deactivate this one",
                             name=status.name, count=uses),
                           {f: [_("in use")] for f in changed_flags}, code="status_in_use")
    merged = {f: data.get(f, getattr(status, f)) for f in FLAGS}
    _check_flags(merged)
    if "name" in data:
        status.name = _unique_name(session, PaymentStatus, data["name"], status.id)
    for key in (*FLAGS, "position", "active"):
        if key in data and data[key] is not None:
            setattr(status, key, data[key])
    session.flush()
    return status


def _delete_unused(session: Session, row: Named, column: InstrumentedAttribute) -> None:
    """Delete a status or method that is not built in and that no payment uses (``column``)."""
    if row.code is not None:
        raise Conflict(_("%(name)s is built in and cannot be deleted", name=row.name), code="builtin")
    uses = _uses(session, column, row.id)
    if uses:
        raise Conflict(_("%(name)s is used by %(count)s payment(s) and cannot be deleted; deactivate it instead",
                         name=row.name, count=uses), code="in_use")
    session.delete(row)
    session.flush()


def delete_status(session: Session, status: PaymentStatus) -> None:
    _delete_unused(session, status, Payment.status_id)


def create_method(session: Session, data: dict) -> PaymentMethod:
    method = PaymentMethod(name=_unique_name(session, PaymentMethod, data.get("name")), active=data.get("active", True),
                           position=data.get("position") if data.get("position") is not None
                           else _next_position(session, PaymentMethod))
    session.add(method)
    session.flush()
    return method


def update_method(session: Session, method: PaymentMethod, data: dict) -> PaymentMethod:
    if "name" in data:
        method.name = _unique_name(session, PaymentMethod, data["name"], method.id)
    for key in ("position", "active"):
        if key in data and data[key] is not None:
            setattr(method, key, data[key])
    session.flush()
    return method


def delete_method(session: Session, method: PaymentMethod) -> None:
    _delete_unused(session, method, Payment.method_id)


def get_status(session: Session, status_id: int) -> PaymentStatus:
    found = session.get(PaymentStatus, status_id)
    if found is None:
        raise NotFound(_("payment status %(id)s not found", id=status_id))
    return found


def get_method(session: Session, method_id: int) -> PaymentMethod:
    found = session.get(PaymentMethod, method_id)
    if found is None:
        raise NotFound(_("payment method %(id)s not found", id=method_id))
    return found


def status_sign(status: PaymentStatus) -> int:
    if not status.counts_as_received:
        return 0
    return -1 if status.is_refund else 1
