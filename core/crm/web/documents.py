"""Quotes, sales orders, purchase orders and invoices in the browser: lists,
document pages (lines, totals, related documents, status history, stock moves,
plugin panels), the line editor whose totals the server recomputes as the user
types (``/<documents>/preview``, the same engine as saving), status actions,
conversions, partial shipments / receipts / invoicing, and the PDF.

Every change calls :mod:`crm.services.documents` or :mod:`crm.services.orders`
inside ``db.transaction()``; the posted editor state is validated by the API's
own document schemas first.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from flask import Blueprint, Response, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crm.api.documents import build_schemas
from crm.api.schemas import shared
from crm.db import db
from crm.errors import CRMError, NotFound, ValidationError
from crm.labels import status_label
from crm.models import Account, Contact, Document, Item, PriceBook, Tax, User, Vendor
from crm.models.stock import FREQUENCIES
from crm.money import is_digits
from crm.permissions import can, require
from crm.services import document_queries as docq, documents, mass_actions, orders
from crm.services.doctypes import DOC_TYPES, DocType
from crm.services.email import outbox as email_outbox
from crm.services.mass_actions import MassTarget, assignable_users
from crm.services.receivables import overdue_invoices
from crm.ui import extra_totals, line_columns, line_table
from crm.web.common import FormErrors, list_page, list_query, money_input, parse_date, parse_decimal, parse_int, plain
from crm.web.export import export_response, requested_format
from crm.web.forms import FormField, custom_form_fields, load, read_custom
from crm.web.helpers import DOC_ENDPOINTS
from crm.web.lists import (
    ListColumn,
    MassForm,
    custom_mass_fields,
    custom_mass_value,
    default_view_redirect,
    export_columns_of,
    list_state,
    run_mass_action,
)

BLUEPRINTS: list[Blueprint] = []
SCHEMAS = {name: build_schemas(kind)[:2] for name, kind in DOC_TYPES.items()}
LINE_KEY = re.compile(r"^[a-z0-9]{1,12}$")
OPEN_STATUSES = {"quote": ("Created", "Delivered", "Reviewed", "Accepted"), "sales_order": ("Created", "Approved"),
                 "purchase_order": ("Created", "Approved", "Delivered"),
                 "invoice": ("Created", "AutoCreated", "Approved", "Sent", "Partially Paid")}


# --- reading the editor ----------------------------------------------------------------------------

def _discount(form, prefix: str) -> tuple[Decimal | None, Decimal | None]:
    """A discount typed as one value and a kind (percent or amount) -> (percent, amount)."""
    value = parse_decimal(form.get(f"{prefix}discount"), f"{prefix}discount")
    if value is None:
        return None, None
    if form.get(f"{prefix}discount_kind") == "amount":
        return None, value
    return value, None


def _read_recurring(form, attempt) -> dict:
    """A sales order's repeat schedule as typed (``attempt`` collects the problems)."""
    start = attempt(lambda: parse_date(form.get("recurring.start_date"), "recurring.start_date"))
    end = attempt(lambda: parse_date(form.get("recurring.end_date"), "recurring.end_date"))
    days = attempt(lambda: parse_int(form.get("recurring.payment_terms_days"), "recurring.payment_terms_days"))
    return {"frequency": form.get("recurring.frequency"),
            "start_date": start.isoformat() if start else None, "end_date": end.isoformat() if end else None,
            "payment_terms_days": 30 if days is None else days,
            "invoice_status": form.get("recurring.invoice_status") or "AutoCreated"}


