"""What the API and the pages do with links and runs (session first, never commit)."""
from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crm.errors import Conflict, NotFound, ValidationError
from crm_accounting_sync.models import LINK_STATUSES, Link, Run, RunRecord


def get_link(session: Session, link_id: int) -> Link:
    link = session.get(Link, link_id) if isinstance(link_id, int) and 0 < link_id < 2**31 else None
    if link is None:
        raise NotFound(f"link {link_id} not found")
    return link


def resolve_conflict(session: Session, link_id: int, keep: str) -> Link:
    """Settle a manual conflict: the next run applies ``keep`` ("ours" or "theirs") to the fields in conflict."""
    if keep not in ("ours", "theirs"):
        raise ValidationError.for_field("keep", "must be ours or theirs")
    link = get_link(session, link_id)
    if link.status != "conflict":
        raise Conflict(f"link {link_id} is not in conflict (status {link.status})", code="not_in_conflict")
    link.resolution = keep
    link.pending = "from_remote" if link.remote_id else "to_remote"
    session.flush()
    return link


def skip_link(session: Session, link_id: int) -> Link:
    """Stop retrying a failed or waiting record (it is synced again when it changes)."""
    link = get_link(session, link_id)
    if link.status not in ("failed", "waiting", "conflict"):
        raise Conflict(f"only failed, waiting or conflicting records can be skipped; link {link_id} is {link.status}",
                       code="not_failed")
    link.status, link.pending = "skipped", None
    session.flush()
    return link


def retry_link(session: Session, link_id: int) -> Link:
    """Try a skipped or failed record again on the next run."""
    link = get_link(session, link_id)
    if link.status in ("ok", "deleted"):
        raise Conflict(f"link {link_id} is {link.status}: nothing to retry", code="nothing_to_retry")
    link.status = "failed" if link.status == "skipped" else link.status
    link.pending = "to_remote" if link.local_id is not None and link.remote_id is None else (
        link.pending or "from_remote" if link.remote_id else "to_remote")
    session.flush()
    return link


def links_query(filters: dict) -> Select[Link]:
    stmt = select(Link)
    for key in ("connection", "entity", "status", "local_id", "remote_id"):
        if filters.get(key) not in (None, ""):
            value = filters[key]
            if key == "status" and value not in LINK_STATUSES:
                raise ValidationError.for_field("status", f"must be one of {', '.join(LINK_STATUSES)}")
            stmt = stmt.where(getattr(Link, key) == value)
    if filters.get("q"):
        stmt = stmt.where(func.lower(Link.label).contains(filters["q"].lower()))
    return stmt.order_by(Link.entity, Link.id)


def get_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id) if isinstance(run_id, int) and 0 < run_id < 2**31 else None
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


def run_records(session: Session, run_id: int, *, entity: str | None = None, action: str | None = None,
                limit: int = 500, offset: int = 0) -> tuple[list[RunRecord], int]:
    stmt = select(RunRecord).where(RunRecord.run_id == run_id)
    if entity:
        stmt = stmt.where(RunRecord.entity == entity)
    if action:
        stmt = stmt.where(RunRecord.action == action)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    return list(session.scalars(stmt.order_by(RunRecord.id).limit(limit).offset(offset))), total
