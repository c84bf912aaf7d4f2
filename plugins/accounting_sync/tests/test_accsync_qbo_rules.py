"""QuickBooks' business rules, as the fake enforces them (see the plugin's README, "The QuickBooks
fake"): what a real company refuses is refused here too, and the connector keeps the books right."""
from __future__ import annotations

from decimal import Decimal

import pytest

from accsync_helpers import configure, in_app, links, sync
from crm.models import Document, Item
from crm.services import accounts as account_services, documents, items as item_services


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


def test_an_invoice_deleted_there_is_closed_as_deleted_and_not_sent_again(app, qbo, catalog):
    configure(app, "qbo", entities={"invoices": {"direction": "to_remote"}})   # only our changes are read
    invoice = _invoice(app, catalog)
    assert sync(app, "qbo").status == "done"
    link = _link(app, "invoices", invoice)
    qbo.user_delete("Invoice", link.remote_id)
    in_app(app, lambda s: documents.update_document(s, s.get(Document, invoice), {"subject": "Changed here"}))
    run = sync(app, "qbo", ["invoices"])
    [record] = [r for r in run.records if r["entity"] == "invoices"]
    assert (record["action"], record["local_id"], record["remote_id"]) == ("skipped", invoice, link.remote_id), run
    assert "deleted in the accounting system" in record["message"]
    link = _link(app, "invoices", invoice)
    assert link.status == "deleted" and link.error == "deleted in the accounting system"
    assert qbo.objects("Invoice") == {}                                  # not created again there
    # changed again here: not sent, and the run says why
    in_app(app, lambda s: documents.update_document(s, s.get(Document, invoice), {"subject": "Again"}))
    run = sync(app, "qbo", ["invoices"])
    [record] = [r for r in run.records if r["entity"] == "invoices"]
    assert record["action"] == "failed" and "which is deleted" in record["message"], run
    assert qbo.objects("Invoice") == {}


def test_a_batch_fails_only_the_documents_quickbooks_refuses_naming_why(app, qbo, catalog):
    configure(app, "qbo", entities={"invoices": {"direction": "to_remote"}})
    other = in_app(app, lambda s: account_services.create_account(s, {"name": "Construcciones Sur"}).id)
    kept, inactive, gone = _invoice(app, catalog), _invoice(app, catalog, account_id=other), _invoice(app, catalog)
    assert sync(app, "qbo").status == "done"
    customer = _link(app, "accounts", other).remote_id
    qbo.user_update("Customer", customer, {"Active": False})
    qbo.user_delete("Invoice", _link(app, "invoices", gone).remote_id)
    for doc in (kept, inactive, gone):
        in_app(app, lambda s, doc=doc: documents.update_document(s, s.get(Document, doc), {"subject": "Changed"}))
    new = _invoice(app, catalog, account_id=other)
    sent = len(qbo.bodies)
    run = sync(app, "qbo", ["invoices"])
    [batch] = [b for p, b in qbo.bodies[sent:] if p.endswith("/batch")]
    assert len([i for i in batch["BatchItemRequest"] if "Invoice" in i]) == 4   # one request for all four
    records = {r["local_id"]: r for r in run.records if r["entity"] == "invoices"}
    assert records[kept]["action"] == "updated", run
    assert qbo.objects("Invoice")[_link(app, "invoices", kept).remote_id]["PrivateNote"] == "Changed"
    named = f"Customer 'Construcciones Sur' (id {customer}) is inactive"
    for doc in (inactive, new):
        assert records[doc]["action"] == "failed" and named in records[doc]["message"], run
        assert _link(app, "invoices", doc).status == "failed"
    assert qbo.objects("Invoice")[_link(app, "invoices", inactive).remote_id].get("PrivateNote") != "Changed"
    assert records[gone]["action"] == "skipped" and "deleted in the accounting system" in records[gone]["message"]
    assert _link(app, "invoices", gone).status == "deleted"
    assert len(qbo.objects("Invoice")) == 2                          # nothing created: the new one waits


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