def read_editor(session, kind: DocType, form, document: Document | None = None) -> tuple[dict, list[str]]:
    """The posted editor -> the body a create / PATCH takes (before the schema), and the
    line keys in the order the lines are shown (to map ``lines.N.*`` errors back to inputs)."""
    problems: dict[str, list[str]] = {}
    raw: dict = {}

    def attempt(fn):
        try:
            return fn()
        except ValidationError as exc:
            problems.update(exc.fields)
            return None

    party = _party_field(kind)
    raw[party] = attempt(lambda: parse_int(form.get(party), party, required=True))
    raw["contact_id"] = attempt(lambda: parse_int(form.get("contact_id"), "contact_id"))
    for name in ("subject", "terms", "description"):
        raw[name] = form.get(name, "")
    raw["subject"] = raw["subject"].strip()
    if kind.party == "account":
        raw["customer_reference"] = form.get("customer_reference", "").strip()
    raw["currency"] = (form.get("currency") or "EUR").strip().upper()
    raw["tax_mode"] = form.get("tax_mode") if form.get("tax_mode") in ("individual", "group") else "individual"
    price_book = attempt(lambda: parse_int(form.get("price_book_id"), "price_book_id"))
    if price_book:
        raw["price_book_id"] = price_book
    date_fields = {"quote": ("valid_until",), "invoice": ("due_date", "invoice_date")}.get(kind.name, ("due_date",))
    for name in date_fields:
        value = attempt(lambda name=name: parse_date(form.get(name), name))
        raw[name] = value.isoformat() if value else None
    raw["group_tax_ids"] = [int(v) for v in form.getlist("group_tax_ids") if is_digits(v)] \
        if raw["tax_mode"] == "group" else []
    raw["shipping_tax_ids"] = [int(v) for v in form.getlist("shipping_tax_ids") if is_digits(v)]
    percent_amount = attempt(lambda: _discount(form, ""))
    raw["discount_percent"], raw["discount_amount"] = percent_amount or (None, None)
    raw["shipping_amount"] = attempt(lambda: parse_decimal(form.get("shipping_amount"), "shipping_amount")) \
        or Decimal("0")
    raw["adjustment"] = attempt(lambda: parse_decimal(form.get("adjustment"), "adjustment")) or Decimal("0")
    for address in ("billing_address", "shipping_address"):
        parts = {key: form.get(f"{address}.{key}", "").strip()
                 for key in ("street", "city", "state", "postal_code", "country")}
        if any(parts.values()) or (document is not None and any((getattr(document, address) or {}).values())):
            raw[address] = parts  # (one left blank that was blank already stays as it is)
    custom = attempt(lambda: read_custom(custom_form_fields(session, "documents"), form,
                                         document.custom if document is not None else None))
    raw["custom"] = custom or {}
    if kind.name == "sales_order" and form.get("recurring.frequency") in FREQUENCIES:
        raw["recurring"] = _read_recurring(form, attempt)

    columns = [c for c in line_columns(kind.name, session, document) if c.editable]
    # one more than a document holds at most: the service refuses it, naming the lines
    keys = [k for k in form.getlist("line_key") if LINE_KEY.match(k)][:documents.MAX_LINES + 1]
    raw["lines"] = [_read_line(form, f"lines.{key}.", attempt, columns, with_taxes=raw["tax_mode"] == "individual")
                    for key in keys]
    if problems:
        raise ValidationError(_("Check the highlighted fields."), problems)
    return raw, keys


def _read_line(form, p: str, attempt, columns: list, *, with_taxes: bool) -> dict:
    """The editor's line whose inputs are named ``<p><name>``, as the API takes it (``attempt``
    collects the problems)."""
    line: dict = {}
    if is_digits(form.get(p + "id", "")):
        line["id"] = int(form[p + "id"])
    display_type = form.get(p + "display_type") or None
    if display_type:
        line["display_type"] = display_type
        line["description"] = form.get(p + "description", "")
        return line
    line["item_id"] = attempt(lambda: parse_int(form.get(p + "item_id"), p + "item_id", required=True))
    line["quantity"] = attempt(lambda: parse_decimal(form.get(p + "quantity"), p + "quantity", required=True))
    line["unit_price"] = attempt(lambda: parse_decimal(form.get(p + "unit_price"), p + "unit_price"))
    line["discount_percent"], line["discount_amount"] = attempt(lambda: _discount(form, p)) or (None, None)
    if with_taxes:
        line["tax_ids"] = [int(v) for v in form.getlist(p + "tax_ids") if is_digits(v)]
    line["description"] = form.get(p + "description", "")
    line["comment"] = form.get(p + "comment", "")
    if columns:
        line["custom"] = {c.key: form.get(f"{p}custom.{c.key}", "") for c in columns}
    return line


def _rename(keys: list[str]):
    """``lines.2.discount_percent`` -> ``lines.<key of the third line>.discount``."""
    def rename(name: str) -> str:
        parts = name.split(".")
        if parts[0] == "lines" and len(parts) > 1 and is_digits(parts[1]) and int(parts[1]) < len(keys):
            parts[1] = keys[int(parts[1])]
        if parts[-1] in ("discount_percent", "discount_amount"):
            parts[-1] = "discount"
        if parts[-1] == "tax_ids" or (len(parts) > 2 and parts[-2] == "tax_ids"):
            parts = parts[:parts.index("tax_ids") + 1]
        return ".".join(parts)
    return rename


def _typed_only(errors: FormErrors, form) -> FormErrors:
    """The live preview's refusals of what was typed: those of inputs still empty (the account
    not chosen yet, a new line's item) wait until the document is submitted, so a blank new
    document shows no "is required" while it is being filled in."""
    typed = {name: messages for name, messages in errors.fields.items() if form.get(name, "").strip()}
    if errors.fields and not typed:
        return FormErrors()
    return FormErrors(typed, errors.message if typed == errors.fields else _("Check the highlighted fields."))


def validated(session, kind: DocType, form, *, patch: bool, document: Document | None = None
              ) -> tuple[dict, list[str]]:
    raw, keys = read_editor(session, kind, form, document)
    create_schema, patch_schema = SCHEMAS[kind.name]
    try:
        data = load(shared(patch_schema if patch else create_schema), raw)
    except ValidationError as exc:
        raise ValidationError(exc.message, {_rename(keys)(k): v for k, v in exc.fields.items()}) from None
    if "recurring" in raw and "recurring" not in data:
        data["recurring"] = raw["recurring"]
    return data, keys


# --- what the editor shows --------------------------------------------------------------------------

