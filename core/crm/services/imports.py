"""Importing spreadsheets: products, services, bundles, accounts, contacts, vendors, price book
entries and opening stock, from CSV or XLSX files (:mod:`crm.services.import_files`).

An import maps the file's columns onto an entity's fields (guessed from the headers in English
and Spanish, editable, saved by name), converts each cell as the file's language writes numbers
and dates, checks every row as the API checks a request (the API's schemas, registered with
:func:`register_loaders`) and writes it through the same services the API and the pages call
(:mod:`crm.services.items`, ``accounts``, ``contacts``, ``vendors``, ``price_books``,
``stock``): imported data obeys exactly their rules.

Rows are written in batches, each in a savepoint: a row the services refuse is rolled back alone
and reported (row number, column, reason). All or nothing (the default): one refused row and
the caller rolls everything back. Partial: the valid rows stay and the rejected ones come back
as a CSV with an error column. What an import created and updated (with the previous values)
is kept in ``import_rows`` so that :func:`undo` can remove and restore it.

Nothing here commits: the caller (CLI, API, page, job) owns the transaction. A preview or a dry
run is an import whose transaction is rolled back.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from babel.numbers import NumberFormatError, parse_decimal as parse_localized
from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from sqlalchemy import Table, func, literal, select
from sqlalchemy.orm import Session

from crm import collector, dates, money
from crm.context import current_actor_id
from crm.errors import Conflict, CRMError, NotFound, ValidationError
from crm.models import Account, Contact, CustomField, Item, PriceBook, Tax, Vendor
from crm.models.base import utcnow
from crm.models.imports import ImportMapping, ImportRow, ImportRun
from crm.models.stock import ADJUSTMENT_REASONS
from crm.money import decimal_text
from crm.services import accounts, contacts, items, price_books, records, stock, vendors
from crm.services.custom_fields import fields_for
from crm.services.import_files import Formula, Sheet
from crm.services.records import insert_rows, matching, saves_batched

ENTITIES = ("products", "services", "bundles", "accounts", "contacts", "vendors", "price_book_entries", "stock")
ON_DUPLICATE = ("skip", "update", "create")
LOCALES = ("en", "es")
#: the permission resource whose ``write`` right an import of each entity needs
PERMISSIONS = {"products": "catalog", "services": "catalog", "bundles": "catalog", "price_book_entries": "catalog",
               "accounts": "accounts", "contacts": "accounts", "vendors": "vendors", "stock": "stock"}
ENTITY_LABELS = {"products": _l("Products"), "services": _l("Services"), "bundles": _l("Bundles"),
                 "accounts": _l("Accounts"), "contacts": _l("Contacts"), "vendors": _l("Vendors"),
                 "price_book_entries": _l("Price book entries"), "stock": _l("Opening stock")}
#: the keys duplicates are found by, the first being the default
KEYS = {"products": ("sku", "name"), "bundles": ("sku", "name"), "services": ("name",),
        "accounts": ("name", "email", "tax_id"), "contacts": ("email", "name"), "vendors": ("name", "email"),
        "price_book_entries": ("item",), "stock": ()}
KEY_LABELS = {"sku": _l("SKU"), "name": _l("Name"), "email": _l("Email"), "tax_id": _l("Tax number"),
              "item": _l("Item")}
CUSTOM_ENTITY = {"products": "items", "services": "items", "bundles": "items", "accounts": "accounts",
                 "contacts": "contacts", "vendors": "vendors"}
BATCH = 500
#: the errors kept on an import's record (all of them go into the rejected rows' file)
MAX_KEPT_ERRORS = 1000
ADDRESS_KEYS = ("street", "city", "state", "postal_code", "country")
_ADDRESS_LABELS = {"street": _l("Street"), "city": _l("City"), "state": _l("State"),
                   "postal_code": _l("Postal code"), "country": _l("Country")}


@dataclass(frozen=True)
class Field:
    """A field a column can be mapped to: its key (``unit_price``, ``billing_address.city``,
    ``custom.color``), label, kind (how a cell is read) and other header names it answers to."""

    key: str
    label: Any
    kind: str = "text"
    required: bool = False
    aliases: tuple[str, ...] = ()
    custom: CustomField | None = None


def _f(key: str, label: Any, kind: str = "text", required: bool = False, *aliases: str) -> Field:
    return Field(key, label, kind, required, aliases)


_ITEM_COMMON = [
    _f("name", _l("Name"), "text", True, "product", "producto", "item", "artículo", "articulo", "description corta",
       "denominación", "nombre del producto"),
    _f("unit_price", _l("Unit price"), "money", True, "price", "precio", "pvp", "precio de venta", "sale price",
       "list price", "precio unidad"),
    _f("purchase_cost", _l("Purchase cost"), "money", False, "cost", "coste", "costo", "precio de compra",
       "cost price"),
    _f("usage_unit", _l("Usage unit"), "text", False, "unit", "unidad", "uom"),
    _f("category", _l("Category"), "text", False, "categoría", "familia", "family"),
    _f("taxes", _l("Taxes"), "taxes", False, "tax", "impuesto", "iva", "vat"),
    _f("description", _l("Description"), "text", False, "descripción", "notes", "notas"),
    _f("active", _l("Active"), "bool", False, "activo", "enabled", "status", "estado"),
]
_PRODUCT_ONLY = [
    _f("sku", _l("SKU"), "text", False, "code", "código", "codigo", "ref", "reference", "referencia", "item code"),
    _f("qty_per_unit", _l("Quantity per unit"), "quantity", False, "cantidad por unidad"),
    _f("subcategory", _l("Subcategory"), "text", False, "subcategoría", "subfamilia"),
    _f("manufacturer", _l("Manufacturer"), "text", False, "fabricante", "marca", "brand"),
    _f("vendor", _l("Vendor"), "vendor", False, "supplier", "proveedor", "vendor name"),
    _f("reorder_level", _l("Reorder level"), "quantity", False, "stock mínimo", "stock minimo", "minimum stock",
       "punto de pedido"),
]
_PARTY_COMMON = [
    _f("email", _l("Email"), "text", False, "e-mail", "mail", "correo", "correo electrónico", "email address"),
    _f("phone", _l("Phone"), "text", False, "telephone", "teléfono", "telefono", "tel", "móvil", "mobile"),
    _f("website", _l("Website"), "text", False, "web", "url", "sitio web", "página web"),
]


def _address(prefix: str, label: Any, *aliases: str) -> list[Field]:
    fields = []
    for key in ADDRESS_KEYS:
        extra = aliases if key == "street" else ()
        fields.append(Field(f"{prefix}.{key}", _AddressLabel(label, key), "text", False, extra))
    return fields


class _AddressLabel:
    """"Billing address: City", translated when shown."""

    def __init__(self, label: Any, key: str):
        self.label, self.key = label, key

    def __str__(self) -> str:
        return f"{self.label}: {_ADDRESS_LABELS[self.key]}"


STATIC_FIELDS: dict[str, list[Field]] = {
    "products": _ITEM_COMMON[:1] + _PRODUCT_ONLY[:1] + _ITEM_COMMON[1:] + _PRODUCT_ONLY[1:],
    "bundles": _ITEM_COMMON[:1] + _PRODUCT_ONLY[:1] + _ITEM_COMMON[1:] + _PRODUCT_ONLY[2:4]
    + [_f("components", _l("Components"), "components", True, "componentes", "contents", "contenido")],
    "services": list(_ITEM_COMMON),
    "accounts": [_f("name", _l("Name"), "text", True, "account", "cuenta", "company", "empresa", "razón social",
                    "customer", "cliente", "account name"),
                 *_PARTY_COMMON,
                 _f("tax_id", _l("Tax number"), "text", False, "tax id", "vat number", "nif", "cif", "nif/cif",
                    "número fiscal"),
                 *_address("billing_address", _l("Billing address"), "address", "dirección", "direccion"),
                 *_address("shipping_address", _l("Shipping address"), "dirección de envío"),
                 _f("description", _l("Description"), "text", False, "descripción", "notes", "notas"),
                 _f("active", _l("Active"), "bool", False, "activo", "status", "estado")],
    "contacts": [_f("first_name", _l("First name"), "text", False, "first", "given name", "nombre de pila"),
                 _f("last_name", _l("Last name"), "text", True, "surname", "apellido", "apellidos", "family name"),
                 _f("title", _l("Job title"), "text", False, "title", "position", "puesto", "cargo"),
                 *_PARTY_COMMON[:2],
                 _f("account", _l("Account"), "account", False, "company", "empresa", "cliente", "customer",
                    "organization", "organización"),
                 _f("active", _l("Active"), "bool", False, "activo", "status", "estado")],
    "vendors": [_f("name", _l("Name"), "text", True, "vendor", "proveedor", "supplier", "company", "empresa"),
                *_PARTY_COMMON,
                *_address("address", _l("Address"), "dirección", "direccion"),
                _f("description", _l("Description"), "text", False, "descripción", "notes", "notas"),
                _f("active", _l("Active"), "bool", False, "activo", "status", "estado")],
    "price_book_entries": [
        _f("price_book", _l("Price book"), "price_book", True, "tarifa", "lista de precios", "price list"),
        _f("item", _l("Item"), "item", True, "product", "producto", "sku", "código", "codigo", "artículo",
           "referencia", "ref"),
        _f("list_price", _l("List price"), "money", True, "price", "precio", "precio de tarifa")],
    "stock": [_f("product", _l("Product"), "product", True, "sku", "item", "producto", "artículo", "código",
                 "codigo", "referencia", "ref"),
              _f("quantity", _l("Quantity on hand"), "quantity", True, "quantity", "qty", "cantidad", "stock",
                 "existencias", "on hand", "unidades", "units"),
              _f("reason", _l("Reason"), "reason", False, "motivo", "razón"),
              _f("note", _l("Note"), "text", False, "nota", "notes", "notas", "comment", "comentario")],
}


def fields_of(session: Session, entity: str) -> list[Field]:
    """The fields an entity's columns can be mapped to, its active custom fields included."""
    check_entity(entity)
    result = list(STATIC_FIELDS[entity])
    if entity in CUSTOM_ENTITY:
        result += [Field(f"custom.{f.key}", f.label, "custom", f.required, (f.key,), f)
                   for f in fields_for(session, CUSTOM_ENTITY[entity])]
    return result


