"""Report pages show stored codes (statuses, kinds of items and of stock moves, reasons) in the
reader's language, in every report: a column holding a code declares which kind it holds."""
from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest

from crm.context import acting_as
from crm.labels import CODE_LABELS
from crm.services import documents, reports, stock
from crm.testing import TEST_PASSWORD

pytestmark = pytest.mark.crm_plugins()


@pytest.fixture
def trading(app, session, catalog):
    """Stock moved every way, an open sales and purchase order, and an issued invoice."""
    with app.app_context(), acting_as(None):
        stock.adjust(session, catalog.widget, quantity=Decimal("50"), reason="found")
        stock.adjust(session, catalog.widget, quantity=Decimal("-1"), reason="damaged")
        lines = [{"item_id": catalog.widget, "quantity": Decimal("2")},
                 {"item_id": catalog.consulting, "quantity": Decimal("1")}]
        order = documents.create_document(session, "sales_order", {"account_id": catalog.account, "lines": lines})
        documents.change_status(session, order, "Approved")
        purchase = documents.create_document(session, "purchase_order", {"vendor_id": catalog.vendor, "lines": [
            {"item_id": catalog.widget, "quantity": Decimal("10")}]})
        documents.change_status(session, purchase, "Approved")
        invoice = documents.create_document(session, "invoice", {"account_id": catalog.account, "lines": lines})
        documents.change_status(session, invoice, "Approved")
        session.commit()
    return catalog


def cells(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", c))).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


def test_every_report_shows_codes_in_the_readers_language(app, make_user, trading):
    user = make_user("admin", language="es")
    client = app.test_client()
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    untranslated = {code for labels in CODE_LABELS.values() for code in labels}
    with app.test_request_context(headers={"Accept-Language": "es"}):
        from flask import g
        g.language = "es"
        untranslated = {code for code in untranslated
                        if any(str(labels.get(code, code)) != code for labels in CODE_LABELS.values())}
    shown_codes = 0
    for name in reports.REPORTS:
        query = {"product_id": trading.widget} if "product_id" in reports.REPORTS[name].parameters else {}
        page = client.get(f"/reports/{name}", query_string=query)
        assert page.status_code == 200, name
        found = cells(page.get_data(as_text=True))
        assert not untranslated & set(found), (name, untranslated & set(found))
        shown_codes += len({"Aprobado", "Producto", "Servicio", "Encontrado", "Dañado", "Ajuste"} & set(found))
    assert shown_codes >= 4  # the codes are there, translated
