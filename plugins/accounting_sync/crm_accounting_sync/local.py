"""Our side of the sync: read CRM records as canonical records, and change them
ONLY through the core's services (so validation, numbering, stock rules, audit and
hooks apply). Payments go through the payments plugin's services when that plugin
is enabled (the core has no payments service of its own).

One :class:`LocalEntity` per sync entity.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.errors import Conflict, CRMError, NotFound, ValidationError
from crm.models import Account, Contact, Document, Item, Tax, Vendor
from crm.services import accounts, contacts, documents, items, vendors
from crm.services.doctypes import BY_PATH
from crm_accounting_sync.canonical import dec, iso, to_decimal

ADDRESS_KEYS = ("street", "city", "state", "postal_code", "country")


def address(value) -> dict:
    """A canonical address: the non-empty standard keys only."""
    value = value or {}
    return {k: str(value[k]).strip() for k in ADDRESS_KEYS if value.get(k) not in (None, "")}


def _date(value) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


class LocalEntity:
    entity = ""
    model = None
    #: canonical keys holding money/quantities (converted to Decimal for the services)
    decimals: tuple[str, ...] = ()
    has_active = True

    def load(self, session: Session, local_id: int):
        return session.get(self.model, local_id) if local_id is not None else None

    def all_ids(self, session: Session) -> list[int]:
        return list(session.scalars(select(self.model.id).order_by(self.model.id)))

    def label(self, record) -> str:
        return str(getattr(record, "name", "") or getattr(record, "number", "") or record.id)[:200]

    def updated_at(self, record) -> dt.datetime | None:
        value = getattr(record, "updated_at", None)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value

    def shape(self, session: Session, record) -> dict:
        raise NotImplementedError

    def _input(self, data: dict) -> dict:
        out = {}
        for key, value in data.items():
            if key in self.decimals:
                value = to_decimal(value)
                if value is None:
                    continue
            out[key] = value
        return out

    def create(self, session: Session, data: dict):
        raise NotImplementedError

    def update(self, session: Session, record, changes: dict):
        raise NotImplementedError

    def remove(self, session: Session, record) -> str:
        """Delete, or deactivate when the record is still used; returns what was done."""
        raise NotImplementedError

    def match(self, session: Session, data: dict):
        """An existing record that is obviously the same (first sync of two filled systems)."""
        return None

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
                "active": bool(i.active), "custom": dict(i.custom or {})}

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
               "lines": lines, "custom": dict(d.custom or {}), "total": dec(d.grand_total), "status": d.status,
               "tax": dec(d.tax_total + d.shipping_tax), "shipping": dec(d.shipping),
               "discount": dec(d.discount_total)}
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
                    out["invoice_date"] = _date(value)
            elif key == "due_date":
                out["valid_until" if self.kind.name == "quote" else "due_date"] = _date(value)
            elif key == "lines":
                out["lines"] = [self._line(session, row, n) for n, row in enumerate(value or [])]
            else:
                out[key] = value
        return out

    def _line(self, session, row: dict, n: int) -> dict:
        line = {"item_id": row.get("item_id"), "quantity": to_decimal(row.get("quantity")) or Decimal("1"),
                "unit_price": to_decimal(row.get("unit_price")) or Decimal("0"),
                "description": row.get("description") or ""}
        if row.get("discount_percent") is not None:
            line["discount_percent"] = to_decimal(row["discount_percent"])
        if row.get("discount_amount") is not None:
            line["discount_amount"] = to_decimal(row["discount_amount"])
        if row.get("taxes") is not None:
            names = list(row["taxes"])
            found = dict(session.execute(select(Tax.name, Tax.id).where(Tax.name.in_(names))).all()) if names else {}
            missing = [name for name in names if name not in found]
            if missing:
                raise ValidationError.for_field(f"lines.{n}.taxes", f"unknown tax {missing[0]!r}: map the remote "
                                                                   "tax code to one of ours")
            line["tax_ids"] = [found[name] for name in names]
        return line

    def create(self, session, data):
        doc = documents.create_document(session, self.kind.name, self._doc_input(session, data))
        if self.remote_status and self.remote_status != doc.status:
            documents.change_status(session, doc, self.remote_status, note="accounting sync")
        return doc

    def update(self, session, record, changes):
        data = self._doc_input(session, changes)
        if not data:
            return record
        return documents.update_document(session, record, data)

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


class Payments(LocalEntity):
    """Payments of invoices, through the payments plugin's services."""

    entity = "payments"
    has_active = False
    decimals = ("amount",)

    def _services(self):
        from crm.services.hooks import registry
        reg = registry()
        if reg is None or not reg.is_enabled("payments"):
            raise Conflict("payments are synced through the payments plugin, which is not enabled",
                           code="payments_disabled")
        from crm_payments import services
        return services

    @property
    def model(self):
        from crm_payments.models import Payment
        return Payment

    def label(self, p):
        return f"{p.amount} {p.date.isoformat() if p.date else ''}"

    def all_ids(self, session):
        try:
            services = self._services()
        except Conflict:
            return []
        from crm_payments.models import Payment
        counted = select(services.PaymentStatus.id).where(services.PaymentStatus.counts_as_received.is_(True),
                                                           services.PaymentStatus.is_refund.is_(False))
        return list(session.scalars(select(Payment.id).where(Payment.status_id.in_(counted)).order_by(Payment.id)))

    def skip_reason(self, record) -> str | None:
        status = record.status
        if not status.counts_as_received or status.is_refund:
            return f"payments in status {status.name} are not sent (only money received)"
        return None

    def shape(self, session, p) -> dict:
        return {"invoice_id": p.invoice_id, "account_id": p.invoice.account_id, "amount": dec(p.amount),
                "date": iso(p.date),
                "method": p.method.name if p.method is not None else None, "reference": p.reference or ""}

    def _pay_input(self, data: dict) -> dict:
        out = self._input(data)
        if "date" in out:
            out["date"] = _date(out["date"])
        out.pop("invoice_id", None)
        out.pop("account_id", None)
        return out

    def create(self, session, data):
        services = self._services()
        if data.get("invoice_id") is None:
            raise ValidationError.for_field("invoice_id", "the payment is not for an invoice we know")
        return services.record_payment(session, data["invoice_id"], self._pay_input(data))

    def update(self, session, record, changes):
        services = self._services()
        if "invoice_id" in changes and changes["invoice_id"] != record.invoice_id:
            raise Conflict("a payment cannot move to another invoice: delete it and record a new one",
                           code="payment_moved")
        data = self._pay_input(changes)
        return services.update_payment(session, record.id, data) if data else record

    def remove(self, session, record):
        self._services().delete_payment(session, record.id)
        return "deleted"


def local_entities(settings: dict | None = None) -> dict[str, LocalEntity]:
    settings = settings or {}
    status = settings.get("invoice_status_from_remote", "Approved")
    return {
        "accounts": Accounts(), "contacts": Contacts(), "vendors": Vendors(), "items": Items(),
        "quotes": Documents("quotes"), "sales-orders": Documents("sales-orders"),
        "purchase-orders": Documents("purchase-orders"), "invoices": Documents("invoices", status or None),
        "payments": Payments(),
    }


__all__ = ["local_entities", "LocalEntity", "CRMError", "NotFound"]
