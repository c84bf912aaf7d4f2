"""Template globals and filters of the web UI: labels of statuses, roles and
document types in the user's language, locale formats for quantities and
times, links to documents."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import g, url_for
from flask_babel import format_datetime, format_decimal

from crm.labels import (  # noqa: F401
    AUDIT_LABELS,
    CODE_LABELS,
    DOC_TYPE_LABELS,
    DOC_TYPE_PLURALS,
    FIELD_LABELS,
    FREQUENCY_LABELS,
    MOVE_KIND_LABELS,
    REASON_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    audit_action_label,
    code_label,
    doc_type_label,
    frequency_label,
    role_label,
    status_label,
)
from crm.money import is_digits
from crm.web.common import money_input, plain, url_with

DOC_ENDPOINTS = {"quote": "quotes", "sales_order": "sales_orders", "purchase_order": "purchase_orders",
                 "invoice": "invoices"}

def field_label(name: str, keys=None, labels=None) -> str:
    """``lines.2.quantity`` -> ``Line 3 › Quantity`` (with the editor's line ``keys``, ``lines.n7.quantity``
    is the line of key ``n7``); ``billing_address.city`` -> ``billing_address › city``; a name of
    ``labels`` (input names -> the labels of the form) -> its label (``custom.color`` -> ``Colour``)."""
    from flask_babel import gettext as _
    if labels and name in labels:
        return str(labels[name])
    parts = name.split(".")
    if keys and len(parts) > 1 and parts[0] == "lines" and parts[1] in keys:
        parts[1] = str(list(keys).index(parts[1]))
    shown = []
    index = 0
    while index < len(parts):
        part = parts[index]
        if part == "lines" and index + 1 < len(parts) and is_digits(parts[index + 1]):
            shown.append(_("Line %(n)s", n=int(parts[index + 1]) + 1))
            index += 2
            continue
        if is_digits(part):
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
        return record_link(referenced(record, f.name, value)), "text"
    if f.type == "select":
        labels = dict(f.options(None)) if not callable(f.choices) else {}
        return str(labels.get(value, value)) if value not in (None, "") else None, "text"
    if f.type == "textlist":
        return ", ".join(str(v) for v in (value or [])) or None, "text"
    kind = {"money": "money", "quantity": "quantity", "decimal": "quantity", "percent": "percent",
            "bool": "bool", "date": "date"}.get(f.type, "text")
    return value, kind


def referenced(record, column: str, value=None):
    """The record that the foreign key ``column`` of ``record`` (a model instance or class)
    points to, with ``value`` as its id (default: the record's); None when empty or gone."""
    from sqlalchemy import inspect

    from crm.db import db
    value = getattr(record, column, None) if value is None and not isinstance(record, type) else value
    mapper = inspect(record if isinstance(record, type) else type(record))
    target = next((fk.column.table for fk in getattr(mapper.columns.get(column), "foreign_keys", ())), None)
    if target is None or value is None or isinstance(value, bool) or not isinstance(value, int):
        return None
    model = next((m.class_ for m in mapper.registry.mappers if m.local_table is target), None)
    return db.session.get(model, value) if model is not None else None


def record_label(target) -> str:
    """What a page shows for a record it refers to: its name (a person's full name, a
    user's full name or username, a document's number)."""
    for name in ("number", "full_name", "name", "username"):
        value = getattr(target, name, None)
        if value:
            return str(value)
    return ""


def record_url(target) -> str | None:
    """The page of a record another one refers to (None for users: they have no page of their own)."""
    from crm.models import Account, Contact, Document, Item, PriceBook, Vendor
    if isinstance(target, Item):
        return item_url(target)
    if isinstance(target, Document):
        return document_url(target)
    pages = {Account: "accounts", Contact: "contacts", Vendor: "vendors", PriceBook: "price_books"}
    endpoint = next((name for model, name in pages.items() if isinstance(target, model)), None)
    return url_for(f"{endpoint}.detail", record_id=target.id) if endpoint else None


def record_link(target):
    """A link to ``target`` named by :func:`record_label` (plain text when it has no page);
    None for no record."""
    from markupsafe import Markup
    if target is None:
        return None
    url = record_url(target)
    return Markup('<a href="{}">{}</a>').format(url, record_label(target)) if url else record_label(target)


def change_value(model, column: str, value):
    """A value of the audit trail's changes as the page shows it: a referenced record by its
    name (linked), anything else as it is."""
    target = referenced(model, column, value) if column.endswith("_id") else None
    return record_link(target) if target is not None else value


def address_parts() -> list[tuple[str, str]]:
    """The parts of an address input, in the order the forms show them (street; postal code and
    city; state and country), with their labels."""
    from flask_babel import gettext as _
    return [("street", _("Street")), ("postal_code", _("Postal code")), ("city", _("City")),
            ("state", _("State / province")), ("country", _("Country"))]


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
        change_value=change_value, address_parts=address_parts,
        frequency_label=frequency_label, company_name=company_name, item_url=item_url, line_cell=line_cell,
        move_kind_label=lambda k: str(MOVE_KIND_LABELS.get(k, k)), reason_label=lambda r: str(REASON_LABELS.get(r, r)),
        code_label=code_label, code_kinds=CODE_LABELS)
    app.jinja_env.filters.update(quantity=quantity, datetime=datetime_filter, plain=plain, money_input=money_input)
