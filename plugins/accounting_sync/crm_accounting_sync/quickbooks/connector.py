from crm.accounting import BaseConnector


class QuickBooksConnector(BaseConnector):
    name = "quickbooks"
    label = "QuickBooks Online"
