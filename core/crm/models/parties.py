"""Accounts (customers), contacts and vendors."""
from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Index, String, Text
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
