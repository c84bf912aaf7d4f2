"""``crm demo``: a believable small business with six months of history made through the
services: every document status, real stock (ledger, reservations, receipts in part),
links between documents, overdue invoices, low stock; loaded once; its users sign in."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pypdf
import pytest
from sqlalchemy import distinct, func, inspect, select, text

from crm.db import db
from crm.models import (
    Account,
    Contact,
    Document,
    DocumentLine,
    Item,
    RecurringRun,
    RecurringSchedule,
    StatusChange,
    StockMove,
    Tax,
    Vendor,
)
from crm.models.auth import ROLES
from crm.services.doctypes import DOC_TYPES

pytestmark = pytest.mark.slow  # each test loads the demo business


def load(runner):
    result = runner.invoke(["demo"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.crm_plugins()  # the core alone: invoices' received amounts are kept by hand
def test_demo_creates_a_business_with_every_status(runner, session):
    output = load(runner)
    assert "products" in output and "invoices" in output
    count = lambda model, *where: session.scalar(select(func.count()).select_from(model).where(*where))  # noqa: E731
    assert count(Item, Item.kind == "product", Item.is_bundle.is_(False)) >= 60
    assert count(Item, Item.is_bundle.is_(True)) >= 3
    assert count(Item, Item.kind == "service") >= 8
    assert count(Vendor) >= 8 and count(Account) >= 25 and count(Contact) >= 25
    assert {Decimal(r).normalize() for r in session.scalars(select(Tax.rate))} >= {Decimal(21), Decimal(10), Decimal(4)}
    assert session.scalar(select(func.count(distinct(Item.category))).where(Item.kind == "product")) >= 5
    assert session.scalar(select(func.count(distinct(Item.manufacturer))).where(Item.kind == "product")) >= 5
    for name, kind in DOC_TYPES.items():
        reached = set(session.scalars(select(Document.status).where(Document.doc_type == name).distinct()))
        assert reached == set(kind.statuses), f"{name}: missing {set(kind.statuses) - reached}"


@pytest.mark.crm_plugins()
def test_demo_stock_and_links_are_real(runner, session):
    load(runner)
    verify = runner.invoke(["stock", "verify"])
    assert verify.exit_code == 0, verify.output
    moves = set(session.scalars(select(StockMove.kind).distinct()))
    assert {"receipt", "shipment", "adjustment", "bundle_component", "return"} <= moves
    reasons = set(session.scalars(select(StockMove.reason).where(StockMove.kind == "adjustment").distinct()))
    assert {"damaged", "lost", "found", "count_correction"} <= reasons
    assert session.scalar(select(func.count()).select_from(Item).where(Item.reserved > 0)) > 0
    low = session.scalar(select(func.count()).select_from(Item).where(
        Item.kind == "product", Item.is_bundle.is_(False), Item.on_hand - Item.reserved <= Item.reorder_level))
    assert low >= 3
    partly = lambda doc_type, done: session.scalar(  # noqa: E731
        select(func.count()).select_from(DocumentLine).join(Document).where(
            Document.doc_type == doc_type, Document.status == "Approved", done > 0, done < DocumentLine.quantity))
    assert partly("purchase_order", DocumentLine.qty_received) > 0
    assert partly("sales_order", DocumentLine.qty_shipped) > 0
    source = Document.__table__.alias("source")
    links = set(session.execute(select(source.c.doc_type, Document.doc_type)
                                .join(source, source.c.id == Document.source_id)).all())
    assert {("quote", "sales_order"), ("quote", "invoice"), ("sales_order", "invoice"),
            ("sales_order", "purchase_order")} <= links
    assert session.scalar(select(func.count()).select_from(RecurringSchedule)) == 1
    assert session.scalar(select(func.count()).select_from(RecurringRun)) >= 4


@pytest.mark.crm_plugins()
def test_demo_history_spreads_over_six_months_with_overdue_invoices(runner, session):
    load(runner)
    today = dt.date.today()
    oldest = session.scalar(select(func.min(Document.invoice_date)))
    assert oldest <= today - dt.timedelta(days=150)
    overdue = list(session.scalars(select(Document.due_date).where(
        Document.doc_type == "invoice", Document.status.in_(("Sent", "Partially Paid")), Document.balance > 0,
        Document.due_date < today)))
    ages = {(today - due).days for due in overdue}
    assert any(age <= 30 for age in ages) and any(30 < age <= 60 for age in ages)
    assert any(60 < age <= 90 for age in ages) and any(age > 90 for age in ages)
    created = session.execute(select(func.min(Document.created_at), func.max(Document.created_at))).one()
    assert (created[1] - created[0]).days >= 150
    assert session.scalar(select(func.count()).select_from(StatusChange).where(StatusChange.user_id.is_(None))) == 0
    partially_paid = session.scalars(select(Document).where(Document.status == "Partially Paid")).all()
    assert all(0 < d.received < d.grand_total and d.balance == d.grand_total - d.received for d in partially_paid)


def test_demo_loads_once_with_every_plugin(app, runner):
    """With the installed plugins on (as ``crm demo`` runs by default); a second run adds nothing."""
    load(runner)
    first = _row_counts(app)
    output = load(runner)
    assert "0 users" in output and "products" not in output
    assert _row_counts(app) == first
    assert first["documents"] > 90 and first["stock_moves"] > 100
    verify = runner.invoke(["stock", "verify"])
    assert verify.exit_code == 0, verify.output


def _row_counts(app) -> dict[str, int]:
    engine = db.engine(app)
    with engine.connect() as connection:
        return {table: connection.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar()
                for table in inspect(engine).get_table_names() if not table.startswith("alembic_version")}


@pytest.mark.crm_plugins()
def test_demo_users_sign_in_and_print_the_company_on_documents(runner, client):
    load(runner)
    tokens = {}
    for role in ROLES:
        response = client.post("/api/v1/auth/tokens", json={"username": role, "password": f"{role}1234"})
        assert response.status_code == 201, (role, response.get_json())
        tokens[role] = response.get_json()["token"]
    wrong = client.post("/api/v1/auth/tokens", json={"username": "sales", "password": "admin1234"})
    assert wrong.status_code == 401
    headers = {"Authorization": f"Bearer {tokens['accounting']}"}
    invoices = client.get("/api/v1/invoices?status=Paid", headers=headers).get_json()
    assert invoices["total"] > 0
    pdf = client.get(f"/api/v1/invoices/{invoices['items'][0]['id']}/pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "Suministros Levante S.L." in pypdf.PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
