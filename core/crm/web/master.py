"""Master data pages: accounts, contacts, vendors, products, services, bundles,
price books, taxes and custom fields (see :mod:`crm.web.records`)."""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from crm.errors import NotFound, ValidationError
from crm.models import Account, BundleComponent, Contact, CustomField, Item, PriceBook, PriceBookEntry, Tax, Vendor
from crm.models.catalog import CUSTOM_FIELD_ENTITIES, CUSTOM_FIELD_TYPES, TAX_APPLIES_TO
from crm.money import decimal_text, is_digits
from crm.services import accounts, contacts, custom_fields, document_queries as docq, items, price_books, taxes, vendors
from crm.services.mass_actions import EDIT_FIELDS
from crm.web.common import parse_decimal, parse_int
from crm.web.forms import FormField as F
from crm.web.records import Column, Filter, Resource, register

#: the pages of the master data
BLUEPRINTS: list[Blueprint] = []

def _active_filter(model) -> Filter:
    return Filter("active", _l("Status"), [("1", _l("Active")), ("0", _l("Inactive"))],
                  lambda stmt, v: stmt.where(model.active.is_(v == "1")))


def _blueprint(resource: Resource) -> Blueprint:
    bp = Blueprint(resource.endpoint, __name__, url_prefix=resource.url)
    register(bp, resource)
    BLUEPRINTS.append(bp)
    return bp


def _accounts(session):
    return [(a.id, a.name) for a in session.scalars(select(Account).order_by(func.lower(Account.name)))]


def _users(session):
    from crm.models import User
    return [(u.id, u.full_name or u.username) for u in session.scalars(select(User).order_by(User.username))]


def _assigned_name(record) -> str:
    from crm.db import db
    from crm.models import User
    if record.assigned_user_id is None:
        return ""
    user = db.session.get(User, record.assigned_user_id)
    return (user.full_name or user.username) if user is not None else ""


def _assigned_filter(model) -> Filter:
    return Filter("assigned_user_id", _l("Assigned to"), _users,
                  lambda stmt, v: stmt.where(model.assigned_user_id == int(v)))


def _vendors(session):
    return [(v.id, v.name) for v in session.scalars(select(Vendor).order_by(func.lower(Vendor.name)))]


def _item_taxes(session):
    return [(t.id, f"{t.name} ({decimal_text(t.rate)} %)") for t in
            session.scalars(select(Tax).where(Tax.applies_to.in_(("items", "both"))).order_by(Tax.name))]


def _products(session):
    return [(p.id, f"{p.name} ({p.sku})" if p.sku else p.name) for p in
            session.scalars(select(Item).where(Item.kind == "product", Item.is_bundle.is_(False))
                            .order_by(func.lower(Item.name)))]


def _all_items(session):
    return [(p.id, f"{p.name} ({p.sku})" if p.sku else p.name) for p in
            session.scalars(select(Item).order_by(func.lower(Item.name)))]


def _distinct(column, *where):
    def choices(session):
        stmt = select(column).where(column != "", *where).distinct().order_by(column)
        return [(v, v) for v in session.scalars(stmt)]
    return choices


# --- accounts ---------------------------------------------------------------------------------------

def _schema(module: str, name: str, partial: bool = False):
    def make():
        import importlib

        from crm.api.records import patch_schema
        cls = getattr(importlib.import_module(f"crm.api.{module}"), name)
        return patch_schema(cls) if partial else cls()
    return make


def _account_detail(session, account):
    return {"contacts": list(session.scalars(select(Contact).where(Contact.account_id == account.id)
                                             .order_by(Contact.last_name))),
            "documents": docq.documents_for(session, account_id=account.id)}


