"""Taxes with QuickBooks: the company's country and tax codes decide what goes, QuickBooks computes
the tax itself (the fake computes it as QuickBooks does, and refuses codes that are not valid for
the company's locale), and a total it reaches that differs from ours is a conflict in the log."""
from __future__ import annotations

from decimal import Decimal

import pytest

from accsync_helpers import configure, connect, in_app, links, qbo_settings, sync
from crm.models import Document, Item, Tax
from crm.services import documents


def _invoice(app, catalog, lines=None, **extra) -> int:
    lines = lines or [{"item_id": catalog.consulting, "quantity": Decimal("2")},
                      {"item_id": catalog.gadget, "quantity": Decimal("3")}]
    return in_app(app, lambda s: documents.create_document(s, "invoice", {
        "account_id": catalog.account, "lines": lines, **extra}).id)


def _remote(app, qbo, doc_id, name="qbo") -> dict:
    link = next(link for link in links(app, name, "invoices") if link.local_id == doc_id)
    return qbo.objects("Invoice")[link.remote_id]


def _sent(qbo, kind="invoice") -> list[dict]:
    """The invoices the connector wrote (alone or in batches), as sent."""
    out = []
    for path, body in qbo.bodies:
        if path.endswith("/" + kind):
            out.append(body)
        for item in body.get("BatchItemRequest") or []:
            if kind.capitalize() in item:
                out.append(item[kind.capitalize()])
    return out


def test_a_non_us_company_gets_its_tax_codes_on_every_line_and_computes_the_tax(app, qbo, catalog):
    assert qbo.company().country == "ES"
    invoice = _invoice(app, catalog)
    run = sync(app, "qbo")
    assert run.status == "done", run
    remote = _remote(app, qbo, invoice)
    codes = [line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in remote["Line"]
             if line["DetailType"] == "SalesItemLineDetail"]
    assert codes == [qbo.tax_code_id("IVA 21%"), qbo.tax_code_id("IVA 10%")]
    [sent] = _sent(qbo)
    assert sent["GlobalTaxCalculation"] == "TaxExcluded"
    assert "TotalTax" not in (sent.get("TxnTaxDetail") or {})            # QuickBooks computes it
    local = in_app(app, lambda s: s.get(Document, invoice))
    assert remote["TxnTaxDetail"]["TotalTax"] == local.tax_total and remote["TotalAmt"] == local.grand_total
    assert not [r for r in run.records if r["action"] in ("conflict", "failed")], run


def test_a_document_with_an_unmapped_tax_is_a_failed_record_naming_the_tax(app, qbo, catalog):
    configure(app, "qbo", value_maps={"tax_codes": {"IVA 21%": qbo.tax_code_id("IVA 21%")}})
    invoice = _invoice(app, catalog)
    run = sync(app, "qbo", ["accounts", "items", "invoices"])
    [record] = [r for r in run.records if r["entity"] == "invoices"]
    assert record["action"] == "failed" and record["local_id"] == invoice, run
    assert "'IVA 10%'" in record["message"] and "tax_codes" in record["message"]
    assert qbo.objects("Invoice") == {}
    # mapped to something that is not one of the company's tax codes: refused too, naming both
    configure(app, "qbo", value_maps={"tax_codes": {"IVA 21%": qbo.tax_code_id("IVA 21%"), "IVA 10%": "TAX"}})
    in_app(app, lambda s: documents.update_document(s, s.get(Document, invoice), {"subject": "Again"}))
    run = sync(app, "qbo", ["invoices"])
    [record] = [r for r in run.records if r["entity"] == "invoices"]
    assert record["action"] == "failed" and "'IVA 10%'" in record["message"] and "'TAX'" in record["message"], run
    assert qbo.objects("Invoice") == {}


