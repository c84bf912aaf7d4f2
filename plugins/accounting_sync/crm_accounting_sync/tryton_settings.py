"""The settings form's fields of a Tryton connection (``TrytonConnector.settings_fields``)."""
from __future__ import annotations

from crm.accounting import SettingField
from flask_babel import lazy_gettext as N_

SETTINGS_FIELDS = (
    SettingField("url", N_("Tryton URL"), type="url", required=True, help=N_("http://host:8000/<database>/")),
    SettingField("username", N_("User"), required=True),
    SettingField("password", N_("Password"), secret=True, required=True),
    SettingField("customer_category", N_("Customers' party category"), help=N_("Default: Customer")),
    SettingField("supplier_category", N_("Suppliers' party category"), help=N_("Default: Supplier")),
    SettingField("account_category", N_("Products' account category"), help=N_("Default: CRM")),
    SettingField("uom", N_("Unit of measure"), help=N_("Default: Unit")),
    SettingField("payment_term", N_("Payment term")),
)
