"""What differs between quotes, sales orders, purchase orders and invoices:
statuses, allowed transitions, numbering, party, and when lines may change.

The transition tables are the product's rules (see ``docs/documents.md``).
Statuses reached only through an action are not in the manual table:
an invoice becomes Paid / Partially Paid from its received amount.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DocType:
    name: str                 # quote, sales_order, purchase_order, invoice
    path: str                 # URL segment: quotes, sales-orders, ...
    label: str
    prefix: str               # default numbering prefix
    party: str                # "account" or "vendor"
    statuses: tuple[str, ...]
    initial: str
    transitions: dict[str, tuple[str, ...]]
    editable: tuple[str, ...]  # statuses in which lines and amounts may change
    resource: str             # permission resource (crm.permissions.RESOURCES)
    automatic: tuple[str, ...] = field(default=())  # statuses set by the system only

    def allowed_from(self, status: str) -> tuple[str, ...]:
        return self.transitions.get(status, ())


QUOTE = DocType(
    name="quote", path="quotes", label="Quote", prefix="QUO-", party="account",
    statuses=("Created", "Delivered", "Reviewed", "Accepted", "Rejected"),
    initial="Created",
    transitions={
        "Created": ("Delivered", "Reviewed", "Accepted", "Rejected"),
        "Delivered": ("Reviewed", "Accepted", "Rejected"),
        "Reviewed": ("Delivered", "Accepted", "Rejected"),
        "Accepted": ("Rejected",),
        "Rejected": ("Reviewed",),
    },
    editable=("Created", "Delivered", "Reviewed"),
    resource="quotes",
)

SALES_ORDER = DocType(
    name="sales_order", path="sales-orders", label="Sales order", prefix="SO-", party="account",
    statuses=("Created", "Approved", "Delivered", "Cancelled"),
    initial="Created",
    transitions={
        "Created": ("Approved", "Cancelled"),
        "Approved": ("Created", "Delivered", "Cancelled"),
        "Cancelled": ("Created",),
    },
    editable=("Created",),
    resource="sales_orders",
)

PURCHASE_ORDER = DocType(
    name="purchase_order", path="purchase-orders", label="Purchase order", prefix="PO-", party="vendor",
    statuses=("Created", "Approved", "Delivered", "Received Shipment", "Cancelled"),
    initial="Created",
    transitions={
        "Created": ("Approved", "Cancelled"),
        "Approved": ("Created", "Delivered", "Received Shipment", "Cancelled"),
        "Delivered": ("Received Shipment", "Cancelled"),
        "Cancelled": ("Created",),
    },
    editable=("Created",),
    resource="purchase_orders",
)

INVOICE = DocType(
    name="invoice", path="invoices", label="Invoice", prefix="INV-", party="account",
    statuses=("Created", "Approved", "Sent", "Partially Paid", "Paid", "Credit Invoice", "Cancelled",
              "AutoCreated"),
    initial="Created",
    transitions={
        "Created": ("Approved", "Sent", "Cancelled"),
        "AutoCreated": ("Approved", "Sent", "Cancelled"),
        "Approved": ("Sent", "Credit Invoice", "Cancelled"),
        "Sent": ("Approved", "Credit Invoice", "Cancelled"),
        "Partially Paid": ("Credit Invoice",),
        "Paid": ("Credit Invoice",),
    },
    editable=("Created", "AutoCreated"),
    resource="invoices",
    automatic=("Partially Paid", "Paid"),
)

DOC_TYPES: dict[str, DocType] = {t.name: t for t in (QUOTE, SALES_ORDER, PURCHASE_ORDER, INVOICE)}
BY_PATH: dict[str, DocType] = {t.path: t for t in DOC_TYPES.values()}
