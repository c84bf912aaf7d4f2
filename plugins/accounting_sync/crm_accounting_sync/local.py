"""Our side of the sync: read CRM records as canonical records, and change them
ONLY through the core's services (so validation, numbering, stock rules, audit and
hooks apply).

One :class:`crm.accounting_connectors.LocalEntity` per sync entity: the core's records (accounts,
contacts, vendors, items, documents) here; the records of other plugins (payments)
come from the plugin that owns them through the hook ``crm_accounting_entities``, so this
plugin never imports another one. An entity that no enabled plugin provides is not synced.
"""
from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import func, select

from crm.accounting_connectors import (
    DOCUMENT_ENTITIES,
    LocalEntity as BaseLocalEntity,
    canonical_decimal,
    dec,
    iso,
    local_entity_adapters,
    net_unit_price,
    to_date,
)
from crm.errors import Conflict, CRMError, NotFound, ValidationError
from crm.models import Account, Contact, Document, Item, Tax, Vendor
from crm.services import accounts, contacts, documents, items, vendors
from crm.services.doctypes import BY_PATH

log = logging.getLogger(__name__)

ADDRESS_KEYS = ("street", "city", "state", "postal_code", "country")


def address(value) -> dict:
    """A canonical address: the non-empty standard keys only."""
    value = value or {}
    return {k: str(value[k]).strip() for k in ADDRESS_KEYS if value.get(k) not in (None, "")}


_date = to_date


class LocalEntity(BaseLocalEntity):
    """The core's adapter contract plus a helper for records that deactivate when still used."""

    def _deactivate_instead(self, session, record, delete) -> str:
        try:
            with session.begin_nested():
                delete(session, record)
            return "deleted"
        except Conflict:
            if not self.has_active:
                raise
            session.expire(record)
            if record.active:
                self.update(session, record, {"active": False})
            return "deactivated"


class Accounts(LocalEntity):
    entity, model = "accounts", Account

    def shape(self, session, a: Account) -> dict:
        return {"name": a.name, "email": a.email or "", "phone": a.phone or "", "website": a.website or "",
                "tax_id": a.tax_id or "", "billing_address": address(a.billing_address),
                "shipping_address": address(a.shipping_address), "description": a.description or "",
                "active": bool(a.active), "custom": dict(a.custom or {})}

    def create(self, session, data):
        return accounts.create_account(session, self._input(data))

    def update(self, session, record, changes):
        return accounts.update_account(session, record, self._input(changes))

    def remove(self, session, record):
        return self._deactivate_instead(session, record, accounts.delete_account)

    def match(self, session, data):
        name = (data.get("name") or "").strip()
        return session.scalar(select(Account).where(func.lower(Account.name) == name.lower()).limit(1)) if name else None


class Contacts(LocalEntity):
    entity, model = "contacts", Contact

    def label(self, c):
        return c.full_name[:200]

    def shape(self, session, c: Contact) -> dict:
        return {"first_name": c.first_name or "", "last_name": c.last_name, "email": c.email or "",
                "phone": c.phone or "", "title": c.title or "", "account_id": c.account_id,
                "active": bool(c.active), "custom": dict(c.custom or {})}

    def create(self, session, data):
        data = self._input(data)
        data.setdefault("last_name", data.get("first_name") or "?")
        return contacts.create_contact(session, data)

    def update(self, session, record, changes):
        return contacts.update_contact(session, record, self._input(changes))

    def remove(self, session, record):
        return self._deactivate_instead(session, record, contacts.delete_contact)

    def match(self, session, data):
        if not data.get("last_name"):
            return None
        stmt = select(Contact).where(Contact.last_name == data["last_name"],
                                     Contact.first_name == (data.get("first_name") or ""))
        if data.get("email"):
            stmt = stmt.where(Contact.email == data["email"])
        return session.scalar(stmt.limit(1))


