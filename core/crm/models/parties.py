"""Accounts (customers), contacts and vendors."""
from __future__ import annotations

from typing import cast

from sqlalchemy import JSON, ForeignKey, Index, String, Table, Text, func, literal_column
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Model
from crm.models.base import Timestamps, Versioned


class Account(Versioned, Timestamps, Model):
    """A customer organisation."""

    __tablename__ = "accounts"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    tax_id: Mapped[str] = mapped_column(String(50), default="")
    billing_address: Mapped[dict] = mapped_column(JSON, default=dict)
    shipping_address: Mapped[dict] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    custom: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the user responsible for the customer (set on its form or by a list's "Assign")
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)

    contacts: Mapped[list["Contact"]] = relationship(back_populates="account")


class Contact(Versioned, Timestamps, Model):
    """A person, optionally of an account."""

    __tablename__ = "contacts"
    __audited__ = True
    __table_args__ = (Index("ix_contacts_name", "last_name", "first_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    title: Mapped[str] = mapped_column(String(100), default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    custom: Mapped[dict] = mapped_column(JSON, default=dict)

    account: Mapped[Account | None] = relationship(back_populates="contacts")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Vendor(Versioned, Timestamps, Model):
    """A supplier we buy from."""

    __tablename__ = "vendors"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[dict] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    custom: Mapped[dict] = mapped_column(JSON, default=dict)


def _compact(column: str) -> str:
    """A phone without spaces, dashes, dots and brackets."""
    return f"replace(replace(replace(replace(replace({column}, ' ', ''), '-', ''), '.', ''), '(', ''), ')', '')"


def search_text_index(model: type[Model], parts: list[str]) -> None:
    """PostgreSQL only (migration core_0012, where pg_trgm is available): the global search's GIN
    trigram index ``ix_<table>_search_trgm`` on ``lower(<parts joined by spaces>)``
    (``crm.services.search.PG_TEXT``). Written as PostgreSQL writes it back, one concatenation
    at a time in brackets, so that comparing the models with the database finds them equal."""
    table = cast(Table, model.__table__)
    expression = parts[0]
    for part in parts[1:]:
        expression = f"({expression} || ' ') || {part}" if expression == parts[0] else \
            f"(({expression}) || ' ') || {part}"
    index = Index(f"ix_{table.name}_search_trgm", literal_column(f"lower({expression})").label("search_text"),
                  postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"})
    table.append_constraint(index.ddl_if(dialect="postgresql"))


search_text_index(Account, ["name", "email", "phone", _compact("phone"), "tax_id"])
search_text_index(Contact, ["first_name", "last_name", "email", "phone", _compact("phone")])
search_text_index(Vendor, ["name", "email", "phone", _compact("phone")])

#: PostgreSQL only (migration core_0019, where pg_trgm is available): the names alone, for the
#: documents the global search finds by their customer's or vendor's name
for _model in (Account, Vendor):
    _table = cast(Table, _model.__table__)
    Index(f"ix_{_table.name}_name_trgm", func.lower(_table.c.name).label("name_lower"),
          postgresql_using="gin", postgresql_ops={"name_lower": "gin_trgm_ops"}).ddl_if(dialect="postgresql")
del _model, _table
