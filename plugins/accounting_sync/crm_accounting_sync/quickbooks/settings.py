"""The settings form's fields of a QuickBooks connection (``QuickBooksConnector.settings_fields``).
The tokens (``refresh_token``, ``access_token``) are not fields: "Connect to QuickBooks" gets them."""
from __future__ import annotations

from crm.accounting import SettingField
from flask_babel import lazy_gettext as N_

SETTINGS_FIELDS = (
    SettingField("client_id", N_("Client ID of your Intuit app"), required=True),
    SettingField("client_secret", N_("Client secret of your Intuit app"), secret=True, required=True),
    SettingField("environment", N_("Environment"),
                 help=N_("production, sandbox, or the URL of an OpenID discovery document")),
    SettingField("redirect_uri", N_("Redirect URI"), type="url",
                 help=N_("As registered in your Intuit app; empty: this CRM's callback address")),
    SettingField("webhook_verifier_token", N_("Webhook verifier token"), secret=True),
    SettingField("realm_id", N_("Company id (realm)"), help=N_("Set by Connect to QuickBooks")),
    SettingField("api_base_url", N_("API base URL"), type="url", help=N_("Empty: Intuit's, by environment")),
    SettingField("minorversion", N_("API minor version"), type="int"),
    SettingField("timeout_seconds", N_("Timeout (seconds)"), type="int"),
    SettingField("item_type", N_("Products are created as"), type="choice", choices=("NonInventory", "Inventory")),
    SettingField("income_account_id", N_("Income account id")),
    SettingField("expense_account_id", N_("Expense account id")),
    SettingField("asset_account_id", N_("Inventory asset account id")),
)