def check_entity(entity: str) -> None:
    if entity not in ENTITIES:
        raise ValidationError.for_field("entity", _("must be one of %(choices)s", choices=", ".join(ENTITIES)))


# --- guessing the mapping ----------------------------------------------------------------------------

def normalized(header: object) -> str:
    """A header compared without case, accents, punctuation or extra spaces."""
    text = unicodedata.normalize("NFKD", str(header or "")).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _names(field: Field) -> list[str]:
    names = [field.key, field.key.replace("_", " "), field.key.replace(".", " ").replace("_", " ")]
    for language in LOCALES:
        with force_locale(language):
            names.append(str(field.label))
    names += list(field.aliases)
    return [normalized(name) for name in names]


def guess_mapping(session: Session, entity: str, headers: list[str]) -> dict[str, str | None]:
    """header -> field key (or None) for each header: its field's key or label in English or
    Spanish, else one of the usual names of it; each field taken once (the first header wins)."""
    fields = fields_of(session, entity)
    exact = [(f, set(_names(f)[:5])) for f in fields]   # key and labels before aliases
    loose = [(f, set(_names(f))) for f in fields]
    mapping: dict[str, str | None] = {}
    taken: set[str] = set()
    for candidates in (exact, loose):
        for header in headers:
            if mapping.get(header) or not str(header).strip():
                continue
            name = normalized(header)
            for f, names in candidates:
                if f.key not in taken and name in names:
                    mapping[header] = f.key
                    taken.add(f.key)
                    break
    return {header: mapping.get(header) for header in headers}


def check_mapping(session: Session, entity: str, headers: list[str], mapping: dict) -> dict[str, str]:
    """The mapping kept for the file's headers (unknown fields refused, a field mapped once) and
    every required field mapped; a ValidationError naming the column or field otherwise."""
    fields = {f.key: f for f in fields_of(session, entity)}
    result: dict[str, str] = {}
    used: dict[str, str] = {}
    for header, key in (mapping or {}).items():
        if not key:
            continue
        if not isinstance(key, str) or key not in fields:
            raise ValidationError.for_field(f"mapping.{header}", _("unknown field %(field)s", field=repr(key)))
        if header not in headers:
            continue   # a saved mapping may name columns this file does not have
        if key in used:
            raise ValidationError.for_field(f"mapping.{header}", _(
                "%(field)s is already mapped to column %(column)s", field=str(fields[key].label),
                column=repr(used[key])))
        used[key] = header
        result[header] = key
    missing = [f for f in fields.values() if f.required and f.key not in used and f.kind != "custom"]
    if missing:
        names = ", ".join(str(f.label) for f in missing)
        raise ValidationError(_("a required column is missing: %(fields)s; map a column of the file to it",
                                fields=names), {"mapping": [_("missing %(fields)s", fields=names)]},
                              code="missing_column")
    return result


# --- saved mappings ----------------------------------------------------------------------------------

def saved_mappings(session: Session, entity: str) -> list[ImportMapping]:
    check_entity(entity)
    return list(session.scalars(select(ImportMapping).where(ImportMapping.entity == entity)
                                .order_by(func.lower(ImportMapping.name))))


def get_mapping(session: Session, entity: str, name: str) -> ImportMapping:
    mapping = session.scalar(select(ImportMapping).where(ImportMapping.entity == entity, ImportMapping.name == name))
    if mapping is None:
        raise NotFound(_("no saved mapping named %(name)s for %(entity)s", name=repr(name), entity=entity),
                       {"mapping": [_("not found")]})
    return mapping


def save_mapping(session: Session, entity: str, name: str, columns: dict) -> ImportMapping:
    """Save (or replace) the mapping ``name`` of ``entity``: header -> field key."""
    check_entity(entity)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError.for_field("name", _("give a name of 1 to 100 characters"))
    keys = {f.key for f in fields_of(session, entity)}
    clean = {}
    for header, key in (columns or {}).items():
        if not isinstance(header, str) or len(header) > 200:
            raise ValidationError.for_field("columns", _("column names are text of at most 200 characters"))
        if key in (None, ""):
            continue
        if key not in keys:
            raise ValidationError.for_field(f"columns.{header}", _("unknown field %(field)s", field=repr(key)))
        clean[header] = key
    mapping = session.scalar(select(ImportMapping).where(ImportMapping.entity == entity, ImportMapping.name == name))
    if mapping is None:
        mapping = ImportMapping(entity=entity, name=name, user_id=current_actor_id())
        session.add(mapping)
    mapping.columns = clean
    session.flush()
    return mapping


def delete_mapping(session: Session, mapping: ImportMapping) -> None:
    session.delete(mapping)
    session.flush()


# --- reading cells -----------------------------------------------------------------------------------

class CellError(Exception):
    """A cell that cannot be read (its reason)."""


_TYPED_NUMBER = re.compile(r"[+-]?[0-9.,]+")
_TRUE = {"yes", "y", "true", "1", "si", "s", "x", "verdadero", "active", "activo", "activa"}
_FALSE = {"no", "n", "false", "0", "falso", "inactive", "inactivo", "inactiva"}
_DAY_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?")


