"""Who may use what: the expected access of every role to every API endpoint and every page,
core and plugins (the example plugin ``hello`` of docs/example-plugin too).

One entry per method and path: an API endpoint by its path in ``/api/v1/openapi.json``, a page
by its Flask URL rule. The value is the set of roles that may use it (anything but 401/403);
every other role must get 403. ``tests/test_access_matrix.py`` calls each one as each role
and fails on a difference, on an endpoint or page missing here, and on an entry here that the
app no longer has. This table is written by hand on purpose: it does not read
``crm.permissions``, so a changed decorator or resource shows as a failure, not as a new truth.

The rights follow the teams' duties (see docs/permissions.md): everyone signed in reads business
records; sales sells (accounts, quotes, sales orders) and invoices its orders; purchasing buys
(vendors, purchase orders) and keeps the catalogue; the warehouse ships, receives and adjusts
stock; accounting keeps accounts, vendors, taxes, invoices and payments; the admin does
everything and alone manages users, settings, custom fields and plugins.
"""
from __future__ import annotations

EVERYONE = frozenset({"admin", "sales", "purchasing", "warehouse", "accounting"})
ADMIN = frozenset({"admin"})
SALES = frozenset({"admin", "sales"})
PURCHASING = frozenset({"admin", "purchasing"})
WAREHOUSE = frozenset({"admin", "warehouse"})
ACCOUNTING = frozenset({"admin", "accounting"})
SALES_ACCOUNTING = frozenset({"admin", "sales", "accounting"})
PURCHASING_ACCOUNTING = frozenset({"admin", "purchasing", "accounting"})
#: the teams that move stock or order it (the warehouses plugin's readers)
STOCK_TEAMS = frozenset({"admin", "sales", "purchasing", "warehouse"})
#: anyone, signed in or not (signing in)
PUBLIC = "public"
#: nobody by role: only a request signed by the accounting system (401 without the signature)
SIGNED = "signed"
#: the records with an activity timeline, by their path
TIMELINE_PATHS = ("accounts", "contacts", "vendors", "items", "quotes", "sales-orders", "purchase-orders", "invoices")


def _record_pages(path: str, write: frozenset) -> dict:
    """The pages of a master-data record type: everyone reads, ``write`` changes."""
    return {
        f"GET {path}/": EVERYONE, f"GET {path}/<int:record_id>": EVERYONE,
        f"GET {path}/new": write, f"POST {path}/new": write,
        f"GET {path}/<int:record_id>/edit": write, f"POST {path}/<int:record_id>/edit": write,
        f"POST {path}/<int:record_id>/delete": write,
        f"POST {path}/mass": write,  # mass actions on the list (docs/lists.md)
    }


def _record_api(path: str, param: str, write: frozenset) -> dict:
    return {
        f"GET /api/v1{path}": EVERYONE, f"POST /api/v1{path}": write,
        f"GET /api/v1{path}/{{{param}}}": EVERYONE, f"PATCH /api/v1{path}/{{{param}}}": write,
        f"DELETE /api/v1{path}/{{{param}}}": write,
        f"POST /api/v1{path}/mass-actions": write,  # mass actions (docs/lists.md)
    }


