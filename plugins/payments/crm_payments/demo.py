"""The payments of the demo company (``crm demo``, hook ``crm_demo_data``).

With the plugin on, the core's demo leaves its issued invoices unpaid (received is the
plugin's business); this gives them a believable history, deterministically: some paid in
one or two payments, some with a deposit, some with a deposit and three monthly
installments (the older ones overdue), one overpaid with the excess kept as customer
credit. Running it again adds nothing.
"""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import money
from crm.context import acting_as
from crm.errors import CRMError
from crm.models import Document, User
from crm_payments import services
from crm_payments.models import Credit, Payment, PaymentSchedule

SEED = 20270101
METHODS = ("Bank transfer", "Bank transfer", "Direct debit", "Credit card", "Check", "Cash")


def load_demo_payments(session: Session, today: dt.date | None = None) -> dict[str, int]:
    if session.scalar(select(func.count()).select_from(Payment)):
        return {}
    demo = _Demo(session, today or dt.date.today())
    user = session.scalar(select(User).where(User.username == "accounting"))
    invoices = list(session.scalars(select(Document).where(Document.doc_type == "invoice",
                                                           Document.status.in_(("Approved", "Sent")))
                                    .order_by(Document.id)))
    with acting_as(user):
        for invoice in invoices:
            if invoice.grand_total <= 0:
                continue
            plan = demo.rng.choices(("paid", "two", "deposit", "schedule", "open"), weights=(35, 15, 15, 15, 20))[0]
            try:
                with session.begin_nested():  # a refused step (lists changed by an admin) skips the invoice
                    demo.story(invoice, plan)
            except CRMError:
                continue
    session.flush()
    return {"payments": session.scalar(select(func.count()).select_from(Payment)) or 0,
            "payment schedules": session.scalar(select(func.count()).select_from(PaymentSchedule)) or 0,
            "customer credits": session.scalar(select(func.count()).select_from(Credit)) or 0}


class _Demo:
    def __init__(self, session: Session, today: dt.date):
        self.session, self.today = session, today
        self.rng = random.Random(SEED)
        self.overpaid = False

    def story(self, invoice: Document, plan: str) -> None:
        issued = invoice.invoice_date or invoice.created_at.date()
        total, cur = invoice.grand_total, invoice.currency

        def on(least: int, most: int) -> dt.date:
            return min(issued + dt.timedelta(days=self.rng.randint(least, most)), self.today)

        def pay(amount: Decimal, day: dt.date, **extra) -> None:
            services.record_payment(self.session, invoice.id, {
                "amount": amount, "date": day, "method": self.rng.choice(METHODS),
                "reference": f"DEMO-{invoice.number}", **extra})

        def share(percent: int) -> Decimal:
            return money.round_money(money.percent_of(total, Decimal(percent)), cur)

        if plan == "paid" and not self.overpaid and total > 50:
            pay(money.add(total, Decimal("25.00")), on(5, 30), excess_as_credit=True,
                note="transferencia con importe de más")
            self.overpaid = True
        elif plan == "paid":
            pay(total, on(5, 40))
        elif plan == "two":
            pay(share(50), on(1, 10), note="anticipo")
            pay(money.subtract(total, share(50)), on(20, 45))
        elif plan == "deposit":
            pay(share(self.rng.choice((25, 30, 40))), on(1, 15))
        elif plan == "schedule":
            pay(share(30), on(0, 5), note="anticipo")
            services.create_schedule(self.session, invoice.id, {
                "installments": 3, "first_date": issued + dt.timedelta(days=30), "interval": "monthly",
                "method": "Direct debit"})
