"""Saved views of the list pages: a user's choice of search, filters, sort and columns, kept by
name, and which one a list opens with (crm.services.list_views)."""
from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model
from crm.models.base import Timestamps


class ListView(Timestamps, Model):
    """A saved view of one list page (``list_key``: the page's endpoint, ``accounts.index``):
    its query arguments (``q``, ``sort``, the filters) and its columns, owned by a user; a view
    marked ``shared`` (by an administrator) is offered to everyone."""

    __tablename__ = "list_views"
    __table_args__ = (UniqueConstraint("user_id", "list_key", "name", name="uq_list_views_user_list_name"),
                      Index("ix_list_views_list_key_shared", "list_key", "shared"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    list_key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    #: the list's query arguments (``{"q": "...", "sort": "-name", "active": "1"}``)
    query: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the keys of the columns shown, in order (empty: the list's own columns)
    columns: Mapped[list] = mapped_column(JSON, default=list)
    shared: Mapped[bool] = mapped_column(default=False)


class ListViewDefault(Model):
    """The view a user's list opens with (remembered per user and list)."""

    __tablename__ = "list_view_defaults"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    list_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    view_id: Mapped[int] = mapped_column(ForeignKey("list_views.id", ondelete="CASCADE"), index=True)
