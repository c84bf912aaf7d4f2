"""QuickBooks Online, on python-quickbooks (API calls) and intuit-oauth (OAuth 2).

Settings: ``realm_id`` (the company), ``client_id``, ``redirect_uri``, ``environment``
("production", "sandbox", or the URL of an OpenID discovery document, as intuit-oauth
takes it), ``api_base_url`` (default: Intuit's production or sandbox URL),
``minorversion`` (75), ``timeout_seconds`` (30), ``item_type`` for products
("NonInventory" or "Inventory"), ``income_account_id``, ``expense_account_id``,
``asset_account_id``. Secrets: ``client_secret``, ``refresh_token`` (rotated: every
refresh stores the new one, encrypted), ``access_token``, ``webhook_verifier_token``.

What maps to what:

============== ============= ===========================================================
ours           QuickBooks    notes
============== ============= ===========================================================
accounts       Customer      top-level customers (no ``ParentRef``)
contacts       Customer      sub-customers of their account's customer (``ParentRef``,
                             ``BillWithParent``); a contact without account is skipped
vendors        Vendor
items          Item          services -> ``Service``, products -> ``item_type``
quotes         Estimate
sales-orders   SalesReceipt
purchase-      PurchaseOrder lines ``ItemBasedExpenseLineDetail``
orders
invoices       Invoice       ``TxnTaxDetail.TotalTax`` = our tax (QuickBooks' totals then
                             agree with ours), shipping as a ``SHIPPING_ITEM_ID`` line
payments       Payment       applied to the invoice (``LinkedTxn``)
============== ============= ===========================================================

Discounts: a line discount becomes a net ``UnitPrice`` (QuickBooks has none per line); the
document discount is a ``DiscountLineDetail`` line, ``PercentBased`` with ``DiscountPercent``
or an ``Amount``. Statuses (``crm.accounting``'s sync status): a quote's is the estimate's
``TxnStatus``; a cancelled invoice or sales order is voided there (and a voided one is cancelled
here); a purchase order closed or cancelled here is ``POStatus`` Closed.

Value maps of the connection: ``tax_codes`` (our tax name -> TaxCode id; default
"TAX"/"NON"), ``payment_methods`` (our method name -> PaymentMethod id).
Custom fields: a mapping's ``remote`` is ``CustomField:<Name>`` (transaction custom
fields, StringValue) or a dotted path into the QuickBooks object (``Notes``,
``PrimaryPhone.FreeFormNumber``).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
from urllib.parse import urlsplit
from decimal import ROUND_HALF_UP, Decimal

import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks import exceptions as qbe

from crm.accounting import (AuthenticationError, BaseConnector, ChangeSet, DuplicateError, NotFoundError,
                            PushResult, RemoteConflict, RemoteRecord, RemoteValidationError, RetryableError,
                            SkipRecord, StaleVersionError, SyncError)
from crm_accounting_sync.canonical import dec, iso
from crm_accounting_sync.jsonnum import dumps
from crm_accounting_sync.local import address

PRODUCTION = "https://quickbooks.api.intuit.com/v3"
SANDBOX = "https://sandbox-quickbooks.api.intuit.com/v3"
TYPES = {"accounts": "Customer", "contacts": "Customer", "vendors": "Vendor", "items": "Item",
         "quotes": "Estimate", "sales-orders": "SalesReceipt", "purchase-orders": "PurchaseOrder",
         "invoices": "Invoice", "payments": "Payment"}
NAMES = ("Customer", "Vendor", "Item")
DOCS = ("quotes", "sales-orders", "purchase-orders", "invoices")
CDC_LIMIT = 1000
PAGE = 1000
CDC_DAYS = 29          # QuickBooks keeps 30 days of changes; one day of margin
CENT = Decimal("0.01")
DOC_FIELDS = ("number", "account_id", "due_date", "subject", "lines", "total", "tax", "shipping", "discount",
              "discount_percent", "discount_amount", "status")
#: our sync status of a quote <-> an estimate's TxnStatus
ESTIMATE_STATUS = {"open": "Pending", "accepted": "Accepted", "rejected": "Rejected", "closed": "Closed",
                   "cancelled": "Rejected"}
ESTIMATE_STATUS_BACK = {"Pending": "open", "Accepted": "accepted", "Rejected": "rejected", "Closed": "closed"}
#: transactions that QuickBooks voids (kept with zero amounts) instead of cancelling
VOIDABLE = {"invoices": "Invoice", "sales-orders": "SalesReceipt"}
CONFLICT_CODES = {"6140", "6190", "6210", "6480", "6540"}   # closed period, linked / deposited transactions


def json_body(value) -> str:
    """JSON with Decimals as exact numbers (QuickBooks wants numbers; we never use floats)."""
    return dumps(value)


def _d(value) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal("0")


def _addr_to(value: dict) -> dict:
    value = value or {}
    out = {"Line1": value.get("street", ""), "City": value.get("city", ""),
           "CountrySubDivisionCode": value.get("state", ""), "PostalCode": value.get("postal_code", ""),
           "Country": value.get("country", "")}
    return out


def _addr_from(value) -> dict:
    value = value or {}
    return address({"street": value.get("Line1"), "city": value.get("City"),
                    "state": value.get("CountrySubDivisionCode"), "postal_code": value.get("PostalCode"),
                    "country": value.get("Country")})


def _ref(value) -> dict:
    return {"value": str(value)}


class _Client(QuickBooks):
    """python-quickbooks' client with a timeout, a call counter, and transport errors
    and 429/5xx answers turned into the sync contract's retryable errors."""

    timeout = 30
    calls = 0

    def process_request(self, request_type, url, headers="", params="", data=""):
        type(self).calls += 1
        self.calls_made = getattr(self, "calls_made", 0) + 1
        if self.session is None:
            raise qbe.QuickbooksException("No session manager")
        headers.update({"Authorization": "Bearer " + self.session.access_token})
        try:
            response = self.session.request(request_type, url, headers=headers, params=params, data=data,
                                            timeout=self.timeout)
        except requests.Timeout as exc:
            raise RetryableError(f"QuickBooks did not answer in {self.timeout}s", code="timeout") from exc
        except requests.ConnectionError as exc:
            raise RetryableError(f"connection to QuickBooks lost: {exc.__class__.__name__}", code="network") from exc
        if response.status_code == 429:
            after = response.headers.get("Retry-After")
            raise RetryableError("QuickBooks throttled the request (429)", status=429, code="429",
                                 retry_after=float(after) if after and after.isdigit() else None)
        if response.status_code >= 500:
            raise RetryableError(f"QuickBooks answered {response.status_code}", status=response.status_code,
                                 code=str(response.status_code))
        return response