def editor_lines(document: Document | None, form=None) -> list[dict]:
    """The editor's rows: from the posted form (after a refused save) or from the document."""
    rows = []
    if form is not None:
        for key in [k for k in form.getlist("line_key") if LINE_KEY.match(k)]:
            p = f"lines.{key}."
            rows.append({"key": key, "id": form.get(p + "id", ""), "display_type": form.get(p + "display_type", ""),
                         "item_id": form.get(p + "item_id", ""), "item_label": form.get(p + "item_label", ""),
                         "description": form.get(p + "description", ""), "comment": form.get(p + "comment", ""),
                         "quantity": form.get(p + "quantity", ""), "unit_price": form.get(p + "unit_price", ""),
                         "discount": form.get(p + "discount", ""),
                         "discount_kind": form.get(p + "discount_kind", "percent"),
                         "tax_ids": [int(v) for v in form.getlist(p + "tax_ids") if is_digits(v)],
                         "custom": {k[len(p) + 7:]: v for k, v in form.items() if k.startswith(p + "custom.")},
                         "line": None})
        return rows
    if document is None:  # a new document starts with one empty line
        return [{"key": "n0", "id": "", "display_type": "", "item_id": "", "item_label": "", "description": "",
                 "comment": "", "quantity": "1", "unit_price": "", "discount": "", "discount_kind": "percent",
                 "tax_ids": [], "custom": {}, "line": None}]
    for index, line in enumerate(document.lines):
        discount_kind = "amount" if line.discount_amount is not None else "percent"
        discount = line.discount_amount if line.discount_amount is not None else line.discount_percent
        rows.append({"key": f"e{index}", "id": line.id, "display_type": line.display_type or "",
                     "item_id": line.item_id or "", "item_label": _item_label(line.item) if line.item else "",
                     "description": line.description, "comment": line.comment, "quantity": plain(line.quantity),
                     "unit_price": money_input(line.unit_price), "discount": plain(discount),
                     "discount_kind": discount_kind, "tax_ids": [t["id"] for t in line.taxes or []],
                     "custom": dict(line.custom or {}), "line": line})
    return rows


def _item_label(item: Item) -> str:
    return f"{item.name} ({item.sku})" if item.sku else item.name


def _header_values(document: Document | None, form, kind: DocType, session) -> dict:
    """The header inputs' values."""
    if form is not None:
        values = {k: v for k, v in form.items()}
        values["group_tax_ids"] = [int(v) for v in form.getlist("group_tax_ids") if is_digits(v)]
        values["shipping_tax_ids"] = [int(v) for v in form.getlist("shipping_tax_ids") if is_digits(v)]
        return values
    from crm.services.settings import get_setting
    if document is None:
        values = {"currency": get_setting(session, "default_currency") or "EUR", "tax_mode": "individual",
                  "shipping_amount": "", "adjustment": "", "discount": "", "discount_kind": "percent",
                  "group_tax_ids": [], "shipping_tax_ids": []}
        for name in ("account_id", "vendor_id", "contact_id"):
            if is_digits(request.args.get(name, "")):
                values[name] = request.args[name]
        for address, parts in _party_addresses(session, kind, values.get(_party_field(kind))).items():
            values.update({f"{address}.{key}": value for key, value in parts.items()})
        return values
    values = {name: getattr(document, name) for name in ("subject", "customer_reference", "currency", "tax_mode",
                                                          "terms", "description", "account_id", "vendor_id",
                                                          "contact_id")}
    values = {k: ("" if v is None else v) for k, v in values.items()}
    for name in ("valid_until", "due_date", "invoice_date"):
        value = getattr(document, name)
        values[name] = value.isoformat() if value else ""
    values["discount_kind"] = "amount" if document.discount_amount is not None else "percent"
    values["discount"] = plain(document.discount_amount if document.discount_amount is not None
                               else document.discount_percent)
    values["shipping_amount"] = money_input(document.shipping_amount) if document.shipping_amount else ""
    values["adjustment"] = money_input(document.adjustment) if document.adjustment else ""
    values["group_tax_ids"] = [t["id"] for t in document.group_taxes or []]
    values["shipping_tax_ids"] = [t["id"] for t in document.shipping_taxes or []]
    for address in ("billing_address", "shipping_address"):
        for key, value in (getattr(document, address) or {}).items():
            values[f"{address}.{key}"] = value
    for key, value in (document.custom or {}).items():
        if value is not False:  # an unchecked box is an absent key
            values[f"custom.{key}"] = "" if value is None else value
    if kind.name == "sales_order":
        schedule = documents.recurring_schedule(session, document)
        if schedule is not None and schedule.active:
            values.update({"recurring.frequency": schedule.frequency,
                           "recurring.start_date": schedule.start_date.isoformat(),
                           "recurring.end_date": schedule.end_date.isoformat() if schedule.end_date else "",
                           "recurring.payment_terms_days": schedule.payment_terms_days,
                           "recurring.invoice_status": schedule.invoice_status})
    return values


def _party_field(kind: DocType) -> str:
    return "vendor_id" if kind.party == "vendor" else "account_id"


def _party_id(value) -> int | None:
    return int(value) if is_digits(str(value)) and len(str(value)) < 10 else None


def _party(session, kind: DocType, party_id) -> Account | Vendor | None:
    party_id = _party_id(party_id)
    return session.get(Vendor if kind.party == "vendor" else Account, party_id) if party_id else None


