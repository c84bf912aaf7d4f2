"""The settings form's fields of a QuickBooks connection (``QuickBooksConnector.settings_fields``).
The tokens (``refresh_token``, ``access_token``) are not fields: "Connect to QuickBooks" gets them."""
from __future__ import annotations

from flask_babel import lazy_gettext as N_

from crm.accounting_connectors import SettingField

SETTINGS_FIELDS = (
    SettingField("client_id", N_("Client ID of your Intuit app"), required=True),
    SettingField("client_secret", N_("Client secret of your Intuit app"), secret=True, required=True),
    SettingField("environment", N_("Environment"), type="choice", choices=("production", "sandbox"),
                 help=N_("Sandbox for a sandbox company of your Intuit developer account, with the app's "
                         "development keys; production for a real company, with its production keys")),
    SettingField("discovery_url", N_("OpenID discovery URL"), type="url",
                 help=N_("Empty: Intuit's, by environment")),
    SettingField("redirect_uri", N_("Redirect URI"), type="url",
                 help=N_("As registered in your Intuit app; empty: this CRM's callback address")),
    SettingField("webhook_verifier_token", N_("Webhook verifier token"), secret=True),
    SettingField("realm_id", N_("Company id (realm)"), help=N_("Set by Connect to QuickBooks")),
    SettingField("api_base_url", N_("API base URL"), type="url", help=N_("Empty: Intuit's, by environment")),
    SettingField("minorversion", N_("API minor version"), type="int"),
    SettingField("timeout_seconds", N_("Timeout (seconds)"), type="int"),
    SettingField("item_type", N_("Products are created as"), type="choice", choices=("NonInventory", "Inventory")),
    SettingField("income_account_id", N_("Income account of items"), type="choice",
                 help=N_("An Income account of the company (listed once connected); required to send items")),
    SettingField("expense_account_id", N_("Expense account of products"), type="choice",
                 help=N_("A Cost of Goods Sold or Expense account; required to send products")),
    SettingField("asset_account_id", N_("Inventory asset account"), type="choice",
                 help=N_("An Other Current Asset account; required when products are created as Inventory")),
)