def cell_text(value: Any) -> str:
    """A cell as text: numbers without exponent or float noise, dates in ISO form; a leading
    apostrophe that kept a formula-like text from being a formula (the exports write one) dropped."""
    if value is None:
        return ""
    if isinstance(value, Formula):
        raise CellError(_("a formula (%(formula)s) is not imported: replace it by its value",
                          formula=value.text[:40]))
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, Decimal)):
        return decimal_text(Decimal(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        text = text[1:]
    return text


def parse_number(value: Any, locale: str) -> Decimal:
    """A number cell, or a text written as ``locale`` writes numbers (``1.234,56`` in Spanish,
    ``1,234.56`` in English) or plainly (``1234.56``, as the exports write them)."""
    if isinstance(value, bool):
        raise CellError(_("must be a number"))
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    text = cell_text(value).replace("\u00a0", "").replace(" ", "")
    for symbol in ("€", "$", "£"):
        text = text.replace(symbol, "")
    if not _TYPED_NUMBER.fullmatch(text) or len(text) > money.MAX_NUMBER_TEXT:
        raise CellError(_("must be a number"))
    attempts = ("plain", locale) if locale == "en" else (locale, "plain")
    for attempt in attempts:
        try:
            if attempt == "plain":
                return money.parse_decimal(text)
            return parse_localized(text, locale=attempt, strict=True)
        except (ValueError, NumberFormatError):
            continue
    raise CellError(_("must be a number (as %(example)s)", example="1.234,56" if locale == "es" else "1,234.56"))


def parse_date(value: Any, locale: str) -> dt.date:
    """A date cell, or ``YYYY-MM-DD``, or ``31/12/2026`` (day first: Spanish) or ``12/31/2026``
    (month first: English), between :data:`crm.dates.MIN_DATE` and :data:`crm.dates.MAX_DATE`."""
    result = None
    if isinstance(value, dt.datetime):
        result = value.date()
    elif isinstance(value, dt.date):
        result = value
    else:
        text = cell_text(value)
        try:
            match = _ISO_DATE.fullmatch(text)
            if match:
                year, month, day = (int(g) for g in match.groups())
                result = dt.date(year, month, day)
            match = _DAY_FIRST.fullmatch(text)
            if match:
                first, second, year = (int(g) for g in match.groups())
                day, month = (first, second) if locale == "es" else (second, first)
                result = dt.date(year, month, day)
        except ValueError:
            result = None
    if result is None:
        raise CellError(_("must be a date (%(example)s)", example="31/12/2026" if locale == "es" else "2026-12-31"))
    if not dates.in_range(result):
        raise CellError(dates.range_message())
    return result


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = normalized(cell_text(value))
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(_("must be yes or no"))


def guess_locale(sheet: Sheet, mapping: dict[str, str], fields: dict[str, Field]) -> str:
    """``es`` when the file's numbers or dates are written the Spanish way (a decimal comma,
    day first), ``en`` when written the English way; else the language of its headers."""
    columns = [i for i, h in enumerate(sheet.headers) if mapping.get(h) in fields
               and fields[mapping[h]].kind in ("money", "quantity", "custom")]
    votes = {"es": 0, "en": 0}
    for row in sheet.rows[:500]:
        for index in columns:
            cell = row[index] if index < len(row) else None
            if not isinstance(cell, str):
                continue
            text = cell.strip().replace(" ", "")
            if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})*,\d+|[+-]?\d+,\d{1,2}", text):
                votes["es"] += 1
            elif re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?|[+-]?\d+\.\d{1,2}", text):
                votes["en"] += 1
    if votes["es"] != votes["en"]:
        return "es" if votes["es"] > votes["en"] else "en"
    spanish = sum(1 for h in sheet.headers if _is_spanish(h))
    return "es" if spanish > len([h for h in sheet.headers if h]) / 3 else "en"


_SPANISH_WORDS = {"nombre", "precio", "categoria", "descripcion", "activo", "proveedor", "impuestos", "cantidad",
                  "apellidos", "apellido", "telefono", "correo", "cuenta", "direccion", "coste", "unidad",
                  "fabricante", "referencia", "codigo", "tarifa", "motivo", "nota", "componentes", "producto",
                  "subcategoria", "existencias", "nivel", "unitario"}


def _is_spanish(header: str) -> bool:
    return bool(set(normalized(header).split()) & _SPANISH_WORDS)


# --- loaders: a row checked as the API checks a request ------------------------------------------

Loader = Callable[[dict], dict]
_LOADERS: dict[str, tuple[Loader, Loader]] = {}


def register_loaders(entity: str, create: Loader, update: Loader) -> None:
    """How a row of ``entity`` is checked before its service is called, for a new record and
    for an update: the API's schemas (``crm.api.imports`` registers them). A loader returns the
    data the service takes, or raises a :class:`~crm.errors.ValidationError` naming fields."""
    _LOADERS[entity] = (create, update)


def _load(entity: str, data: dict, *, update: bool) -> dict:
    loaders = _LOADERS.get(entity)
    if loaders is None:
        return dict(data)
    return loaders[1 if update else 0](data)


# --- the import --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Options:
    """What an import does: column header -> field key, the duplicate key and what a duplicate
    does, whether the valid rows are kept when others are refused, and the file's language."""

    mapping: dict[str, str]
    key: str | None = None
    on_duplicate: str = "skip"
    partial: bool = False
    locale: str | None = None

    def as_dict(self) -> dict:
        return {"mapping": self.mapping, "key": self.key, "on_duplicate": self.on_duplicate,
                "partial": self.partial, "locale": self.locale}


def options_from(session: Session, entity: str, sheet: Sheet, *, mapping: dict | None = None, key: str | None = None,
                 on_duplicate: str = "skip", partial: bool = False, locale: str | None = None) -> Options:
    """Checked options for importing ``sheet``: the mapping given (else guessed), its required
    columns, the key (else the entity's first), the action on duplicates, the locale (else guessed)."""
    check_entity(entity)
    if on_duplicate not in ON_DUPLICATE:
        raise ValidationError.for_field("on_duplicate", _("must be one of %(choices)s", choices=", ".join(ON_DUPLICATE)))
    keys = KEYS[entity]
    explicit = key not in (None, "")
    if explicit and key not in keys:
        raise ValidationError.for_field("key", _("must be one of %(choices)s", choices=", ".join(keys) or "-"))
    if locale not in (None, "", *LOCALES):
        raise ValidationError.for_field("locale", _("must be one of %(choices)s", choices=", ".join(LOCALES)))
    chosen = check_mapping(session, entity, sheet.headers,
                           mapping if mapping is not None else guess_mapping(session, entity, sheet.headers))
    fields = {f.key: f for f in fields_of(session, entity)}
    if not explicit:   # the first key the file has a column for; none: every row is new
        key = next((k for k in keys if _has_key_column(entity, k, chosen)), None)
    if key and not _has_key_column(entity, key, chosen):
        raise ValidationError(_("the duplicate key %(key)s has no column: map one to it or choose another key",
                                key=str(KEY_LABELS.get(key, key))), {"key": [_("no column")]}, code="missing_column")
    return Options(chosen, key, on_duplicate, bool(partial), locale or guess_locale(sheet, chosen, fields))


def _has_key_column(entity: str, key: str, mapping: dict[str, str]) -> bool:
    if entity == "price_book_entries":
        return True
    if entity == "contacts" and key == "name":
        return "last_name" in mapping.values()
    return key in mapping.values()


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Outcome:
    """What an import did (or would do): counts, the errors by row, the records it touched."""

    total: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)   # indexes into the sheet's rows
    records: list[dict] = field(default_factory=list)    # import_rows to write
    locale: str = "en"

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    def as_dict(self, limit: int = MAX_KEPT_ERRORS) -> dict:
        return {"total": self.total, "created": self.created, "updated": self.updated, "skipped": self.skipped,
                "rejected": self.rejected_count, "locale": self.locale,
                "errors": [e.as_dict() for e in self.errors[:limit]]}


