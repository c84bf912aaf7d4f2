"""Tryton (trytond with party, product, sale, purchase and account_invoice), reached over
its XML-RPC protocol through proteus. Optional: ``pip install crm-accounting-sync[tryton]``.

Settings: ``url`` (``http://host:8000/<database>/rpc/``), ``username``; secret
``password``. ``customer_category`` / ``supplier_category`` (party categories that tell
customers and suppliers apart, default "Customer" / "Supplier"), ``account_category``
(the product category with the revenue/expense accounts, default "CRM"),
``uom`` (the unit of measure of items whose usage unit is not mapped, default "Unit"),
``units`` (usage unit = Tryton unit pairs on top of ``tryton_settings.DEFAULT_UNITS``, "jornada = Day;
saco = Kilogram"), ``payment_term`` (optional name).

==================  =====================  =============================================
ours                Tryton                 notes
==================  =====================  =============================================
accounts            party.party            in the customer category; email, phone and
                                           website as (unnamed) contact mechanisms; first
                                           address
contacts            party.contact_mechanism  the named mechanisms of the account's party
                                           (email, phone; "other" holding the name)
vendors             party.party            in the supplier category
items               product.product        with its template (goods or service), in the
                                           unit of measure its usage unit names
quotes              sale.sale              marked "CRM: quote" in its comment (sent from
                                           here, or quoted in Tryton); accepted ->
                                           quote + confirm, rejected -> cancel
sales-orders        sale.sale              the other sales; lines replaced while draft
purchase-orders     purchase.purchase      idem
invoices            account.invoice (out)  written only while draft: a posted invoice is
                                           immutable in Tryton -> a conflict in our log
payments            account.move.line      read from invoices' payment lines (only from
                                           Tryton: record payments there)
==================  =====================  =============================================

Discounts: Tryton without its discount modules has net unit prices (a line discount goes as
the net price) and the document discount goes as product-less lines "Discount" / "Discount
10%" (one per set of taxes). Statuses: cancelled here -> ``cancel`` there; cancelled / done
there -> cancelled / closed here (see ``crm.accounting_connectors``).

Optimistic locking: every write sends the ``_timestamp`` read with the record;
Tryton answers ``ConcurrencyException`` (fault 4) when it changed meanwhile, which
the engine handles as a stale version (re-read, merge, write again). Deletions in
Tryton are found by listing the ids that still exist.
"""
from __future__ import annotations

import base64
import datetime as dt
import re
import socket
import xmlrpc.client
from decimal import Decimal
from urllib.parse import urlsplit

from proteus import config as pconfig

from crm.accounting_connectors import (
    DOCUMENT_ENTITIES,
    AuthenticationError,
    BaseConnector,
    ChangeSet,
    NotFoundError,
    RemoteConflict,
    RemoteRecord,
    RemoteValidationError,
    RetryableError,
    SkipRecord,
    StaleVersionError,
    SyncError,
    net_unit_price,
)
from crm.money import round_half_even
from crm_accounting_sync.canonical import dec, iso
from crm_accounting_sync.local import address
from crm_accounting_sync.tryton_settings import units_map


class _SessionTransport(xmlrpc.client.Transport):
    """XML-RPC with ``Authorization: Session <base64(user:id:session)>``, as Tryton's clients."""

    def __init__(self, token: str):
        super().__init__(use_builtin_types=True)
        self.token = token

    def send_headers(self, connection, headers):
        super().send_headers(connection, list(headers) + [("Authorization", f"Session {self.token}")])


MODELS = {"accounts": "party.party", "contacts": "party.contact_mechanism", "vendors": "party.party",
          "items": "product.product", "quotes": "sale.sale", "sales-orders": "sale.sale", "purchase-orders": "purchase.purchase", "invoices": "account.invoice",
          "payments": "account.move.line"}
MARGIN = dt.timedelta(minutes=5)   # re-read a little before the cursor: transactions commit late
DOC_FIELDS = ("number", "account_id", "subject", "lines", "total", "discount", "discount_percent",
              "discount_amount", "status")
#: the description of the product-less lines that carry a document discount ("Discount 10%")
DISCOUNT_LABEL = "Discount"
DISCOUNT_RE = re.compile(r"^Discount(?: (?P<percent>\d+(?:\.\d+)?)%)?$")
#: Tryton states -> our sync status (``crm.accounting_connectors.DOCUMENT_STATUSES``)
STATES = {"cancelled": "cancelled", "done": "closed"}
QUOTE_STATES = {"draft": "open", "quotation": "open", "cancelled": "rejected"}   # confirmed and later: accepted
#: what tells a quote from a sales order among Tryton's sales (both are ``sale.sale``): this line
#: in the sale's comment, set on the quotes sent from here and on the sales quoted in Tryton
QUOTE_MARK = "CRM: quote"
#: a contact's contact mechanisms, the first of these types being its "primary" one (its remote id)
CONTACT_TYPES = ("email", "phone", "mobile", "other")


def _cents(amount: Decimal) -> Decimal:
    """An amount to the cent, ties to even, as Tryton rounds a line's amount."""
    return round_half_even(amount, 2)


def _d(value) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal("0")


def _with_mark(comment: str | None) -> str:
    comment = (comment or "").strip()
    return comment if QUOTE_MARK in comment else (f"{comment}\n{QUOTE_MARK}" if comment else QUOTE_MARK)