class Vendors(LocalEntity):
    entity, model = "vendors", Vendor

    def shape(self, session, v: Vendor) -> dict:
        return {"name": v.name, "email": v.email or "", "phone": v.phone or "", "website": v.website or "",
                "address": address(v.address), "description": v.description or "", "active": bool(v.active),
                "custom": dict(v.custom or {})}

    def create(self, session, data):
        return vendors.create_vendor(session, self._input(data))

    def update(self, session, record, changes):
        return vendors.update_vendor(session, record, self._input(changes))

    def remove(self, session, record):
        return self._deactivate_instead(session, record, vendors.delete_vendor)

    def match(self, session, data):
        name = (data.get("name") or "").strip()
        return session.scalar(select(Vendor).where(func.lower(Vendor.name) == name.lower()).limit(1)) if name else None


class Items(LocalEntity):
    entity, model = "items", Item
    decimals = ("unit_price", "purchase_cost")

    def shape(self, session, i: Item) -> dict:
        return {"kind": i.kind, "name": i.name, "sku": i.sku or "", "unit_price": dec(i.unit_price),
                "purchase_cost": dec(i.purchase_cost), "description": i.description or "",
                "usage_unit": i.usage_unit or "", "active": bool(i.active), "custom": dict(i.custom or {})}

    def create(self, session, data):
        data = self._input(data)
        kind = data.pop("kind", None) or "service"
        data["sku"] = data.get("sku") or None
        data.setdefault("unit_price", Decimal("0"))
        return items.create_item(session, kind, data)

    def update(self, session, record, changes):
        changes = self._input(changes)
        changes.pop("kind", None)  # a product never becomes a service
        if "sku" in changes:
            changes["sku"] = changes["sku"] or None
        return items.update_item(session, record, changes)

    def remove(self, session, record):
        return self._deactivate_instead(session, record, items.delete_item)

    def match(self, session, data):
        if data.get("sku"):
            found = session.scalar(select(Item).where(Item.sku == data["sku"]))
            if found is not None:
                return found
        name = (data.get("name") or "").strip()
        if not name:
            return None
        return session.scalar(select(Item).where(func.lower(Item.name) == name.lower(), Item.is_bundle.is_(False))
                              .limit(1))


#: our statuses -> the sync status (``crm.accounting_connectors.DOCUMENT_STATUSES``); those not listed are "open"
SYNC_STATUS = {
    "quote": {"Accepted": "accepted", "Rejected": "rejected"},
    "sales_order": {"Delivered": "closed", "Cancelled": "cancelled"},
    "purchase_order": {"Received Shipment": "closed", "Cancelled": "cancelled"},
    "invoice": {"Cancelled": "cancelled"},
}
#: a sync status that arrives from the remote -> the status the document is moved to here
FROM_SYNC_STATUS = {
    "quote": {"open": "Reviewed", "accepted": "Accepted", "closed": "Accepted", "rejected": "Rejected",
              "cancelled": "Rejected"},
    "sales_order": {"open": "Created", "closed": "Delivered", "cancelled": "Cancelled"},
    "purchase_order": {"open": "Created", "closed": "Received Shipment", "cancelled": "Cancelled"},
    "invoice": {"cancelled": "Cancelled"},
}


def sync_status(doc_type: str, status: str) -> str:
    return SYNC_STATUS[doc_type].get(status, "open")


def _status_path(kind, start: str, target: str) -> list[str] | None:
    """The shortest chain of allowed (manual) transitions from ``start`` to ``target``."""
    seen, queue = {start}, [(start, [])]
    while queue:
        status, path = queue.pop(0)
        if status == target:
            return path
        for nxt in kind.allowed_from(status):
            if nxt not in seen and nxt not in kind.automatic:
                seen.add(nxt)
                queue.append((nxt, path + [nxt]))
    return None