class ImportRefused(ValidationError):
    """Rows were refused and the import is all or nothing: nothing is written."""

    code = "import_refused"

    def __init__(self, outcome: Outcome):
        first = outcome.errors[0]
        super().__init__(_("%(count)s rows refused; nothing was imported. Row %(row)s, column %(column)s: %(reason)s",
                           count=outcome.rejected_count, row=first.row, column=repr(first.column),
                           reason=first.message),
                         {f"rows.{e.row}.{e.column}": [e.message] for e in outcome.errors[:MAX_KEPT_ERRORS]})
        self.outcome = outcome


class _RowRefused(Exception):
    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(errors)
        self.errors = errors


def run(session: Session, entity: str, sheet: Sheet, options: Options, *,
        progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Import every row of ``sheet``: each checked and written through its service, a refused
    row rolled back alone (savepoints) and reported. Never commits; in an all-or-nothing
    import with refused rows the caller must roll back (:func:`perform` raises)."""
    importer = _Importer(session, entity, sheet, options)
    outcome = importer.outcome
    outcome.total = len(sheet.rows)
    with collector.bulk_work():
        for start in range(0, len(sheet.rows), BATCH):
            importer.batch(range(start, min(start + BATCH, len(sheet.rows))))
            if progress is not None:
                progress(min(start + BATCH, len(sheet.rows)), len(sheet.rows))
    outcome.errors.sort(key=lambda e: e.row)
    return outcome


def perform(session: Session, import_run: ImportRun, sheet: Sheet, options: Options, *,
            progress: Callable[[int, int], None] | None = None) -> Outcome:
    """:func:`run`, then record it on ``import_run`` (what it created and updated, for undo);
    raises :class:`ImportRefused` when rows were refused and the import is all or nothing."""
    outcome = run(session, import_run.entity, sheet, options, progress=progress)
    if outcome.errors and not options.partial:
        raise ImportRefused(outcome)
    for start in range(0, len(outcome.records), 5000):
        insert_rows(session, cast(Table, ImportRow.__table__),
                    [{**r, "run_id": import_run.id} for r in outcome.records[start:start + 5000]])
    import_run.options = options.as_dict()
    import_run.status = "done"
    import_run.total_rows = outcome.total
    import_run.processed_rows = outcome.total
    import_run.created_count, import_run.updated_count = outcome.created, outcome.updated
    import_run.skipped_count, import_run.rejected_count = outcome.skipped, outcome.rejected_count
    import_run.errors = [e.as_dict() for e in outcome.errors[:MAX_KEPT_ERRORS]]
    import_run.rejects = rejects_csv(sheet, outcome) if outcome.rejected else None
    import_run.finished_at = utcnow()
    import_run.file_data = None
    session.flush()
    return outcome


def rejects_csv(sheet: Sheet, outcome: Outcome) -> str:
    """The rejected rows as CSV: the file's columns, then the row number and the errors."""
    by_row: dict[int, list[str]] = {}
    for error in outcome.errors:
        by_row.setdefault(error.row, []).append(f"{error.column}: {error.message}" if error.column else error.message)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*sheet.headers, _("Row"), _("Error")])
    for index in outcome.rejected:
        cells = [_export_cell(c) for c in sheet.rows[index]]
        cells += [""] * (len(sheet.headers) - len(cells))
        number = sheet.numbers[index]
        writer.writerow([*cells[:len(sheet.headers)], number, "; ".join(by_row.get(number, []))])
    return buffer.getvalue()


def _export_cell(value: Any) -> str:
    if isinstance(value, Formula):
        return "'" + value.text
    try:
        return cell_text(value)
    except CellError:
        return str(value)


