"""Saved views of the list pages: a user keeps a list's search, filters, sort and columns under a
name, opens the list with one of them by default, and an administrator shares a view with
everyone. A list is named by its ``list_key`` (the page's endpoint: ``accounts.index``,
``quotes.index``, ``payments.index``).

Who may do what: everyone signed in saves, renames and deletes their own views and chooses
their default; only an administrator shares a view (or stops sharing it) and deletes a shared
view of someone else. A view someone shares is offered to every user of the list, who may make
it their default but not change it.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from crm.errors import NotFound, PermissionDenied, ValidationError
from crm.models import User
from crm.models.views import ListView, ListViewDefault
from crm.services.records import flush, valid_id

#: query arguments of a list that a view never keeps: where the list is (its page), what it
#: answers (an export) and which view it shows
TRANSIENT_ARGS = frozenset({"page", "export", "view", "columns", "csrf_token"})
MAX_NAME = 100
MAX_ARGS = 40
MAX_ARG_LENGTH = 500
MAX_COLUMNS = 60
MAX_VIEWS = 100   # per user and list


def may_share(user: User) -> bool:
    return user is not None and user.role == "admin"


def views_for(session: Session, user: User, list_key: str) -> list[ListView]:
    """The views ``user`` may open on the list: their own, then those shared by others, by name."""
    rows = session.scalars(select(ListView).where(
        ListView.list_key == list_key, or_(ListView.user_id == user.id, ListView.shared.is_(True)))
        .order_by(ListView.user_id != user.id, func.lower(ListView.name), ListView.id))
    return list(rows)


def get_view(session: Session, user: User, view_id: object, list_key: str | None = None) -> ListView:
    """A view ``user`` may open (their own or a shared one), or a 404."""
    view = session.get(ListView, view_id) if valid_id(view_id) else None
    if view is None or (view.user_id != user.id and not view.shared) or \
            (list_key is not None and view.list_key != list_key):
        raise NotFound(_("view %(id)s not found", id=view_id), {"view": [_("not found")]})
    return view


def clean_query(query: dict[str, Any]) -> dict[str, str]:
    """A list's query arguments as a view keeps them: text values, without the transient ones
    and the empty ones; too many or too long -> ValidationError."""
    cleaned = {}
    for key, value in (query or {}).items():
        if not isinstance(key, str) or key in TRANSIENT_ARGS:
            continue
        if isinstance(value, (list, tuple)):
            value = value[0] if value else ""
        value = "" if value is None else str(value)
        if not value:
            continue
        if len(key) > 50 or len(value) > MAX_ARG_LENGTH:
            raise ValidationError.for_field("query", _("a search or filter is too long"))
        cleaned[key] = value
    if len(cleaned) > MAX_ARGS:
        raise ValidationError.for_field("query", _("too many filters"))
    return cleaned


def clean_columns(columns: object, allowed: list[str] | None = None) -> list[str]:
    """Column keys, without repeats (and, with ``allowed``, only those keys)."""
    if columns is None:
        return []
    if isinstance(columns, str):
        columns = [c for c in columns.split(",")]
    if not isinstance(columns, (list, tuple)):
        raise ValidationError.for_field("columns", _("must be a list of column names"))
    kept: list[str] = []
    for key in columns:
        key = str(key).strip()
        if key and key not in kept and len(key) <= 50 and (allowed is None or key in allowed):
            kept.append(key)
    return kept[:MAX_COLUMNS]


def save_view(session: Session, user: User, list_key: str, name: str, *, query: dict[str, Any],
              columns: list[str] | None = None, shared: bool = False) -> ListView:
    """Save the list's current ``query`` and ``columns`` as the view ``name`` of ``user``; a
    view of theirs already named so is replaced. ``shared`` needs an administrator."""
    name = (name or "").strip()
    if not name:
        raise ValidationError.for_field("name", _("is required"))
    if len(name) > MAX_NAME:
        raise ValidationError.for_field("name", _("is too long (at most %(max)s characters)", max=MAX_NAME))
    if not list_key or len(list_key) > 100:
        raise ValidationError.for_field("list_key", _("is not a list"))
    if shared and not may_share(user):
        raise PermissionDenied(_("only an administrator shares a view with everyone"), {"shared": [_("forbidden")]})
    view = session.scalar(select(ListView).where(ListView.user_id == user.id, ListView.list_key == list_key,
                                                 ListView.name == name))
    if view is None:
        count = session.scalar(select(func.count()).select_from(ListView)
                               .where(ListView.user_id == user.id, ListView.list_key == list_key))
        if (count or 0) >= MAX_VIEWS:
            raise ValidationError.for_field("name", _("you have %(max)s views of this list already; delete one first",
                                                      max=MAX_VIEWS))
        view = ListView(user_id=user.id, list_key=list_key, name=name)
        session.add(view)
    view.query = clean_query(query)
    view.columns = clean_columns(columns)
    view.shared = bool(shared)
    flush(session, {"name": ("uq_list_views_user_list_name",)})
    return view


def _check_owner(user: User, view: ListView) -> None:
    if view.user_id != user.id and not (view.shared and may_share(user)):
        raise PermissionDenied(_("this view belongs to someone else: only they may change it"))


def share_view(session: Session, user: User, view: ListView, shared: bool) -> ListView:
    """Share ``view`` with everyone, or stop sharing it (an administrator only)."""
    if not may_share(user):
        raise PermissionDenied(_("only an administrator shares a view with everyone"), {"shared": [_("forbidden")]})
    view.shared = bool(shared)
    if not shared:
        # those who made it their default no longer see it
        session.execute(delete(ListViewDefault).where(ListViewDefault.view_id == view.id,
                                                      ListViewDefault.user_id != view.user_id))
    flush(session)
    return view


def delete_view(session: Session, user: User, view: ListView) -> None:
    """Delete one of ``user``'s views (an administrator: a shared one too); it is no longer
    anyone's default."""
    _check_owner(user, view)
    session.execute(delete(ListViewDefault).where(ListViewDefault.view_id == view.id))
    session.delete(view)
    flush(session)


def set_default(session: Session, user: User, list_key: str, view: ListView | None) -> None:
    """The view ``user``'s list opens with from now on (None: the list as it comes)."""
    row = session.get(ListViewDefault, (user.id, list_key))
    if view is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(ListViewDefault(user_id=user.id, list_key=list_key, view_id=view.id))
    else:
        row.view_id = view.id
    flush(session)


def default_view(session: Session, user: User, list_key: str) -> ListView | None:
    """The view ``user``'s list opens with, while they may still open it."""
    row = session.get(ListViewDefault, (user.id, list_key))
    if row is None:
        return None
    view = session.get(ListView, row.view_id)
    if view is None or (view.user_id != user.id and not view.shared):
        return None
    return view