ACCOUNTS = Resource(
    name="accounts", url="/accounts", permission="accounts", title=_l("Accounts"), singular=_l("Account"),
    model=Account, query=lambda: select(Account), get=accounts.get_account, create=accounts.create_account,
    update=accounts.update_account, delete=accounts.delete_account,
    schema=_schema("accounts", "AccountSchema"), patch_schema=_schema("accounts", "AccountPatchSchema", True),
    fields=[F("name", _l("Name"), required=True, max_length=200), F("email", _l("Email"), "email"),
            F("phone", _l("Phone")), F("website", _l("Website")), F("tax_id", _l("Tax number")),
            F("billing_address", _l("Billing address"), "address"),
            F("shipping_address", _l("Shipping address"), "address"),
            F("description", _l("Description"), "textarea", full_width=True), F("active", _l("Active"), "bool")],
    columns=[Column(_l("Name"), "name", "name", link=True), Column(_l("Email"), "email", "email"),
             Column(_l("Phone"), "phone"),
             Column(_l("City"), lambda a: (a.billing_address or {}).get("city", ""), key="city"),
             Column(_l("Assigned to"), _assigned_name, key="assigned_to"),
             Column(_l("Active"), "active", kind="bool"),
             Column(_l("Website"), "website", shown=False), Column(_l("Tax number"), "tax_id", shown=False),
             Column(_l("Country"), lambda a: (a.billing_address or {}).get("country", ""), key="country",
                    shown=False),
             Column(_l("Created"), "created_at", "created_at", kind="datetime", shown=False)],
    search=[Account.name, Account.email, Account.phone],
    sortable={"name": func.lower(Account.name), "email": func.lower(Account.email), "created_at": Account.created_at},
    filters=[_active_filter(Account), _assigned_filter(Account)], custom_entity="accounts",
    detail_context=_account_detail, audit_entity="accounts", mass_fields=list(EDIT_FIELDS["accounts"]), assignable=True)
_blueprint(ACCOUNTS)


# --- contacts ---------------------------------------------------------------------------------------

CONTACTS = Resource(
    name="contacts", url="/contacts", permission="accounts", title=_l("Contacts"), singular=_l("Contact"),
    model=Contact, query=lambda: select(Contact).options(joinedload(Contact.account)),
    get=contacts.get_contact, create=contacts.create_contact, update=contacts.update_contact,
    delete=contacts.delete_contact,
    schema=_schema("contacts", "ContactSchema"), patch_schema=_schema("contacts", "ContactPatchSchema", True),
    fields=[F("first_name", _l("First name")), F("last_name", _l("Last name"), required=True),
            F("title", _l("Job title")), F("email", _l("Email"), "email"), F("phone", _l("Phone")),
            F("account_id", _l("Account"), "id", choices=_accounts), F("active", _l("Active"), "bool")],
    columns=[Column(_l("Name"), "full_name", "last_name", link=True),
             Column(_l("Account"), lambda c: c.account.name if c.account else "", key="account"),
             Column(_l("Email"), "email", "email"), Column(_l("Phone"), "phone"),
             Column(_l("Active"), "active", kind="bool"), Column(_l("Job title"), "title", shown=False)],
    search=[Contact.first_name, Contact.last_name, Contact.email, Contact.phone],
    sortable={"last_name": func.lower(Contact.last_name), "email": func.lower(Contact.email)},
    filters=[_active_filter(Contact),
             Filter("account_id", _l("Account"), _accounts, lambda s, v: s.where(Contact.account_id == int(v)))],
    custom_entity="contacts", label_of=lambda c: c.full_name,
    detail_context=lambda session, c: {"documents": docq.documents_for(session, contact_id=c.id)},
    audit_entity="contacts", mass_fields=list(EDIT_FIELDS["contacts"]))
_blueprint(CONTACTS)


# --- vendors ----------------------------------------------------------------------------------------

VENDORS = Resource(
    name="vendors", url="/vendors", permission="vendors", title=_l("Vendors"), singular=_l("Vendor"),
    model=Vendor, query=lambda: select(Vendor), get=vendors.get_vendor, create=vendors.create_vendor,
    update=vendors.update_vendor, delete=vendors.delete_vendor,
    schema=_schema("vendors", "VendorSchema"), patch_schema=_schema("vendors", "VendorPatchSchema", True),
    fields=[F("name", _l("Name"), required=True), F("email", _l("Email"), "email"), F("phone", _l("Phone")),
            F("website", _l("Website")), F("address", _l("Address"), "address"),
            F("description", _l("Description"), "textarea", full_width=True), F("active", _l("Active"), "bool")],
    columns=[Column(_l("Name"), "name", "name", link=True), Column(_l("Email"), "email", "email"),
             Column(_l("Phone"), "phone"), Column(_l("City"), lambda v: (v.address or {}).get("city", ""), key="city"),
             Column(_l("Active"), "active", kind="bool"), Column(_l("Website"), "website", shown=False)],
    search=[Vendor.name, Vendor.email, Vendor.phone],
    sortable={"name": func.lower(Vendor.name), "email": func.lower(Vendor.email)},
    filters=[_active_filter(Vendor)], custom_entity="vendors",
    detail_context=lambda session, v: {
        "documents": docq.documents_for(session, vendor_id=v.id),
        "products": list(session.scalars(select(Item).where(Item.vendor_id == v.id).order_by(Item.name).limit(50)))},
    audit_entity="vendors", mass_fields=list(EDIT_FIELDS["vendors"]))