class _Importer:
    """One import's state: the mapping's columns, lookups of referenced records, the records
    created by earlier rows (a later row with the same key is their duplicate)."""

    def __init__(self, session: Session, entity: str, sheet: Sheet, options: Options):
        self.session, self.entity, self.sheet, self.options = session, entity, sheet, options
        self.fields = {f.key: f for f in fields_of(session, entity)}
        self.columns = [(index, header, self.fields[options.mapping[header]])
                        for index, header in enumerate(sheet.headers) if options.mapping.get(header)]
        self.column_of = {f.key: header for _index, header, f in self.columns}
        self.outcome = Outcome(locale=options.locale or "en")
        self.created_keys: dict[str, int] = {}
        self._cache: dict[tuple[str, str], Any] = {}
        self.stock_products: set[int] = set()
        #: the records this batch updates, locked (:meth:`_lock_updated`)
        self._locked: dict[int, Any] = {}
        #: in a batch of plain items, the new ones wait to be created together (items.insert_items)
        self.bulk = False
        #: in a batch of accounts, contacts or vendors, the service's function checking and making a
        #: record without adding it: the new records are added together (records.add_records)
        self.new: Callable[..., Any] | None = None
        #: (row number, the item's data or the new record, key) waiting for :meth:`flush_pending`
        self.pending: list[tuple[int, Any, str | None]] = []
        self.pending_keys: set[str] = set()
        #: in a batch of products, services, accounts, contacts or vendors, the service's function
        #: changing a record without its flush: the records updated are written together
        #: (records.store_changes)
        self.change: Callable[..., Any] | None = None
        self.changed: list[Any] = []

    # -- one batch ----------------------------------------------------------------------------

    def batch(self, indexes: range) -> None:
        prepared = []
        for index in indexes:
            number = self.sheet.numbers[index]
            try:
                prepared.append((index, number, self.prepare(self.sheet.rows[index])))
            except _RowRefused as refused:
                self.reject(index, number, refused.errors)
        if not prepared:
            return
        self._preload(prepared)
        records_before = len(self.outcome.records)
        counts = (self.outcome.created, self.outcome.updated, self.outcome.skipped)
        keys_before, stock_before = dict(self.created_keys), set(self.stock_products)
        self._lock_updated(prepared)
        savepoint = self.session.begin_nested()
        self.bulk = self.entity in ("products", "services")
        service = _UNDOERS.get(self.entity)
        self.change, self.new = (service.change, service.new) if service is not None else (None, None)
        try:
            with saves_batched(self.session):   # the plugins told once per batch (crm_records_saved)
                for _index, number, values in prepared:
                    self.write(number, values)
                self.flush_pending()
            savepoint.commit()
            return
        except (_RowFailed, CRMError):
            savepoint.rollback()
        finally:
            self.bulk, self.change, self.new = False, None, None
            self.pending, self.pending_keys, self.changed = [], set(), []
        # redo the batch row by row, each in its savepoint, to keep the rows that pass
        del self.outcome.records[records_before:]
        self.outcome.created, self.outcome.updated, self.outcome.skipped = counts
        self.created_keys, self.stock_products = keys_before, stock_before
        self._cache = {k: v for k, v in self._cache.items() if k[0] not in ("existing",)}
        self.session.expire_all()
        for index, number, values in prepared:
            savepoint = self.session.begin_nested()
            try:
                with saves_batched(self.session):
                    self.write(number, values)
                savepoint.commit()
            except _RowFailed as failed:
                savepoint.rollback()
                self.reject(index, number, failed.errors)
            except CRMError as exc:   # a plugin told of the row refused it
                savepoint.rollback()
                self.reject(index, number, self.errors_of(exc))

    def _lock_updated(self, prepared: list[tuple[int, int, dict]]) -> None:
        """The existing records the batch's rows update, loaded and locked in one query (instead
        of one per row): :meth:`get` finds them."""
        self._locked = {}
        if self.options.on_duplicate != "update" or self.entity in ("price_book_entries", "stock"):
            return
        ids = set()
        for _index, _number, values in prepared:
            key = self.key_of(values)
            found = self._cache.get(("existing", key)) if key is not None else None
            if found and len(found) == 1:
                ids.add(found[0])
        if not ids:
            return
        model: Any = Item if self.entity in ("products", "bundles", "services") else \
            {"accounts": Account, "contacts": Contact, "vendors": Vendor}[self.entity]
        stmt = select(model).where(model.id.in_(sorted(ids))).order_by(model.id).with_for_update(of=model)
        if model is Item:
            stmt = stmt.options(*items.LOAD)
        self._locked = {record.id: record for record in self.session.scalars(stmt)}

    def reject(self, index: int, number: int, errors: list[tuple[str, str]]) -> None:
        self.outcome.rejected.append(index)
        self.outcome.errors.extend(RowError(number, column, message) for column, message in errors)

    # -- reading a row --------------------------------------------------------------------------

    def prepare(self, row: list) -> dict:
        """The row's values by field key (blank cells left out), or _RowRefused."""
        values: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        locale = self.outcome.locale
        for index, header, f in self.columns:
            cell = row[index] if index < len(row) else None
            try:
                if cell is None or (isinstance(cell, str) and not cell.strip()):
                    continue
                value = self.read_cell(f, cell, locale)
            except CellError as exc:
                errors.append((header, str(exc)))
                continue
            if value is not None:
                values[f.key] = value
        for f in self.fields.values():
            if f.required and f.kind != "custom" and f.key not in values and f.key in self.column_of \
                    and not errors:
                errors.append((self.column_of[f.key], _("is required")))
        if errors:
            raise _RowRefused(errors)
        return values

    def read_cell(self, f: Field, cell: Any, locale: str) -> Any:
        kind = f.kind
        if kind == "text":
            return cell_text(cell)
        if kind in ("money", "quantity"):
            return parse_number(cell, locale)
        if kind == "bool":
            return parse_bool(cell)
        if kind == "custom":
            return self.read_custom(f.custom, cell, locale)
        if kind == "reason":
            return self.read_reason(cell_text(cell))
        if kind == "vendor":
            return self.lookup("vendor", cell_text(cell))
        if kind == "account":
            return self.lookup("account", cell_text(cell))
        if kind == "price_book":
            return self.lookup("price_book", cell_text(cell))
        if kind in ("item", "product"):
            return self.lookup(kind, cell_text(cell))
        if kind == "taxes":
            return [self.lookup("tax", name) for name in _split(cell_text(cell))]
        if kind == "components":
            return self.read_components(cell_text(cell), locale)
        raise CellError(f"unknown kind {kind}")

    def read_custom(self, definition: CustomField | None, cell: Any, locale: str) -> Any:
        assert definition is not None
        if definition.type in ("number", "decimal"):
            return decimal_text(parse_number(cell, locale))
        if definition.type == "date":
            return parse_date(cell, locale).isoformat()
        if definition.type == "boolean":
            return parse_bool(cell)
        text = cell_text(cell)
        if definition.type == "select":
            for choice in definition.choices or []:
                if normalized(choice) == normalized(text):
                    return choice
        return text

    def read_reason(self, text: str) -> str:
        from crm.labels import REASON_LABELS
        wanted = normalized(text)
        for code in ADJUSTMENT_REASONS:
            names = {normalized(code)}
            for language in LOCALES:
                with force_locale(language):
                    names.add(normalized(str(REASON_LABELS.get(code, code))))
            if wanted in names:
                return code
        raise CellError(_("must be one of %(choices)s", choices=", ".join(ADJUSTMENT_REASONS)))

    def read_components(self, text: str, locale: str) -> list[dict]:
        """``2 × Widget, 1 × SKU-9`` (as the bundles' list shows them) or ``SKU-9:2; SKU-7:1``."""
        result = []
        for part in _split(text):
            match = re.fullmatch(r"([0-9][0-9.,]*)\s*[×xX*]\s*(.+)", part) or None
            if match:
                quantity, reference = match.group(1), match.group(2)
            else:
                match = re.fullmatch(r"(.+?)\s*[:=]\s*([0-9][0-9.,]*)", part)
                if not match:
                    raise CellError(_("write each component as quantity × product (2 × SKU-1), separated by commas"))
                reference, quantity = match.group(1), match.group(2)
            product_id = self.lookup("product", reference.strip())
            result.append({"product_id": product_id, "quantity": decimal_text(parse_number(quantity, locale))})
        if not result:
            raise CellError(_("a bundle needs components"))
        return result

    # -- references ---------------------------------------------------------------------------------

    def lookup(self, kind: str, text: str) -> int:
        """The id of the record ``text`` names: a vendor, account, price book or tax by name
        (an account also by tax number), an item or product by SKU, else by name."""
        text = text.strip()
        cached = self._cache.get((kind, text))
        if cached is not None:
            return cached
        found = self._find(kind, text)
        if len(found) != 1:
            raise CellError(_unknown(kind, text) if not found else
                            _("%(count)s records are named %(name)s: use a unique name or the SKU",
                              count=len(found), name=repr(text)))
        self._cache[(kind, text)] = found[0]
        return found[0]

    def _find(self, kind: str, text: str) -> list[int]:
        session, lowered = self.session, text.lower()
        if kind == "vendor":
            return list(session.scalars(select(Vendor.id).where(func.lower(Vendor.name) == lowered).limit(2)))
        if kind == "account":
            ids = list(session.scalars(select(Account.id).where(func.lower(Account.name) == lowered).limit(2)))
            return ids or list(session.scalars(select(Account.id).where(Account.tax_id == text).limit(2)))
        if kind == "price_book":
            return list(session.scalars(select(PriceBook.id).where(func.lower(PriceBook.name) == lowered).limit(2)))
        if kind == "tax":
            return list(session.scalars(select(Tax.id).where(func.lower(Tax.name) == lowered).limit(2)))
        stmt = select(Item.id)
        if kind == "product":
            stmt = stmt.where(Item.kind == "product")
        by_sku = list(session.scalars(stmt.where(Item.sku == text).limit(2)))
        return by_sku or list(session.scalars(stmt.where(func.lower(Item.name) == lowered).limit(2)))

    # -- duplicates -----------------------------------------------------------------------------------

    def key_of(self, values: dict) -> str | None:
        key = self.options.key
        if key is None or self.entity in ("price_book_entries", "stock"):
            return None
        if key == "name" and self.entity == "contacts":
            name = f"{values.get('first_name', '')} {values.get('last_name', '')}"
            return normalized(name) or None
        value = values.get(key)
        if value in (None, ""):
            return None
        return str(value) if key == "sku" else str(value).strip().lower()

    def _preload(self, prepared: list[tuple[int, int, dict]]) -> None:
        """The existing records the batch's keys name, in one query."""
        keys = {k for k in (self.key_of(v) for _i, _n, v in prepared) if k is not None}
        keys -= {k for (kind, k) in self._cache if kind == "existing"}
        if not keys:
            return
        model, column, kind = self._key_column()
        found: dict[str, list[int]] = {}
        # the kind compared here, not in SQL: with it PostgreSQL may scan the items of the kind
        # (growing with every batch) instead of looking the keys up in their index
        kind_column = model.kind if kind is not None else literal(None)
        for start in range(0, len(keys), 500):
            chunk = sorted(keys)[start:start + 500]
            for record_id, value, record_kind in self.session.execute(
                    select(model.id, column, kind_column).where(matching(column, chunk, self.session))):
                if record_kind == kind:
                    found.setdefault(str(value), []).append(record_id)
        for k in keys:
            self._cache[("existing", k)] = found.get(k, [])

    def _key_column(self) -> tuple[Any, Any, str | None]:
        """The model, the key's column (as compared) and the kind of item (None: not items)."""
        key, entity = self.options.key or "name", self.entity
        if entity in ("products", "bundles", "services"):
            kind = "service" if entity == "services" else "product"
            return Item, (Item.sku if key == "sku" else func.lower(func.trim(Item.name))), kind
        model = {"accounts": Account, "contacts": Contact, "vendors": Vendor}[entity]
        if entity == "contacts" and key == "name":
            full = func.lower(func.trim(Contact.first_name + " " + Contact.last_name))
            return Contact, full, None
        return model, func.lower(func.trim(getattr(model, key))), None

    def existing(self, values: dict) -> list[int]:
        key = self.key_of(values)
        if key is None:
            return []
        if key in self.pending_keys:
            self.flush_pending()
        if key in self.created_keys:
            return [self.created_keys[key]]
        if self.entity == "contacts" and self.options.key == "name":
            key = " ".join(key.split())
        cached = self._cache.get(("existing", key))
        if cached is None:
            self._preload([(0, 0, values)])
            cached = self._cache.get(("existing", key), [])
        return cached

    # -- writing ----------------------------------------------------------------------------------------

    def write(self, number: int, values: dict) -> None:
        try:
            if self.entity == "stock":
                self.write_stock(number, values)
            elif self.entity == "price_book_entries":
                self.write_price(number, values)
            else:
                self.write_record(number, values)
        except CRMError as exc:
            raise _RowFailed(self.errors_of(exc)) from None

    def write_record(self, number: int, values: dict) -> None:
        found = self.existing(values)
        action = self.options.on_duplicate
        if found and action == "skip":
            self.outcome.skipped += 1
            return
        if len(found) > 1 and action == "update":
            raise Conflict(_("%(count)s records match %(key)s %(value)s: choose another key", count=len(found),
                             key=str(KEY_LABELS.get(self.options.key or "", "")), value=repr(self.key_of(values))),
                           {self.options.key or "": [_("matches several records")]})
        if found and action == "update":
            record = self.get(found[0])
            data = _load(self.entity, self.service_data(values, record), update=True)
            previous = snapshot(record, data)
            if self.change is not None:   # checked and changed now, written with the batch's other changes
                self.change(self.session, record, data)
                self.changed.append(record)
            else:
                self.update(record, data)
            self.outcome.updated += 1
            self.outcome.records.append({"row": number, "action": "updated", "record_id": record.id,
                                         "item_id": None, "previous": previous})
            return
        data = _load(self.entity, self.service_data(values, None), update=False)
        key = self.key_of(values)
        if self.bulk or self.new is not None:
            self.pending.append((number, data if self.new is None else self.new(self.session, data), key))
            if key is not None:
                self.pending_keys.add(key)
            return
        self.created(number, self.create(data).id, key)

    def created(self, number: int, record_id: int, key: str | None) -> None:
        self.outcome.created += 1
        self.outcome.records.append({"row": number, "action": "created", "record_id": record_id, "item_id": None,
                                     "previous": {}})
        if key is not None:
            self.created_keys[key] = record_id

    def flush_pending(self) -> None:
        """Write the records changed in this batch and create the new ones waiting, together."""
        pending, self.pending = self.pending, []
        changed, self.changed = self.changed, []
        self.pending_keys = set()
        if not (changed or pending):
            return
        service = _UNDOERS[self.entity]
        try:
            if changed:
                records.store_changes(self.session, service.entity, changed, service.unique)
            if not pending:
                return
            if self.new is not None:
                new = [record for _number, record, _key in pending]
                records.add_records(self.session, service.entity, new, service.unique)
                ids = [record.id for record in new]
            else:
                ids = items.insert_items(self.session, "service" if self.entity == "services" else "product",
                                         [data for _number, data, _key in pending])
        except CRMError as exc:
            raise _RowFailed(self.errors_of(exc)) from None
        for (number, _data, key), record_id in zip(pending, ids):
            self.created(number, record_id, key)

    def service_data(self, values: dict, record: Any) -> dict:
        """The row as the API's JSON body would carry it."""
        data: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        addresses: dict[str, dict] = {}
        for key, value in values.items():
            f = self.fields[key]
            if f.kind == "custom":
                custom[key.partition(".")[2]] = value
            elif "." in key:
                prefix, _dot, part = key.partition(".")
                addresses.setdefault(prefix, {})[part] = value
            elif f.kind in ("money", "quantity"):
                data[key] = decimal_text(value)
            elif f.kind == "vendor":
                data["vendor_id"] = value
            elif f.kind == "account":
                data["account_id"] = value
            elif f.kind == "taxes":
                data["tax_ids"] = value
            else:
                data[key] = value
        if custom:
            data["custom"] = custom
        for prefix, parts in addresses.items():
            current = dict(getattr(record, prefix, None) or {}) if record is not None else {}
            data[prefix] = {k: current.get(k, "") or "" for k in ADDRESS_KEYS} | parts
        if self.entity == "bundles" and record is None and "components" not in data:
            data["components"] = []
        return data

    def get(self, record_id: int) -> Any:
        locked = self._locked.get(record_id)
        if locked is not None and (self.entity not in ("products", "bundles", "services")
                                   or locked.kind == ("service" if self.entity == "services" else "product")):
            return locked
        if self.entity in ("products", "bundles", "services"):
            return items.get_item(self.session, record_id, for_update=True)
        return {"accounts": accounts.get_account, "contacts": contacts.get_contact,
                "vendors": vendors.get_vendor}[self.entity](self.session, record_id, for_update=True)

    def create(self, data: dict) -> Any:
        if self.entity in ("products", "bundles"):
            return items.create_item(self.session, "product", data)
        if self.entity == "services":
            return items.create_item(self.session, "service", data)
        if self.entity == "accounts":
            return accounts.create_account(self.session, data)
        if self.entity == "contacts":
            return contacts.create_contact(self.session, data)
        return vendors.create_vendor(self.session, data)

    def update(self, record: Any, data: dict) -> None:
        if self.entity in ("products", "bundles", "services"):
            items.update_item(self.session, record, data)
        elif self.entity == "accounts":
            accounts.update_account(self.session, record, data)
        elif self.entity == "contacts":
            contacts.update_contact(self.session, record, data)
        else:
            vendors.update_vendor(self.session, record, data)

    def write_price(self, number: int, values: dict) -> None:
        data = _load(self.entity, {"item_id": values["item"], "list_price": decimal_text(values["list_price"])},
                     update=False)
        book = price_books.get_price_book(self.session, values["price_book"], for_update=True)
        current = {entry.item_id: entry.list_price for entry in book.prices}
        item_id, price = data["item_id"], data["list_price"]
        if item_id in current:
            if self.options.on_duplicate == "skip":
                self.outcome.skipped += 1
                return
            if self.options.on_duplicate == "create":
                raise Conflict(_("this item is already in the price book"), {"item": [_("already listed")]})
        previous = current.get(item_id)
        prices = [{"item_id": i, "list_price": p} for i, p in current.items() if i != item_id]
        price_books.update_price_book(self.session, book, {"prices": [*prices, {"item_id": item_id,
                                                                                "list_price": price}]})
        self.outcome.records.append({"row": number, "action": "updated" if previous is not None else "created",
                                     "record_id": book.id, "item_id": item_id,
                                     "previous": {"list_price": str(previous)} if previous is not None else {}})
        if previous is None:
            self.outcome.created += 1
        else:
            self.outcome.updated += 1

    def write_stock(self, number: int, values: dict) -> None:
        if values["product"] in self.stock_products:
            raise ValidationError.for_field("product", _("this product is on an earlier row of the file"))
        data = _load(self.entity, {"product_id": values["product"], "counted_quantity": decimal_text(values["quantity"]),
                                   "reason": values.get("reason") or "count_correction",
                                   "note": values.get("note") or _("opening stock (import)")}, update=False)
        product = items.get_item(self.session, data["product_id"], "product")
        if data["counted_quantity"] == product.on_hand:
            self.outcome.skipped += 1
            self.stock_products.add(product.id)
            return
        move = stock.adjust(self.session, data["product_id"], counted_quantity=data["counted_quantity"],
                            reason=data["reason"], note=data.get("note", ""))
        self.stock_products.add(product.id)
        self.outcome.created += 1
        self.outcome.records.append({"row": number, "action": "moved", "record_id": move.id,
                                     "item_id": move.product_id, "previous": {"quantity": str(move.quantity),
                                                                              "reason": move.reason}})

    def errors_of(self, exc: CRMError) -> list[tuple[str, str]]:
        """A service's refusal -> (column, reason) pairs, its fields named by their columns."""
        if not exc.fields:
            return [("", exc.message)]
        result: list[tuple[str, str]] = []
        for name, reasons in exc.fields.items():
            result.extend((self.column_for(name), reason) for reason in reasons)
        return result

    def column_for(self, name: str) -> str:
        base = name.split(".")[0]
        if base == "custom":
            base = ".".join(name.split(".")[:2])
        elif base in ("billing_address", "shipping_address", "address"):
            base = ".".join(name.split(".")[:2])
        aliases = {"vendor_id": "vendor", "account_id": "account", "tax_ids": "taxes", "item_id": "item",
                   "product_id": "product", "counted_quantity": "quantity"}
        base = aliases.get(base, base)
        return self.column_of.get(base, name)


