"""Listing records: pagination, text search, sorting and equality filters,
the same way for every collection of the API."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from crm.errors import ValidationError


def paginate(session: Session, stmt: Select, args: Mapping, *, model, search: Iterable = (),
             sortable: Mapping[str, object] | None = None, default_sort=None,
             filters: Mapping[str, object] | None = None, raw_args: Mapping | None = None) -> dict:
    """Apply ``?q=``, ``?sort=``, equality filters and ``?page=&per_page=`` to
    ``stmt`` and return the collection envelope.

    ``search``: columns matched case-insensitively by ``q``; ``sortable``: name ->
    column; ``filters``: name -> (column, converter) read from ``raw_args``."""
    q = args.get("q")
    if q:
        pattern = f"%{_escape_like(q.strip().lower())}%"
        stmt = stmt.where(or_(*[func.lower(col).like(pattern, escape="\\") for col in search]))
    for name, (column, convert) in (filters or {}).items():
        if raw_args is not None and name in raw_args:
            value = raw_args.get(name)
            try:
                stmt = stmt.where(column == convert(value))
            except (TypeError, ValueError) as exc:
                raise ValidationError.for_field(name, f"invalid filter value {value!r}") from exc
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    sort = args.get("sort")
    if sort:
        name = sort.lstrip("-")
        column = (sortable or {}).get(name)
        if column is None:
            raise ValidationError.for_field("sort", f"cannot sort by {name!r}; use one of: "
                                            + ", ".join(sorted(sortable or {})))
        stmt = stmt.order_by(column.desc() if sort.startswith("-") else column.asc(), model.id)
    else:
        stmt = stmt.order_by(*(default_sort if default_sort is not None else [model.id]))
    page, per_page = args["page"], args["per_page"]
    items = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def as_bool(value: str) -> bool:
    lowered = str(value).lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(value)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