_blueprint(VENDORS)


# --- products, bundles, services -------------------------------------------------------------------

def _get_kind(kind: str, bundle: bool | None = None):
    def get(session, item_id):
        item = items.get_item(session, item_id, kind)
        if bundle is not None and item.is_bundle != bundle:
            raise NotFound(_("bundle %(id)s not found", id=item_id) if bundle
                           else _("product %(id)s not found", id=item_id))
        return item
    return get


def _item_detail(session, item):
    from crm.services import stock
    context = {"documents": docq.documents_with_item(session, item.id),
               "prices": list(session.execute(
                   select(PriceBook, PriceBookEntry.list_price).join(PriceBookEntry)
                   .where(PriceBookEntry.item_id == item.id).order_by(PriceBook.name)).all())}
    if item.kind == "product":
        context["level"] = stock.level(session, item.id)
        if not item.is_bundle:
            context["moves"] = docq.stock_moves_of(session, product_id=item.id, limit=20)
            context["move_documents"] = docq.documents_by_id(session, {m.document_id for m in context["moves"]})
            context["in_bundles"] = list(session.scalars(
                select(Item).join(BundleComponent, BundleComponent.bundle_id == Item.id)
                .where(BundleComponent.component_id == item.id)))
    return context


COMMON_ITEM_FIELDS = [
    F("name", _l("Name"), required=True), F("unit_price", _l("Unit price"), "money", required=True),
    F("purchase_cost", _l("Purchase cost"), "money", blank=Decimal("0")),
    F("usage_unit", _l("Usage unit")), F("category", _l("Category")),
]
PRODUCT_FIELDS = [
    F("name", _l("Name"), required=True), F("sku", _l("SKU"), blank=None),
    F("unit_price", _l("Unit price"), "money", required=True),
    F("purchase_cost", _l("Purchase cost"), "money", blank=Decimal("0")),
    F("usage_unit", _l("Usage unit")), F("qty_per_unit", _l("Quantity per unit"), "quantity", blank=Decimal("1")),
    F("category", _l("Category")), F("subcategory", _l("Subcategory")), F("manufacturer", _l("Manufacturer")),
    F("vendor_id", _l("Vendor"), "id", choices=_vendors),
    F("reorder_level", _l("Reorder level"), "quantity", blank=Decimal("0")),
    F("reorder_quantity", _l("Reorder quantity"), "quantity", blank=Decimal("0"),
      help=_l("Replenishment orders up to it (at least up to the reorder level)")),
    F("tax_ids", _l("Taxes"), "ids", choices=_item_taxes, help=_l("Applied by default in individual tax mode"),
      source="taxes"),
    F("description", _l("Description"), "textarea", full_width=True), F("active", _l("Active"), "bool"),
]
SERVICE_FIELDS = COMMON_ITEM_FIELDS + [
    F("tax_ids", _l("Taxes"), "ids", choices=_item_taxes, help=_l("Applied by default in individual tax mode"),
      source="taxes"),
    F("description", _l("Description"), "textarea", full_width=True), F("active", _l("Active"), "bool"),
]
ITEM_SORTABLE = {"name": func.lower(Item.name), "sku": func.lower(Item.sku), "unit_price": Item.unit_price,
                 "category": func.lower(Item.category), "on_hand": Item.on_hand}


def _sku_blank(session, form, raw, record):
    raw["sku"] = raw.get("sku") or None
    return raw


def _components(session, form, raw, record):
    """``components.N.product_id`` / ``components.N.quantity`` rows (blank rows skipped)."""
    raw = _sku_blank(session, form, raw, record)
    rows, problems = [], {}
    indexes = sorted({int(k.split(".")[1]) for k in form if k.startswith("components.") and is_digits(k.split(".")[1])})
    for index in indexes:
        product = form.get(f"components.{index}.product_id", "").strip()
        quantity = form.get(f"components.{index}.quantity", "").strip()
        if not product and not quantity:
            continue
        try:
            rows.append({"product_id": parse_int(product, f"components.{index}.product_id", required=True),
                         "quantity": parse_decimal(quantity, f"components.{index}.quantity", required=True)})
        except ValidationError as exc:
            problems.update(exc.fields)
    if problems:
        raise ValidationError("components", problems)
    if not rows:
        raise ValidationError.for_field("components", str(_l("A bundle needs at least one component.")))
    raw["components"] = rows
    return raw