class _RowFailed(Exception):
    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(errors)
        self.errors = errors


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;\n]", text) if part.strip()]


def _unknown(kind: str, text: str) -> str:
    messages = {"vendor": _("unknown vendor %(name)s", name=repr(text)),
                "account": _("unknown account %(name)s", name=repr(text)),
                "price_book": _("unknown price book %(name)s", name=repr(text)),
                "tax": _("unknown tax %(name)s", name=repr(text)),
                "item": _("unknown item %(name)s (neither a SKU nor a name)", name=repr(text)),
                "product": _("unknown product %(name)s (neither a SKU nor a name)", name=repr(text))}
    return messages[kind]


# --- what an update changed, and undoing --------------------------------------------------------------

def snapshot(record: Any, data: dict) -> dict:
    """The record's values of the fields ``data`` changes, JSON-ready, to restore them."""
    previous: dict[str, Any] = {}
    for key in data:
        if key == "version":
            continue
        if key == "tax_ids":
            previous[key] = [t.id for t in record.taxes]
        elif key == "components":
            previous[key] = [{"component_id": c.component_id, "quantity": str(c.quantity)} for c in record.components]
        elif key == "custom":
            previous[key] = {k: (record.custom or {}).get(k) for k in data["custom"]}
        else:
            value = getattr(record, key)
            previous[key] = str(value) if isinstance(value, Decimal) else (dict(value) if isinstance(value, dict)
                                                                           else value)
    return previous


