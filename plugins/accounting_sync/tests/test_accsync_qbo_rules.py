"""QuickBooks' business rules, as the fake enforces them (see the plugin's README, "The QuickBooks
fake"): what a real company refuses is refused here too, and the connector keeps the books right."""
from __future__ import annotations

from decimal import Decimal

from accsync_helpers import configure, in_app, links, sync
from crm.models import Document, Item
from crm.services import documents, items as item_services


def _invoice(app, catalog, **extra) -> int:
    return in_app(app, lambda s: documents.create_document(s, "invoice", {
        "account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": Decimal("2")}],
        **extra}).id)


def _link(app, entity, local_id):
    return next(link for link in links(app, "qbo", entity) if link.local_id == local_id)


# --- 610 on an inactive reference -------------------------------------------------------------------

def test_an_inactive_customer_there_fails_the_invoice_by_name_and_it_is_not_taken_as_deleted(app, qbo, catalog):
    invoice = _invoice(app, catalog)
    assert sync(app, "qbo").status == "done"
    customer = _link(app, "accounts", catalog.account).remote_id
    qbo.user_update("Customer", customer, {"Active": False})
    in_app(app, lambda s: documents.update_document(s, s.get(Document, invoice), {"subject": "Changed here"}))
    run = sync(app, "qbo", ["invoices"])
    [record] = [r for r in run.records if r["entity"] == "invoices"]
    assert record["action"] == "failed", run
    assert f"Customer 'Ferretería López S.L.' (id {customer})" in record["message"] and "inactive" in record["message"]
    link = _link(app, "invoices", invoice)
    assert link.status == "failed" and "inactive" in link.error
    # made active again there: the change goes
    qbo.user_update("Customer", customer, {"Active": True})
    in_app(app, lambda s: documents.update_document(s, s.get(Document, invoice), {"subject": "Changed again"}))
    run = sync(app, "qbo", ["invoices"])
    assert run.count("invoices", "to_remote", "updated") == 1, run
    assert qbo.objects("Invoice")[link.remote_id]["PrivateNote"] == "Changed again"


# --- sales orders are not cash sales ----------------------------------------------------------------

def test_sales_orders_are_not_sent_as_sales_receipts_unless_chosen_and_the_settings_say_why(app, qbo, catalog,
                                                                                         make_user):
    from test_accsync_settings_form import html, signed_in
    in_app(app, lambda s: documents.create_document(s, "sales_order", {
        "account_id": catalog.account, "lines": [{"item_id": catalog.consulting, "quantity": Decimal("2")}]}))
    _invoice(app, catalog)
    run = sync(app, "qbo")
    assert run.status == "done", run
    assert qbo.objects("SalesReceipt") == {} and len(qbo.objects("Invoice")) == 1   # revenue counted once
    assert "sales-orders" not in run.counts
    page = html(signed_in(app, make_user).get("/accounting-sync/settings/qbo"))
    assert "counts twice" in page
    assert '<option value="none" selected>' in page.split('name="settings.entities.sales-orders.direction"')[1][:400]


# --- the accounts of items --------------------------------------------------------------------------

def test_items_wait_for_their_accounts_chosen_among_the_companys_in_the_settings(app, qbo, catalog, make_user):
    from accsync_helpers import connect, qbo_settings
    from test_accsync_settings_form import html, signed_in
    settings = {k: v for k, v in qbo_settings(qbo).items() if not k.endswith("_account_id")}
    connect(app, "bare", "quickbooks", settings=settings,
            secrets={"client_secret": qbo.client_secret, "refresh_token": qbo.issue_refresh_token()})
    run = sync(app, "bare", ["items"])
    failed = [r for r in run.records if r["entity"] == "items"]
    assert len(failed) == 4 and {r["action"] for r in failed} == {"failed"}, run
    assert all("income_account_id" in r["message"] for r in failed)
    assert all("expense_account_id" in r["message"] for r in failed if r["local_id"] != catalog.consulting)
    assert qbo.objects("Item") == {}
    # the settings form offers the company's accounts of each type, by name
    page = html(signed_in(app, make_user).get("/accounting-sync/settings/bare"))
    income = page.split('name="settings.income_account_id"')[1].split("</select>")[0]
    assert f'value="{qbo.account_id("Sales")}"' in income and "Sales (Income)" in income
    assert "Checking" not in income and "Cost of Goods Sold" not in income
    expense = page.split('name="settings.expense_account_id"')[1].split("</select>")[0]
    assert "Cost of Goods Sold (Cost of Goods Sold)" in expense and "Purchases (Expense)" in expense
    asset = page.split('name="settings.asset_account_id"')[1].split("</select>")[0]
    assert "Inventory Asset (Other Current Asset)" in asset and "Sales" not in asset
    # chosen: the items go, with those accounts
    configure(app, "bare", income_account_id=qbo.account_id("Services"),
              expense_account_id=qbo.account_id("Cost of Goods Sold"))
    in_app(app, lambda s: item_services.update_item(s, s.get(Item, catalog.consulting), {"description": "Again"}))
    run = sync(app, "bare", ["items"])
    assert run.count("items", "to_remote", "created") >= 1, run
    consulting = next(i for i in qbo.objects("Item").values() if i["Name"] == "Consulting hour")
    assert consulting["IncomeAccountRef"] == {"value": qbo.account_id("Services")}