def _document(path: str, write: frozenset) -> dict:
    """The API and pages every document type has: everyone reads (and prints), ``write`` changes."""
    return {
        **_record_api(path, "doc_id", write),
        f"GET /api/v1{path}/{{doc_id}}/related": EVERYONE, f"GET /api/v1{path}/{{doc_id}}/pdf": EVERYONE,
        f"POST /api/v1{path}/{{doc_id}}/lines": write,  # item lookup plugin
        f"GET {path}/": EVERYONE, f"GET {path}/<int:doc_id>": EVERYONE, f"GET {path}/<int:doc_id>/pdf": EVERYONE,
        f"GET {path}/new": write, f"POST {path}/new": write, f"POST {path}/preview": write,
        f"GET {path}/party": write,
        f"GET {path}/<int:doc_id>/edit": write, f"POST {path}/<int:doc_id>/edit": write,
        f"POST {path}/<int:doc_id>/status": write, f"POST {path}/<int:doc_id>/delete": write,
        f"POST {path}/mass": write,  # mass actions on the list (docs/lists.md)
        f"POST /item-lookup/json{path}/<int:doc_id>/lines": write,  # item lookup plugin
        # sending by email (docs/email.md): who changes the document sends it; everyone reads its outbox
        f"POST /api/v1{path}/{{doc_id}}/emails": write, f"GET /api/v1{path}/{{doc_id}}/emails": EVERYONE,
        f"GET /api/v1{path}/{{doc_id}}/emails/{{email_id}}": EVERYONE,
        f"POST /api/v1{path}/{{doc_id}}/emails/{{email_id}}/resend": write,
        f"GET {path}/<int:doc_id>/email": write, f"POST {path}/<int:doc_id>/email": write,
        f"POST {path}/<int:doc_id>/emails/<int:email_id>/resend": write,
    }


