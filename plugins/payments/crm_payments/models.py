"""The payments plugin's tables (all prefixed ``payments_``).

* ``payments_statuses`` / ``payments_methods``: the admin-managed lists. A status says
  whether a payment in it counts as received, is a refund (subtracts), is a scheduled
  installment, or is a failure (a payment attempt that failed: it never counts, and a payment
  recorded with or changed to it is announced as ``failed``). ``code`` marks the built-in rows
  the plugin itself needs (``credit``, ``failed``).
* ``payments_payments``: many payments per invoice.
* ``payments_schedules``: a split of a balance into installments (scheduled payments).
* ``payments_credits`` / ``payments_credit_applications``: customer credit from an
  overpayment, and where it was applied.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Model
from crm.models.base import Money, Timestamps, Versioned, utcnow

#: ``code`` of the built-in status and method used when customer credit is applied
CREDIT = "credit"
#: ``code`` of the built-in status of a failed payment ("Failed")
FAILED = "failed"
INTERVALS = ("weekly", "monthly", "quarterly")


class PaymentStatus(Model):
    """An admin-managed payment status and what it means for the balance."""

    __tablename__ = "payments_statuses"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    counts_as_received: Mapped[bool] = mapped_column(default=False)
    is_refund: Mapped[bool] = mapped_column(default=False)
    is_scheduled: Mapped[bool] = mapped_column(default=False)
    #: a failed payment attempt (a bounced check, a declined card): never counts as received
    is_failure: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    code: Mapped[str | None] = mapped_column(String(30), unique=True)

    @property
    def sign(self) -> int:
        """+1 adds to received, -1 subtracts (a refund), 0 does not count."""
        if not self.counts_as_received:
            return 0
        return -1 if self.is_refund else 1


class PaymentMethod(Model):
    """An admin-managed payment type (cash, check, ...)."""

    __tablename__ = "payments_methods"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    code: Mapped[str | None] = mapped_column(String(30), unique=True)


class PaymentSchedule(Model):
    """A balance split into ``installments`` scheduled payments."""

    __tablename__ = "payments_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    installments: Mapped[int]
    first_date: Mapped[dt.date] = mapped_column(Date)
    interval: Mapped[str] = mapped_column(String(10))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    payments: Mapped[list["Payment"]] = relationship(back_populates="schedule", order_by="Payment.date, Payment.id")


class Payment(Versioned, Timestamps, Model):
    """One payment (or refund, or scheduled installment) of an invoice."""

    __tablename__ = "payments_payments"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payments_payments_status_date", "status_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    date: Mapped[dt.date] = mapped_column(Date)
    method_id: Mapped[int | None] = mapped_column(ForeignKey("payments_methods.id"), index=True)
    status_id: Mapped[int] = mapped_column(ForeignKey("payments_statuses.id"))
    reference: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: the day the overdue job found this scheduled payment past its date (None: not overdue)
    overdue_since: Mapped[dt.date | None] = mapped_column(Date)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("payments_schedules.id", ondelete="SET NULL"),
                                                    index=True)

    status: Mapped[PaymentStatus] = relationship(lazy="selectin")
    method: Mapped[PaymentMethod | None] = relationship(lazy="selectin")
    invoice = relationship("Document")
    created_by = relationship("User")
    schedule: Mapped[PaymentSchedule | None] = relationship(back_populates="payments")
    #: the customer credit this payment used (a payment of the Credit status), if any
    applications: Mapped[list["CreditApplication"]] = relationship(back_populates="payment",
                                                                   cascade="all, delete-orphan", passive_deletes=True)
    #: the credit made from this payment's excess (an overpayment), if any
    credits_created: Mapped[list["Credit"]] = relationship(
        primaryjoin="Credit.source_payment_id == Payment.id", viewonly=True, order_by="Credit.id")


class Credit(Timestamps, Model):
    """Customer credit: the excess of an overpayment, to apply to other invoices of the account."""

    __tablename__ = "payments_credits"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
        CheckConstraint("remaining <= amount", name="remaining_within_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money)
    remaining: Mapped[Decimal] = mapped_column(Money)
    #: the overpayment it came from
    source_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments_payments.id", ondelete="SET NULL"),
                                                          index=True)
    source_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    account = relationship("Account")
    source_invoice = relationship("Document")
    applications: Mapped[list["CreditApplication"]] = relationship(back_populates="credit",
                                                                   order_by="CreditApplication.id",
                                                                   cascade="all, delete-orphan", passive_deletes=True)


class CreditApplication(Model):
    """Credit used on an invoice: the payment (of the Credit status) it became."""

    __tablename__ = "payments_credit_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("payments_credits.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments_payments.id", ondelete="CASCADE"), unique=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    credit: Mapped[Credit] = relationship(back_populates="applications")
    payment: Mapped[Payment] = relationship(back_populates="applications")