def _party_addresses(session, kind: DocType, party_id) -> dict:
    """The addresses a document for this party takes (:func:`documents.party_addresses`); none
    for no party or an unknown one."""
    party = _party(session, kind, party_id)
    return documents.party_addresses(party) if party is not None else {}


def _contacts(session, kind: DocType, values: dict) -> list[Contact]:
    """The contacts a document for the chosen party may name, and the chosen one even if it may
    not (saving then says so, rather than dropping it unseen)."""
    contacts = documents.contacts_for(session, kind.name, _party_id(values.get(_party_field(kind), "")))
    chosen = _party_id(values.get("contact_id", ""))
    if chosen and chosen not in {c.id for c in contacts}:
        contact = session.get(Contact, chosen)
        contacts += [contact] if contact is not None else []
    return contacts


def _choices(session, kind: DocType, values: dict) -> dict:
    party_model = Vendor if kind.party == "vendor" else Account
    return {
        "parties": list(session.execute(select(party_model.id, party_model.name).where(party_model.active.is_(True))
                                        .order_by(func.lower(party_model.name))).all()),
        "contacts": _contacts(session, kind, values),
        "party_addresses": _party_addresses(session, kind, values.get(_party_field(kind), "")),
        "item_taxes": list(session.scalars(select(Tax).where(Tax.active.is_(True), Tax.applies_to.in_(("items", "both")))
                                           .order_by(Tax.name))),
        "shipping_taxes": list(session.scalars(select(Tax).where(Tax.active.is_(True),
                                                                 Tax.applies_to.in_(("shipping", "both")))
                                               .order_by(Tax.name))),
        "price_books": list(session.scalars(select(PriceBook).where(PriceBook.active.is_(True)).order_by(PriceBook.name))),
        "frequencies": FREQUENCIES,
    }


# --- the views ----------------------------------------------------------------------------------------

def _assigned_name(document: Document) -> str:
    if document.assigned_user_id is None:
        return ""
    user = db.session.get(User, document.assigned_user_id)
    return (user.full_name or user.username) if user is not None else ""


def list_columns(kind: DocType) -> list[ListColumn]:
    """The columns of a document list (documents/list.html), also what its exports write."""
    date_attr, date_label = {"quote": ("valid_until", _l("Valid until")),
                             "invoice": ("invoice_date", _l("Invoice date"))}.get(kind.name, ("due_date", _l("Due date")))
    party = (lambda d, _x: d.vendor.name if d.vendor else "") if kind.party == "vendor" else \
        (lambda d, _x: d.account.name if d.account else "")
    columns = [ListColumn("number", _l("Number"), lambda d, _x: d.number, sort="number"),
               ListColumn("subject", _l("Subject"), lambda d, _x: d.subject, sort="subject"),
               ListColumn("party", _l("Vendor") if kind.party == "vendor" else _l("Account"), party, sort="party"),
               ListColumn("status", _l("Status"), lambda d, _x: str(status_label(d.status)), sort="status"),
               ListColumn("date", date_label, lambda d, _x: getattr(d, date_attr), "date", sort="date"),
               ListColumn("grand_total", _l("Total"), lambda d, _x: d.grand_total, "money", sort="grand_total")]
    if kind.name == "invoice":
        columns.append(ListColumn("balance", _l("Balance"), lambda d, _x: d.balance, "money"))
    return columns + [
        ListColumn("created_at", _l("Created"), lambda d, _x: d.created_at, "datetime", sort="created_at"),
        ListColumn("assigned_to", _l("Assigned to"), lambda d, _x: _assigned_name(d), shown=False),
        ListColumn("customer_reference", _l("Customer reference"), lambda d, _x: d.customer_reference,
                   shown=False),
        ListColumn("currency", _l("Currency"), lambda d, _x: d.currency, shown=False)]


#: how the mass edit's fields of the documents are typed (crm.services.mass_actions.EDIT_FIELDS)
MASS_FIELDS = {f.name: f for f in (
    FormField("valid_until", _l("Valid until"), "date"), FormField("due_date", _l("Due date"), "date"),
    FormField("invoice_date", _l("Invoice date"), "date"),
    FormField("terms", _l("Terms and conditions"), "textarea"),
    FormField("discount_percent", _l("Discount %"), "percent"),
    FormField("shipping_amount", _l("Shipping"), "money"))}


def mass_target(kind: DocType) -> MassTarget:
    """A document list's mass actions (:func:`crm.services.mass_actions.document_target`)."""
    return mass_actions.document_target(kind.name)


def _mass_form(session, kind: DocType, endpoint: str) -> MassForm | None:
    if not can(g.get("user"), kind.resource, "write"):
        return None
    target = mass_target(kind)
    fields_ = [(f.name, f.label, f.type, None) for f in (MASS_FIELDS[name] for name in target.fields)]
    fields_ += custom_mass_fields(session, target.custom_entity)
    statuses = [(s, str(status_label(s))) for s in kind.statuses if s not in kind.automatic]
    users = [(u.id, u.full_name or u.username) for u in assignable_users(session)]
    return MassForm(url_for(f"{endpoint}.mass"), target.actions(), fields_, statuses=statuses, users=users)