def _component_rows(session, record):
    rows = [{"product_id": c.component_id, "quantity": c.quantity} for c in (record.components if record else [])]
    return {"component_rows": rows + [{"product_id": None, "quantity": None}] * 4, "product_choices": _products(session)}


PRODUCT_COLUMNS = [Column(_l("Name"), "name", "name", link=True), Column(_l("SKU"), "sku", "sku"),
                   Column(_l("Category"), "category", "category"),
                   Column(_l("Unit price"), "unit_price", "unit_price", kind="money"),
                   Column(_l("On hand"), "on_hand", "on_hand", kind="quantity"),
                   Column(_l("Available"), lambda i: i.on_hand - i.reserved, kind="quantity", key="available"),
                   Column(_l("Active"), "active", kind="bool"),
                   Column(_l("Subcategory"), "subcategory", shown=False),
                   Column(_l("Manufacturer"), "manufacturer", shown=False),
                   Column(_l("Purchase cost"), "purchase_cost", kind="money", shown=False),
                   Column(_l("Reorder level"), "reorder_level", kind="quantity", shown=False)]
PRODUCT_MASS_FIELDS = list(EDIT_FIELDS["products"])

PRODUCTS = Resource(
    name="products", url="/products", permission="catalog", title=_l("Products"), singular=_l("Product"),
    model=Item, query=lambda: items.items_query("product").where(Item.is_bundle.is_(False)),
    get=_get_kind("product", False), create=lambda s, d: items.create_item(s, "product", d),
    update=items.update_item, delete=items.delete_item,
    schema=_schema("items", "ProductSchema"), patch_schema=_schema("items", "ProductPatchSchema", True),
    fields=PRODUCT_FIELDS, columns=PRODUCT_COLUMNS, to_raw=_sku_blank,
    search=[Item.name, Item.sku, Item.description], sortable=ITEM_SORTABLE,
    filters=[_active_filter(Item),
             Filter("category", _l("Category"), _distinct(Item.category, Item.kind == "product"),
                    lambda s, v: s.where(Item.category == v)),
             Filter("vendor_id", _l("Vendor"), _vendors, lambda s, v: s.where(Item.vendor_id == int(v))),
             Filter("stock", _l("Stock"), [("low", _l("Low stock"))],
                    lambda s, v: s.where(Item.on_hand - Item.reserved <= Item.reorder_level))],
    custom_entity="items", detail_context=_item_detail, audit_entity="items", mass_fields=PRODUCT_MASS_FIELDS)
_blueprint(PRODUCTS)

BUNDLES = Resource(
    name="bundles", url="/bundles", permission="catalog", title=_l("Bundles"), singular=_l("Bundle"),
    model=Item, query=lambda: items.items_query("product").where(Item.is_bundle.is_(True)),
    get=_get_kind("product", True), create=lambda s, d: items.create_item(s, "product", d),
    update=items.update_item, delete=items.delete_item,
    schema=_schema("items", "ProductSchema"), patch_schema=_schema("items", "ProductPatchSchema", True),
    fields=[f for f in PRODUCT_FIELDS if f.name not in ("reorder_level", "reorder_quantity", "qty_per_unit",
                                                         "purchase_cost")]
    + [F("components", _l("Components"), "components")],
    columns=[Column(_l("Name"), "name", "name", link=True), Column(_l("SKU"), "sku", "sku"),
             Column(_l("Components"), lambda i: ", ".join(f"{decimal_text(c.quantity)} × {c.component.name}"
                                                        for c in i.components), key="components"),
             Column(_l("Unit price"), "unit_price", "unit_price", kind="money"),
             Column(_l("Available"), lambda i: items.stock_of(i).available, kind="quantity", key="available"),
             Column(_l("Active"), "active", kind="bool")],
    to_raw=_components, form_context=_component_rows,
    search=[Item.name, Item.sku, Item.description], sortable=ITEM_SORTABLE, filters=[_active_filter(Item)],
    custom_entity="items", detail_context=_item_detail, audit_entity="items",
    mass_fields=list(EDIT_FIELDS["bundles"]))
_blueprint(BUNDLES)