_DECIMAL_FIELDS = {"unit_price", "purchase_cost", "qty_per_unit", "reorder_level"}


def _restored(previous: dict) -> dict:
    data = dict(previous)
    for key in _DECIMAL_FIELDS & set(data):
        data[key] = Decimal(data[key])
    if "components" in data:
        data["components"] = [{"component_id": c["component_id"], "quantity": Decimal(c["quantity"])}
                              for c in data["components"]]
    return data


def latest_run(session: Session, entity: str) -> ImportRun | None:
    return session.scalar(select(ImportRun).where(ImportRun.entity == entity, ImportRun.status.in_(("done",)))
                          .order_by(ImportRun.id.desc()).limit(1))


def get_run(session: Session, run_id: int, *, for_update: bool = False) -> ImportRun:
    from crm.services.records import get_or_404
    return get_or_404(session, ImportRun, run_id, _("import"), for_update=for_update)


def undo(session: Session, import_run: ImportRun) -> dict[str, int]:
    """Remove what ``import_run`` created and restore what it updated (reversing its stock
    adjustments), newest row first; refused as a whole (a Conflict naming the row and the record)
    when a created record is used by documents or other records, or when a later import of the
    same entity has not been undone. Records are removed 500 at a time (a query per kind of use,
    one flush); bundles, which may be components of one another, one at a time."""
    if import_run.status != "done":
        raise Conflict(_("only a finished import can be undone (this one is %(status)s)", status=import_run.status),
                       {"status": [import_run.status]}, code="not_undoable")
    later = session.scalar(select(ImportRun.id).where(ImportRun.entity == import_run.entity,
                                                      ImportRun.status == "done", ImportRun.id > import_run.id)
                           .limit(1))
    if later is not None:
        raise Conflict(_("import %(id)s of the same records came later: undo it first", id=later),
                       code="not_undoable")
    rows = list(session.scalars(select(ImportRow).where(ImportRow.run_id == import_run.id)
                                .order_by(ImportRow.id.desc())))
    counts = {"deleted": 0, "restored": 0, "reversed": 0}
    entity = import_run.entity
    with collector.bulk_work():
        try:
            if entity == "price_book_entries":
                _undo_prices(session, rows, counts)
            elif entity == "stock":
                for row in rows:
                    _undo_adjustment(session, import_run, row)
                    counts["reversed"] += 1
            else:
                size = 1 if entity == "bundles" else 500
                with saves_batched(session):
                    for start in range(0, len(rows), size):
                        _undo_records(session, _UNDOERS[entity], rows[start:start + size], counts)
        except _UndoRefused as refused:
            raise Conflict(_("import %(id)s cannot be undone: row %(row)s: %(reason)s", id=import_run.id,
                             row=refused.row.row, reason=refused.error.message), code="not_undoable") from None
    import_run.status = "undone"
    import_run.undone_at = utcnow()
    session.flush()
    return counts


class _UndoRefused(Exception):
    def __init__(self, row: ImportRow, error: CRMError):
        super().__init__(error.message)
        self.row, self.error = row, error


@contextlib.contextmanager
def _refusing(row: ImportRow) -> Iterator[None]:
    """A refusal inside the block is the refusal of ``row``."""
    try:
        yield
    except CRMError as exc:
        raise _UndoRefused(row, exc) from None


def _undo_adjustment(session: Session, import_run: ImportRun, row: ImportRow) -> None:
    with _refusing(row):
        stock.adjust(session, row.item_id or 0, quantity=-Decimal(row.previous["quantity"]),
                     reason=row.previous.get("reason") or "count_correction",
                     note=_("undo of import %(id)s", id=import_run.id))


@dataclass(frozen=True)
class _Undoer:
    """How to change and undo the records of an entity's import: its model and its service's
    functions (with ``change``, the checks and changes of ``update`` without its flush, a batch's
    records are changed one at a time and written together, ``unique`` naming the field of a
    value taken meanwhile; without it, ``update`` changes and restores one at a time; with ``new``,
    the checks of ``create`` making a record without adding it, a batch's new records are added
    together; products and services have their own bulk creation, ``items.insert_items``)."""

    model: type
    get: Callable[..., Any]
    delete: Callable[..., Any]
    update: Callable[..., Any]
    references: Callable[[], dict]
    entity: str
    load: tuple = ()
    change: Callable[..., Any] | None = None
    unique: Mapping[str, tuple[str, ...]] | None = None
    new: Callable[..., Any] | None = None


_ITEMS = _Undoer(Item, items.get_item, items.delete_item, items.update_item, items.references, items.ENTITY,
                 items.LOAD, items.change_item, items.UNIQUE)
#: bundles are changed and restored one at a time (a bundle may be a component of another)
_BUNDLES = _Undoer(Item, items.get_item, items.delete_item, items.update_item, items.references, items.ENTITY,
                   items.LOAD)
