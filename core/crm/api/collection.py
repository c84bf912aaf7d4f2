"""Listing records: pagination, text search, sorting and equality filters,
the same way for every collection of the API."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_babel import gettext as _
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from crm.errors import ValidationError


def paginate(session: Session, stmt: Select, args: Mapping, *, model, search: Iterable = (),
             sortable: Mapping[str, object] | None = None, default_sort=None,
             filters: Mapping[str, object] | None = None, raw_args: Mapping | None = None) -> dict:
    """Apply ``?q=``, ``?sort=``, equality filters and ``?page=&per_page=`` to
    ``stmt`` and return the collection envelope.

    ``search``: columns matched case-insensitively by ``q``; ``sortable``: name ->
    column; ``filters``: name -> (column, converter) read from ``raw_args``.

    The page is read first; ``total`` is exact, and is counted by a second query
    only when the page cannot tell it (a full page, or an empty page after the first)."""
    stmt = narrowed(session, stmt, search=search, q=args.get("q"), filters=filters, raw_args=raw_args)
    filtered = stmt
    stmt = ordered(stmt, args.get("sort"), model=model, sortable=sortable, default_sort=default_sort)
    page, per_page = args["page"], args["per_page"]
    offset = (page - 1) * per_page
    items = list(session.scalars(stmt.limit(per_page).offset(offset)))
    if 0 < len(items) < per_page or (not items and page == 1):
        total = offset + len(items)  # the last page: everything before it was full
    else:
        total = session.scalar(select(func.count()).select_from(filtered.order_by(None).subquery()))
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def narrowed(session: Session, stmt: Select, *, search: Iterable = (), q: str | None = None,
             filters: Mapping[str, object] | None = None, raw_args: Mapping | None = None,
             prefix: str = "") -> Select:
    """``stmt`` narrowed by the text search ``q`` and the equality ``filters`` (name -> (column,
    converter)) given in ``raw_args``: what a collection lists, all its pages. A value its
    converter refuses is a ``ValidationError`` naming ``<prefix><name>``."""
    stmt = searched(session, stmt, search, q)
    for name, (column, convert) in (filters or {}).items():
        if raw_args is not None and name in raw_args:
            value = raw_args.get(name)
            try:
                stmt = stmt.where(column == convert(value))
            except (TypeError, ValueError) as exc:
                raise ValidationError.for_field(prefix + name, _("invalid filter value %(value)s",
                                                                 value=repr(value))) from exc
    return stmt


def searched(session: Session, stmt: Select, search: Iterable, q: str | None) -> Select:
    """``stmt`` narrowed to the rows where ``q`` is found in one of the ``search`` columns."""
    search = list(search)
    if q and search:  # a list without text columns has no text search: ``q`` changes nothing
        stmt = stmt.where(_matches(session, search, q))
    return stmt


def ordered(stmt: Select, sort: str | None, *, model, sortable: Mapping[str, object] | None = None,
            default_sort=None) -> Select:
    """``stmt`` sorted by ``sort`` (``name`` or ``-name``, a key of ``sortable``; ties by id), or
    by ``default_sort`` (else the id). An unknown ``sort`` is a ``ValidationError`` on ``sort``."""
    if not sort:
        return stmt.order_by(*(default_sort if default_sort is not None else [model.id]))
    name = sort.lstrip("-")
    column = (sortable or {}).get(name)
    if column is None:
        raise ValidationError.for_field("sort", _("cannot sort by %(name)s; use one of: %(choices)s",
                                                  name=repr(name), choices=", ".join(sorted(sortable or {}))))
    return stmt.order_by(column.desc() if sort.startswith("-") else column.asc(), model.id)


def _matches(session: Session, columns: Iterable, q: str):
    """``q`` found anywhere in one of ``columns``, case-insensitively (a LIKE ``%q%``,
    ``q``'s wildcards escaped). On SQLite, whose LIKE already ignores the case of
    ASCII letters and whose ``lower()`` folds only those, ``lower(col)`` would change
    nothing but cost a function call per row and column: it is left out there."""
    pattern = f"%{_escape_like(q.strip().lower())}%"
    fold = session.get_bind().dialect.name != "sqlite"
    return or_(*[(func.lower(col) if fold else col).like(pattern, escape="\\") for col in columns])


def as_bool(value: str) -> bool:
    lowered = str(value).lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(value)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