SERVICES = Resource(
    name="services", url="/services", permission="catalog", title=_l("Services"), singular=_l("Service"),
    model=Item, query=lambda: items.items_query("service"), get=_get_kind("service"),
    create=lambda s, d: items.create_item(s, "service", d), update=items.update_item, delete=items.delete_item,
    schema=_schema("items", "ServiceSchema"), patch_schema=_schema("items", "ServicePatchSchema", True),
    fields=SERVICE_FIELDS,
    columns=[Column(_l("Name"), "name", "name", link=True), Column(_l("Category"), "category", "category"),
             Column(_l("Usage unit"), "usage_unit"),
             Column(_l("Unit price"), "unit_price", "unit_price", kind="money"),
             Column(_l("Active"), "active", kind="bool")],
    search=[Item.name, Item.description], sortable=ITEM_SORTABLE,
    filters=[_active_filter(Item), Filter("category", _l("Category"), _distinct(Item.category, Item.kind == "service"),
                                          lambda s, v: s.where(Item.category == v))],
    custom_entity="items", detail_context=_item_detail, audit_entity="items",
    mass_fields=list(EDIT_FIELDS["services"]))
_blueprint(SERVICES)


# --- price books ------------------------------------------------------------------------------------

def _prices(session, form, raw, record):
    rows, problems = [], {}
    indexes = sorted({int(k.split(".")[1]) for k in form if k.startswith("prices.") and is_digits(k.split(".")[1])})
    for index in indexes:
        item = form.get(f"prices.{index}.item_id", "").strip()
        price = form.get(f"prices.{index}.list_price", "").strip()
        if not item and not price:
            continue
        try:
            rows.append({"item_id": parse_int(item, f"prices.{index}.item_id", required=True),
                         "list_price": parse_decimal(price, f"prices.{index}.list_price", required=True)})
        except ValidationError as exc:
            problems.update(exc.fields)
    if problems:
        raise ValidationError("prices", problems)
    raw["prices"] = rows
    raw["currency"] = (raw.get("currency") or "EUR").upper()
    return raw


def _price_rows(session, record):
    rows = [{"item_id": p.item_id, "list_price": p.list_price} for p in (record.prices if record else [])]
    return {"price_rows": rows + [{"item_id": None, "list_price": None}] * 5, "item_choices": _all_items(session)}


def _price_book_detail(session, book):
    names = dict(session.execute(select(Item.id, Item.name).where(Item.id.in_([p.item_id for p in book.prices]))).all())
    return {"entries": [(names.get(p.item_id, p.item_id), p) for p in book.prices]}


PRICE_BOOKS = Resource(
    name="price-books", url="/price-books", permission="catalog", title=_l("Price books"),
    singular=_l("Price book"), model=PriceBook,
    query=lambda: select(PriceBook).options(selectinload(PriceBook.prices)),
    get=price_books.get_price_book, create=price_books.create_price_book, update=price_books.update_price_book,
    delete=price_books.delete_price_book,
    schema=_schema("price_books", "PriceBookSchema"),
    patch_schema=_schema("price_books", "PriceBookPatchSchema", True),
    fields=[F("name", _l("Name"), required=True), F("currency", _l("Currency"), blank="EUR"),
            F("description", _l("Description"), "textarea", full_width=True), F("active", _l("Active"), "bool"),
            F("prices", _l("List prices"), "prices")],
    columns=[Column(_l("Name"), "name", "name", link=True), Column(_l("Currency"), "currency", "currency"),
             Column(_l("Prices"), lambda b: len(b.prices), kind="int", key="prices"),
             Column(_l("Active"), "active", kind="bool")],
    to_raw=_prices, form_context=_price_rows, detail_context=_price_book_detail,
    search=[PriceBook.name], sortable={"name": func.lower(PriceBook.name), "currency": PriceBook.currency},
    filters=[_active_filter(PriceBook)], audit_entity="price_books", mass_fields=list(EDIT_FIELDS["price_books"]))
_blueprint(PRICE_BOOKS)


# --- taxes ------------------------------------------------------------------------------------------

APPLIES = [("items", _l("Items")), ("shipping", _l("Shipping")), ("both", _l("Items and shipping"))]