def _parse(value) -> dt.datetime | None:
    if value in (None, False, ""):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.timezone.utc)


class TrytonConnector(BaseConnector):
    name = "tryton"
    label = "Tryton"
    entities = ("accounts", "contacts", "vendors", "items", "quotes", "sales-orders", "purchase-orders", "invoices",
                "payments")
    fields = {
        "accounts": ("name", "email", "phone", "website", "billing_address", "active"),
        "contacts": ("first_name", "last_name", "email", "phone", "title", "account_id", "active"),
        "vendors": ("name", "email", "phone", "website", "address", "active"),
        # usage_unit goes one way: it chooses the unit of measure of a product created in Tryton
        "items": ("kind", "name", "sku", "unit_price", "purchase_cost", "description", "active", "usage_unit"),
        "quotes": DOC_FIELDS,
        "sales-orders": DOC_FIELDS,
        "purchase-orders": ("number", "vendor_id", "subject", "lines", "total", "discount", "discount_percent",
                            "discount_amount", "status"),
        "invoices": DOC_FIELDS + ("date", "due_date"),
        "payments": ("invoice_id", "amount", "date", "reference"),
    }
    deactivate_only = frozenset({"accounts", "vendors", "items"})
    settings_keys = ("url", "username", "customer_category", "supplier_category", "account_category", "uom",
                     "units", "payment_term")
    secret_keys = ("password",)
    from crm_accounting_sync.tryton_settings import SETTINGS_FIELDS as settings_fields  # the settings form
    batch_size = 1

    def __init__(self, settings, secrets, save_secrets=None):
        super().__init__(settings, secrets, save_secrets)
        self._config = None
        self._ids: dict[str, int] = {}
        self.http_calls = 0

    # -- the connection --------------------------------------------------------------------------

    def _url(self) -> str:
        """Tryton's XML-RPC address of the database, ``http://host:8000/<database>/rpc/``: one given
        as ``.../<database>/`` (which trytond answers with 405) gets its ``rpc/``."""
        url = self.settings.get("url")
        if not url:
            raise RemoteValidationError("the connection has no url (http://host:8000/<database>/rpc/)")
        parts = urlsplit(url)
        segments = [p for p in parts.path.split("/") if p]
        if len(segments) == 1:
            url = parts._replace(path=f"/{segments[0]}/rpc/").geturl()
        return url

    @property
    def config(self):
        """proteus' XML-RPC configuration, signed in once with a Tryton session (``common.db.login``):
        HTTP basic authentication would check the password on every call, which is slow by design."""
        if self._config is None:
            url = self._url()
            username = self.settings.get("username") or "admin"
            login = xmlrpc.client.ServerProxy(url, allow_none=True, use_builtin_types=True)
            try:
                answer = self._call(lambda: login.common.db.login(username, {"password": self.secrets.get("password")
                                                                              or ""}, "en"))
            except RemoteValidationError as exc:
                raise AuthenticationError(f"Tryton refused the login: {exc.message}") from None
            user_id, session = answer[0], answer[1]
            token = base64.b64encode(f"{username}:{user_id}:{session}".encode()).decode()
            self.session_token = token
            self._config = self._call(lambda: pconfig.XmlrpcConfig(url, transport=_SessionTransport(token)))
        return self._config

    def _call(self, fn):
        self.http_calls += 1
        try:
            return fn()
        except xmlrpc.client.Fault as fault:
            text = str(fault.faultString)
            if fault.faultCode == 4 or "modified in the meanwhile" in text:
                raise StaleVersionError(f"Tryton: {text}", code="concurrency") from None
            if "posted" in text.lower() and "modif" in text.lower():
                raise RemoteConflict(f"Tryton: {text}", code="posted") from None
            if fault.faultCode == 1:
                raise RemoteValidationError(f"Tryton: {text}", code="user_error") from None
            if "RateLimit" in text or fault.faultCode == 429:
                raise RetryableError(f"Tryton: {text}", code="rate_limit") from None
            raise RemoteValidationError(f"Tryton: {text}", code=str(fault.faultCode)) from None
        except xmlrpc.client.ProtocolError as exc:
            if exc.errcode in (401, 403):
                raise AuthenticationError(f"Tryton refused the login ({exc.errcode})", status=exc.errcode) from None
            if exc.errcode == 429 or exc.errcode >= 500:
                raise RetryableError(f"Tryton answered {exc.errcode}", status=exc.errcode) from None
            raise RemoteValidationError(f"Tryton answered {exc.errcode}: {exc.errmsg}") from None
        except (OSError, socket.timeout) as exc:
            raise RetryableError(f"connection to Tryton failed: {exc.__class__.__name__}", code="network") from None

    def _proxy(self, model: str):
        return getattr(self.config.server.model, model)

    def ctx(self, **extra) -> dict:
        return {**self.config.context, **extra}

    def rpc(self, model: str, method: str, *args, **ctx):
        proxy = self._proxy(model)
        return self._call(lambda: getattr(proxy, method)(*args, self.ctx(**ctx)))

    def refresh_auth(self) -> None:
        self._config = None  # log in again

    def check(self) -> dict:
        company = self.rpc("company.company", "read", [self.config.context.get("company")], ["rec_name"])
        return {"ok": True, "company": company[0]["rec_name"] if company else None}

    def _id_of(self, model: str, name: str, extra=()) -> int:
        key = f"{model}:{name}"
        if key not in self._ids:
            found = self.rpc(model, "search", [("name", "=", name), *extra], 0, 1, None)
            if not found:
                raise RemoteValidationError(f"Tryton has no {model} named {name!r} (see the connection settings)")
            self._ids[key] = found[0]
        return self._ids[key]

    # -- reading ---------------------------------------------------------------------------------

    def _domain(self, entity: str) -> list:
        """What belongs to this connection in Tryton: parties of its customer / supplier category,
        products of its account category, and the documents of those parties."""
        customers = self.settings.get("customer_category") or "Customer"
        suppliers = self.settings.get("supplier_category") or "Supplier"
        if entity == "accounts":
            return [("categories.name", "=", customers)]
        if entity == "vendors":
            return [("categories.name", "=", suppliers)]
        if entity == "items":
            return [("template.account_category.name", "=", self.settings.get("account_category") or "CRM")]
        if entity == "contacts":
            return [("party.categories.name", "=", customers), ("name", "!=", None), ("name", "!=", "")]
        if entity == "quotes":
            return [("party.categories.name", "=", customers),
                    ["OR", ("comment", "ilike", f"%{QUOTE_MARK}%"), ("state", "=", "quotation")]]
        if entity == "sales-orders":
            return [("party.categories.name", "=", customers), ("state", "!=", "quotation"),
                    ["OR", ("comment", "=", None), ("comment", "not ilike", f"%{QUOTE_MARK}%")]]
        if entity == "purchase-orders":
            return [("party.categories.name", "=", suppliers)]
        if entity == "invoices":
            return [("type", "=", "out"), ("party.categories.name", "=", customers)]
        return []

    READ = {
        "party.party": ["name", "active", "contact_mechanisms", "addresses", "create_date", "write_date",
                        "_timestamp"],
        "product.product": ["template", "code", "description", "active", "cost_price", "create_date", "write_date",
                            "_timestamp", "template.name", "template.type", "template.list_price",
                            "template.code", "template.active", "template.write_date", "default_uom"],
        "sale.sale": ["number", "party", "description", "lines", "state", "total_amount", "sale_date",
                      "create_date", "write_date", "_timestamp", "comment"],
        "purchase.purchase": ["number", "party", "description", "lines", "state", "total_amount", "purchase_date",
                              "create_date", "write_date", "_timestamp"],
        "account.invoice": ["number", "party", "description", "lines", "state", "total_amount", "invoice_date",
                            "payment_term_date", "create_date", "write_date", "_timestamp", "payment_lines",
                            "reference"],
    }

    def _read(self, entity: str, ids: list[int]) -> list[RemoteRecord]:
        if not ids:
            return []
        model = MODELS[entity]
        rows = self.rpc(model, "read", list(ids), self.READ[model], active_test=False)
        if model == "party.party":
            mech_ids = [m for r in rows for m in r["contact_mechanisms"]]
            addr_ids = [a for r in rows for a in r["addresses"]]
            mechs = {m["id"]: m for m in self.rpc("party.contact_mechanism", "read", mech_ids,
                                                   ["type", "value", "name"], active_test=False)} if mech_ids else {}
            addrs = {a["id"]: a for a in self.rpc("party.address", "read", addr_ids,
                                                   ["street", "city", "postal_code"], active_test=False)} if addr_ids else {}
            for r in rows:
                r["contact_mechanisms"] = [mechs[m] for m in r["contact_mechanisms"] if m in mechs]
                r["addresses"] = [addrs[a] for a in r["addresses"] if a in addrs]
        elif model in ("sale.sale", "purchase.purchase", "account.invoice"):
            line_model = {"sale.sale": "sale.line", "purchase.purchase": "purchase.line",
                          "account.invoice": "account.invoice.line"}[model]
            line_ids = [li for r in rows for li in r["lines"]]
            lines = {li["id"]: li for li in self.rpc(line_model, "read", line_ids,
                                                       ["type", "product", "quantity", "unit_price", "description",
                                                        "taxes", "sequence"])} if line_ids else {}
            tax_ids = {t for li in lines.values() for t in li["taxes"]}
            taxes = {t["id"]: t["name"] for t in self.rpc("account.tax", "read", list(tax_ids), ["name"])} \
                if tax_ids else {}
            for r in rows:
                r["lines"] = [dict(lines[li], taxes=sorted(taxes.get(t, "") for t in lines[li]["taxes"]))
                              for li in r["lines"] if li in lines]
        for r in rows:
            for key in [k for k in r if k.endswith(".") and isinstance(r[k], dict)]:
                for sub, value in r.pop(key).items():
                    r[f"{key}{sub}"] = value
        out = []
        for r in rows:
            updated = max(filter(None, [_parse(r.get("create_date")), _parse(r.get("write_date")),
                                        _parse(r.get("template.write_date"))]), default=None)
            out.append(RemoteRecord(id=str(r["id"]), version=str(r.get("_timestamp") or ""), updated_at=updated,
                                    data=r))
        return out

    def changes(self, entity: str, cursor: str | None) -> ChangeSet:
        if entity == "payments":
            return self._payment_changes(cursor)
        if entity == "contacts":
            return self._contact_changes(cursor)
        if entity == "quotes":
            self._mark_quotes()
        model = MODELS[entity]
        domain = list(self._domain(entity))
        existing = self.rpc(model, "search", domain, 0, None, None, active_test=False)
        if cursor:
            since = (_parse(cursor) - MARGIN).replace(tzinfo=None)
            changed = [("create_date", ">=", since), ("write_date", ">=", since)]
            if model == "product.product":
                changed.append(("template.write_date", ">=", since))
            ids = self.rpc(model, "search", domain + [["OR", *changed]], 0, None, None, active_test=False)
        else:
            ids = existing
        records = self._read(entity, ids)
        newest = max([r.updated_at for r in records if r.updated_at] + ([_parse(cursor)] if cursor else []),
                     default=None)
        next_cursor = (newest or dt.datetime.now(dt.timezone.utc)).isoformat()
        return ChangeSet(records, next_cursor, complete=False, existing={str(i) for i in existing})

    def fetch(self, entity: str, remote_id: str) -> RemoteRecord | None:
        if entity == "payments":
            return self._payment(remote_id)
        if entity == "contacts":
            return self._contact(remote_id)
        model = MODELS[entity]
        found = self.rpc(model, "search", [("id", "=", int(remote_id))] + self._domain(entity), 0, 1, None,
                         active_test=False)
        if not found:
            return None
        return self._read(entity, found)[0]

    # -- contacts: named contact mechanisms of the account's party --------------------------------

    MECH_FIELDS = ["party", "name", "type", "value", "comment", "active", "create_date", "write_date", "_timestamp"]

    def _contact_groups(self, domain) -> dict[tuple, list[dict]]:
        rows = self.rpc("party.contact_mechanism", "search_read", domain, 0, None, [("id", "ASC")],
                        self.MECH_FIELDS, active_test=False)
        groups: dict[tuple, list[dict]] = {}
        for row in rows:
            groups.setdefault((row["party"], row["name"].strip()), []).append(row)
        return groups

    @staticmethod
    def _primary(group: list[dict]) -> dict:
        rank = {t: n for n, t in enumerate(CONTACT_TYPES)}
        return min(group, key=lambda m: (rank.get(m["type"], len(rank)), m["id"]))

    def _contact_record(self, group: list[dict]) -> RemoteRecord:
        primary = self._primary(group)
        updated = max(filter(None, [_parse(m.get(k)) for m in group for k in ("create_date", "write_date")]),
                      default=None)
        data = {"party": primary["party"], "name": primary["name"], "comment": primary.get("comment") or "",
                "active": bool(primary.get("active", True)), "mechanisms": group,
                "email": next((m["value"] for m in group if m["type"] == "email"), ""),
                "phone": next((m["value"] for m in group if m["type"] in ("phone", "mobile")), "")}
        return RemoteRecord(id=str(primary["id"]), version=str(primary.get("_timestamp") or ""), updated_at=updated,
                            data=data)

    def _contact_changes(self, cursor) -> ChangeSet:
        groups = self._contact_groups(self._domain("contacts"))
        records = [self._contact_record(g) for g in groups.values()]
        existing = {r.id for r in records}
        if cursor:
            since = _parse(cursor) - MARGIN
            records = [r for r in records if r.updated_at is None or r.updated_at >= since]
        newest = max([r.updated_at for r in records if r.updated_at] + ([_parse(cursor)] if cursor else []),
                     default=None)
        return ChangeSet(records, (newest or dt.datetime.now(dt.timezone.utc)).isoformat(), existing=existing)

    def _contact(self, remote_id) -> RemoteRecord | None:
        if not self.rpc("party.contact_mechanism", "search", [("id", "=", int(remote_id))] + self._domain("contacts"),
                        0, 1, None, active_test=False):
            return None
        found = self.rpc("party.contact_mechanism", "read", [int(remote_id)], ["party", "name"], active_test=False)
        group = self._contact_groups([("party", "=", found[0]["party"]), ("name", "=", found[0]["name"])])
        for rows in group.values():
            if any(m["id"] == int(remote_id) for m in rows):
                return self._contact_record(rows)
        return None

    def _push_contact(self, payload, remote_id, remote_version) -> RemoteRecord:
        """The contact's mechanisms: its email and its phone, named with its name (the first one its
        remote id); a contact with neither is one mechanism of type "other" holding the name."""
        wanted = [(t, payload[k]) for t, k in (("email", "email"), ("phone", "phone")) if payload.get(k)] \
            or [("other", payload["name"])]
        common = {"name": payload["name"], "active": payload["active"]}
        if remote_id is None:
            ids = self.rpc("party.contact_mechanism", "create", [
                {**common, "party": payload["party"], "type": t, "value": v, "comment": payload["comment"] if n == 0
                 else ""} for n, (t, v) in enumerate(wanted)])
            return self._contact(ids[0])
        current = self._contact(remote_id)
        if current is None:
            raise NotFoundError(f"contact mechanism {remote_id} no longer exists in Tryton")
        primary = int(remote_id)
        # the mechanisms we keep (email, phone, mobile, other); a named website or fax stays as it is
        others = [m for m in current.data["mechanisms"] if m["id"] != primary and m["type"] in CONTACT_TYPES]
        stamp = {f"party.contact_mechanism,{remote_id}": remote_version} if remote_version else {}
        (ptype, pvalue), rest = wanted[0], wanted[1:]
        self.rpc("party.contact_mechanism", "write", [primary], {**common, "type": ptype, "value": pvalue,
                                                                 "comment": payload["comment"]}, _timestamp=stamp)
        for n, (t, v) in enumerate(rest):
            if n < len(others):
                self.rpc("party.contact_mechanism", "write", [others[n]["id"]], {**common, "type": t, "value": v})
            else:
                self.rpc("party.contact_mechanism", "create", [{**common, "party": payload["party"], "type": t,
                                                                "value": v}])
        if len(others) > len(rest):
            self.rpc("party.contact_mechanism", "delete", [m["id"] for m in others[len(rest):]])
        return self._contact(remote_id)

    # -- quotes: sales quoted in Tryton, or sent from here as quotes --------------------------------

    def _mark_quotes(self) -> None:
        """A sale quoted in Tryton becomes a quote here, for good: mark it (it stays a quote when it
        is confirmed there)."""
        customers = self.settings.get("customer_category") or "Customer"
        rows = self.rpc("sale.sale", "search_read", [("party.categories.name", "=", customers),
                                                     ("state", "=", "quotation"),
                                                     ["OR", ("comment", "=", None),
                                                      ("comment", "not ilike", f"%{QUOTE_MARK}%")]],
                        0, None, None, ["comment"])
        for row in rows:
            self.rpc("sale.sale", "write", [row["id"]], {"comment": _with_mark(row.get("comment"))})

    # -- payments (read from Tryton) ---------------------------------------------------------------

    def _payment_changes(self, cursor):
        domain = self._domain("invoices") + [("state", "in", ["posted", "paid"])]
        if cursor:
            since = (_parse(cursor) - MARGIN).replace(tzinfo=None)
            domain.append(["OR", ("write_date", ">=", since), ("create_date", ">=", since)])
        invoices = self.rpc("account.invoice", "search_read", domain, 0, None, None,
                            ["payment_lines", "write_date", "create_date"])
        line_ids = [li for inv in invoices for li in inv["payment_lines"]]
        records = [self._payment_record(row, inv["id"]) for inv in invoices
                   for row in self.rpc("account.move.line", "read", inv["payment_lines"],
                                       ["date", "debit", "credit", "description", "move", "_timestamp",
                                        "create_date", "write_date"]) if inv["payment_lines"]] if line_ids else []
        newest = max([r.updated_at for r in records if r.updated_at] +
                     [_parse(inv.get("write_date") or inv.get("create_date")) for inv in invoices] +
                     ([_parse(cursor)] if cursor else []), default=None)
        return ChangeSet(records, (newest or dt.datetime.now(dt.timezone.utc)).isoformat())

    def _payment_record(self, row, invoice_id) -> RemoteRecord:
        return RemoteRecord(id=str(row["id"]), version=str(row.get("_timestamp") or ""),
                            updated_at=_parse(row.get("write_date") or row.get("create_date")),
                            data={**row, "invoice": invoice_id})

    def _payment(self, remote_id):
        invoices = self.rpc("account.invoice", "search", [("payment_lines", "=", int(remote_id))], 0, 1, None)
        if not invoices:
            return None
        rows = self.rpc("account.move.line", "read", [int(remote_id)],
                        ["date", "debit", "credit", "description", "move", "_timestamp", "create_date", "write_date"])
        return self._payment_record(rows[0], invoices[0]) if rows else None

    # -- writing ---------------------------------------------------------------------------------

    def push(self, entity, payload, remote_id, remote_version, *, request_id):
        if entity == "payments":
            raise SkipRecord("payments are recorded in Tryton (paying the invoice there) and read from it")
        model = MODELS[entity]
        payload = dict(payload)
        post = payload.pop("_post", None)
        transition = payload.pop("_transition", None)
        if entity == "items":
            return self._push_item(payload, remote_id, remote_version)
        if entity == "contacts":
            return self._push_contact(payload, remote_id, remote_version)
        if remote_id is None:
            values = payload.pop("_create", None) or payload
            new_id = self.rpc(model, "create", [values])[0]
            remote_id = str(new_id)
        else:
            current = self.fetch(entity, remote_id)
            if current is None:
                raise NotFoundError(f"{model} {remote_id} no longer exists in Tryton")
            state = current.data.get("state")
            if transition and state != "draft":
                # cancelled (accepted) here: cancelled (confirmed) there; its content no longer changes
                self._transition(model, int(remote_id), transition, state)
                return self.fetch(entity, remote_id)
            if state is not None and state != "draft":
                raise RemoteConflict(f"the {model.split('.')[0]} is {state} in Tryton: only drafts can change "
                                     "(Tryton keeps posted and confirmed documents as they are)", code="not_draft")
            values = self._update_values(model, payload.pop("_update", None) or payload, current)
            timestamp = {f"{model},{remote_id}": remote_version} if remote_version else {}
            self.rpc(model, "write", [int(remote_id)], values, _timestamp=timestamp)
        for step in post or ():
            step(int(remote_id))
        if transition:
            self._transition(model, int(remote_id), transition, "draft")
        return self.fetch(entity, remote_id)

    def _transition(self, model: str, remote_id: int, transition: str, state: str) -> None:
        if transition == "cancel" and state != "cancelled":
            self.rpc(model, "cancel", [remote_id])
        elif transition == "confirm" and state in ("draft", "quotation"):
            if state == "draft":
                self.rpc(model, "quote", [remote_id])
            self.rpc(model, "confirm", [remote_id])

    def _push_item(self, payload, remote_id, remote_version):
        template, product = payload["_template"], payload["_product"]
        if remote_id is None:
            tid = self.rpc("product.template", "create", [dict(template, products=[("create", [product])])])[0]
            remote_id = str(self.rpc("product.template", "read", [tid], ["products"])[0]["products"][0])
            return self.fetch("items", remote_id)
        current = self.fetch("items", remote_id)
        if current is None:
            raise NotFoundError(f"product {remote_id} no longer exists in Tryton")
        stamp = {f"product.product,{remote_id}": remote_version} if remote_version else {}
        self.rpc("product.product", "write", [int(remote_id)], product, _timestamp=stamp)
        self.rpc("product.template", "write", [current.data["template"]], payload["_template_changes"])
        return self.fetch("items", remote_id)

    def _update_values(self, model, values, current) -> dict:
        values = dict(values)
        if "lines" in values:
            old = [li["id"] for li in current.data.get("lines") or []]
            ops = values["lines"]
            values["lines"] = ([("delete", old)] if old else []) + ops
        if "contact_mechanisms" in values:   # the party's own (unnamed: named ones are its contacts)
            old = [m["id"] for m in current.data.get("contact_mechanisms") or [] if not (m.get("name") or "").strip()]
            values["contact_mechanisms"] = ([("delete", old)] if old else []) + values["contact_mechanisms"]
        if "addresses" in values:
            existing = current.data.get("addresses") or []
            if existing:
                values["addresses"] = [("write", [existing[0]["id"]], values["addresses"][0][1][0])]
        return values

    def delete(self, entity, remote_id, remote_version, *, request_id):
        model = MODELS[entity]
        if entity == "contacts":
            current = self._contact(remote_id)
            if current is None:
                raise NotFoundError(f"contact mechanism {remote_id} no longer exists in Tryton")
            self.rpc(model, "delete", [m["id"] for m in current.data["mechanisms"]])
            return RemoteRecord(id=str(remote_id), deleted=True)
        if entity in self.deactivate_only:
            if model == "product.product":
                rec = self.fetch(entity, remote_id)
                self.rpc("product.template", "write", [rec.data["template"]], {"active": False})
            else:
                self.rpc(model, "write", [int(remote_id)], {"active": False})
            return self.fetch(entity, remote_id)
        current = self.fetch(entity, remote_id)
        if current is None:
            raise NotFoundError(f"{model} {remote_id} no longer exists in Tryton")
        if current.data.get("state") not in ("draft", "cancelled", None):
            raise RemoteConflict(f"the {model} is {current.data.get('state')} in Tryton and cannot be deleted")
        self.rpc(model, "delete", [int(remote_id)])
        return RemoteRecord(id=str(remote_id), deleted=True)

    # -- translating -----------------------------------------------------------------------------

    def _mechanisms(self, record) -> list:
        rows = []
        for kind, key in (("email", "email"), ("phone", "phone"), ("website", "website")):
            if record.get(key):
                rows.append({"type": kind, "value": record[key]})
        return [("create", rows)] if rows else []

    def _party(self, record, address_key, category_setting, default_category) -> dict:
        addr = record.get(address_key) or {}
        category = self._id_of("party.category", self.settings.get(category_setting) or default_category)
        values = {"name": record.get("name") or "?", "active": bool(record.get("active", True)),
                  "contact_mechanisms": self._mechanisms(record),
                  "addresses": [("create", [{"street": addr.get("street", ""), "city": addr.get("city", ""),
                                             "postal_code": addr.get("postal_code", "")}])]}
        create = dict(values, categories=[("add", [category])])
        return {**values, "_create": create, "_update": values}

    def _taxes(self, names) -> list[int]:
        out = []
        for name in names or []:
            mapped = self.settings.get("value_maps", {}).get("tax_codes", {}).get(name, name)
            out.append(self._id_of("account.tax", mapped))
        return out

    def _product_info(self, product_id: int) -> dict:
        key = f"product-info:{product_id}"
        if key not in self._ids:
            row = self.rpc("product.product", "read", [product_id], ["default_uom", "default_uom.name",
                                                                     "default_uom.digits",
                                                                     "template.account_category"])[0]
            category = (row.get("template.") or {}).get("account_category")
            accounts = self.rpc("product.category", "read", [category], ["account_revenue", "account_expense"])[0] \
                if category else {}
            row.update(account_revenue=accounts.get("account_revenue"), account_expense=accounts.get("account_expense"))
            self._ids[key] = row
        return self._ids[key]

    def _lines(self, entity, record, refs) -> list:
        rows = []
        groups: dict[tuple, Decimal] = {}   # taxes -> net amount, for the document discount
        account = None
        for n, row in enumerate(record.get("lines") or [], 1):
            product = int(refs.remote("items", row.get("item_id")))
            info = self._product_info(product)
            qty = _d(row.get("quantity") or "1")
            self._check_digits(n, qty, info)
            # Tryton (without its discount modules) has no line discount: the net unit price
            price = net_unit_price(row.get("unit_price"), qty, row.get("discount_percent"),
                                   row.get("discount_amount"))
            values = {"type": "line", "product": product, "quantity": float(qty),  # a Float field in Tryton
                      "unit_price": price, "description": row.get("description") or "", "sequence": n,
                      "unit": info["default_uom"]}
            taxes = self._taxes(row.get("taxes")) if entity != "purchase-orders" else []
            values["taxes"] = [("add", taxes)]
            if entity == "invoices":
                values["account"] = info["account_revenue"]
                values["invoice_type"] = "out"
            account = account or info["account_revenue" if entity != "purchase-orders" else "account_expense"]
            key = tuple(sorted(taxes))
            groups[key] = groups.get(key, Decimal("0")) + _cents(qty * price)
            rows.append(values)
        rows += self._discount_lines(entity, record, groups, account, len(rows))
        return [("create", rows)] if rows else []

    @staticmethod
    def _check_digits(n: int, qty: Decimal, info: dict) -> None:
        """A quantity with more decimals than its product's unit of measure takes is refused here,
        naming the unit (Tryton refuses it too; rounding it would change the document)."""
        unit = info.get("default_uom.") or {}
        digits = unit.get("digits")
        if digits is not None and qty != round_half_even(qty, int(digits)):
            raise RemoteValidationError(
                f"line {n}: the quantity {qty} has more decimals than Tryton's unit of measure "
                f"{unit.get('name')!r} of its product takes ({digits}); map the item's usage unit to a unit "
                "with decimals (the connection's setting units) or change the quantity", code="uom_digits")

    def _uom(self, usage_unit: str | None) -> int:
        """The Tryton unit of measure of a usage unit: the connection's ``units`` and
        ``tryton_settings.DEFAULT_UNITS``, else its ``uom`` setting (default "Unit")."""
        name = units_map(self.settings.get("units")).get((usage_unit or "").strip().lower())
        return self._id_of("product.uom", name or self.settings.get("uom") or "Unit")

    def _discount_lines(self, entity, record, groups, account, count) -> list:
        """The document discount as product-less lines "Discount" / "Discount 10%", one per set of
        taxes, sharing the amount in proportion to the lines' net amounts (so Tryton's taxes agree)."""
        total = _d(record.get("discount"))
        base = sum(groups.values(), Decimal("0"))
        if not total or not base:
            return []
        label = DISCOUNT_LABEL
        if record.get("discount_percent") not in (None, ""):
            label = f"{DISCOUNT_LABEL} {record['discount_percent']}%"
        out, left = [], total
        keys = list(groups)
        for n, key in enumerate(keys):
            share = left if n == len(keys) - 1 else _cents(total * groups[key] / base)
            left -= share
            values = {"type": "line", "quantity": 1.0, "unit_price": -share, "description": label,
                      "sequence": count + n + 1, "taxes": [("add", list(key))]}
            if entity == "invoices":
                values.update(account=account, invoice_type="out")
            out.append(values)
        return out

    def _party_address(self, party_id: int) -> int:
        found = self.rpc("party.address", "search", [("party", "=", party_id)], 0, 1, None)
        if found:
            return found[0]
        return self.rpc("party.address", "create", [{"party": party_id}])[0]

    def to_remote(self, entity, record, refs, current=None):
        if entity == "contacts":
            if record.get("account_id") is None:
                raise SkipRecord("Tryton keeps contacts as contact mechanisms of their account's party: this "
                                 "contact has no account")
            name = " ".join(x for x in (record.get("first_name"), record.get("last_name")) if x) or "?"
            return {"party": int(refs.remote("accounts", record["account_id"])), "name": name,
                    "email": record.get("email") or "", "phone": record.get("phone") or "",
                    "comment": record.get("title") or "", "active": bool(record.get("active", True))}
        if entity == "accounts":
            return self._party(record, "billing_address", "customer_category", "Customer")
        if entity == "vendors":
            return self._party(record, "address", "supplier_category", "Supplier")
        if entity == "items":
            service = record.get("kind") == "service"
            uom = self._uom(record.get("usage_unit"))
            template = {"name": record.get("name") or "?", "type": "service" if service else "goods",
                        "list_price": _d(record.get("unit_price")), "code": record.get("sku") or None,
                        "active": bool(record.get("active", True)), "default_uom": uom, "salable": True,
                        "sale_uom": uom, "purchasable": True, "purchase_uom": uom,
                        "account_category": self._id_of("product.category",
                                                        self.settings.get("account_category") or "CRM")}
            product = {"description": record.get("description") or "", "cost_price": _d(record.get("purchase_cost")),
                       "active": bool(record.get("active", True))}
            template_changes = {k: v for k, v in template.items()
                                if k not in ("default_uom", "sale_uom", "purchase_uom", "account_category")}
            return {"_template": template, "_product": product, "_template_changes": template_changes}
        if entity in DOCUMENT_ENTITIES:
            party_entity = "vendors" if entity == "purchase-orders" else "accounts"
            party = int(refs.remote(party_entity, record.get("vendor_id" if entity == "purchase-orders"
                                                              else "account_id")))
            values = {"party": party, "description": record.get("subject") or "",
                      "lines": self._lines(entity, record, refs)}
            if entity == "invoices":
                values.update(self._invoice_values(party, record))
            elif entity in ("quotes", "sales-orders"):
                values.update(invoice_address=self._party_address(party), shipment_address=self._party_address(party),
                              reference=record.get("number") or "")
                if entity == "quotes":   # marked a quote when created (the comment is not written later)
                    values = {**values, "_create": dict(values, comment=QUOTE_MARK), "_update": values}
            else:
                values.update(invoice_address=self._party_address(party), reference=record.get("number") or "")
            if record.get("status") in ("cancelled", "rejected"):
                values["_transition"] = "cancel"
            elif entity == "quotes" and record.get("status") == "accepted":
                values["_transition"] = "confirm"
            return values
        if entity == "payments":
            raise SkipRecord("payments are recorded in Tryton (paying the invoice there) and read from it")
        raise RemoteValidationError(f"Tryton does not sync {entity}")

    def _invoice_values(self, party: int, record: dict) -> dict:
        """What an invoice sends besides its party, description and lines: a customer invoice
        to the party's invoice address and receivable account, in a revenue journal."""
        receivable = self.rpc("party.party", "read", [party], ["account_receivable"])[0]["account_receivable"]
        if not receivable:
            receivable = self.rpc("account.configuration", "read", [1],
                                  ["default_account_receivable"])[0]["default_account_receivable"]
        journal = self.rpc("account.journal", "search", [("type", "=", "revenue")], 0, 1, None)
        values = {"type": "out", "invoice_address": self._party_address(party), "account": receivable,
                  "journal": journal[0] if journal else None, "reference": record.get("number") or ""}
        if record.get("date"):
            values["invoice_date"] = dt.date.fromisoformat(record["date"])
        if self.settings.get("payment_term"):
            values["payment_term"] = self._id_of("account.invoice.payment_term", self.settings["payment_term"])
        return values

    def from_remote(self, entity, remote, refs):
        o = remote.data
        if entity == "contacts":
            first, _, last = (o.get("name") or "").strip().partition(" ")
            return {"first_name": first if last else "", "last_name": last or first, "email": o.get("email") or "",
                    "phone": o.get("phone") or "", "title": o.get("comment") or "",
                    "account_id": refs.local("accounts", str(o.get("party"))), "active": bool(o.get("active", True))}
        if entity in ("accounts", "vendors"):
            mechs = {m["type"]: m["value"] for m in reversed(o.get("contact_mechanisms") or [])
                     if not (m.get("name") or "").strip()}
            addr = (o.get("addresses") or [{}])[0]
            out = {"name": o.get("name", ""), "email": mechs.get("email", ""), "phone": mechs.get("phone", ""),
                   "website": mechs.get("website", ""), "active": bool(o.get("active", True))}
            out["billing_address" if entity == "accounts" else "address"] = address(
                {"street": addr.get("street"), "city": addr.get("city"), "postal_code": addr.get("postal_code")})
            return out
        if entity == "items":
            return {"kind": "service" if o.get("template.type") == "service" else "product",
                    "name": o.get("template.name", ""), "sku": o.get("template.code") or "",
                    "unit_price": dec(o.get("template.list_price")), "purchase_cost": dec(o.get("cost_price")),
                    "description": o.get("description") or "",
                    "active": bool(o.get("active", True) and o.get("template.active", True))}
        if entity in DOCUMENT_ENTITIES:
            lines = []
            discount, percent = Decimal("0"), None
            for li in sorted(o.get("lines") or [], key=lambda li: (li.get("sequence") or 0, li["id"])):
                label = DISCOUNT_RE.match(li.get("description") or "") if not li.get("product") else None
                if li.get("type") == "line" and label:
                    discount -= _cents(_d(li.get("unit_price")) * Decimal(repr(li.get("quantity") or 0)))
                    percent = label.group("percent") or percent
                    continue
                if li.get("type") != "line" or not li.get("product"):
                    continue
                row = {"item_id": refs.local("items", str(li["product"])), "description": li.get("description") or "",
                       "quantity": dec(Decimal(repr(li.get("quantity") or 0))), "unit_price": dec(li.get("unit_price"))}
                if entity != "purchase-orders":
                    row["taxes"] = sorted(refs.value("tax_codes", t, reverse=True, default=t) for t in li["taxes"])
                lines.append(row)
            party = str(o.get("party"))
            out = {"number": o.get("number") or None, "subject": o.get("description") or "", "lines": lines,
                   "total": dec(o.get("total_amount")), "discount": dec(discount),
                   "status": (QUOTE_STATES.get(o.get("state"), "accepted") if entity == "quotes"
                              else STATES.get(o.get("state"), "open"))}
            if percent is not None:
                out["discount_percent"] = dec(percent)
            elif discount:
                out["discount_amount"] = dec(discount)
            if entity == "purchase-orders":
                out["vendor_id"] = refs.local("vendors", party)
            else:
                out["account_id"] = refs.local("accounts", party)
            if entity == "invoices":
                out["date"] = iso(o.get("invoice_date"))
            return out
        if entity == "payments":
            amount = _d(o.get("credit")) - _d(o.get("debit"))
            return {"invoice_id": refs.local("invoices", str(o.get("invoice"))), "amount": dec(amount),
                    "date": iso(o.get("date")), "reference": o.get("description") or ""}
        raise RemoteValidationError(f"Tryton does not sync {entity}")


__all__ = ["TrytonConnector", "SyncError"]