def translate(exc: Exception) -> SyncError:
    """python-quickbooks' and intuit-oauth's exceptions -> the sync contract's."""
    if isinstance(exc, SyncError):
        return exc
    if isinstance(exc, AuthClientError):
        status = getattr(exc, "status_code", None)
        if status and status >= 500:
            return RetryableError(f"Intuit's token service answered {status}", status=status)
        return AuthenticationError(f"Intuit refused the token refresh ({status}): {getattr(exc, 'content', '')}",
                                   status=status)
    if isinstance(exc, qbe.QuickbooksException):
        code = str(getattr(exc, "error_code", "") or "")
        message = exc.message if hasattr(exc, "message") else str(exc)
        detail = getattr(exc, "detail", "") or ""
        text = f"{message}: {detail}" if detail and detail != message else message
        if isinstance(exc, qbe.AuthorizationException) and code in ("401", "3200", "100", ""):
            return AuthenticationError(text, code=code, status=401)
        if code == "5010":
            return StaleVersionError(text, code=code)
        if code == "6240":
            return DuplicateError(text, code=code)
        if code == "610":
            return NotFoundError(text, code=code)
        if code in CONFLICT_CODES:
            return RemoteConflict(text, code=code)
        if code == "10000" or isinstance(exc, qbe.SevereException):
            return RetryableError(text, code=code)
        return RemoteValidationError(text, code=code)
    if isinstance(exc, requests.RequestException):
        return RetryableError(f"connection to QuickBooks failed: {exc.__class__.__name__}", code="network")
    raise exc