_UNDOERS = {
    "products": _ITEMS, "services": _ITEMS, "bundles": _BUNDLES,
    "accounts": _Undoer(Account, accounts.get_account, accounts.delete_account, accounts.update_account,
                        accounts.references, accounts.ENTITY, change=accounts.change_account,
                        new=accounts.new_account),
    "contacts": _Undoer(Contact, contacts.get_contact, contacts.delete_contact, contacts.update_contact,
                        contacts.references, contacts.ENTITY, change=contacts.change_contact,
                        new=contacts.new_contact),
    "vendors": _Undoer(Vendor, vendors.get_vendor, vendors.delete_vendor, vendors.update_vendor,
                       vendors.references, vendors.ENTITY, change=vendors.change_vendor,
                       new=vendors.new_vendor),
}


def _undo_records(session: Session, undoer: _Undoer, rows: list[ImportRow], counts: dict) -> None:
    """Undo ``rows``: their records read and locked with one query, the updated ones restored
    (with one flush where the service can), the created ones checked for uses together (the
    first one used is refused through its service's delete, which names its uses) and deleted
    with one flush."""
    model: Any = undoer.model
    found: dict[int, Any] = {record.id: record for record in session.scalars(
        select(model).where(matching(model.id, [row.record_id for row in rows], session))
        .options(*undoer.load).with_for_update())}
    created, updated = [], []
    for row in rows:
        with _refusing(row):
            record = found.get(row.record_id) or undoer.get(session, row.record_id)   # gone: NotFound
            if row.action == "created":
                created.append(record)
            elif undoer.change is not None:
                updated.append((row, record))
            else:
                undoer.update(session, record, _restored(row.previous))
                counts["restored"] += 1
    if updated:
        _restore_together(session, undoer, updated)
        counts["restored"] += len(updated)
    used = records.first_used(session, undoer.references(), [record.id for record in created])
    if used is not None:   # refused by its service, naming its uses (or deleted, were they gone meanwhile)
        with _refusing(next(row for row in rows if row.record_id == used)):
            undoer.delete(session, found[used])
        created = [record for record in created if record.id != used]
        counts["deleted"] += 1
    records.delete_records(session, undoer.entity, created)
    counts["deleted"] += len(created)


def _restore_together(session: Session, undoer: _Undoer, updated: list[tuple[ImportRow, Any]]) -> None:
    """Restore the records and write them together, in a savepoint (opened first: opening one
    flushes what changed before it); refused (a value taken meanwhile, such as a SKU), they are
    written again one at a time to name the row refused."""
    assert undoer.change is not None
    try:
        with session.begin_nested():
            for row, record in updated:
                with _refusing(row):
                    undoer.change(session, record, _restored(row.previous))
            records.store_changes(session, undoer.entity, [record for _row, record in updated], undoer.unique)
    except CRMError:
        for row, record in updated:
            with _refusing(row):
                undoer.update(session, record, _restored(row.previous))
        raise   # every one went through alone: refuse as the batch was refused


def _undo_prices(session: Session, rows: list[ImportRow], counts: dict) -> None:
    by_book: dict[int, list[ImportRow]] = {}
    for row in rows:
        by_book.setdefault(row.record_id, []).append(row)
    for book_id, book_rows in by_book.items():
        book = price_books.get_price_book(session, book_id, for_update=True)
        prices = {entry.item_id: entry.list_price for entry in book.prices}
        for row in book_rows:
            if row.action == "created":
                prices.pop(row.item_id or 0, None)
                counts["deleted"] += 1
            else:
                prices[row.item_id or 0] = Decimal(row.previous["list_price"])
                counts["restored"] += 1
        price_books.update_price_book(session, book, {"prices": [{"item_id": i, "list_price": p}
                                                                 for i, p in prices.items()]})


# --- import runs ----------------------------------------------------------------------------------------

def new_run(session: Session, entity: str, filename: str, data: bytes | None = None) -> ImportRun:
    check_entity(entity)
    run_record = ImportRun(entity=entity, filename=(filename or "")[:255], status="draft", options={}, errors=[],
                           message="", file_data=data, user_id=current_actor_id())
    session.add(run_record)
    session.flush()
    return run_record


def runs(session: Session, entity: str | None = None, limit: int = 50) -> list[ImportRun]:
    stmt = select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)
    if entity:
        stmt = stmt.where(ImportRun.entity == entity)
    return list(session.scalars(stmt))


def undoable(session: Session, import_run: ImportRun) -> bool:
    latest = latest_run(session, import_run.entity)
    return import_run.status == "done" and latest is not None and latest.id == import_run.id


def load_options(session: Session, import_run: ImportRun) -> Options:
    saved = import_run.options or {}
    return Options(dict(saved.get("mapping") or {}), saved.get("key"), saved.get("on_duplicate", "skip"),
                   bool(saved.get("partial")), saved.get("locale"))



# --- running an import in the background ----------------------------------------------------------------

#: files with more rows than this are imported by a worker (the job queue); smaller ones at once
SYNC_ROWS = 1000
_PROGRESS_KEY = "crm.import.{id}.progress"


def start(session: Session, entity: str, filename: str, data: bytes, options: Options, sheet: Sheet) -> ImportRun:
    """Record an import of ``data`` ready to run (``queued``), the file kept until it has run."""
    import_run = new_run(session, entity, filename, data)
    import_run.status = "queued"
    import_run.options = options.as_dict()
    import_run.total_rows = len(sheet.rows)
    session.flush()
    return import_run


def progress_of(app: Any, import_run: ImportRun) -> int:
    """How many rows a running import has gone through (read beside the database: the
    import's own transaction is not committed yet)."""
    if import_run.status != "running":
        return import_run.processed_rows
    from crm.worker import queue
    try:
        value = queue(app).get(_PROGRESS_KEY.format(id=import_run.id), peek=True)
    except Exception:  # noqa: BLE001  the queue cannot be read: no progress to show
        return 0
    return int(value or 0)


def run_queued(app: Any, run_id: int) -> str:
    """Run the queued import ``run_id`` (a worker's task, or at once for a small file): its rows
    in one transaction, recorded ``done``, or ``failed`` with the errors and nothing written."""
    from crm.context import acting_as
    from crm.db import db
    from crm.models import User
    from crm.services import import_files
    from crm.worker import queue

    with db.transaction() as session:
        import_run = session.get(ImportRun, run_id, with_for_update=True)
        if import_run is None or import_run.status != "queued":
            return "not queued"
        import_run.status = "running"
        user = session.get(User, import_run.user_id) if import_run.user_id else None
    key = _PROGRESS_KEY.format(id=run_id)

    def progress(done: int, _total: int) -> None:
        try:
            queue(app).put(key, done)
        except Exception:  # noqa: BLE001  progress is only shown, the import goes on
            pass

    failure: CRMError | None = None
    try:
        with acting_as(user), db.transaction() as session:
            import_run = session.get(ImportRun, run_id)
            assert import_run is not None
            sheet = import_files.read(import_run.file_data or b"", import_run.filename)
            perform(session, import_run, sheet, load_options(session, import_run), progress=progress)
    except ImportRefused as refused:
        failure = refused
    except CRMError as exc:
        failure = exc
    except Exception as exc:
        _failed(db, run_id, _("the import stopped: %(error)s", error=f"{type(exc).__name__}: {exc}"), None)
        raise
    if failure is not None:
        _failed(db, run_id, failure.message, getattr(failure, "outcome", None))
        return "failed"
    return "done"


def _failed(db: Any, run_id: int, message: str, outcome: Outcome | None) -> None:
    with db.transaction() as session:
        import_run = session.get(ImportRun, run_id)
        if import_run is None:
            return
        import_run.status, import_run.message, import_run.finished_at = "failed", message[:2000], utcnow()
        import_run.file_data = None
        if outcome is not None:
            import_run.processed_rows = outcome.total
            import_run.rejected_count = outcome.rejected_count
            import_run.errors = [e.as_dict() for e in outcome.errors[:MAX_KEPT_ERRORS]]