def _mass_edit(kind: DocType, name: str, form) -> dict:
    """A mass edit's field and typed value -> the changes of the documents (the API's PATCH
    schema decides, as for the document's editor; a custom field as its type requires)."""
    from werkzeug.datastructures import MultiDict
    session = db.session
    target = mass_target(kind)
    if name.startswith(mass_actions.CUSTOM_PREFIX):
        return mass_actions.edit_changes(session, target, name, custom_mass_value(session, "documents", name, form))
    if name not in target.fields:
        raise ValidationError.for_field("field", _("choose one of the fields offered"))
    value = MASS_FIELDS[name].read(MultiDict({name: form.get(f"value.{name}", "")}))
    patch_schema = SCHEMAS[kind.name][1]
    return mass_actions.edit_changes(session, target, name, value, load=lambda raw: load(shared(patch_schema), raw))


def _list_filters(kind: DocType, stmt, party_column, args) -> tuple:
    """A document list's query narrowed by the filters asked for (``status``, ``party``,
    ``overdue``), and those filters."""
    active = {}
    status = args.get("status", "")
    if status in kind.statuses:
        stmt = stmt.where(Document.status == status)
        active["status"] = status
    elif status == "open":
        stmt = stmt.where(Document.status.in_(OPEN_STATUSES[kind.name]))
        active["status"] = status
    party = args.get("party", "")
    if is_digits(party) and len(party) < 10:
        stmt = stmt.where(party_column == int(party))
        active["party"] = party
    assigned = args.get("assigned_user_id", "")
    if is_digits(assigned) and len(assigned) < 10:
        stmt = stmt.where(Document.assigned_user_id == int(assigned))
        active["assigned_user_id"] = assigned
    if kind.name == "invoice" and args.get("overdue") == "1":
        stmt = stmt.where(*overdue_invoices(dt.date.today()))
        active["overdue"] = "1"
    return stmt, active


def _register_list(bp: Blueprint, kind: DocType, endpoint: str, party_model, party_column) -> None:
    """The list of a document type (search, filters, sort, columns, views, exports) and its mass actions."""
    date_column = {"quote": Document.valid_until, "invoice": Document.invoice_date}.get(kind.name, Document.due_date)
    listing = dict(model=Document,
                   search=[Document.number, Document.subject, Document.customer_reference, party_model.name],
                   sortable={"number": Document.number, "subject": func.lower(Document.subject),
                             "party": func.lower(party_model.name), "status": Document.status,
                             "grand_total": Document.grand_total, "created_at": Document.created_at,
                             "date": date_column},
                   default_sort=[Document.id.desc()])
    columns = list_columns(kind)

    def filtered():
        stmt = (select(Document).outerjoin(party_model, party_model.id == party_column)
                .where(Document.doc_type == kind.name)
                .options(joinedload(Document.vendor if kind.party == "vendor" else Document.account)))
        return _list_filters(kind, stmt, party_column, request.args)

    @bp.route("/")
    @require(kind.resource)
    def index():
        session = db.session
        opened = default_view_redirect(f"{endpoint}.index")
        if opened is not None:
            return opened
        stmt, active = filtered()
        fmt = requested_format()
        if fmt:
            return export_response(session, list_query(session, stmt, **listing), export_columns_of(columns),
                                   name=kind.path, fmt=fmt)
        page = list_page(session, stmt, **listing)
        parties = list(session.execute(select(party_model.id, party_model.name).order_by(func.lower(party_model.name))))
        users = [(u.id, u.full_name or u.username) for u in assignable_users(session)]
        state = list_state(f"{endpoint}.index", columns, mass=_mass_form(session, kind, endpoint))
        return render_template("documents/list.html", kind=kind, endpoint=endpoint, page=page, active=active,
                               parties=parties, users=users, state=state,
                               can_write=can(g.user, kind.resource, "write"))

    @bp.route("/mass", methods=["POST"])
    @require(kind.resource, "write")
    def mass():
        """A mass action (edit, status, delete, assign) on the ticked documents, or on every one
        the list's search and filters match."""
        query = request.query_string.decode("utf-8", "replace")
        return run_mass_action(mass_target(kind), model=Document,
                               matching=lambda: list_query(db.session, filtered()[0], **listing),
                               edit=lambda name, form: _mass_edit(kind, name, form),
                               back=url_for(f"{endpoint}.index") + ("?" + query if query else ""),
                               within=select(Document).where(Document.doc_type == kind.name))


