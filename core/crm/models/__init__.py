"""The core's tables. Importing this package registers them all on ``crm.db.Model``."""
from crm.models.audit import AuditEntry
from crm.models.auth import ROLES, ApiToken, LoginAttempt, User
from crm.models.catalog import (BundleComponent, CustomField, Item, PriceBook, PriceBookEntry, Tax,
                                item_taxes)
from crm.models.documents import Document, DocumentLine, IdempotencyKey, Sequence, StatusChange
from crm.models.parties import Account, Contact, Vendor
from crm.models.plugin_state import PluginState, Setting
from crm.models.stock import RecurringRun, RecurringSchedule, StockMove

__all__ = [
    "Account", "ApiToken", "AuditEntry", "BundleComponent", "Contact", "CustomField", "Document",
    "DocumentLine", "IdempotencyKey", "Item", "LoginAttempt", "PluginState", "PriceBook", "PriceBookEntry",
    "ROLES", "RecurringRun", "RecurringSchedule", "Sequence", "Setting", "StatusChange", "StockMove", "Tax",
    "User", "Vendor", "item_taxes",
]
