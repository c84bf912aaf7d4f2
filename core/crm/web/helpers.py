"""Template globals and filters of the web UI: labels of statuses, roles and
document types in the user's language, locale formats for quantities and
times, links to documents."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import g, url_for
from flask_babel import format_datetime, format_decimal
from flask_babel import lazy_gettext as _l

from crm.web.common import money_input, plain, url_with

DOC_ENDPOINTS = {"quote": "quotes", "sales_order": "sales_orders", "purchase_order": "purchase_orders",
                 "invoice": "invoices"}

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
                    "bundle_component": _l("Bundle component"), "return": _l("Return")}
REASON_LABELS = {"damaged": _l("Damaged"), "lost": _l("Lost"), "found": _l("Found"),
                 "count_correction": _l("Count correction"), "other": _l("Other")}
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


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def doc_type_label(doc_type: str, plural: bool = False) -> str:
    return str((DOC_TYPE_PLURALS if plural else DOC_TYPE_LABELS).get(doc_type, doc_type))


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def audit_action_label(action: str) -> str:
    return str(AUDIT_LABELS.get(action, action))


def field_label(name: str, keys=None) -> str:
    """``lines.2.quantity`` -> ``Line 3 › Quantity`` (with the editor's line ``keys``, ``lines.n7.quantity``
    is the line of key ``n7``); ``billing_address.city`` -> ``billing_address › city``."""
    from flask_babel import gettext as _
    parts = name.split(".")
    if keys and len(parts) > 1 and parts[0] == "lines" and parts[1] in keys:
        parts[1] = str(list(keys).index(parts[1]))
    shown = []
    index = 0
    while index < len(parts):
        part = parts[index]
        if part == "lines" and index + 1 < len(parts) and parts[index + 1].isdigit():
            shown.append(_("Line %(n)s", n=int(parts[index + 1]) + 1))
            index += 2
            continue
        if part.isdigit():
            shown.append(str(int(part) + 1))
        else:
            shown.append(str(FIELD_LABELS.get(part, part.replace("_", " "))))
        index += 1
    return " › ".join(shown)


def document_url(document, action: str = "detail") -> str:
    return url_for(f"{DOC_ENDPOINTS[document.doc_type]}.{action}", doc_id=document.id)


def default_currency() -> str:
    from crm.db import db
    from crm.services.settings import get_setting
    cached = g.get("crm_default_currency")
    if cached is None:
        cached = g.crm_default_currency = get_setting(db.session, "default_currency") or "EUR"
    return cached


def company_name() -> str:
    """The company name of the settings (the ``CRM_COMPANY_NAME`` configuration before any is saved)."""
    from flask import current_app
    from crm.db import db
    from crm.models import Setting
    cached = g.get("crm_company_name")
    if cached is None:
        try:
            row = db.session.get(Setting, ("core", "company_name"))
        except Exception:  # noqa: BLE001  no database yet (an error page before migrations)
            db.session.rollback()
            row = None
        cached = g.crm_company_name = row.value if row is not None and row.value else \
            current_app.config.get("COMPANY_NAME", "CRM")
    return cached


def quantity(value) -> str:
    """A quantity in the user's locale, without trailing zeros: ``2``, ``2,5``."""
    if value is None or value == "":
        return ""
    value = Decimal(value)
    places = max(0, -value.normalize().as_tuple().exponent)
    return format_decimal(value, format="#,##0." + "#" * min(places, 6) if places else "#,##0")


def datetime_filter(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return format_datetime(value, "short")


def detail_value(record, f) -> tuple:
    """(value, kind) of a form field on a record's page."""
    if f.name.startswith("custom."):
        kind = {"bool": "bool", "date": "text"}.get(f.type, "text")
        return f.display(record), kind
    value = getattr(record, f.name, None)
    if f.type == "ids":
        return ", ".join(t.name for t in (record.taxes if f.name == "tax_ids" else [])) or None, "text"
    if f.type == "id":
        related = getattr(record, f.name[:-3], None)
        if related is None and value is not None:
            return f"#{value}", "text"
        return getattr(related, "name", None) if related is not None else None, "text"
    if f.type == "select":
        labels = dict(f.options(None)) if not callable(f.choices) else {}
        return str(labels.get(value, value)) if value not in (None, "") else None, "text"
    if f.type == "textlist":
        return ", ".join(str(v) for v in (value or [])) or None, "text"
    kind = {"money": "money", "quantity": "quantity", "decimal": "quantity", "percent": "percent",
            "bool": "bool", "date": "date"}.get(f.type, "text")
    return value, kind


FREQUENCY_LABELS = {"daily": _l("Daily"), "weekly": _l("Weekly"), "monthly": _l("Monthly"),
                    "quarterly": _l("Quarterly"), "every_4_months": _l("Every 4 months"),
                    "half_yearly": _l("Half-yearly"), "yearly": _l("Yearly")}


def frequency_label(frequency: str) -> str:
    return str(FREQUENCY_LABELS.get(frequency, frequency))


def item_url(item) -> str:
    if item.kind == "service":
        return url_for("services.detail", record_id=item.id)
    return url_for("bundles.detail" if item.is_bundle else "products.detail", record_id=item.id)


def line_cell(value, column, currency: str) -> str:
    """A plugin line column's value formatted for the user's locale by the column's type."""
    from flask_babel import format_date
    from crm.i18n import money
    if value is None or value == "":
        return ""
    try:
        if column.type == "money":
            return money(Decimal(str(value)), currency)
        if column.type == "number":
            return quantity(Decimal(str(value)))
        if column.type == "percent":
            return quantity(Decimal(str(value))) + " %"
        if column.type == "date":
            return format_date(dt.date.fromisoformat(str(value)))
    except (ArithmeticError, ValueError, TypeError):
        pass
    return str(value)


def can_do(resource: str, action: str = "read") -> bool:
    from crm.permissions import can
    return can(g.get("user"), resource, action)


def init_helpers(app) -> None:
    app.jinja_env.globals.update(
        status_label=status_label, doc_type_label=doc_type_label, role_label=role_label,
        audit_action_label=audit_action_label, field_label=field_label, document_url=document_url,
        default_currency=default_currency, detail_value=detail_value, url_with=url_with, can=can_do,
        frequency_label=frequency_label, company_name=company_name, item_url=item_url, line_cell=line_cell,
        move_kind_label=lambda k: str(MOVE_KIND_LABELS.get(k, k)), reason_label=lambda r: str(REASON_LABELS.get(r, r)))
    app.jinja_env.filters.update(quantity=quantity, datetime=datetime_filter, plain=plain, money_input=money_input)