class Documents(LocalEntity):
    """Quotes, sales orders, purchase orders, invoices."""

    model = Document
    has_active = False

    def __init__(self, entity: str, remote_status: str | None = None):
        self.entity = entity
        self.kind = BY_PATH[entity]
        #: status a document created from the remote is moved to (invoices: issued, so it takes payments)
        self.remote_status = remote_status

    @property
    def party(self) -> str:
        return "vendor_id" if self.kind.party == "vendor" else "account_id"

    def load(self, session, local_id):
        if local_id is None:
            return None
        doc = session.get(Document, local_id)
        return doc if doc is not None and doc.doc_type == self.kind.name else None

    def load_many(self, session, ids):
        return {k: v for k, v in super().load_many(session, ids).items() if v.doc_type == self.kind.name}

    def all_ids(self, session):
        return list(session.scalars(select(Document.id).where(Document.doc_type == self.kind.name)
                                    .order_by(Document.id)))

    def label(self, d):
        return d.number

    def shape(self, session, d: Document) -> dict:
        lines = []
        for line in d.lines:
            if line.display_type is not None:
                continue
            row = {"item_id": line.item_id, "description": line.description or "", "quantity": dec(line.quantity),
                   "unit_price": dec(line.unit_price), "taxes": sorted(t["name"] for t in (line.taxes or []))}
            if line.discount_percent is not None:
                row["discount_percent"] = dec(line.discount_percent)
            if line.discount_amount is not None:
                row["discount_amount"] = dec(line.discount_amount)
            lines.append(row)
        out = {"number": d.number, self.party: d.party_id, "subject": d.subject or "", "terms": d.terms or "",
               "lines": lines, "custom": dict(d.custom or {}), "total": dec(d.grand_total),
               "status": sync_status(self.kind.name, d.status), "discount_percent": dec(d.discount_percent),
               "discount_amount": dec(d.discount_amount), "tax": dec(d.tax_total + d.shipping_tax),
               "shipping": dec(d.shipping), "discount": dec(d.discount_total)}
        # the taxes of the document (group tax mode) and of its shipping, by name, when it has some
        if d.tax_mode == "group" and d.group_taxes:
            out["group_taxes"] = sorted(t["name"] for t in d.group_taxes)
        if d.shipping and d.shipping_taxes:
            out["shipping_taxes"] = sorted(t["name"] for t in d.shipping_taxes)
        if self.kind.name == "invoice":
            out["date"] = iso(d.invoice_date)
            out["due_date"] = iso(d.due_date)
        elif self.kind.name == "quote":
            out["due_date"] = iso(d.valid_until)
        else:
            out["due_date"] = iso(d.due_date)
        return out

    def _doc_input(self, session, data: dict) -> dict:
        out = {}
        for key, value in data.items():
            if key in ("number", "total", "status", "tax", "shipping", "discount"):
                continue
            if key == "date":
                if self.kind.name == "invoice":
                    out["invoice_date"] = _date(value, "invoice_date")
            elif key == "due_date":
                name = "valid_until" if self.kind.name == "quote" else "due_date"
                out[name] = _date(value, name)
            elif key == "lines":
                out["lines"] = [self._line(session, row, n) for n, row in enumerate(value or [])]
            elif key in ("discount_percent", "discount_amount"):
                out[key] = canonical_decimal(value, key)
            else:
                out[key] = value
        return out

    def _line(self, session, row: dict, n: int) -> dict:
        where = f"lines.{n}."
        line = {"item_id": row.get("item_id"),
                "quantity": canonical_decimal(row.get("quantity"), where + "quantity") or Decimal("1"),
                "unit_price": canonical_decimal(row.get("unit_price"), where + "unit_price") or Decimal("0"),
                "description": row.get("description") or ""}
        if row.get("discount_percent") is not None:
            line["discount_percent"] = canonical_decimal(row["discount_percent"], where + "discount_percent")
        if row.get("discount_amount") is not None:
            line["discount_amount"] = canonical_decimal(row["discount_amount"], where + "discount_amount")
        if row.get("taxes") is not None:
            names = list(row["taxes"])
            found = dict(session.execute(select(Tax.name, Tax.id).where(Tax.name.in_(names))).all()) if names else {}
            missing = [name for name in names if name not in found]
            if missing:
                raise ValidationError.for_field(f"lines.{n}.taxes", f"unknown tax {missing[0]!r}: map the remote "
                                                                   "tax code to one of ours")
            line["tax_ids"] = [found[name] for name in names]
        return line

    def set_sync_status(self, session, doc: Document, wanted: str | None) -> None:
        """Move ``doc`` along its allowed transitions to the status of the sync status ``wanted``
        (None, or the sync status it already has: nothing to do)."""
        if wanted in (None, "") or sync_status(self.kind.name, doc.status) == wanted:
            return
        label = self.kind.label.lower()
        target = FROM_SYNC_STATUS[self.kind.name].get(wanted)
        if target is None:
            raise Conflict(f"a {label} in status {doc.status} cannot become {wanted} here", code="invalid_transition")
        path = _status_path(self.kind, doc.status, target)
        if path is None:
            raise Conflict(f"{wanted} in the accounting system, but a {label} in status {doc.status} cannot "
                           f"become {target} here", code="invalid_transition")
        for status in path:
            documents.change_status(session, doc, status, note="accounting sync")

    def create(self, session, data):
        doc = documents.create_document(session, self.kind.name, self._doc_input(session, data))
        if self.remote_status and self.remote_status != doc.status:
            documents.change_status(session, doc, self.remote_status, note="accounting sync")
        self.set_sync_status(session, doc, data.get("status"))
        return doc

    @staticmethod
    def keep_line_discounts(record: Document, rows: list) -> list:
        """Remote lines without discounts (a remote that only knows net unit prices) whose net
        unit price is that of our line at the same place keep our price and discount: a line
        discount survives a round trip through QuickBooks or Tryton."""
        ours = [line for line in record.lines if line.display_type is None]
        out = []
        for n, row in enumerate(rows or []):
            row = dict(row)
            old = ours[n] if n < len(ours) else None
            if old is not None and row.get("discount_percent") is None and row.get("discount_amount") is None \
                    and (old.discount_percent is not None or old.discount_amount is not None) \
                    and row.get("item_id") == old.item_id and row.get("unit_price") is not None:
                same_qty = canonical_decimal(row.get("quantity")) == old.quantity
                if old.discount_percent is not None or same_qty:
                    net = net_unit_price(old.unit_price, old.quantity, old.discount_percent, old.discount_amount)
                    if abs(canonical_decimal(row["unit_price"]) - net) <= Decimal("0.0001"):
                        row.update(unit_price=dec(old.unit_price), discount_percent=dec(old.discount_percent),
                                   discount_amount=dec(old.discount_amount))
            out.append(row)
        return out

    def update(self, session, record, changes):
        if changes.get("lines") is not None:
            changes = dict(changes, lines=self.keep_line_discounts(record, changes["lines"]))
        data = self._doc_input(session, changes)
        wanted = changes.get("status")
        if wanted == "open":   # reopened there: reopen first, then the content can change
            self.set_sync_status(session, record, wanted)
        if data:
            record = documents.update_document(session, record, data)
        self.set_sync_status(session, record, wanted)
        return record

    def remove(self, session, record):
        try:
            with session.begin_nested():
                documents.delete_document(session, record)
            return "deleted"
        except Conflict:
            session.expire(record)
            target = "Rejected" if self.kind.name == "quote" else "Cancelled"
            if record.status == target:
                return "cancelled"
            documents.change_status(session, record, target, note="deleted in the accounting system")
            return "cancelled"

    def match(self, session, data):
        number = data.get("number")
        if not number:
            return None
        return session.scalar(select(Document).where(Document.doc_type == self.kind.name, Document.number == number))


def local_entities(settings: dict | None = None, app=None) -> dict[str, BaseLocalEntity]:
    """The adapters of every entity we can sync: the core's, then those of the enabled plugins
    (hook ``crm_accounting_entities``; an entity of the core cannot be taken over)."""
    settings = settings or {}
    status = settings.get("invoice_status_from_remote", "Approved")
    found: dict[str, BaseLocalEntity] = {
        "accounts": Accounts(), "contacts": Contacts(), "vendors": Vendors(), "items": Items(),
        **{entity: Documents(entity, (status or None) if entity == "invoices" else None)
           for entity in DOCUMENT_ENTITIES},
    }
    try:
        contributed = local_entity_adapters(app)
    except (KeyError, RuntimeError):  # no app (a unit test without plugins)
        contributed = {}
    for entity, adapter in contributed.items():
        if entity in found:
            log.warning("plugin adapter for %r ignored: the core's records are synced by accounting_sync", entity)
            continue
        found[entity] = adapter
    return found


__all__ = ["local_entities", "LocalEntity", "CRMError", "NotFound", "dec", "iso", "canonical_decimal", "ValidationError"]