def test_quickbooks_reaching_another_total_than_ours_is_a_logged_conflict(app, qbo, catalog):
    # three lines of 0.02 at 21 %: we round each line's tax (0.00 each), QuickBooks the code's total (0.01)
    cheap = in_app(app, lambda s: s.get(Item, catalog.consulting).id)
    line = {"item_id": cheap, "quantity": Decimal("1"), "unit_price": Decimal("0.02")}
    invoice = _invoice(app, catalog, lines=[dict(line), dict(line), dict(line)])
    run = sync(app, "qbo")
    assert run.status == "done", run
    local = in_app(app, lambda s: s.get(Document, invoice))
    remote = _remote(app, qbo, invoice)
    assert remote["TotalAmt"] == local.grand_total + Decimal("0.01")
    [conflict] = [r for r in run.records if r["entity"] == "invoices" and r["action"] == "conflict"]
    assert conflict["local_id"] == invoice
    assert "a total of 0.07" in conflict["message"] and "ours is 0.06" in conflict["message"]
    link = next(link for link in links(app, "qbo", "invoices") if link.local_id == invoice)
    assert "QuickBooks computed a total" in link.error


@pytest.fixture
def qbo_us(app):
    from accsync_qbo_fake import QBOFake
    fake = QBOFake(country="US", realm="9130000000000002").start()
    connect(app, "qbous", "quickbooks", settings=qbo_settings(fake),
            secrets={"client_secret": fake.client_secret, "refresh_token": fake.issue_refresh_token()})
    yield fake
    fake.stop()


def test_a_us_company_gets_tax_or_non_on_lines_and_the_rate_of_the_transaction(app, qbo_us, catalog):
    california = qbo_us.tax_code_id("California")
    rate = next(iter(qbo_us.objects("TaxCode")[california]["SalesTaxRateList"]["TaxRateDetail"]))
    qbo_us.user_update("TaxRate", rate["TaxRateRef"]["value"], {"RateValue": Decimal("21")})
    untaxed = in_app(app, lambda s: _untaxed_item(s))
    invoice = _invoice(app, catalog, lines=[{"item_id": catalog.consulting, "quantity": Decimal("2")},
                                            {"item_id": untaxed, "quantity": Decimal("1")}])
    run = sync(app, "qbous")
    assert run.status == "done", run
    remote = _remote(app, qbo_us, invoice, "qbous")
    codes = [line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in remote["Line"]
             if line["DetailType"] == "SalesItemLineDetail"]
    assert codes == ["TAX", "NON"]
    assert remote["TxnTaxDetail"]["TxnTaxCodeRef"] == {"value": california}
    local = in_app(app, lambda s: s.get(Document, invoice))
    assert remote["TxnTaxDetail"]["TotalTax"] == local.tax_total == Decimal("16.80")
    assert remote["TotalAmt"] == local.grand_total
    assert not [r for r in run.records if r["action"] in ("conflict", "failed")], run
    # two different taxes on one transaction: a US company takes one
    other = _invoice(app, catalog)   # IVA 21% and IVA 10%
    run = sync(app, "qbous", ["invoices"])
    [record] = [r for r in run.records if r["local_id"] == other]
    assert record["action"] == "failed" and "one sales tax per transaction" in record["message"], run


def _untaxed_item(s) -> int:
    item = Item(kind="service", name="Untaxed help", unit_price=Decimal("10.00"), taxes=[])
    s.add(item)
    s.flush()
    return item.id


def test_the_fake_refuses_tax_codes_invalid_for_the_companys_locale(qbo):
    from accsync_qbo_fake import Fault
    customer = qbo.user_create("Customer", {"DisplayName": "Cliente"})
    item = qbo.user_create("Item", {"Name": "Servicio", "Type": "Service",
                                    "IncomeAccountRef": {"value": qbo.account_id("Sales")}})

    def invoice(code):
        line = {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": Decimal("100")}
        if code:
            line["TaxCodeRef"] = {"value": code}
        return {"CustomerRef": {"value": customer["Id"]}, "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": Decimal("100"), "SalesItemLineDetail": line}],
            "TxnTaxDetail": {"TotalTax": Decimal("99")}}
    for code in ("TAX", "NON", None, "999"):
        with pytest.raises(Fault) as refused:
            qbo.user_create("Invoice", invoice(code))
        assert refused.value.code == "6000"
    made = qbo.user_create("Invoice", invoice(qbo.tax_code_id("IVA 10%")))
    assert made["TxnTaxDetail"]["TotalTax"] == Decimal("10.00") and made["TotalAmt"] == Decimal("110.00")


