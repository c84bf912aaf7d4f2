"""The QuickBooks Online connector."""
from crm_accounting_sync.quickbooks.connector import QuickBooksConnector

__all__ = ["QuickBooksConnector"]