def verify_webhook(body: bytes | str, signature: str | None, verifier_token: str) -> bool:
    """Intuit's webhook signature: base64(HMAC-SHA256(verifier token, raw body)) in ``intuit-signature``."""
    if not signature or not verifier_token:
        return False
    raw = body if isinstance(body, bytes) else body.encode()
    expected = base64.b64encode(hmac.new(verifier_token.encode(), raw, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature.strip())


def webhook_events(payload) -> list[dict]:
    """Both payload formats -> [{"realm", "entity", "id", "operation"}].

    Classic: ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
    "operation", "lastUpdated"}]}}]}``. CloudEvents: a list of events with ``type``
    ``qbo.<entity>.<operation>.v1``, ``intuitentityid``, ``intuitaccountid``."""
    events = []
    if isinstance(payload, dict) and "eventNotifications" in payload:
        for note in payload["eventNotifications"] or []:
            for ent in ((note.get("dataChangeEvent") or {}).get("entities") or []):
                events.append({"realm": str(note.get("realmId")), "entity": ent.get("name"), "id": str(ent.get("id")),
                               "operation": (ent.get("operation") or "").lower()})
        return events
    items = payload if isinstance(payload, list) else [payload]
    for event in items:
        if not isinstance(event, dict) or "type" not in event:
            raise ValueError("not a QuickBooks webhook payload")
        parts = str(event["type"]).split(".")
        entity = parts[1] if len(parts) > 2 else ""
        operation = parts[2] if len(parts) > 3 else ""
        name = {t.lower(): t for t in set(TYPES.values())}.get(entity.lower(), entity)
        events.append({"realm": str(event.get("intuitaccountid")), "entity": name,
                       "id": str(event.get("intuitentityid")), "operation": operation.lower()})
    return events


class QuickBooksConnector(BaseConnector):
    name = "quickbooks"
    label = "QuickBooks Online"
    entities = ("accounts", "contacts", "vendors", "items", "quotes", "sales-orders", "purchase-orders",
                "invoices", "payments")
    fields = {
        "accounts": ("name", "email", "phone", "website", "billing_address", "shipping_address", "description",
                     "active"),
        "contacts": ("first_name", "last_name", "email", "phone", "title", "account_id", "active"),
        "vendors": ("name", "email", "phone", "website", "address", "active"),
        "items": ("kind", "name", "sku", "unit_price", "purchase_cost", "description", "active"),
        "quotes": DOC_FIELDS,
        "sales-orders": DOC_FIELDS,
        "purchase-orders": ("number", "vendor_id", "due_date", "subject", "lines", "total", "tax", "discount",
                            "status"),
        "invoices": DOC_FIELDS + ("date",),
        "payments": ("invoice_id", "account_id", "amount", "date", "method", "reference"),
    }
    deactivate_only = frozenset({"accounts", "contacts", "vendors", "items"})
    settings_keys = ("realm_id", "client_id", "redirect_uri", "environment", "api_base_url", "minorversion",
                     "timeout_seconds", "item_type", "income_account_id", "expense_account_id", "asset_account_id")
    secret_keys = ("client_secret", "refresh_token", "access_token", "webhook_verifier_token")
    from crm_accounting_sync.quickbooks.settings import SETTINGS_FIELDS as settings_fields  # the settings form
    batch_size = 30

    def __init__(self, settings, secrets, save_secrets=None):
        super().__init__(settings, secrets, save_secrets)
        self._qb = None
        self._auth = None
        self._cdc_cache: dict[tuple, dict] = {}
        self.http_calls = 0

    # -- clients ---------------------------------------------------------------------------------

    @property
    def realm(self) -> str:
        realm = self.settings.get("realm_id")
        if not realm:
            raise RemoteValidationError("the connection has no realm_id (the QuickBooks company id)")
        return str(realm)

    def _auth_client(self) -> AuthClient:
        if self._auth is None:
            for key in ("client_id",):
                if not self.settings.get(key):
                    raise RemoteValidationError(f"the connection has no {key}")
            if not self.secrets.get("client_secret"):
                raise RemoteValidationError("the connection has no client_secret")
            try:
                self.http_calls += 1
                self._auth = AuthClient(self.settings["client_id"], self.secrets["client_secret"],
                                        self.settings.get("redirect_uri") or "http://localhost/callback",
                                        self.settings.get("environment") or "production",
                                        access_token=self.secrets.get("access_token") or None,
                                        refresh_token=self.secrets.get("refresh_token") or None,
                                        realm_id=self.realm)
            except (AuthClientError, requests.RequestException) as exc:
                raise translate(exc) from exc
        return self._auth

    def _base_url(self) -> str:
        base = (self.settings.get("api_base_url") or
                (SANDBOX if self.settings.get("environment") == "sandbox" else PRODUCTION)).rstrip("/")
        host = urlsplit(base).hostname or ""
        if base.startswith("http://"):
            if host not in ("127.0.0.1", "localhost", "::1"):
                raise RemoteValidationError("api_base_url must be https (plain http only on this machine: "
                                            "127.0.0.1 or localhost, for a local QuickBooks fake)")
            # oauthlib refuses plain http unless told; only ever for a loopback address
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        return base

    def client(self) -> QuickBooks:
        if self._qb is None:
            self._base_url()
            auth = self._auth_client()
            if not auth.refresh_token and not auth.access_token:
                raise AuthenticationError("the connection has no refresh token: connect to QuickBooks first")
            before = auth.refresh_token
            try:
                if auth.access_token is None:
                    self.http_calls += 1
                qb = _Client(auth_client=auth, refresh_token=auth.refresh_token, company_id=self.realm,
                             minorversion=int(self.settings.get("minorversion") or 75), use_decimal=True)
            except (AuthClientError, requests.RequestException) as exc:
                raise translate(exc) from exc
            base = self._base_url()
            qb.api_url_v3 = qb.sandbox_api_url_v3 = base
            qb.timeout = float(self.settings.get("timeout_seconds") or 30)
            self._qb = qb
            if auth.refresh_token != before or auth.access_token != self.secrets.get("access_token"):
                self.save_secrets({"refresh_token": auth.refresh_token, "access_token": auth.access_token})
        return self._qb

    def refresh_auth(self) -> None:
        auth = self._auth_client()
        try:
            self.http_calls += 1
            auth.refresh(refresh_token=self.secrets.get("refresh_token") or auth.refresh_token)
        except (AuthClientError, requests.RequestException) as exc:
            raise translate(exc) from exc
        self.save_secrets({"refresh_token": auth.refresh_token, "access_token": auth.access_token})
        if self._qb is not None:
            self._qb._start_session()

    def _do(self, fn, *args, **kwargs):
        qb = self.client()
        before = getattr(qb, "calls_made", 0)
        try:
            return fn(qb, *args, **kwargs)
        except SyncError:
            raise
        except Exception as exc:  # noqa: BLE001  translated, or re-raised when unknown
            raise translate(exc) from exc
        finally:
            self.http_calls += getattr(qb, "calls_made", 0) - before

    def check(self) -> dict:
        data = self._do(lambda qb: qb.get(f"{qb.api_url}/company/{self.realm}/companyinfo/{self.realm}"))
        info = data.get("CompanyInfo") or {}
        return {"ok": True, "company": info.get("CompanyName"), "realm_id": self.realm}

    def close(self) -> None:
        if self._qb is not None and self._qb.session is not None:
            self._qb.session.close()
        if self._auth is not None:
            self._auth.close()

    # -- reading ---------------------------------------------------------------------------------

    def _record(self, entity_type: str, obj: dict) -> RemoteRecord:
        meta = obj.get("MetaData") or {}
        updated = None
        if meta.get("LastUpdatedTime"):
            updated = _parse_time(meta["LastUpdatedTime"])
        return RemoteRecord(id=str(obj["Id"]), version=obj.get("SyncToken"), updated_at=updated,
                            deleted=obj.get("status") == "Deleted", data=obj)

    def _belongs(self, entity: str, obj: dict) -> bool:
        if entity == "accounts":
            return not obj.get("ParentRef") or obj.get("status") == "Deleted"
        if entity == "contacts":
            return bool(obj.get("ParentRef")) or obj.get("status") == "Deleted"
        return True

    def _query_all(self, entity_type: str, where: str = "") -> list[dict]:
        rows, start = [], 1
        active = "Active IN (true, false)" if entity_type in NAMES else ""
        cond = " AND ".join(c for c in (active, where) if c)
        while True:
            text = (f"SELECT * FROM {entity_type}" + (f" WHERE {cond}" if cond else "")
                    + f" ORDERBY Id STARTPOSITION {start} MAXRESULTS {PAGE}")
            data = self._do(lambda qb: qb.query(text))
            page = (data.get("QueryResponse") or {}).get(entity_type) or []
            rows.extend(page)
            if len(page) < PAGE:
                return rows
            start += PAGE

    def _server_time(self, data: dict) -> str:
        return data.get("time") or _stamp(dt.datetime.now(dt.timezone.utc))

    def changes(self, entity: str, cursor: str | None) -> ChangeSet:
        entity_type = TYPES[entity]
        now = dt.datetime.now(dt.timezone.utc)
        since = _parse_time(cursor) if cursor else None
        if since is None or since < now - dt.timedelta(days=CDC_DAYS):
            # first sync, or older than change data capture keeps: every record
            stamp_now = _stamp(now - dt.timedelta(seconds=1))
            rows = self._query_all(entity_type)
            records = [self._record(entity_type, o) for o in rows if self._belongs(entity, o)]
            return ChangeSet(records, stamp_now, complete=True)
        key = (entity_type, cursor)
        data = self._cdc_cache.get(key)
        if data is None:
            data = self._do(lambda qb: qb.change_data_capture(entity_type, cursor))
            self._cdc_cache[key] = data
        rows = []
        for response in (data.get("CDCResponse") or [{}])[0].get("QueryResponse") or []:
            rows.extend(response.get(entity_type) or [])
        next_cursor = self._server_time(data)
        if len(rows) >= CDC_LIMIT:
            # more changes than change data capture returns: read the window by pages of a query
            # (deleted ones only come from the capture: keep those it gave)
            deleted = [o for o in rows if o.get("status") == "Deleted"]
            rows = self._query_all(entity_type, f"MetaData.LastUpdatedTime > '{cursor}'") + deleted
        records = [self._record(entity_type, o) for o in rows if self._belongs(entity, o)]
        return ChangeSet(records, next_cursor)

    def fetch(self, entity: str, remote_id: str) -> RemoteRecord | None:
        entity_type = TYPES[entity]
        try:
            data = self._do(lambda qb: qb.get_single_object(entity_type, remote_id))
        except NotFoundError:
            return None
        obj = data.get(entity_type)
        return self._record(entity_type, obj) if obj else None

    # -- writing ---------------------------------------------------------------------------------

    def _write_body(self, entity: str, payload: dict, remote_id, remote_version) -> dict:
        body = dict(payload)
        if remote_id is not None:
            body.update({"Id": str(remote_id), "SyncToken": str(remote_version or "0"), "sparse": True})
            if TYPES[entity] == "Item":
                body.pop("Type", None)  # the type of an item cannot change
        return body

    def push(self, entity, payload, remote_id, remote_version, *, request_id):
        entity_type = TYPES[entity]
        payload = dict(payload)
        void = payload.pop("_void", False)
        if void and remote_id is not None:
            # cancelled here: void it there (a voided transaction's content no longer changes)
            current = self.fetch(entity, remote_id)
            if current is None:
                raise NotFoundError(f"{entity_type} {remote_id} no longer exists in QuickBooks")
            if _voided(current.data):
                return current
            return self._void(entity, current.id, current.version, request_id)
        body = json_body(self._write_body(entity, payload, remote_id, remote_version))
        if remote_id is None:
            data = self._do(lambda qb: qb.create_object(entity_type, body, request_id=request_id))
        else:
            data = self._do(lambda qb: qb.update_object(entity_type, body, request_id=request_id))
        record = self._record(entity_type, data[entity_type])
        if void:   # created cancelled: void it at once
            record = self._void(entity, record.id, record.version, request_id)
        return record

    def _void(self, entity, remote_id, remote_version, request_id) -> RemoteRecord:
        """Invoices: ``operation=void``; sales receipts: ``operation=update&include=void`` (sparse)."""
        entity_type = VOIDABLE[entity]
        body = {"Id": str(remote_id), "SyncToken": str(remote_version or "0")}
        params = {"operation": "void"}
        if entity_type != "Invoice":
            body["sparse"] = True
            params = {"operation": "update", "include": "void"}
        url_type = entity_type.lower()
        data = self._do(lambda qb: qb.post(f"{qb.api_url}/company/{self.realm}/{url_type}", json_body(body),
                                           params=params, request_id=f"{request_id[:40]}-void"))
        return self._record(entity_type, data[entity_type])

    def delete(self, entity, remote_id, remote_version, *, request_id):
        entity_type = TYPES[entity]
        if entity_type in NAMES:
            return self.push(entity, {"Active": False}, remote_id, remote_version, request_id=request_id)
        body = json_body({"Id": str(remote_id), "SyncToken": str(remote_version or "0")})
        data = self._do(lambda qb: qb.delete_object(entity_type, body, request_id=request_id))
        obj = data.get(entity_type) or {"Id": remote_id, "status": "Deleted"}
        return self._record(entity_type, obj)

    def push_batch(self, entity, ops):
        voids = {n for n, op in enumerate(ops) if not op.get("delete") and (op.get("payload") or {}).get("_void")}
        if not voids:
            return self._push_batch(entity, ops)
        # a void is a request of its own (not a batch operation)
        rest = [n for n in range(len(ops)) if n not in voids]
        results: list = [None] * len(ops)
        for n, result in zip(rest, self._push_batch(entity, [ops[n] for n in rest]) if rest else []):
            results[n] = result
        for n in sorted(voids):
            results[n] = BaseConnector.push_batch(self, entity, [ops[n]])[0]
        return results

    def _push_batch(self, entity, ops):
        entity_type = TYPES[entity]
        items = []
        for n, op in enumerate(ops):
            if op.get("delete"):
                if entity_type in NAMES:
                    body, operation = self._write_body(entity, {"Active": False}, op["remote_id"],
                                                       op.get("remote_version")), "update"
                else:
                    body, operation = {"Id": str(op["remote_id"]), "SyncToken": str(op.get("remote_version") or "0")}, "delete"
            else:
                body = self._write_body(entity, op["payload"], op.get("remote_id"), op.get("remote_version"))
                operation = "update" if op.get("remote_id") else "create"
            items.append({"bId": str(n), "operation": operation, entity_type: body})
        request_id = hashlib.sha256("|".join(op["request_id"] for op in ops).encode()).hexdigest()[:36]
        body = json_body({"BatchItemRequest": items})
        data = self._do(lambda qb: qb.post(f"{qb.api_url}/company/{self.realm}/batch", body,
                                           request_id=request_id))
        answers = {str(a.get("bId")): a for a in data.get("BatchItemResponse") or []}
        results = []
        for n, _op in enumerate(ops):
            answer = answers.get(str(n))
            if answer is None:
                results.append(PushResult(error=RetryableError("QuickBooks gave no answer for this batch item")))
            elif "Fault" in answer:
                results.append(PushResult(error=self._fault_error(answer["Fault"])))
            else:
                obj = answer.get(entity_type) or {}
                results.append(PushResult(record=self._record(entity_type, obj)))
        return results

    def _fault_error(self, fault: dict) -> SyncError:
        try:
            QuickBooks.handle_exceptions(fault)
        except Exception as exc:  # noqa: BLE001
            return translate(exc)
        return RemoteValidationError("QuickBooks refused the item")

    # -- custom fields ---------------------------------------------------------------------------

    def get_custom(self, entity, remote, path):
        if path.startswith("CustomField:"):
            name = path.split(":", 1)[1]
            for field in remote.data.get("CustomField") or []:
                if field.get("Name") == name:
                    return field.get("StringValue")
            return None
        return super().get_custom(entity, remote, path)

    def set_custom(self, entity, payload, path, value):
        if path.startswith("CustomField:"):
            name = path.split(":", 1)[1]
            fields = [f for f in payload.get("CustomField") or [] if f.get("Name") != name]
            definition = (self.settings.get("custom_field_ids") or {}).get(name, str(len(fields) + 1))
            fields.append({"DefinitionId": str(definition), "Name": name, "Type": "StringType",
                           "StringValue": "" if value is None else str(value)})
            payload["CustomField"] = fields
            return
        super().set_custom(entity, payload, path, value)

    # -- translating -----------------------------------------------------------------------------

    def to_remote(self, entity, record, refs, current=None):
        if entity == "accounts":
            return {"DisplayName": record.get("name", ""), "CompanyName": record.get("name", ""),
                    "PrimaryEmailAddr": {"Address": record.get("email", "")},
                    "PrimaryPhone": {"FreeFormNumber": record.get("phone", "")},
                    "WebAddr": {"URI": record.get("website", "")},
                    "BillAddr": _addr_to(record.get("billing_address")),
                    "ShipAddr": _addr_to(record.get("shipping_address")),
                    "Notes": record.get("description", ""), "Active": bool(record.get("active", True))}
        if entity == "contacts":
            if record.get("account_id") is None:
                raise SkipRecord("QuickBooks keeps contacts as sub-customers of their account: this contact has "
                                 "no account")
            full = " ".join(x for x in (record.get("first_name"), record.get("last_name")) if x)
            return {"DisplayName": full, "GivenName": record.get("first_name", ""),
                    "FamilyName": record.get("last_name", ""), "Title": record.get("title", ""),
                    "PrimaryEmailAddr": {"Address": record.get("email", "")},
                    "PrimaryPhone": {"FreeFormNumber": record.get("phone", "")},
                    "ParentRef": _ref(refs.remote("accounts", record["account_id"])), "Job": False,
                    "BillWithParent": True, "Active": bool(record.get("active", True))}
        if entity == "vendors":
            return {"DisplayName": record.get("name", ""), "CompanyName": record.get("name", ""),
                    "PrimaryEmailAddr": {"Address": record.get("email", "")},
                    "PrimaryPhone": {"FreeFormNumber": record.get("phone", "")},
                    "WebAddr": {"URI": record.get("website", "")}, "BillAddr": _addr_to(record.get("address")),
                    "Active": bool(record.get("active", True))}
        if entity == "items":
            service = record.get("kind") == "service"
            out = {"Name": (record.get("name") or "").replace(":", "-")[:100], "Sku": record.get("sku", ""),
                   "Description": record.get("description", ""), "UnitPrice": _d(record.get("unit_price")),
                   "PurchaseCost": _d(record.get("purchase_cost")), "Active": bool(record.get("active", True)),
                   "Type": "Service" if service else (self.settings.get("item_type") or "NonInventory"),
                   "IncomeAccountRef": _ref(self.settings.get("income_account_id") or "1")}
            if not service:
                out["ExpenseAccountRef"] = _ref(self.settings.get("expense_account_id") or "2")
                if out["Type"] == "Inventory":
                    out.update(TrackQtyOnHand=True, QtyOnHand=Decimal("0"), InvStartDate="2000-01-01",
                               AssetAccountRef=_ref(self.settings.get("asset_account_id") or "3"))
            return out
        if entity in DOCS:
            return self._doc_to(entity, record, refs)
        if entity == "payments":
            invoice = refs.remote("invoices", record.get("invoice_id"))
            amount = _d(record.get("amount"))
            out = {"CustomerRef": _ref(refs.remote("accounts", record.get("account_id"))), "TotalAmt": amount,
                   "TxnDate": record.get("date"), "PaymentRefNum": (record.get("reference") or "")[:21],
                   "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice, "TxnType": "Invoice"}]}]}
            method = refs.value("payment_methods", record.get("method")) if record.get("method") else None
            if method:
                out["PaymentMethodRef"] = _ref(method)
            return out
        raise RemoteValidationError(f"QuickBooks does not sync {entity}")

    def _doc_to(self, entity, record, refs) -> dict:
        detail_type = "ItemBasedExpenseLineDetail" if entity == "purchase-orders" else "SalesItemLineDetail"
        lines = []
        for row in record.get("lines") or []:
            qty, price = _d(row.get("quantity") or "1"), _d(row.get("unit_price"))
            gross = qty * price
            discount = Decimal("0")
            if row.get("discount_percent") is not None:
                discount = gross * _d(row["discount_percent"]) / 100
            elif row.get("discount_amount") is not None:
                discount = _d(row["discount_amount"])
            if discount:
                # QuickBooks has no line discount: the net unit price (Amount = Qty * UnitPrice must hold)
                price = ((gross - discount) / qty).quantize(Decimal("0.0001"), ROUND_HALF_UP) if qty else price
            detail = {"ItemRef": _ref(refs.remote("items", row.get("item_id"))), "Qty": qty, "UnitPrice": price}
            if entity != "purchase-orders":
                taxes = row.get("taxes") or []
                code = refs.value("tax_codes", taxes[0]) if taxes else None
                detail["TaxCodeRef"] = _ref(code or ("TAX" if taxes else "NON"))
            lines.append({"DetailType": detail_type, "Amount": (qty * price).quantize(CENT, ROUND_HALF_UP),
                          "Description": row.get("description", ""), detail_type: detail})
        if record.get("discount_percent") is not None and _d(record["discount_percent"]) and \
                entity != "purchase-orders":
            # QuickBooks computes the amount from the percent (of the lines before it)
            lines.append({"DetailType": "DiscountLineDetail", "Amount": _d(record.get("discount")),
                          "DiscountLineDetail": {"PercentBased": True,
                                                 "DiscountPercent": _d(record["discount_percent"])}})
        elif record.get("discount") and _d(record["discount"]):
            lines.append({"DetailType": "DiscountLineDetail", "Amount": _d(record["discount"]),
                          "DiscountLineDetail": {"PercentBased": False}})
        if record.get("shipping") and _d(record["shipping"]) and entity != "purchase-orders":
            lines.append({"DetailType": "SalesItemLineDetail", "Amount": _d(record["shipping"]),
                          "SalesItemLineDetail": {"ItemRef": _ref("SHIPPING_ITEM_ID")}})
        out = {"Line": lines, "PrivateNote": record.get("subject", "")}
        if record.get("number"):
            out["DocNumber"] = str(record["number"])[:21]
        if entity == "purchase-orders":
            out["VendorRef"] = _ref(refs.remote("vendors", record.get("vendor_id")))
        else:
            out["CustomerRef"] = _ref(refs.remote("accounts", record.get("account_id")))
        if record.get("tax") is not None:
            out["TxnTaxDetail"] = {"TotalTax": _d(record.get("tax"))}
        if entity == "invoices":
            if record.get("date"):
                out["TxnDate"] = record["date"]
            if record.get("due_date"):
                out["DueDate"] = record["due_date"]
        elif entity == "quotes":
            if record.get("due_date"):
                out["ExpirationDate"] = record["due_date"]
        elif entity == "purchase-orders" and record.get("due_date"):
            out["DueDate"] = record["due_date"]
        status = record.get("status")
        if entity == "quotes" and status:
            out["TxnStatus"] = ESTIMATE_STATUS.get(status, "Pending")
        elif entity == "purchase-orders" and status:
            out["POStatus"] = "Closed" if status in ("closed", "cancelled") else "Open"
        elif entity in VOIDABLE and status == "cancelled":
            out["_void"] = True
        return out

    def from_remote(self, entity, remote, refs):
        o = remote.data
        if entity in ("accounts", "vendors"):
            out = {"name": o.get("DisplayName", ""), "email": (o.get("PrimaryEmailAddr") or {}).get("Address", ""),
                   "phone": (o.get("PrimaryPhone") or {}).get("FreeFormNumber", ""),
                   "website": (o.get("WebAddr") or {}).get("URI", ""), "active": bool(o.get("Active", True))}
            if entity == "accounts":
                out.update(billing_address=_addr_from(o.get("BillAddr")), shipping_address=_addr_from(o.get("ShipAddr")),
                           description=o.get("Notes", ""))
            else:
                out["address"] = _addr_from(o.get("BillAddr"))
            return out
        if entity == "contacts":
            parent = (o.get("ParentRef") or {}).get("value")
            return {"first_name": o.get("GivenName", ""), "last_name": o.get("FamilyName") or o.get("DisplayName", ""),
                    "email": (o.get("PrimaryEmailAddr") or {}).get("Address", ""),
                    "phone": (o.get("PrimaryPhone") or {}).get("FreeFormNumber", ""), "title": o.get("Title", ""),
                    "account_id": refs.local("accounts", parent), "active": bool(o.get("Active", True))}
        if entity == "items":
            kind = o.get("Type")
            if kind in ("Group", "Category"):
                raise SkipRecord(f"QuickBooks {kind} items are not synced")
            return {"kind": "service" if kind == "Service" else "product", "name": o.get("Name", ""),
                    "sku": o.get("Sku", ""), "unit_price": dec(o.get("UnitPrice", 0)),
                    "purchase_cost": dec(o.get("PurchaseCost", 0)), "description": o.get("Description", ""),
                    "active": bool(o.get("Active", True))}
        if entity in DOCS:
            return self._doc_from(entity, o, refs)
        if entity == "payments":
            invoice = None
            for line in o.get("Line") or []:
                for linked in line.get("LinkedTxn") or []:
                    if linked.get("TxnType") == "Invoice":
                        invoice = linked.get("TxnId")
                        break
                if invoice:
                    break
            if invoice is None:
                raise SkipRecord("the payment is not applied to an invoice")
            method = (o.get("PaymentMethodRef") or {}).get("value")
            applied = sum((_d(line.get("Amount")) for line in o.get("Line") or []), Decimal("0"))
            return {"invoice_id": refs.local("invoices", invoice),
                    "account_id": refs.local("accounts", (o.get("CustomerRef") or {}).get("value")),
                    "amount": dec(applied or o.get("TotalAmt")), "date": o.get("TxnDate"),
                    "method": refs.value("payment_methods", method, reverse=True) if method else None,
                    "reference": o.get("PaymentRefNum", "")}
        raise RemoteValidationError(f"QuickBooks does not sync {entity}")

    def _doc_from(self, entity, o, refs) -> dict:
        detail_type = "ItemBasedExpenseLineDetail" if entity == "purchase-orders" else "SalesItemLineDetail"
        lines = []
        discount: dict = {}
        for line in o.get("Line") or []:
            if line.get("DetailType") == "DiscountLineDetail":
                info = line.get("DiscountLineDetail") or {}
                if info.get("PercentBased") in (True, "true") and info.get("DiscountPercent") is not None:
                    discount = {"discount_percent": dec(info["DiscountPercent"])}
                elif _d(line.get("Amount")):
                    discount = {"discount_amount": dec(line.get("Amount"))}
                continue
            detail = line.get(detail_type)
            if line.get("DetailType") != detail_type or not detail:
                continue
            item = (detail.get("ItemRef") or {}).get("value")
            if item == "SHIPPING_ITEM_ID":
                continue
            qty = detail.get("Qty")
            price = detail.get("UnitPrice")
            if price is None:
                price = _d(line.get("Amount")) / _d(qty or 1)
            row = {"item_id": refs.local("items", item), "description": line.get("Description", ""),
                   "quantity": dec(qty if qty is not None else 1), "unit_price": dec(price)}
            code = (detail.get("TaxCodeRef") or {}).get("value")
            if code is not None and entity != "purchase-orders":
                name = refs.value("tax_codes", code, reverse=True)
                if name is not None:
                    row["taxes"] = [name]
                elif code == "NON":
                    row["taxes"] = []
            lines.append(row)
        out = {"number": o.get("DocNumber"), "subject": o.get("PrivateNote", ""), "lines": lines,
               "total": dec(o.get("TotalAmt")), **discount}
        if entity == "quotes":
            out["status"] = ESTIMATE_STATUS_BACK.get(o.get("TxnStatus"))
        elif entity == "purchase-orders":
            out["status"] = "closed" if o.get("POStatus") == "Closed" else "open"
        elif entity in VOIDABLE:
            out["status"] = "cancelled" if _voided(o) else "open"
        if entity == "purchase-orders":
            out["vendor_id"] = refs.local("vendors", (o.get("VendorRef") or {}).get("value"))
            out["due_date"] = iso(o.get("DueDate"))
        else:
            out["account_id"] = refs.local("accounts", (o.get("CustomerRef") or {}).get("value"))
            out["due_date"] = iso(o.get("ExpirationDate") if entity == "quotes" else o.get("DueDate"))
        if entity == "invoices":
            out["date"] = iso(o.get("TxnDate"))
        return out


def _voided(obj: dict) -> bool:
    """QuickBooks keeps a voided transaction with zero amounts and the memo "Voided"."""
    return str(obj.get("PrivateNote") or "").startswith("Voided") and not _d(obj.get("TotalAmt"))


def _parse_time(text: str) -> dt.datetime:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


__all__ = ["QuickBooksConnector", "verify_webhook", "webhook_events", "json"]