def test_the_settings_form_offers_the_companys_tax_codes(app, qbo, catalog, make_user):
    from test_accsync_settings_form import html, signed_in
    page = html(signed_in(app, make_user).get("/accounting-sync/settings/qbo"))
    select = page.split('name="settings.value_maps.tax_codes.0.theirs"')[1].split("</select>")[0]
    assert f'<option value="{qbo.tax_code_id("IVA 21%")}" selected>IVA 21%</option>' in select
    assert ">Exento</option>" in select and "TAX" not in select
    assert "(no tax)" in page


def test_tax_codes_read_back_from_quickbooks(app, qbo, catalog):
    customer = qbo.user_create("Customer", {"DisplayName": "Cliente IVA"})
    service = qbo.user_create("Item", {"Name": "Reparación", "Type": "Service",
                                       "IncomeAccountRef": {"value": qbo.account_id("Sales")}})
    qbo.user_create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": Decimal("50.00"), "SalesItemLineDetail": {
            "ItemRef": {"value": service["Id"]}, "Qty": 1, "UnitPrice": Decimal("50"),
            "TaxCodeRef": {"value": qbo.tax_code_id("IVA 10%")}}},
        {"DetailType": "SalesItemLineDetail", "Amount": Decimal("20.00"), "SalesItemLineDetail": {
            "ItemRef": {"value": service["Id"]}, "Qty": 1, "UnitPrice": Decimal("20"),
            "TaxCodeRef": {"value": qbo.tax_code_id("Exento")}}}]})
    run = sync(app, "qbo")
    assert run.count("invoices", "from_remote", "created") == 1, run

    def check(s):
        from sqlalchemy import select
        doc = s.scalar(select(Document).where(Document.doc_type == "invoice"))
        assert [[t["name"] for t in line.taxes] for line in doc.lines] == [["IVA 10%"], []]
        assert doc.grand_total == Decimal("75.00")
        assert s.scalar(select(Tax).where(Tax.name == "IVA 10%")) is not None
    in_app(app, check)


def test_the_fake_refuses_tax_codes_invalid_for_a_us_company(qbo_us):
    from accsync_qbo_fake import Fault
    customer = qbo_us.user_create("Customer", {"DisplayName": "Customer"})
    item = qbo_us.user_create("Item", {"Name": "Service", "Type": "Service",
                                       "IncomeAccountRef": {"value": qbo_us.account_id("Sales")}})
    california = qbo_us.tax_code_id("California")

    def invoice(line_code, txn_code=None):
        line = {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": Decimal("100"),
                "TaxCodeRef": {"value": line_code}}
        detail = {"TotalTax": Decimal("99")}
        if txn_code:
            detail["TxnTaxCodeRef"] = {"value": txn_code}
        return {"CustomerRef": {"value": customer["Id"]}, "TxnTaxDetail": detail, "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": Decimal("100"), "SalesItemLineDetail": line}]}

    def refused(body) -> Fault:
        with pytest.raises(Fault) as caught:
            qbo_us.user_create("Invoice", body)
        return caught.value
    # a line's code other than TAX or NON (one of the company's rates, or a code it does not have)
    for code in (california, "999"):
        fault = refused(invoice(code, california))
        assert fault.code == "6000" and f"TaxCodeRef {code}" in fault.detail
    # TAX or NON as the transaction's tax: the rate goes there, not a line code
    for code in ("TAX", "NON"):
        fault = refused(invoice("TAX", code))
        assert fault.code == "6000" and "TxnTaxCodeRef" in fault.detail
    assert refused(invoice("TAX", "999")).code == "2500"           # a rate the company does not have
    assert qbo_us.objects("Invoice") == {}
    # TAX lines at the transaction's rate, computed there (the TotalTax sent is not taken); NON lines untaxed
    made = qbo_us.user_create("Invoice", invoice("TAX", california))
    assert made["TxnTaxDetail"]["TotalTax"] == Decimal("8.25") and made["TotalAmt"] == Decimal("108.25")
    made = qbo_us.user_create("Invoice", invoice("NON", california))
    assert made["TxnTaxDetail"]["TotalTax"] == Decimal("0") and made["TotalAmt"] == Decimal("100")
    # the rate made inactive there: 610, as for any inactive name
    qbo_us.user_update("TaxCode", california, {"Active": False})
    assert refused(invoice("TAX", california)).code == "610"
    assert len(qbo_us.objects("Invoice")) == 2