def make_blueprint(kind: DocType) -> Blueprint:
    endpoint = DOC_ENDPOINTS[kind.name]
    bp = Blueprint(endpoint, __name__, url_prefix="/" + kind.path)
    party_model = Vendor if kind.party == "vendor" else Account
    party_column = Document.vendor_id if kind.party == "vendor" else Document.account_id

    def get(session, doc_id, for_update=False):
        return documents.get_document(session, kind.name, doc_id, for_update=for_update)

    _register_list(bp, kind, endpoint, party_model, party_column)

    @bp.route("/<int:doc_id>")
    @require(kind.resource)
    def detail(doc_id: int):
        session = db.session
        document = get(session, doc_id)
        return render_template("documents/detail.html", **_detail_context(session, kind, document))

    @bp.route("/new", methods=["GET", "POST"])
    @require(kind.resource, "write")
    def new():
        return _editor(kind, None)

    @bp.route("/<int:doc_id>/edit", methods=["GET", "POST"])
    @require(kind.resource, "write")
    def edit(doc_id: int):
        return _editor(kind, doc_id)

    @bp.route("/preview", methods=["POST"])
    @require(kind.resource, "write")
    def preview():
        """The totals and the computed line cells of the posted editor state, as HTML for htmx."""
        return _preview(kind)

    @bp.route("/party")
    @require(kind.resource, "write")
    def party():
        """What the editor takes from the chosen account (vendor), as JSON: the addresses a
        document for it gets and the contacts it may name."""
        session = db.session
        found = _party(session, kind, request.args.get("id", ""))
        if found is None:
            wanted = request.args.get("id", "")[:20]
            raise NotFound(_("unknown vendor %(vendor_id)s", vendor_id=wanted) if kind.party == "vendor"
                           else _("unknown account %(account_id)s", account_id=wanted))
        return jsonify({**documents.party_addresses(found),
                        "contacts": [{"id": c.id, "name": c.full_name}
                                     for c in documents.contacts_for(session, kind.name, found.id)]})

    @bp.route("/<int:doc_id>/status", methods=["POST"])
    @require(kind.resource, "write")
    def status(doc_id: int):
        new_status = request.form.get("status", "")
        try:
            with db.transaction() as session:
                document = get(session, doc_id, for_update=True)
                documents.update_document(session, document, {"status": new_status,
                                                              "version": parse_int(request.form.get("version"), "version")})
            flash(_("%(number)s is now %(status)s.", number=document.number, status=_status(new_status)))
        except CRMError as exc:
            flash(exc.message, "error")
        return redirect(url_for(f"{endpoint}.detail", doc_id=doc_id))

    @bp.route("/<int:doc_id>/delete", methods=["POST"])
    @require(kind.resource, "write")
    def delete(doc_id: int):
        try:
            with db.transaction() as session:
                document = get(session, doc_id, for_update=True)
                number = document.number
                documents.delete_document(session, document)
        except CRMError as exc:
            flash(exc.message, "error")
            return redirect(url_for(f"{endpoint}.detail", doc_id=doc_id))
        flash(_("%(number)s was deleted.", number=number))
        return redirect(url_for(f"{endpoint}.index"))

    @bp.route("/<int:doc_id>/pdf")
    @require(kind.resource)
    def pdf(doc_id: int):
        return _pdf_page(kind, endpoint, get(db.session, doc_id))

    BLUEPRINTS.append(bp)
    return bp


