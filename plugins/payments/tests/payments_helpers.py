"""Helpers shared by the payments plugin's tests."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm.testing import TEST_PASSWORD


def create_invoice(app, catalog, *, total="100.00", status="Approved", account_id=None, currency="EUR",
                   due_date=None, invoice_date=None) -> int:
    """A direct invoice of one untaxed service line worth ``total``, moved to ``status``
    (services never move stock). Returns its id."""
    from crm.db import db
    from crm.services import documents
    due_date, invoice_date = (dt.date.fromisoformat(d) if isinstance(d, str) else d for d in (due_date, invoice_date))
    with app.app_context():
        session = db.new_session(app)
        try:
            invoice = documents.create_document(session, "invoice", {
                "account_id": account_id or catalog.account, "currency": currency, "due_date": due_date,
                "invoice_date": invoice_date,
                "lines": [{"item_id": catalog.consulting, "quantity": Decimal("1"), "unit_price": Decimal(total),
                           "tax_ids": []}]})
            if status != "Created":
                for step in {"Approved": ["Approved"], "Sent": ["Sent"], "Cancelled": ["Cancelled"],
                             "Credit Invoice": ["Approved", "Credit Invoice"]}[status]:
                    documents.change_status(session, invoice, step)
            session.commit()
            return invoice.id
        finally:
            session.close()


def invoice_state(api, invoice_id) -> tuple[str, str, str]:
    """(received, balance, status) of an invoice, through the API."""
    body = api.get(f"/invoices/{invoice_id}").json()
    return body["received"], body["balance"], body["status"]


def signed_in(client, user):
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.data
    return client


def days_ago(n: int) -> dt.date:
    return dt.date.today() - dt.timedelta(days=n)