def test_the_fake_checks_an_items_accounts_as_quickbooks_does(qbo):
    from accsync_qbo_fake import Fault
    sales, cogs, asset, checking = (qbo.account_id(name) for name in
                                    ("Sales", "Cost of Goods Sold", "Inventory Asset", "Checking"))

    def refused(kind, **accounts) -> Fault:
        with pytest.raises(Fault) as caught:
            qbo.user_create("Item", {"Name": "Thing", "Type": kind,
                                     **{ref: {"value": value} for ref, value in accounts.items()}})
        return caught.value
    # missing: 2020, naming the reference
    for kind, accounts, missing in (("Service", {}, "IncomeAccountRef"),
                                    ("Inventory", {"IncomeAccountRef": sales, "AssetAccountRef": asset},
                                     "ExpenseAccountRef"),
                                    ("Inventory", {"IncomeAccountRef": sales, "ExpenseAccountRef": cogs},
                                     "AssetAccountRef")):
        fault = refused(kind, **accounts)
        assert fault.code == "2020" and missing in fault.detail
    # of the wrong type: 6000, naming the account and its type
    for kind, accounts, wrong in (("Service", {"IncomeAccountRef": checking}, "Checking is of type Bank"),
                                  ("NonInventory", {"IncomeAccountRef": cogs}, "Cost of Goods Sold is of type"),
                                  ("Inventory", {"IncomeAccountRef": sales, "ExpenseAccountRef": sales,
                                                 "AssetAccountRef": asset}, "Sales is of type Income"),
                                  ("Inventory", {"IncomeAccountRef": sales, "ExpenseAccountRef": cogs,
                                                 "AssetAccountRef": checking}, "Checking is of type Bank")):
        fault = refused(kind, **accounts)
        assert fault.code == "6000" and wrong in fault.detail
    assert refused("Service", IncomeAccountRef="999").code == "2500"            # no such account
    assert qbo.objects("Item") == {}
    made = qbo.user_create("Item", {"Name": "Stock", "Type": "Inventory", "IncomeAccountRef": {"value": sales},
                                    "ExpenseAccountRef": {"value": cogs}, "AssetAccountRef": {"value": asset}})
    assert made["AssetAccountRef"] == {"value": asset}
    qbo.user_update("Account", sales, {"Active": False})                        # inactive: 610
    assert refused("Service", IncomeAccountRef=sales).code == "610"


def test_an_account_quickbooks_refuses_for_items_fails_them_naming_the_account(app, qbo, catalog):
    checking, sales = qbo.account_id("Checking"), qbo.account_id("Sales")
    # a bank account as the income account (QuickBooks: 6000)
    configure(app, "qbo", income_account_id=checking)
    run = sync(app, "qbo", ["items"])
    failed = [r for r in run.records if r["entity"] == "items"]
    assert len(failed) == 4 and {r["action"] for r in failed} == {"failed"}, run
    assert all("account Checking is of type Bank" in r["message"] for r in failed), run
    assert qbo.objects("Item") == {}
    assert {link.status for link in links(app, "qbo", "items")} == {"failed"}

    def retry(account_id):
        configure(app, "qbo", income_account_id=account_id)
        in_app(app, lambda s: item_services.update_item(s, s.get(Item, catalog.consulting), {"description": account_id}))
        run = sync(app, "qbo", ["items"])
        [record] = [r for r in run.records if r["entity"] == "items"]
        assert record["action"] == "failed" and record["local_id"] == catalog.consulting, run
        return record["message"]
    # an account that does not exist there (2500)
    assert "IncomeAccountRef 999" in retry("999")
    # an account made inactive there (610): named, and the item is not taken as deleted
    qbo.user_update("Account", sales, {"Active": False})
    assert f"Account 'Sales' (id {sales}) is inactive" in retry(sales)
    assert qbo.objects("Item") == {} and _link(app, "items", catalog.consulting).status == "failed"
    qbo.user_update("Account", sales, {"Active": True})
    in_app(app, lambda s: item_services.update_item(s, s.get(Item, catalog.consulting), {"description": "Now"}))
    run = sync(app, "qbo", ["items"])
    assert run.count("items", "to_remote", "created") == 1, run
    [item] = qbo.objects("Item").values()
    assert item["Name"] == "Consulting hour" and item["IncomeAccountRef"] == {"value": sales}