def test_a_tax_mapped_to_an_inactive_tax_code_fails_the_document_naming_it_and_keeps_its_link(app, qbo, catalog):
    from crm_accounting_sync.quickbooks.connector import QuickBooksConnector
    invoice = _invoice(app, catalog)   # lines with IVA 21% and IVA 10%
    assert sync(app, "qbo").status == "done"
    link = next(link for link in links(app, "qbo", "invoices") if link.local_id == invoice)
    iva10 = qbo.tax_code_id("IVA 10%")
    writes = lambda: len([b for p, b in qbo.bodies if p.endswith("/invoice")])  # noqa: E731
    # made inactive there after the run read the company's tax codes: QuickBooks answers 610
    connector = QuickBooksConnector(qbo_settings(qbo), {"client_secret": qbo.client_secret,
                                                        "refresh_token": qbo.issue_refresh_token()})
    assert connector.tax_codes()[iva10]["Active"] is True
    qbo.user_update("TaxCode", iva10, {"Active": False})
    in_app(app, lambda s: documents.update_document(s, s.get(Document, invoice), {"subject": "Changed here"}))
    before = writes()
    run = sync(app, "qbo", ["invoices"], connector=connector)
    assert writes() == before + 1                                           # sent, and refused there
    [record] = [r for r in run.records if r["entity"] == "invoices"]
    assert record["action"] == "failed" and record["local_id"] == invoice, run
    assert f"TaxCode 'IVA 10%' (id {iva10}) is inactive" in record["message"], run
    [link] = [x for x in links(app, "qbo", "invoices") if x.local_id == invoice]
    assert link.status == "failed" and "IVA 10%" in link.error                # not taken as deleted
    assert qbo.objects("Invoice")[link.remote_id].get("PrivateNote") != "Changed here"
    # the next run reads the tax codes again: refused before sending, naming the tax code
    in_app(app, lambda s: documents.update_document(s, s.get(Document, invoice), {"subject": "Changed again"}))
    run = sync(app, "qbo", ["invoices"])
    [record] = [r for r in run.records if r["entity"] == "invoices"]
    assert record["action"] == "failed", run
    assert f"the tax code 'IVA 10%' (id {iva10}), which is inactive" in record["message"], run
    assert writes() == before + 1
    assert [x.status for x in links(app, "qbo", "invoices") if x.local_id == invoice] == ["failed"]
    # active again there: the change goes to the same invoice
    qbo.user_update("TaxCode", iva10, {"Active": True})
    in_app(app, lambda s: documents.update_document(s, s.get(Document, invoice), {"subject": "Changed at last"}))
    run = sync(app, "qbo", ["invoices"])
    assert run.count("invoices", "to_remote", "updated") == 1, run
    assert qbo.objects("Invoice")[link.remote_id]["PrivateNote"] == "Changed at last"