def _pdf_page(kind: DocType, endpoint: str, document: Document):
    """The document's PDF, or while a worker renders it a page showing its progress that reloads
    itself until the PDF is ready."""
    from crm.services.pdf_renders import Pending, document_pdf
    from crm.worker import worker_status
    content = document_pdf(db.session, document)
    if isinstance(content, Pending):
        return render_template("documents/pdf_pending.html", kind=kind, endpoint=endpoint, document=document,
                               pending=content, refresh=min(5, content.seconds_left), worker=worker_status(current_app))
    return Response(content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{document.number}.pdf"'})


def _preview(kind: DocType):
    session = db.session
    doc_id = parse_int(request.form.get("doc_id"), "doc_id") if is_digits(request.form.get("doc_id", "")) else None
    current = documents.get_document(session, kind.name, doc_id) if doc_id else None
    keys: list[str] = []
    try:
        data, keys = validated(session, kind, request.form, patch=current is not None, document=current)
        document = docq.preview(session, kind.name, data, current=current)
        errors = FormErrors()
    except CRMError as exc:
        document, errors = None, FormErrors.from_error(exc, rename=_rename(keys) if keys else None)
        errors = _typed_only(errors, request.form)
        keys = keys or [k for k in request.form.getlist("line_key") if LINE_KEY.match(k)]
    finally:
        session.rollback()  # the preview never writes; drop anything the engine touched
    return render_template("documents/_totals.html", kind=kind, endpoint=DOC_ENDPOINTS[kind.name], document=document,
                           errors=errors, keys=keys, columns=line_columns(kind.name, session, current),
                           extra_totals=extra_totals(kind.name, session, current,
                                                     document.extra_totals if document else None),
                           preview=True,
                           oob=True)


def _status(status: str) -> str:
    from crm.web.helpers import status_label
    return status_label(status)


def _columns(kind: DocType, session, document: Document | None, contained: bool = False) -> dict:
    """``table`` (the line columns as arranged, :class:`crm.ui.LineTable`) and ``columns`` (the
    plugins' columns) for the document page (``contained``: a plugin failing to give its columns
    is left out, with a notice) and the editor."""
    table = line_table(kind.name, session, document, contained=contained)
    return {"table": table, "columns": table.custom}


#: what the detail page offers to create from a document, and lists once created
CONVERSION_TARGETS = {"quote": ("sales_order", "invoice"), "sales_order": ("purchase_order",)}


def _detail_context(session, kind: DocType, document: Document) -> dict:
    user_ids = {h.user_id for h in document.history} | {document.created_by_id, document.updated_by_id}
    names = dict(session.execute(select(User.id, User.username).where(User.id.in_([u for u in user_ids if u]))).all())
    actions = [s for s in kind.allowed_from(document.status) if s not in kind.automatic]
    moves = docq.stock_moves_of(session, document_id=document.id, limit=100)
    from crm.services import hooks
    payments_plugin = hooks.call_first("crm_invoice_received", session=session, invoice=document) \
        if kind.name == "invoice" else None
    vendors = list(session.execute(select(Vendor.id, Vendor.name).where(Vendor.active.is_(True))
                                   .order_by(func.lower(Vendor.name)))) if kind.name == "sales_order" else []
    recurring = documents.recurring_schedule(session, document) if kind.name == "sales_order" else None
    converted = {target: documents.conversions(session, document, target)
                 for target in CONVERSION_TARGETS.get(kind.name, ())}
    return {"kind": kind, "endpoint": DOC_ENDPOINTS[kind.name], "document": document, "user_names": names,
            "actions": actions, "related": docq.related(session, document), "moves": moves,
            **_columns(kind, session, document, contained=True),
            "extra_totals": extra_totals(kind.name, session, document, document.extra_totals),
            "can_write": can(g.user, kind.resource, "write"),
            "received_by_hand": kind.name == "invoice" and payments_plugin is None, "vendors": vendors,
            "recurring": recurring if recurring is not None and recurring.active else None,
            "converted": converted,
            "custom_fields": custom_form_fields(session, "documents"),
            "emails": email_outbox(session, "document", document.id)}


def _editor(kind: DocType, doc_id: int | None):
    session = db.session
    endpoint = DOC_ENDPOINTS[kind.name]
    document = documents.get_document(session, kind.name, doc_id) if doc_id else None
    if document is not None and document.status not in kind.editable:
        flash(_("%(number)s is %(status)s: its lines and amounts cannot change any more.",
                number=document.number, status=_status(document.status)), "error")
    errors = FormErrors()
    form = None
    if request.method == "POST":
        form = request.form
        keys: list[str] = []
        try:
            data, keys = validated(session, kind, form, patch=document is not None, document=document)
            with db.transaction() as session:
                if document is None:
                    saved = documents.create_document(session, kind.name, data)
                else:
                    saved = documents.get_document(session, kind.name, doc_id, for_update=True)
                    data["version"] = parse_int(form.get("version"), "version")
                    documents.update_document(session, saved, data)
                saved_id, number = saved.id, saved.number
            flash(_("%(number)s was saved.", number=number))
            return redirect(url_for(f"{endpoint}.detail", doc_id=saved_id))
        except CRMError as exc:
            errors = FormErrors.from_error(exc, rename=_rename(keys) if keys else None)
            if doc_id:
                document = documents.get_document(db.session, kind.name, doc_id)
    session = db.session
    values = _header_values(document, form, kind, session)
    return render_template("documents/edit.html", kind=kind, endpoint=endpoint, document=document,
                           values=values, rows=editor_lines(document, form),
                           errors=errors, **_columns(kind, session, document),
                           extra_totals=extra_totals(kind.name, session, document,
                                                     document.extra_totals if document else None),
                           custom_fields=custom_form_fields(session, "documents"), **_choices(session, kind, values)), \
        (422 if errors else 200)


for _name, _kind in DOC_TYPES.items():
    make_blueprint(_kind)


# --- conversions and order processing ------------------------------------------------------------------

quotes_bp, orders_bp, purchases_bp, invoices_bp = BLUEPRINTS


def _convert(target: str):
    @require(DOC_TYPES[target].resource, "write")
    def view(doc_id: int):
        try:
            with db.transaction() as session:
                quote = documents.get_document(session, "quote", doc_id, for_update=True)
                created = documents.convert_quote(session, quote, target, copy=_wants_copy())
                created_id, number = created.id, created.number
        except CRMError as exc:
            flash(exc.message, "error")
            return redirect(url_for("quotes.detail", doc_id=doc_id))
        flash(_("%(number)s was created from the quote.", number=number))
        return redirect(url_for(f"{DOC_ENDPOINTS[target]}.detail", doc_id=created_id))
    view.__name__ = f"to_{target}"
    return view


def _wants_copy() -> bool:
    """The page's "Make another copy" action (after its confirmation) sends ``copy=1``."""
    return request.form.get("copy") == "1"


quotes_bp.add_url_rule("/<int:doc_id>/to-sales-order", "to_sales_order", _convert("sales_order"), methods=["POST"])
quotes_bp.add_url_rule("/<int:doc_id>/to-invoice", "to_invoice", _convert("invoice"), methods=["POST"])


@orders_bp.route("/<int:doc_id>/purchase-order", methods=["POST"])
@require("purchase_orders", "write")
def to_purchase_order(doc_id: int):
    try:
        vendor_id = parse_int(request.form.get("vendor_id"), "vendor_id", required=True)
        with db.transaction() as session:
            order = documents.get_document(session, "sales_order", doc_id, for_update=True)
            created = documents.order_from_vendor(session, order, vendor_id, copy=_wants_copy())
            created_id, number = created.id, created.number
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(url_for("sales_orders.detail", doc_id=doc_id))
    flash(_("%(number)s was created from the sales order.", number=number))
    return redirect(url_for("purchase_orders.detail", doc_id=created_id))


LINE_ACTIONS = {
    # name: (doc_type, permission resource, quantity already done, service)
    "ship": ("sales_order", "shipments", "qty_shipped", orders.ship_sales_order),
    "invoice": ("sales_order", "invoices", "qty_invoiced", orders.invoice_sales_order),
    "receive": ("purchase_order", "receipts", "qty_received", orders.receive_purchase_order),
}


def _line_action(action: str):
    doc_type, resource, done_attr, service = LINE_ACTIONS[action]

    @require(resource, "write")
    def view(doc_id: int):
        session = db.session
        document = documents.get_document(session, doc_type, doc_id)
        lines = [line for line in document.lines if line.display_type is None]
        errors = FormErrors()
        if request.method == "POST":
            requested, order_ids, problems = [], [], {}
            for line in lines:
                try:
                    quantity = parse_decimal(request.form.get(f"qty.{line.id}"), f"qty.{line.id}")
                except ValidationError as exc:
                    problems.update(exc.fields)
                    continue
                if quantity:
                    requested.append({"line_id": line.id, "quantity": quantity})
                    order_ids.append(line.id)
            try:
                if problems:
                    raise ValidationError(_("Check the highlighted fields."), problems)
                if not requested:
                    raise ValidationError(_("Enter a quantity on at least one line."), {})
                with db.transaction() as session:
                    locked = documents.get_document(session, doc_type, doc_id, for_update=True)
                    result = service(session, locked, requested)
                    target = result if action == "invoice" else locked
                    target_url = url_for(f"{DOC_ENDPOINTS[target.doc_type]}.detail", doc_id=target.id)
                    number = target.number
                flash({"ship": _("Shipment recorded on %(number)s."), "receive": _("Receipt recorded on %(number)s."),
                       "invoice": _("%(number)s was created.")}[action] % {"number": number})
                return redirect(target_url)
            except CRMError as exc:
                def rename(name, ids=order_ids):
                    parts = name.split(".")
                    if parts[0] == "lines" and len(parts) > 2 and is_digits(parts[1]) and int(parts[1]) < len(ids):
                        return f"qty.{ids[int(parts[1])]}"
                    return name
                errors = FormErrors.from_error(exc, rename=rename)
                document = documents.get_document(db.session, doc_type, doc_id)
                lines = [line for line in document.lines if line.display_type is None]
        rows = [{"line": line, "done": getattr(line, done_attr), "left": max(line.quantity - getattr(line, done_attr),
                                                                          Decimal("0"))} for line in lines]
        return render_template("documents/line_action.html", action=action, kind=DOC_TYPES[doc_type],
                               endpoint=DOC_ENDPOINTS[doc_type], document=document, rows=rows, errors=errors,
                               values=request.form if request.method == "POST" else None), (422 if errors else 200)
    view.__name__ = action
    return view


orders_bp.add_url_rule("/<int:doc_id>/ship", "ship", _line_action("ship"), methods=["GET", "POST"])
orders_bp.add_url_rule("/<int:doc_id>/invoice", "invoice", _line_action("invoice"), methods=["GET", "POST"])
purchases_bp.add_url_rule("/<int:doc_id>/receive", "receive", _line_action("receive"), methods=["GET", "POST"])


@invoices_bp.route("/<int:doc_id>/received", methods=["POST"])
@require("invoices", "write")
def received(doc_id: int):
    try:
        amount = parse_decimal(request.form.get("received"), "received", required=True)
        with db.transaction() as session:
            invoice = documents.get_document(session, "invoice", doc_id, for_update=True)
            documents.update_document(session, invoice, {"received": amount})
        flash(_("The received amount was saved."))
    except CRMError as exc:
        flash(exc.message, "error")
    return redirect(url_for("invoices.detail", doc_id=doc_id))


# --- the item search of the line editor ---------------------------------------------------------------

editor_bp = Blueprint("editor", __name__, url_prefix="/editor")
BLUEPRINTS.append(editor_bp)


@editor_bp.route("/items")
@require("catalog")
def search_items():
    """Options for the line editor's item picker (a plugin's search when one answers ``crm_search_items``)."""
    session = db.session
    doc_type = request.args.get("doc_type", "quote")
    doc_type = doc_type if doc_type in DOC_TYPES else "quote"
    kind = request.args.get("kind") if request.args.get("kind") in ("product", "service", "bundle") else None
    found = docq.search_items(session, request.args.get("q", ""), kind=kind, limit=20)
    tax_mode = request.args.get("tax_mode", "individual")
    book = _book_prices(session, request.args.get("price_book_id", ""), [item.id for item in found])
    return render_template("documents/_item_options.html", items=found, doc_type=doc_type, tax_mode=tax_mode,
                           price=lambda item: documents.default_price(doc_type, item, book),
                           list_id=request.args.get("list", "items"))


def _book_prices(session, price_book_id: str, item_ids: list[int]) -> dict:
    """The chosen price book's prices of these items; none for a price book the editor cannot
    use (unknown, inactive: saving names it)."""
    if not is_digits(price_book_id) or len(price_book_id) > 9:
        return {}
    try:
        return documents.price_book_prices(session, int(price_book_id), item_ids)
    except ValidationError:
        return {}
