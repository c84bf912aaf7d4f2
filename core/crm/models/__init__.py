"""The core's tables. Importing this package registers them all on ``crm.db.Model``."""
from crm.models.audit import AuditEntry
from crm.models.auth import ROLES, ApiToken, LoginAttempt, RevokedSession, User
from crm.models.catalog import BundleComponent, CustomField, Item, PriceBook, PriceBookEntry, Tax, item_taxes
from crm.models.documents import Document, DocumentLine, IdempotencyKey, Sequence, StatusChange
from crm.models.email import EmailAttachment, EmailMessage, EmailTemplate
from crm.models.imports import ImportMapping, ImportRow, ImportRun
from crm.models.jobs import JobRun
from crm.models.parties import Account, Contact, Vendor
from crm.models.pdf import PdfRender
from crm.models.plugin_state import ConfigStamp, PluginState, Setting
from crm.models.stock import RecurringRun, RecurringSchedule, StockBalance, StockLocation, StockMove
from crm.models.timeline import Comment
from crm.models.workflows import Notification, WorkflowRule, WorkflowRun

__all__ = [
    "Account", "ApiToken", "AuditEntry", "BundleComponent", "Comment", "ConfigStamp", "Contact", "CustomField", "Document",
    "DocumentLine", "EmailAttachment", "EmailMessage", "EmailTemplate", "IdempotencyKey", "ImportMapping", "ImportRow", "ImportRun", "Item", "JobRun", "LoginAttempt", "Notification", "PdfRender", "PluginState", "PriceBook", "PriceBookEntry",
    "ROLES", "RecurringRun", "RevokedSession", "RecurringSchedule", "Sequence", "Setting", "StatusChange", "StockBalance", "StockLocation", "StockMove", "Tax",
    "User", "Vendor", "WorkflowRule", "WorkflowRun", "item_taxes",
]