ACCESS: dict[str, frozenset | str] = {
    # --- signing in, the user's own things ------------------------------------------------------
    "GET /login": PUBLIC,
    "POST /login": PUBLIC,
    "POST /api/v1/auth/tokens": PUBLIC,
    "GET /healthz": PUBLIC,  # probes of load balancers
    "GET /readyz": PUBLIC,
    "POST /logout": EVERYONE,
    "GET /api/v1/auth/tokens": EVERYONE,
    "DELETE /api/v1/auth/tokens/{token_id}": EVERYONE,
    "GET /": EVERYONE,
    "GET /profile/": EVERYONE,
    "POST /profile/": EVERYONE,
    "POST /profile/sign-out-everywhere": EVERYONE,
    # the global search: everyone searches; each role is shown only the kinds it may read
    "GET /search/": EVERYONE,
    "GET /search/suggest": EVERYONE,
    # saved views of the lists: every user keeps their own (sharing is checked inside: admins only)
    "POST /list-views/": EVERYONE, "POST /list-views/<int:view_id>/default": EVERYONE,
    "POST /list-views/<int:view_id>/delete": EVERYONE, "POST /list-views/<int:view_id>/share": EVERYONE,
    "POST /list-views/no-default": EVERYONE,

    # --- customers: sales and accounting write ----------------------------------------------------
    **_record_api("/accounts", "account_id", SALES_ACCOUNTING),
    **_record_pages("/accounts", SALES_ACCOUNTING),
    **_record_api("/contacts", "contact_id", SALES_ACCOUNTING),
    **_record_pages("/contacts", SALES_ACCOUNTING),

    # --- selling: sales; invoicing: sales and accounting ------------------------------------------
    **_document("/quotes", SALES),
    "POST /api/v1/quotes/{doc_id}/sales-order": SALES,
    "POST /quotes/<int:doc_id>/to-sales-order": SALES,
    "POST /api/v1/quotes/{doc_id}/invoice": SALES_ACCOUNTING,
    "POST /quotes/<int:doc_id>/to-invoice": SALES_ACCOUNTING,
    **_document("/sales-orders", SALES),
    "POST /api/v1/sales-orders/{doc_id}/invoices": SALES_ACCOUNTING,
    "GET /sales-orders/<int:doc_id>/invoice": SALES_ACCOUNTING,
    "POST /sales-orders/<int:doc_id>/invoice": SALES_ACCOUNTING,
    **_document("/invoices", SALES_ACCOUNTING),
    "POST /invoices/<int:doc_id>/received": SALES_ACCOUNTING,  # kept by hand without the payments plugin

    # --- the warehouse: shipping, receiving, adjusting stock ---------------------------------------
    "POST /api/v1/sales-orders/{doc_id}/shipments": WAREHOUSE,
    "GET /sales-orders/<int:doc_id>/ship": WAREHOUSE,
    "POST /sales-orders/<int:doc_id>/ship": WAREHOUSE,
    "POST /api/v1/purchase-orders/{doc_id}/receipts": WAREHOUSE,
    "GET /purchase-orders/<int:doc_id>/receive": WAREHOUSE,
    "POST /purchase-orders/<int:doc_id>/receive": WAREHOUSE,
    "POST /api/v1/stock/adjustments": WAREHOUSE,
    "POST /api/v1/stock/replenish": PURCHASING,
    "POST /stock/replenish": PURCHASING,
    "GET /stock/adjust": WAREHOUSE,
    "POST /stock/adjust": WAREHOUSE,
    "GET /api/v1/stock/moves": EVERYONE,
    # imports (docs/import.md): each import needs the right to create its entity's records (the
    # matrix's import is of products; uploading names the entity in the form: everyone reaches it)
    "POST /api/v1/imports/preview": EVERYONE, "GET /api/v1/imports": EVERYONE, "POST /api/v1/imports": EVERYONE,
    "GET /api/v1/imports/{import_id}": PURCHASING, "POST /api/v1/imports/{import_id}/undo": PURCHASING,
    "GET /api/v1/imports/{import_id}/rejects": PURCHASING, "GET /api/v1/imports/fields/{entity}": PURCHASING,
    "GET /api/v1/imports/mappings/{entity}": PURCHASING, "PUT /api/v1/imports/mappings/{entity}/{name}": PURCHASING,
    "DELETE /api/v1/imports/mappings/{entity}/{name}": PURCHASING,
    "GET /imports/": EVERYONE, "POST /imports/upload": EVERYONE, "GET /imports/<int:import_id>": PURCHASING,
    "GET /imports/<int:import_id>/mapping": PURCHASING, "POST /imports/<int:import_id>/mapping": PURCHASING,
    "POST /imports/<int:import_id>/run": PURCHASING, "GET /imports/<int:import_id>/rejects": PURCHASING,
    "POST /imports/<int:import_id>/undo": PURCHASING,
    "GET /api/v1/products/{product_id}/stock": EVERYONE,
    "GET /stock/": EVERYONE,
    "GET /stock/moves": EVERYONE,

    # --- buying: purchasing; vendors also accounting ----------------------------------------------
    **_record_api("/vendors", "vendor_id", PURCHASING_ACCOUNTING),
    **_record_pages("/vendors", PURCHASING_ACCOUNTING),
    **_document("/purchase-orders", PURCHASING),
    "POST /api/v1/sales-orders/{doc_id}/purchase-order": PURCHASING,
    "POST /sales-orders/<int:doc_id>/purchase-order": PURCHASING,

    # --- the catalogue: purchasing ----------------------------------------------------------------
    **_record_api("/products", "item_id", PURCHASING),
    **_record_api("/services", "item_id", PURCHASING),
    **_record_api("/price-books", "price_book_id", PURCHASING),
    "GET /api/v1/items/{item_id}": EVERYONE,
    **_record_pages("/products", PURCHASING),
    **_record_pages("/services", PURCHASING),
    **_record_pages("/bundles", PURCHASING),
    **_record_pages("/price-books", PURCHASING),
    "GET /editor/items": EVERYONE,

    # --- taxes: accounting ------------------------------------------------------------------------
    **_record_api("/taxes", "tax_id", ACCOUNTING),
    **_record_pages("/taxes", ACCOUNTING),

    # --- reports: everyone reads ------------------------------------------------------------------
    "GET /api/v1/reports": EVERYONE,
    "GET /api/v1/reports/{name}": EVERYONE,
    **{f"GET /api/v1/reports/{name}": EVERYONE for name in (
        "stock-levels", "low-stock", "stock-valuation", "stock-moves", "open-sales-orders",
        "open-purchase-orders", "sales-by-product", "sales-by-account", "invoice-aging")},
    "GET /reports/": EVERYONE,
    "GET /reports/<name>": EVERYONE,
    "GET /reports/<name>/csv": EVERYONE,

    # --- administration: the admin ----------------------------------------------------------------
    **_record_api("/custom-fields", "field_id", ADMIN),
    **_record_pages("/custom-fields", ADMIN),
    "GET /users/": ADMIN,
    "GET /users/new": ADMIN,
    "POST /users/new": ADMIN,
    "GET /users/<int:user_id>": ADMIN,
    "POST /users/<int:user_id>": ADMIN,
    "GET /admin/roles": ADMIN,
    "GET /settings/": EVERYONE,
    "POST /settings/": ADMIN,
    "GET /api/v1/plugins": EVERYONE,
    # the Plugins page is the administrator's (GET /api/v1/plugins stays readable by everyone)
    "GET /admin/plugins": ADMIN,
    "POST /admin/plugins/<plugin_id>/<any(enable, disable):action>": ADMIN,
    "GET /admin/plugins/<plugin_id>/purge": ADMIN, "POST /admin/plugins/<plugin_id>/purge": ADMIN,
    "POST /admin/plugins/<plugin_id>/merge-locations": ADMIN,
    "GET /admin/jobs": ADMIN,
    # activity timelines: whoever reads a record reads its timeline and comments on it
    **{f"GET /api/v1/{path}/{{record_id}}/timeline": EVERYONE for path in TIMELINE_PATHS},
    **{f"POST /api/v1/{path}/{{record_id}}/comments": EVERYONE for path in TIMELINE_PATHS},
    **{f"POST /timeline/{path}/<int:record_id>/comments": EVERYONE for path in TIMELINE_PATHS},
    # outgoing email: the SMTP settings (a password) and the templates are the admin's
    "GET /admin/email/": ADMIN, "POST /admin/email/": ADMIN, "POST /admin/email/test": ADMIN,
    "GET /admin/email/templates": ADMIN,
    "GET /admin/email/templates/<any(quote, sales_order, purchase_order, invoice):doc_type>/<any(en, es):language>": ADMIN,
    "POST /admin/email/templates/<any(quote, sales_order, purchase_order, invoice):doc_type>/<any(en, es):language>": ADMIN,
    "POST /admin/email/templates/<any(quote, sales_order, purchase_order, invoice):doc_type>/<any(en, es):language>/reset": ADMIN,
    # workflows (docs/workflows.md): the rules are the admin's; everyone reads their own notifications
    "GET /api/v1/workflows": ADMIN, "POST /api/v1/workflows": ADMIN,
    "GET /api/v1/workflows/{rule_id}": ADMIN, "PATCH /api/v1/workflows/{rule_id}": ADMIN,
    "DELETE /api/v1/workflows/{rule_id}": ADMIN, "GET /api/v1/workflows/{rule_id}/runs": ADMIN,
    "GET /api/v1/workflows/fields/{entity}": ADMIN,
    "GET /admin/workflows/": ADMIN, "GET /admin/workflows/new": ADMIN, "POST /admin/workflows/new": ADMIN,
    "GET /admin/workflows/<int:rule_id>": ADMIN, "GET /admin/workflows/<int:rule_id>/edit": ADMIN,
    "POST /admin/workflows/<int:rule_id>/edit": ADMIN, "POST /admin/workflows/<int:rule_id>/enabled": ADMIN,
    "POST /admin/workflows/<int:rule_id>/secret": ADMIN, "POST /admin/workflows/<int:rule_id>/delete": ADMIN,
    "GET /notifications/": EVERYONE, "POST /notifications/read": EVERYONE,

    # --- plugin payments: everyone reads, accounting records; statuses and types are settings -------
    "GET /api/v1/invoices/{invoice_id}/payments": EVERYONE,
    "POST /api/v1/invoices/{invoice_id}/payments": ACCOUNTING,
    "GET /api/v1/invoices/{invoice_id}/payment-calculator": EVERYONE,
    "POST /api/v1/invoices/{invoice_id}/payment-schedule": ACCOUNTING,
    "GET /api/v1/payments": EVERYONE,
    "GET /api/v1/payments/{payment_id}": EVERYONE,
    "PATCH /api/v1/payments/{payment_id}": ACCOUNTING,
    "DELETE /api/v1/payments/{payment_id}": ACCOUNTING,
    "GET /api/v1/payments/credits": EVERYONE,
    "GET /api/v1/payments/credits/{credit_id}": EVERYONE,
    "POST /api/v1/payments/credits/{credit_id}/apply": ACCOUNTING,
    "GET /api/v1/payments/summary": EVERYONE,
    "GET /api/v1/payments/statuses": EVERYONE,
    "POST /api/v1/payments/statuses": ADMIN,
    "GET /api/v1/payments/statuses/{status_id}": EVERYONE,
    "PATCH /api/v1/payments/statuses/{status_id}": ADMIN,
    "DELETE /api/v1/payments/statuses/{status_id}": ADMIN,
    "GET /api/v1/payments/methods": EVERYONE,
    "POST /api/v1/payments/methods": ADMIN,
    "GET /api/v1/payments/methods/{method_id}": EVERYONE,
    "PATCH /api/v1/payments/methods/{method_id}": ADMIN,
    "DELETE /api/v1/payments/methods/{method_id}": ADMIN,
    "GET /payments/": EVERYONE,
    "GET /payments/summary": EVERYONE,
    "GET /payments/invoices/<int:invoice_id>/calculator": EVERYONE,
    "POST /payments/invoices/<int:invoice_id>/add": ACCOUNTING,
    "POST /payments/invoices/<int:invoice_id>/schedule": ACCOUNTING,
    "POST /payments/<int:payment_id>/edit": ACCOUNTING,
    "POST /payments/<int:payment_id>/mark-paid": ACCOUNTING,
    "POST /payments/<int:payment_id>/delete": ACCOUNTING,
    "POST /payments/credits/<int:credit_id>/apply": ACCOUNTING,
    "GET /payments/settings/statuses": ADMIN,
    "POST /payments/settings/statuses": ADMIN,
    "POST /payments/settings/statuses/<int:status_id>": ADMIN,
    "POST /payments/settings/statuses/<int:status_id>/delete": ADMIN,
    "GET /payments/settings/types": ADMIN,
    "POST /payments/settings/types": ADMIN,
    "POST /payments/settings/types/<int:method_id>": ADMIN,
    "POST /payments/settings/types/<int:method_id>/delete": ADMIN,

    # --- plugin accounting_sync: accounting; the connections are the admin's settings ---------------
    "GET /api/v1/accounting-sync/connectors": ACCOUNTING,
    "GET /api/v1/accounting-sync/connections": ACCOUNTING,
    "GET /api/v1/accounting-sync/connections/{name}": ACCOUNTING,
    "PUT /api/v1/accounting-sync/connections/{name}": ADMIN,
    "POST /api/v1/accounting-sync/connections/{name}/check": ACCOUNTING,
    "GET /api/v1/accounting-sync/runs": ACCOUNTING,
    "POST /api/v1/accounting-sync/runs": ACCOUNTING,
    "GET /api/v1/accounting-sync/runs/{run_id}": ACCOUNTING,
    "GET /api/v1/accounting-sync/links": ACCOUNTING,
    "POST /api/v1/accounting-sync/links/{link_id}/resolve": ACCOUNTING,
    "POST /api/v1/accounting-sync/links/{link_id}/skip": ACCOUNTING,
    "POST /api/v1/accounting-sync/links/{link_id}/retry": ACCOUNTING,
    "POST /api/v1/accounting-sync/webhooks/{name}": SIGNED,
    "GET /accounting-sync/": ACCOUNTING,
    "POST /accounting-sync/sync": ACCOUNTING,
    "GET /accounting-sync/runs/<int:run_id>": ACCOUNTING,
    "GET /accounting-sync/links": ACCOUNTING,
    "POST /accounting-sync/links/<int:link_id>/<action>": ACCOUNTING,
    "GET /accounting-sync/settings": ADMIN,
    "POST /accounting-sync/settings": ADMIN,
    "GET /accounting-sync/settings/<name>": ADMIN,
    "POST /accounting-sync/settings/<name>": ADMIN,
    "POST /accounting-sync/settings/<name>/connect": ADMIN,
    "POST /accounting-sync/settings/<name>/disconnect": ADMIN,
    "GET /accounting-sync/oauth/callback": ADMIN,

    # --- plugin idca: layouts are the admin's settings; the editor's subtotals follow the document --
    "GET /api/v1/idca/layouts/{doc_type}": EVERYONE,
    "PUT /api/v1/idca/layouts/{doc_type}": ADMIN,
    "GET /idca/layouts/": ADMIN,
    "GET /idca/layouts/<path>": ADMIN,
    "POST /idca/layouts/<path>": ADMIN,
    "POST /idca/layouts/<path>/preview": ADMIN,
    "POST /idca/editor/<doc_type>/subtotals": SALES,  # called with doc_type=quote

    # --- plugin item_lookup: everyone searches; adding lines follows the document (above) -----------
    "GET /api/v1/item-lookup/items": EVERYONE,
    "GET /api/v1/item-lookup/fields": EVERYONE,
    "GET /api/v1/item-lookup/settings": EVERYONE,
    "PUT /api/v1/item-lookup/settings": ADMIN,
    "GET /item-lookup/json/items": EVERYONE,
    "GET /item-lookup/json/vendors": EVERYONE,
    "GET /item-lookup/assets/<name>": EVERYONE,
    "GET /item-lookup/settings": ADMIN,
    "POST /item-lookup/settings": ADMIN,

    # --- plugin warehouses: the stock teams read, the admin keeps the warehouses, a document's ------
    # warehouse follows the document (checked with a sales order), adjustments are the warehouse's
    "GET /api/v1/warehouses": STOCK_TEAMS,
    "POST /api/v1/warehouses": ADMIN,
    "GET /api/v1/warehouses/{warehouse_id}": STOCK_TEAMS,
    "PATCH /api/v1/warehouses/{warehouse_id}": ADMIN,
    "DELETE /api/v1/warehouses/{warehouse_id}": ADMIN,
    "GET /api/v1/warehouses/{warehouse_id}/stock": STOCK_TEAMS,
    "POST /api/v1/warehouses/{warehouse_id}/adjustments": WAREHOUSE,
    "GET /api/v1/warehouses/{warehouse_id}/reorder-levels": STOCK_TEAMS,
    "GET /api/v1/warehouses/{warehouse_id}/reorder-levels/{product_id}": STOCK_TEAMS,
    "PUT /api/v1/warehouses/{warehouse_id}/reorder-levels/{product_id}": WAREHOUSE,
    "DELETE /api/v1/warehouses/{warehouse_id}/reorder-levels/{product_id}": WAREHOUSE,
    "POST /api/v1/warehouses/{warehouse_id}/replenish": PURCHASING,
    "POST /warehouses/reorder-levels": WAREHOUSE,
    "POST /warehouses/<int:warehouse_id>/replenish": PURCHASING,
    "GET /api/v1/warehouses/default": STOCK_TEAMS,
    "PUT /api/v1/warehouses/default": STOCK_TEAMS,
    "GET /api/v1/warehouses/documents/{document_id}": STOCK_TEAMS,
    "PUT /api/v1/warehouses/documents/{document_id}": SALES,
    "GET /warehouses/": STOCK_TEAMS,
    "GET /warehouses/<int:warehouse_id>": STOCK_TEAMS,
    "GET /warehouses/<int:warehouse_id>/report": STOCK_TEAMS,
    "GET /warehouses/new": ADMIN, "POST /warehouses/new": ADMIN,
    "GET /warehouses/<int:warehouse_id>/edit": ADMIN, "POST /warehouses/<int:warehouse_id>/edit": ADMIN,
    "POST /warehouses/<int:warehouse_id>/delete": ADMIN,
    "POST /warehouses/default": STOCK_TEAMS,
    "POST /warehouses/documents/<int:document_id>": SALES,
    # locations inside a warehouse (bins): the stock teams read, who may change stock writes
    "GET /api/v1/warehouses/{warehouse_id}/bins": STOCK_TEAMS,
    "POST /api/v1/warehouses/{warehouse_id}/bins": WAREHOUSE,
    "GET /api/v1/warehouses/{warehouse_id}/bins/{bin_id}": STOCK_TEAMS,
    "PATCH /api/v1/warehouses/{warehouse_id}/bins/{bin_id}": WAREHOUSE,
    "DELETE /api/v1/warehouses/{warehouse_id}/bins/{bin_id}": WAREHOUSE,
    "GET /api/v1/warehouses/{warehouse_id}/bins/stock": STOCK_TEAMS,
    "POST /api/v1/warehouses/{warehouse_id}/bins/moves": WAREHOUSE,
    "POST /api/v1/warehouses/{warehouse_id}/bins/counts": WAREHOUSE,
    "GET /api/v1/warehouses/{warehouse_id}/default-bins": STOCK_TEAMS,
    "PUT /api/v1/warehouses/{warehouse_id}/default-bins/{product_id}": WAREHOUSE,
    "GET /api/v1/warehouses/picking-lists/{document_id}": STOCK_TEAMS,
    "GET /warehouses/<int:warehouse_id>/bins": STOCK_TEAMS,
    "POST /warehouses/<int:warehouse_id>/bins/new": WAREHOUSE,
    "POST /warehouses/<int:warehouse_id>/bins/<int:bin_id>/delete": WAREHOUSE,
    "POST /warehouses/<int:warehouse_id>/bins/move": WAREHOUSE,
    "POST /warehouses/<int:warehouse_id>/bins/count": WAREHOUSE,
    "POST /warehouses/<int:warehouse_id>/bins/default": WAREHOUSE,
    "GET /warehouses/picking/<int:document_id>": STOCK_TEAMS,
    # transfers between warehouses: the stock teams read, who may change stock writes
    "GET /api/v1/warehouses/transfers": STOCK_TEAMS,
    "POST /api/v1/warehouses/transfers": WAREHOUSE,
    "GET /api/v1/warehouses/transfers/in-transit": STOCK_TEAMS,
    "GET /api/v1/warehouses/transfers/{transfer_id}": STOCK_TEAMS,
    "PATCH /api/v1/warehouses/transfers/{transfer_id}": WAREHOUSE,
    "POST /api/v1/warehouses/transfers/{transfer_id}/ship": WAREHOUSE,
    "POST /api/v1/warehouses/transfers/{transfer_id}/receive": WAREHOUSE,
    "POST /api/v1/warehouses/transfers/{transfer_id}/cancel": WAREHOUSE,
    "GET /warehouses/transfers": STOCK_TEAMS,
    "GET /warehouses/transfers/<int:transfer_id>": STOCK_TEAMS,
    "GET /warehouses/transfers/new": WAREHOUSE, "POST /warehouses/transfers/new": WAREHOUSE,
    "POST /warehouses/transfers/<int:transfer_id>/ship": WAREHOUSE,
    "POST /warehouses/transfers/<int:transfer_id>/receive": WAREHOUSE,
    "POST /warehouses/transfers/<int:transfer_id>/cancel": WAREHOUSE,

    # --- the example plugin hello: everyone reads, sales writes -------------------------------------
    "GET /api/v1/hello/greetings": EVERYONE,
    "POST /api/v1/hello/greetings": SALES,
    "GET /hello/": EVERYONE,
}
