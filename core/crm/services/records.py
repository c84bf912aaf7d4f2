"""Small helpers every record service uses."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from crm.errors import Conflict, NotFound
from crm.services import hooks

#: ids are 32-bit integers on PostgreSQL: anything outside cannot exist (and must not reach the database).
MAX_ID = 2**31 - 1


def check_version(record, version: int | None) -> None:
    """Optimistic concurrency: a PATCH that sends ``version`` must match the stored one."""
    if version is not None and version != record.version:
        raise Conflict(_("this record was changed by someone else (version %(current)s, you sent %(sent)s); "
                         "reload it and apply your change again", current=record.version, sent=version),
                       {"version": [_("stale")]}, code="stale_version")


def apply_changes(record, data: dict) -> None:
    for key, value in data.items():
        setattr(record, key, value)


def valid_id(record_id) -> bool:
    return isinstance(record_id, int) and not isinstance(record_id, bool) and 1 <= record_id <= MAX_ID


def find(session: Session, model, record_id, **options):
    """``session.get`` that answers None for ids that cannot exist instead of overflowing the database."""
    return session.get(model, record_id, **options) if valid_id(record_id) else None


def get_or_404(session: Session, model, record_id, label: str, *, for_update: bool = False, **options):
    """The record, or a 404. ``for_update`` locks its row until the commit (PostgreSQL; SQLite
    serialises writers anyway), so that concurrent changes apply one after the other."""
    record = find(session, model, record_id, with_for_update=True if for_update else None, **options)
    if record is None:
        raise NotFound(_("%(label)s %(id)s not found", label=label, id=record_id), {"id": [_("not found")]})
    return record


def refuse_if_used(session: Session, label: str, uses: dict) -> None:
    """409 when a record is still referred to. ``uses``: a description (``"documents"``)
    -> an EXISTS clause that holds while such references exist."""
    found = [name for name, clause in uses.items() if session.scalar(select(clause))]
    if found:
        raise Conflict(_("%(label)s is still used by %(uses)s: it cannot be deleted; "
                         "deactivate it instead (\"active\": false)", label=label, uses=", ".join(found)),
                       code="in_use")


def flush(session: Session, unique: dict[str, tuple[str, ...]] | None = None) -> None:
    """Flush, turning what a concurrent request can cause into a 409 instead of a 500:
    a unique value taken meanwhile (``unique``: field -> constraint names or
    ``table.column`` as the database reports them), a row changed meanwhile
    (version counter) or a reference that appeared or vanished meanwhile."""
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(_("this record was changed by someone else meanwhile; reload it and apply your change "
                         "again"), {"version": [_("stale")]}, code="stale_version") from None
    except IntegrityError as exc:
        text = str(exc.orig)
        for field, markers in (unique or {}).items():
            if any(marker in text for marker in markers):
                raise Conflict(_("%(field)s: already exists", field=field), {field: [_("already exists")]}) \
                    from None
        raise Conflict(_("the change conflicts with another change made at the same time; reload and try again")) \
            from None


def saved(session: Session, entity: str, record, created: bool) -> None:
    """Tell the plugins that ``record`` was created or changed (``crm_record_saved``), before the commit."""
    hooks.call("crm_record_saved", session=session, entity=entity, record=record, created=created)


def deleted(session: Session, entity: str, record_id) -> None:
    """Tell the plugins that a record was deleted (``crm_record_deleted``), before the commit."""
    hooks.call("crm_record_deleted", session=session, entity=entity, record_id=record_id)