TAXES = Resource(
    name="taxes", url="/taxes", permission="taxes", title=_l("Taxes"), singular=_l("Tax"), model=Tax,
    query=lambda: select(Tax), get=taxes.get_tax, create=taxes.create_tax, update=taxes.update_tax,
    delete=taxes.delete_tax,
    schema=_schema("taxes", "TaxSchema"), patch_schema=_schema("taxes", "TaxPatchSchema", True),
    fields=[F("name", _l("Name"), required=True), F("rate", _l("Rate (%)"), "percent", required=True),
            F("applies_to", _l("Applies to"), "select", choices=APPLIES, blank="items"),
            F("active", _l("Active"), "bool")],
    columns=[Column(_l("Name"), "name", "name", link=True), Column(_l("Rate"), "rate", "rate", kind="percent"),
             Column(_l("Applies to"), lambda t: dict(APPLIES).get(t.applies_to, t.applies_to), key="applies_to"),
             Column(_l("Active"), "active", kind="bool")],
    search=[Tax.name], sortable={"name": Tax.name, "rate": Tax.rate},
    filters=[_active_filter(Tax), Filter("applies_to", _l("Applies to"), APPLIES,
                                         lambda s, v: s.where(Tax.applies_to == v))],
    audit_entity="taxes", mass_fields=list(EDIT_FIELDS["taxes"]))
_blueprint(TAXES)


# --- custom fields ----------------------------------------------------------------------------------

ENTITY_LABELS = {"accounts": _l("Accounts"), "contacts": _l("Contacts"), "vendors": _l("Vendors"),
                 "items": _l("Products and services"), "documents": _l("Documents")}
TYPE_LABELS = {"text": _l("Text"), "number": _l("Whole number"), "decimal": _l("Decimal number"),
               "date": _l("Date"), "boolean": _l("Yes / no"), "select": _l("Choice list")}


def _choices_text(session, form, raw, record):
    text = form.get("choices", "")
    raw["choices"] = [line.strip() for line in text.splitlines() if line.strip()]
    if record is not None:  # fixed once created: the form shows them read-only
        for name in ("entity", "key", "type"):
            raw.pop(name, None)
    return raw


def _update_field(session, field, data):
    return custom_fields.update_field(session, field, data)


CUSTOM_FIELDS = Resource(
    name="custom-fields", url="/custom-fields", permission="custom_fields", title=_l("Custom fields"),
    singular=_l("Custom field"), model=CustomField, query=lambda: select(CustomField),
    get=custom_fields.get_field, create=custom_fields.create_field, update=_update_field,
    delete=custom_fields.delete_field,
    schema=_schema("custom_fields", "CustomFieldSchema"),
    patch_schema=_schema("custom_fields", "CustomFieldPatchSchema", True),
    fields=[F("entity", _l("Records"), "select", required=True, choices=list(ENTITY_LABELS.items()), fixed=True),
            F("key", _l("Key"), required=True, help=_l("Lower case letters, digits and _; fixed once created"),
              fixed=True),
            F("label", _l("Label"), required=True),
            F("type", _l("Type"), "select", required=True, choices=list(TYPE_LABELS.items()), fixed=True),
            F("choices", _l("Choices"), "textlist", help=_l("One per line, for choice lists")),
            F("required", _l("Required"), "bool", default=False), F("position", _l("Position"), "int", blank=0),
            F("active", _l("Active"), "bool")],
    columns=[Column(_l("Label"), "label", "label", link=True), Column(_l("Key"), "key", "key"),
             Column(_l("Records"), lambda f: ENTITY_LABELS.get(f.entity, f.entity), "entity"),
             Column(_l("Type"), lambda f: TYPE_LABELS.get(f.type, f.type), key="type"),
             Column(_l("Required"), "required", kind="bool"), Column(_l("Active"), "active", kind="bool")],
    to_raw=_choices_text, label_of=lambda f: f.label,
    search=[CustomField.label, CustomField.key],
    sortable={"label": CustomField.label, "key": CustomField.key, "entity": CustomField.entity},
    default_sort=[CustomField.entity, CustomField.position, CustomField.id],
    filters=[Filter("entity", _l("Records"), list(ENTITY_LABELS.items()),
                    lambda s, v: s.where(CustomField.entity == v))],
    audit_entity="custom_fields", mass_fields=list(EDIT_FIELDS["custom_fields"]))
_blueprint(CUSTOM_FIELDS)

assert set(CUSTOM_FIELD_ENTITIES) == set(ENTITY_LABELS) and set(CUSTOM_FIELD_TYPES) == set(TYPE_LABELS)
assert set(TAX_APPLIES_TO) == {a for a, _ in APPLIES}
