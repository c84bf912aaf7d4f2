"""The words of the domain's values in the user's language: statuses, document types, roles,
stock move kinds and reasons, field names. Stored values stay English; these are for display
(pages, PDFs) and for the messages of the errors the services raise."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATUS_LABELS = {
    "Created": _l("Created"), "Delivered": _l("Delivered"), "Reviewed": _l("Reviewed"),
    "Accepted": _l("Accepted"), "Rejected": _l("Rejected"), "Approved": _l("Approved"),
    "Cancelled": _l("Cancelled"), "Received Shipment": _l("Received Shipment"), "Sent": _l("Sent"),
    "Partially Paid": _l("Partially Paid"), "Paid": _l("Paid"), "Credit Invoice": _l("Credit Invoice"),
    "AutoCreated": _l("AutoCreated"),
}
DOC_TYPE_LABELS = {"quote": _l("Quote"), "sales_order": _l("Sales order"), "purchase_order": _l("Purchase order"),
                   "invoice": _l("Invoice")}
DOC_TYPE_PLURALS = {"quote": _l("Quotes"), "sales_order": _l("Sales orders"),
                    "purchase_order": _l("Purchase orders"), "invoice": _l("Invoices")}
ROLE_LABELS = {"admin": _l("Administrator"), "sales": _l("Sales"), "purchasing": _l("Purchasing"),
               "warehouse": _l("Warehouse"), "accounting": _l("Accounting")}
AUDIT_LABELS = {"create": _l("Created"), "update": _l("Changed"), "delete": _l("Deleted")}
MOVE_KIND_LABELS = {"receipt": _l("Receipt"), "shipment": _l("Shipment"), "adjustment": _l("Adjustment"),
                    "bundle_component": _l("Bundle component"), "return": _l("Return"),
                    "transfer": _l("Transfer")}
ITEM_KIND_LABELS = {"product": _l("Product"), "service": _l("Service")}
REASON_LABELS = {"damaged": _l("Damaged"), "lost": _l("Lost"), "found": _l("Found"),
                 "count_correction": _l("Count correction"), "other": _l("Other"),
                 # the reasons of a direct invoice's own moves
                 "invoice": _l("Invoice"), "invoice cancelled": _l("Invoice cancelled")}
FIELD_LABELS = {
    "name": _l("Name"), "email": _l("Email"), "sku": _l("SKU"), "unit_price": _l("Unit price"),
    "quantity": _l("Quantity"), "account_id": _l("Account"), "vendor_id": _l("Vendor"),
    "contact_id": _l("Contact"), "item_id": _l("Item"), "discount_percent": _l("Discount %"),
    "discount_amount": _l("Discount amount"), "tax_ids": _l("Taxes"), "currency": _l("Currency"),
    "rate": _l("Rate"), "key": _l("Key"), "label": _l("Label"), "choices": _l("Choices"),
    "components": _l("Components"), "prices": _l("List prices"), "list_price": _l("List price"),
    "product_id": _l("Product"), "password": _l("Password"), "username": _l("Username"), "role": _l("Role"),
    "lines": _l("Lines"), "status": _l("Status"), "version": _l("Version"), "reason": _l("Reason"),
    "counted_quantity": _l("Counted quantity"), "shipping_amount": _l("Shipping"), "adjustment": _l("Adjustment"),
    "last_name": _l("Last name"), "received": _l("Received"), "items": _l("Items"),
}

FREQUENCY_LABELS = {"daily": _l("Daily"), "weekly": _l("Weekly"), "monthly": _l("Monthly"),
                    "quarterly": _l("Quarterly"), "every_4_months": _l("Every 4 months"),
                    "half_yearly": _l("Half-yearly"), "yearly": _l("Yearly")}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def doc_type_label(doc_type: str, plural: bool = False) -> str:
    return str((DOC_TYPE_PLURALS if plural else DOC_TYPE_LABELS).get(doc_type, doc_type))


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def audit_action_label(action: str) -> str:
    return str(AUDIT_LABELS.get(action, action))


def frequency_label(frequency: str) -> str:
    return str(FREQUENCY_LABELS.get(frequency, frequency))


#: the labels of each kind of stored code, by the name reports and pages give the kind
CODE_LABELS = {"status": STATUS_LABELS, "item_kind": ITEM_KIND_LABELS, "move_kind": MOVE_KIND_LABELS,
               "reason": REASON_LABELS, "doc_type": DOC_TYPE_LABELS, "role": ROLE_LABELS}


def code_label(kind: str, value: str) -> str:
    """The display word of a stored ``value`` of a kind of code (``CODE_LABELS``); unknown
    values are shown as they are."""
    return str(CODE_LABELS[kind].get(value, value))
