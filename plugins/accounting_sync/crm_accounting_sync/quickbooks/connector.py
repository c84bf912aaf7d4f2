"""QuickBooks Online, on python-quickbooks (API calls) and intuit-oauth (OAuth 2).

Settings: ``realm_id`` (the company), ``client_id``, ``redirect_uri``, ``environment``
("production" or "sandbox", a choice), ``discovery_url`` (an OpenID discovery document instead of
Intuit's: a local fake's), ``api_base_url`` (default: Intuit's production or sandbox URL),
``minorversion`` (75), ``timeout_seconds`` (30), ``item_type`` for products
("NonInventory" or "Inventory"), ``income_account_id`` (an Income account: every item),
``expense_account_id`` (Cost of Goods Sold or Expense: products), ``asset_account_id`` (Other
Current Asset: Inventory products); items are refused until the ones they need are set (the
settings form lists the company's accounts of those types: :meth:`setting_choices`). Secrets: ``client_secret``, ``refresh_token`` (rotated: every
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
sales-orders   SalesReceipt  not synced unless chosen (a sales receipt posts revenue: with the
                             invoice too it would count twice)
purchase-      PurchaseOrder lines ``ItemBasedExpenseLineDetail``
orders
invoices       Invoice       shipping as a ``SHIPPING_ITEM_ID`` line
payments       Payment       applied to the invoice (``LinkedTxn``)
============== ============= ===========================================================

Discounts: a line discount becomes a net ``UnitPrice`` (QuickBooks has none per line); the
document discount is a ``DiscountLineDetail`` line, ``PercentBased`` with ``DiscountPercent``
or an ``Amount``. Statuses (``crm.accounting_connectors``'s sync status): a quote's is the estimate's
``TxnStatus``; a cancelled invoice or sales order is voided there (and a voided one is cancelled
here); a purchase order closed or cancelled here is ``POStatus`` Closed.

Taxes: QuickBooks computes a transaction's tax itself; our tax is never sent. The company's country
(``CompanyInfo.Country``) decides the model: a non-US company gets a ``TaxCodeRef`` (one of its
TaxCodes) on every line, the shipping line too, and ``GlobalTaxCalculation`` TaxExcluded; a US
company ``TAX``/``NON`` on lines and the transaction's rate as ``TxnTaxDetail.TxnTaxCodeRef`` (one
per transaction; purchases carry none). The value map ``tax_codes`` gives the code of each of our
taxes (several on one line: "A + B"; lines without tax: "(no tax)"); a document with a tax not
mapped to one of the company's active codes is failed naming the tax (nothing is made up). After
a write, a total QuickBooks computed that is not ours is a conflict in the run's log
(:meth:`total_difference`). ``payment_methods``: our method name -> PaymentMethod id.

Limits and faults: requests are paced within QuickBooks' limits per company (:class:`Pacer`: 10 a
second, 500 a minute, 40 batch requests a minute); a 429 waits a minute at least; 401 and 403
bodies are read in either case (``fault``/``Fault``); a 403 (3100: sandbox and production mixed
up) is a :class:`SetupError` that stops the run saying what to check; 6190 (subscription ended)
stops the run; 6140 (a document number used there) and 6240 (a name used there) are duplicates,
a name being retried once made unique ("Name (vendor)"...).
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
import threading
import time
from collections import deque
from decimal import Decimal
from urllib.parse import urlsplit

import requests
from flask_babel import lazy_gettext as N_
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks, exceptions as qbe

from crm.accounting_connectors import (
    DOCUMENT_ENTITIES,
    AuthenticationError,
    BaseConnector,
    ChangeSet,
    DuplicateError,
    NotFoundError,
    PushResult,
    RemoteConflict,
    RemoteRecord,
    RemoteValidationError,
    RetryableError,
    SkipRecord,
    StaleVersionError,
    SyncError,
)
from crm.money import is_digits, round_places
from crm_accounting_sync.canonical import dec, iso
from crm_accounting_sync.jsonnum import dumps
from crm_accounting_sync.local import address
from crm_accounting_sync.quickbooks.oauth import discovery, refresh_expiry

PRODUCTION = "https://quickbooks.api.intuit.com/v3"
SANDBOX = "https://sandbox-quickbooks.api.intuit.com/v3"
TYPES = {"accounts": "Customer", "contacts": "Customer", "vendors": "Vendor", "items": "Item",
         "quotes": "Estimate", "sales-orders": "SalesReceipt", "purchase-orders": "PurchaseOrder",
         "invoices": "Invoice", "payments": "Payment"}
NAMES = ("Customer", "Vendor", "Item")
#: the account references of an item, per item type -> the setting holding each
ITEM_ACCOUNTS = {"Service": {"IncomeAccountRef": "income_account_id"},
                 "NonInventory": {"IncomeAccountRef": "income_account_id", "ExpenseAccountRef": "expense_account_id"},
                 "Inventory": {"IncomeAccountRef": "income_account_id", "ExpenseAccountRef": "expense_account_id",
                               "AssetAccountRef": "asset_account_id"}}
#: the account types (AccountType) each account setting takes, as QuickBooks requires per reference
ACCOUNT_TYPES = {"income_account_id": ("Income", "Other Income"),
                 "expense_account_id": ("Cost of Goods Sold", "Expense"),
                 "asset_account_id": ("Other Current Asset",)}
ACCOUNT_SETTING_LABELS = {"income_account_id": "the income account", "expense_account_id": "the expense account",
                          "asset_account_id": "the inventory asset account"}
#: references of a written object to names (which may be inactive there)
REF_TYPES = {"CustomerRef": "Customer", "VendorRef": "Vendor", "ParentRef": "Customer", "IncomeAccountRef": "Account",
             "ExpenseAccountRef": "Account", "AssetAccountRef": "Account"}
#: a US company's line tax codes (taxable or not); the rate is the transaction's TxnTaxCodeRef
US_LINE_CODES = ("TAX", "NON")
#: the key of the tax_codes value map for lines without tax
NO_TAX = "(no tax)"
#: the id of a payment's part applied to one of its invoices: "<payment id>#<invoice id>"
PART = "#"
CDC_LIMIT = 1000
PAGE = 1000
CDC_DAYS = 29          # QuickBooks keeps 30 days of changes; one day of margin
DOC_FIELDS = ("number", "account_id", "due_date", "subject", "lines", "total", "tax", "shipping", "discount",
              "discount_percent", "discount_amount", "status", "group_taxes", "shipping_taxes")
#: our sync status of a quote <-> an estimate's TxnStatus
ESTIMATE_STATUS = {"open": "Pending", "accepted": "Accepted", "rejected": "Rejected", "closed": "Closed",
                   "cancelled": "Rejected"}
ESTIMATE_STATUS_BACK = {"Pending": "open", "Accepted": "accepted", "Rejected": "rejected", "Closed": "closed"}
#: transactions that QuickBooks voids (kept with zero amounts) instead of cancelling
VOIDABLE = {"invoices": "Invoice", "sales-orders": "SalesReceipt"}
CONFLICT_CODES = {"6210", "6480", "6540"}   # closed period, linked / deposited transactions
#: the longest Title QuickBooks takes (a name's honorific)
TITLE_MAX = 16
#: where QuickBooks has custom fields (CustomField): transactions, not names
CUSTOM_FIELD_ENTITIES = ("quotes", "sales-orders", "purchase-orders", "invoices")
#: a name's DisplayName made unique when another customer, vendor or employee has it (6240)
NAME_SUFFIX = {"accounts": "customer", "vendors": "vendor"}


class SubscriptionEnded(RemoteValidationError):
    """QuickBooks 6190: the company's subscription ended (or was cancelled). Nothing can be written
    there: the run stops saying so (``stop_run``) instead of failing every record."""

    stop_run = True


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


def _display_name(name: str) -> str:
    """A DisplayName QuickBooks takes: no ":" (it separates a sub-customer from its parent there)."""
    return (name or "").replace(":", "-").strip()[:500]


#: QuickBooks' limits per company (realm): (requests, seconds, batch requests only)
LIMITS = {"second": (10, 1.0, False), "minute": (500, 60.0, False), "batch": (40, 60.0, True)}
#: after a 429 QuickBooks wants at least a minute of quiet
THROTTLE_WAIT = 60.0


class Pacer:
    """Keeps one connection's requests within QuickBooks' limits (:data:`LIMITS`: 10 a second and
    500 a minute per company, 40 batch requests a minute), waiting before a request that would
    go over. ``clock`` (seconds, monotonic) and ``sleep`` are injectable: a simulated clock paces
    without waiting (the tests and the benchmark)."""

    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self.clock, self.sleep = clock, sleep
        self.sent: dict[str, deque] = {name: deque() for name in LIMITS}
        self.waited = 0.0
        self.lock = threading.Lock()

    @classmethod
    def of(cls, realm: str, clock=time.monotonic, sleep=time.sleep) -> "Pacer":
        """The pacer of company ``realm`` in this process (on this clock): the limits are the
        company's, shared by every connection and run to it here."""
        with _PACERS_LOCK:
            key = (str(realm), clock)
            if key not in _PACERS:
                _PACERS[key] = cls(clock, sleep)
            return _PACERS[key]

    def wait(self, batch: bool = False) -> None:
        with self.lock:
            self._wait(batch)

    def _wait(self, batch: bool) -> None:
        while True:
            now = self.clock()
            delay = 0.0
            for name, (count, seconds, only_batch) in LIMITS.items():
                if only_batch and not batch:
                    continue
                times = self.sent[name]
                while times and times[0] <= now - seconds:
                    times.popleft()
                if len(times) >= count:
                    delay = max(delay, times[0] + seconds - now)
            if delay <= 0:
                break
            delay += 0.001    # past the window's edge
            self.sleep(delay)
            self.waited += delay
        for name, (_count, _seconds, only_batch) in LIMITS.items():
            if batch or not only_batch:
                self.sent[name].append(now)


_PACERS: dict[tuple, Pacer] = {}
_PACERS_LOCK = threading.Lock()


class _Client(QuickBooks):
    """python-quickbooks' client with a timeout, a call counter, the pacing of requests within
    QuickBooks' limits, and transport errors and 429/5xx answers turned into the sync contract's
    retryable errors."""

    timeout = 30
    calls = 0
    pacer: Pacer | None = None

    def process_request(self, request_type, url, headers="", params="", data=""):
        if self.pacer is not None:
            self.pacer.wait(batch=urlsplit(url).path.rstrip("/").endswith("/batch"))
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
        if response.status_code in (401, 403):
            raise _access_error(response)
        if response.status_code == 429:
            # QuickBooks' throttle: at least a minute before the next try (more if it says so)
            after = response.headers.get("Retry-After")
            wait = max(THROTTLE_WAIT, float(after) if after and is_digits(after) else 0.0)
            raise RetryableError("QuickBooks throttled the request (429: over its limit of requests per minute "
                                 "for the company)", status=429, code="429", retry_after=wait)
        if response.status_code >= 500:
            raise RetryableError(f"QuickBooks answered {response.status_code}", status=response.status_code,
                                 code=str(response.status_code))
        return response


class SetupError(RemoteValidationError):
    """QuickBooks refuses the connection itself (403): retrying cannot help, someone has to change the
    setup; the run stops (``stop_run``) saying what to check."""

    stop_run = True


def _fault_of(response) -> tuple[str, str, str]:
    """(code, message, detail) of a QuickBooks error body: ``Fault``/``Error`` or, on 401 and 403,
    ``fault``/``error`` in lower case (and ``Message``/``message``...)."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200], ""
    fault = (body.get("Fault") or body.get("fault") or {}) if isinstance(body, dict) else {}
    errors = fault.get("Error") or fault.get("error") or [{}]
    first = errors[0] if isinstance(errors, list) and errors else {}
    code = str(first.get("code") or first.get("Code") or "")
    return (code, str(first.get("Message") or first.get("message") or ""),
            str(first.get("Detail") or first.get("detail") or ""))


def _access_error(response) -> SyncError:
    """401: the access token (refreshed once by the engine); 403: a setup to fix, never retried.
    QuickBooks 3100 (ApplicationAuthorizationFailed) is mostly a sandbox company called on the
    production host or the other way round."""
    code, message, detail = _fault_of(response)
    said = "; ".join(x for x in (message, detail) if x)
    if response.status_code == 401:
        return AuthenticationError(f"QuickBooks refused the access token (401{', ' + code if code else ''}): {said}",
                                   code=code or "401", status=401)
    if code == "3100":
        return SetupError(
            "QuickBooks refused access to the company (403, code 3100: the app is not authorized for it). Check "
            "the connection's environment: a sandbox company needs 'sandbox' (and the app's development keys), a "
            "real company 'production' (and its production keys); check that realm_id is the company that was "
            f"connected, and connect again if the app was disconnected there. ({said})", code=code, status=403)
    return SetupError(f"QuickBooks refused access (403{', code ' + code if code else ''}): the user who connected "
                      f"may not be an administrator of the company, or the app lacks the accounting scope; "
                      f"connect again as an administrator. ({said})", code=code or "403", status=403)


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
        if code == "6140":
            return DuplicateError(f"QuickBooks already has a document with this number (6140 duplicate document "
                                  f"number): {text}", code=code)
        if code == "6190":
            return SubscriptionEnded("QuickBooks refused to write: the company's subscription has ended or was "
                                     f"cancelled (6190). Renew it in QuickBooks (Account and settings > Billing "
                                     f"& subscription), then sync again. {text}", code=code)
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


def _discount_and_shipping_to(entity: str, record: dict) -> list[dict]:
    """A document's discount and shipping as QuickBooks lines after its item lines."""
    lines: list[dict] = []
    if entity == "purchase-orders":
        return lines    # no discount line on a purchase order (see _spread_discount), no shipping
    if record.get("discount_percent") is not None and _d(record["discount_percent"]):
        # QuickBooks computes the amount from the percent (of the lines before it)
        lines.append({"DetailType": "DiscountLineDetail", "Amount": _d(record.get("discount")),
                      "DiscountLineDetail": {"PercentBased": True,
                                             "DiscountPercent": _d(record["discount_percent"])}})
    elif record.get("discount") and _d(record["discount"]):
        lines.append({"DetailType": "DiscountLineDetail", "Amount": _d(record["discount"]),
                      "DiscountLineDetail": {"PercentBased": False}})
    if record.get("shipping") and _d(record["shipping"]):
        lines.append({"DetailType": "SalesItemLineDetail", "Amount": _d(record["shipping"]),
                      "SalesItemLineDetail": {"ItemRef": _ref("SHIPPING_ITEM_ID")}})
    return lines


def _spread_discount(lines: list[dict], discount: Decimal, detail_type: str) -> None:
    """A purchase order takes no discount line in QuickBooks: the document discount lowers each
    line's net unit price in proportion to its amount (QuickBooks then computes the same total, to
    a cent or two that the total comparison reports)."""
    subtotal = sum((line["Amount"] for line in lines), Decimal("0"))
    if not discount or not subtotal:
        return
    factor = (subtotal - discount) / subtotal
    for line in lines:
        detail = line[detail_type]
        qty = detail["Qty"] or Decimal("1")
        detail["UnitPrice"] = round_places(line["Amount"] * factor / qty, 4)
        line["Amount"] = round_places(qty * detail["UnitPrice"], 2)


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
                            "status", "group_taxes"),
        "invoices": DOC_FIELDS + ("date",),
        "payments": ("invoice_id", "account_id", "amount", "date", "method", "reference"),
    }
    deactivate_only = frozenset({"accounts", "contacts", "vendors", "items"})
    #: sales orders become sales receipts (cash sales), which post revenue: with the invoices that
    #: follow them synced too, revenue would count twice. Not synced unless chosen.
    default_directions = {"sales-orders": "none"}
    entity_notes = {"sales-orders": N_("Not synced by default: QuickBooks would get them as sales receipts (cash "
                                       "sales), which post revenue; with their invoices synced too it counts "
                                       "twice. Choose a direction only if you do not invoice your sales orders.")}
    settings_keys = ("realm_id", "client_id", "redirect_uri", "environment", "discovery_url", "api_base_url",
                     "minorversion",
                     "timeout_seconds", "item_type", "income_account_id", "expense_account_id", "asset_account_id")
    secret_keys = ("client_secret", "refresh_token", "access_token", "webhook_verifier_token")
    from crm_accounting_sync.quickbooks.settings import SETTINGS_FIELDS as settings_fields  # the settings form
    batch_size = 30
    #: the clock and sleep of the pacing (:class:`Pacer`); the tests' fake and the benchmark
    #: put a simulated clock here
    clock = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    def __init__(self, settings, secrets, save_secrets=None):
        super().__init__(settings, secrets, save_secrets)
        self._qb = None
        self._auth = None
        self._cdc_cache: dict[tuple, dict] = {}
        self._company_info: dict | None = None
        self._tax_codes: dict[str, dict] | None = None
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
                                        discovery(self.settings),
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
            qb.pacer = Pacer.of(self.realm, type(self).clock, type(self).sleep)
            self._qb = qb
            if auth.refresh_token != before or auth.access_token != self.secrets.get("access_token"):
                self.save_secrets({"refresh_token": auth.refresh_token, "access_token": auth.access_token,
                                   "refresh_token_expires_at": refresh_expiry(auth)})
        return self._qb

    def refresh_auth(self) -> None:
        auth = self._auth_client()
        try:
            self.http_calls += 1
            auth.refresh(refresh_token=self.secrets.get("refresh_token") or auth.refresh_token)
        except (AuthClientError, requests.RequestException) as exc:
            raise translate(exc) from exc
        self.save_secrets({"refresh_token": auth.refresh_token, "access_token": auth.access_token,
                           "refresh_token_expires_at": refresh_expiry(auth)})
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
        try:
            data = self._do(lambda qb: qb.get(f"{qb.api_url}/company/{self.realm}/companyinfo/{self.realm}"))
        except AuthenticationError:
            if not self.secrets.get("refresh_token"):
                raise       # not connected: nothing to refresh
            # the access token expired (an hour): refresh it once, as a run does
            self.refresh_auth()
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
            return ChangeSet(self._per_invoice(entity, records), stamp_now, complete=True)
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
        return ChangeSet(self._per_invoice(entity, records), next_cursor)

    def fetch(self, entity: str, remote_id: str) -> RemoteRecord | None:
        entity_type = TYPES[entity]
        whole = str(remote_id).split(PART)[0]
        try:
            data = self._do(lambda qb: qb.get_single_object(entity_type, whole))
        except NotFoundError:
            return None
        obj = data.get(entity_type)
        if not obj:
            return None
        found = [r for r in self._per_invoice(entity, [self._record(entity_type, obj)]) if r.id == str(remote_id)]
        return found[0] if found else None

    def _per_invoice(self, entity: str, records: list[RemoteRecord]) -> list[RemoteRecord]:
        """A QuickBooks payment applied to several invoices is one payment here per invoice: the
        first keeps the payment's id, the others are "<id>#<invoice id>", each with its own line
        and amount (``TotalAmt``)."""
        if entity != "payments":
            return records
        out = []
        for rec in records:
            lines = [line for line in rec.data.get("Line") or []
                     if any(t.get("TxnType") == "Invoice" for t in line.get("LinkedTxn") or [])]
            if rec.deleted or len(lines) < 2:
                out.append(rec)
                continue
            for n, line in enumerate(lines):
                invoice = next(t.get("TxnId") for t in line["LinkedTxn"] if t.get("TxnType") == "Invoice")
                data = {**rec.data, "Line": [line], "TotalAmt": line.get("Amount"), "_whole": rec.data}
                out.append(RemoteRecord(id=rec.id if n == 0 else f"{rec.id}{PART}{invoice}", version=rec.version,
                                        updated_at=rec.updated_at, data=data))
        return out

    def _refuse_split_payment(self, entity: str, remote_id) -> None:
        """A payment applied to several invoices there is changed there only (writing one of its parts
        would undo the others' applications)."""
        if entity != "payments" or remote_id is None:
            return
        current = self.fetch(entity, remote_id)
        if PART in str(remote_id) or (current is not None and "_whole" in current.data):
            raise RemoteValidationError("this payment is part of a QuickBooks payment applied to several invoices: "
                                        "change or delete it in QuickBooks (its changes come here)")

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
        self._refuse_split_payment(entity, remote_id)
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
        try:
            data = self._write(entity, payload, remote_id, remote_version, request_id)
        except NotFoundError as exc:
            raise self._not_found(entity, payload, remote_id, exc) from exc
        except DuplicateError as exc:
            renamed = self._renamed(entity, payload, exc)
            if renamed is None:
                raise
            data = self._write(entity, renamed, remote_id, remote_version, f"{request_id[:30]}-named")
        record = self._record(entity_type, data[entity_type])
        if void:   # created cancelled: void it at once
            record = self._void(entity, record.id, record.version, request_id)
        return record

    def _write(self, entity, payload: dict, remote_id, remote_version, request_id) -> dict:
        entity_type = TYPES[entity]
        body = json_body(self._write_body(entity, payload, remote_id, remote_version))
        if remote_id is None:
            return self._do(lambda qb: qb.create_object(entity_type, body, request_id=request_id))
        return self._do(lambda qb: qb.update_object(entity_type, body, request_id=request_id))

    def _renamed(self, entity, payload: dict, error: DuplicateError) -> dict | None:
        """A DisplayName is unique across QuickBooks' customers, vendors and employees (6240): a
        customer that is also a vendor, or two contacts of the same name at different companies,
        are told apart there: "Name (vendor)", "Name (customer)", "Ana López (Parent company)".
        None: not a name of ours that another one holds (the error stands)."""
        if error.code != "6240" or not payload.get("DisplayName"):
            return None
        suffix = NAME_SUFFIX.get(entity)
        if entity == "contacts":
            parent = (payload.get("ParentRef") or {}).get("value")
            found = self.fetch("accounts", parent) if parent else None
            suffix = (found.data.get("DisplayName") if found else None) or suffix
        if not suffix or payload["DisplayName"].endswith(f" ({suffix})"):
            return None
        return {**payload, "DisplayName": _display_name(f"{payload['DisplayName']} ({suffix})")}

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
        self._refuse_split_payment(entity, remote_id)
        body = json_body({"Id": str(remote_id), "SyncToken": str(remote_version or "0")})
        data = self._do(lambda qb: qb.delete_object(entity_type, body, request_id=request_id))
        obj = data.get(entity_type) or {"Id": remote_id, "status": "Deleted"}
        return self._record(entity_type, obj)

    def push_batch(self, entity, ops):
        voids = {n for n, op in enumerate(ops) if not op.get("delete") and (op.get("payload") or {}).get("_void")}
        if entity == "payments":   # a change of a payment there is checked against its parts first (push)
            voids |= {n for n, op in enumerate(ops) if op.get("remote_id") is not None}
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
                error = self._fault_error(answer["Fault"])
                if isinstance(error, NotFoundError) and not _op.get("delete"):
                    error = self._not_found(entity, _op["payload"], _op.get("remote_id"), error)
                renamed = self._renamed(entity, _op["payload"], error) \
                    if isinstance(error, DuplicateError) and not _op.get("delete") else None
                if renamed is not None:
                    try:
                        obj = self._write(entity, renamed, _op.get("remote_id"), _op.get("remote_version"),
                                          f"{_op['request_id'][:30]}-named")[entity_type]
                        results.append(PushResult(record=self._record(entity_type, obj)))
                    except SyncError as again:
                        results.append(PushResult(error=again))
                    continue
                results.append(PushResult(error=error))
            else:
                obj = answer.get(entity_type) or {}
                results.append(PushResult(record=self._record(entity_type, obj)))
        return results

    def _not_found(self, entity, payload: dict, remote_id, error: NotFoundError) -> SyncError:
        """QuickBooks answers 610 "Object Not Found" both for a record deleted there and for a write
        that refers to an inactive customer, vendor, item, account or tax code (without saying which).
        Read the record, then what it refers to: only a record that is gone is "not found"."""
        if remote_id is not None and self.fetch(entity, remote_id) is None:
            return error
        inactive = self._inactive_refs(payload)
        if inactive:
            return RemoteValidationError(f"QuickBooks refused it: {', '.join(inactive)} "
                                         f"{'is' if len(inactive) == 1 else 'are'} inactive there (make "
                                         f"{'it' if len(inactive) == 1 else 'them'} active in QuickBooks, then retry)",
                                         code="610")
        return RemoteValidationError(f"QuickBooks refused it ({error.message}); the record itself exists there",
                                     code="610")

    def _inactive_refs(self, payload: dict) -> list[str]:
        """The names ``payload`` refers to that are inactive in QuickBooks, as "Customer 'Name' (id 5)"."""
        refs: dict[tuple[str, str], None] = {}

        def add(kind, ref):
            if isinstance(ref, dict) and ref.get("value") not in (None, "", "SHIPPING_ITEM_ID"):
                refs[(kind, str(ref["value"]))] = None
        for key, kind in REF_TYPES.items():
            add(kind, payload.get(key))
        add("TaxCode", (payload.get("TxnTaxDetail") or {}).get("TxnTaxCodeRef"))
        for line in payload.get("Line") or []:
            detail = line.get(line.get("DetailType") or "") or {}
            add("Item", detail.get("ItemRef"))
            add("TaxCode", detail.get("TaxCodeRef"))
        found = []
        for kind, ref in refs:
            if kind == "TaxCode" and ref in ("TAX", "NON"):
                continue
            try:
                obj = self._do(lambda qb, kind=kind, ref=ref: qb.get_single_object(kind, ref)).get(kind) or {}
            except NotFoundError:
                found.append(f"{kind} {ref} (not found)")
                continue
            except RemoteValidationError:
                continue
            if obj.get("Active", True) in (False, "false"):
                found.append(f"{kind} '{obj.get('DisplayName') or obj.get('Name') or ref}' (id {ref})")
        return found

    def _fault_error(self, fault: dict) -> SyncError:
        try:
            QuickBooks.handle_exceptions(fault)
        except Exception as exc:  # noqa: BLE001
            return translate(exc)
        return RemoteValidationError("QuickBooks refused the item")

    # -- custom fields ---------------------------------------------------------------------------

    @classmethod
    def mapping_problem(cls, entity, remote: str) -> str | None:
        """Why a custom-field mapping cannot work with QuickBooks (None: it can): CustomField exists
        on transactions only."""
        if remote.startswith("CustomField:") and entity not in CUSTOM_FIELD_ENTITIES:
            return ("QuickBooks has custom fields (CustomField:<Name>) on transactions only: quotes, sales "
                    "orders, purchase orders and invoices")
        return None

    def get_custom(self, entity, remote, path):
        if path.startswith("CustomField:"):
            if entity not in CUSTOM_FIELD_ENTITIES:
                raise RemoteValidationError(self.mapping_problem(entity, path) or "")
            name = path.split(":", 1)[1]
            for field in remote.data.get("CustomField") or []:
                if field.get("Name") == name:
                    return field.get("StringValue")
            return None
        return super().get_custom(entity, remote, path)

    def set_custom(self, entity, payload, path, value):
        if path.startswith("CustomField:"):
            if entity not in CUSTOM_FIELD_ENTITIES:
                raise RemoteValidationError(self.mapping_problem(entity, path) or "")
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
            return {"DisplayName": _display_name(record.get("name", "")), "CompanyName": record.get("name", ""),
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
            # a sub-customer: Job true with its parent; QuickBooks' Title holds 16 characters at most
            return {"DisplayName": _display_name(full), "GivenName": record.get("first_name", ""),
                    "FamilyName": record.get("last_name", ""), "Title": (record.get("title") or "")[:TITLE_MAX],
                    "PrimaryEmailAddr": {"Address": record.get("email", "")},
                    "PrimaryPhone": {"FreeFormNumber": record.get("phone", "")},
                    "ParentRef": _ref(refs.remote("accounts", record["account_id"])), "Job": True,
                    "BillWithParent": True, "Active": bool(record.get("active", True))}
        if entity == "vendors":
            return {"DisplayName": _display_name(record.get("name", "")), "CompanyName": record.get("name", ""),
                    "PrimaryEmailAddr": {"Address": record.get("email", "")},
                    "PrimaryPhone": {"FreeFormNumber": record.get("phone", "")},
                    "WebAddr": {"URI": record.get("website", "")}, "BillAddr": _addr_to(record.get("address")),
                    "Active": bool(record.get("active", True))}
        if entity == "items":
            service = record.get("kind") == "service"
            kind = "Service" if service else (self.settings.get("item_type") or "NonInventory")
            accounts = self._item_accounts(kind)
            out = {"Name": (record.get("name") or "").replace(":", "-")[:100], "Sku": record.get("sku", ""),
                   "Description": record.get("description", ""), "UnitPrice": _d(record.get("unit_price")),
                   "PurchaseCost": _d(record.get("purchase_cost")), "Active": bool(record.get("active", True)),
                   "Type": kind, **{ref: _ref(value) for ref, value in accounts.items()}}
            if kind == "Inventory":
                out.update(TrackQtyOnHand=True, QtyOnHand=Decimal("0"), InvStartDate="2000-01-01")
            return out
        if entity in DOCUMENT_ENTITIES:
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

    def _item_accounts(self, kind: str) -> dict:
        """The account references an item of ``kind`` needs, from the connection's settings; a missing
        one refuses the item, naming the setting (QuickBooks has no default account to fall back on)."""
        needed = ITEM_ACCOUNTS[kind]
        missing = [key for key in needed.values() if not self.settings.get(key)]
        if missing:
            raise RemoteValidationError(
                f"QuickBooks needs {kind} items' accounts: choose {', '.join(ACCOUNT_SETTING_LABELS[k] for k in missing)} "
                f"({', '.join(missing)}) in the connection's settings")
        return {ref: str(self.settings[key]) for ref, key in needed.items()}

    def setting_choices(self) -> dict[str, list[tuple[str, str]]]:
        """The choices of the account settings: the company's active accounts of the right types,
        as (id, "Name (type)"); and of the value map ``tax_codes`` (``value_maps.tax_codes``): its
        active tax codes (a US company's rates, not TAX/NON), as (id, name)."""
        rows = self._query_all("Account", "Active = true")
        out = {}
        for key, types in ACCOUNT_TYPES.items():
            out[key] = [(str(a["Id"]), f"{a.get('FullyQualifiedName') or a.get('Name')} ({a.get('AccountType')})")
                        for a in rows if a.get("AccountType") in types]
        out["value_maps.tax_codes"] = [(code, str(c.get("Name") or code)) for code, c in self.tax_codes().items()
                                       if c.get("Active", True) not in (False, "false") and code not in US_LINE_CODES]
        return out

    # -- taxes -----------------------------------------------------------------------------------

    def company_info(self) -> dict:
        """The company's ``CompanyInfo`` (read once per connector: once per run)."""
        if self._company_info is None:
            data = self._do(lambda qb: qb.get(f"{qb.api_url}/company/{self.realm}/companyinfo/{self.realm}"))
            self._company_info = data.get("CompanyInfo") or {}
        return self._company_info

    def is_us(self) -> bool:
        """A US company (TAX/NON line codes, one sales tax rate per transaction); every other
        country's lines carry one of the company's TaxCodes."""
        return str(self.company_info().get("Country") or "").upper() in ("US", "USA")

    def tax_codes(self) -> dict[str, dict]:
        """The company's tax codes, active or not, by id (read once per connector). A query of a
        list leaves the inactive ones out unless it names ``Active``."""
        if self._tax_codes is None:
            self._tax_codes = {str(c["Id"]): c for c in self._query_all("TaxCode", "Active IN (true, false)")}
        return self._tax_codes

    def _tax_code(self, names: list | tuple, refs, where: str) -> str:
        """The QuickBooks TaxCode id our taxes ``names`` map to (``tax_codes``: one tax name, several
        joined with " + ", or ``(no tax)``); an unmapped tax, or a code the company does not have or
        has made inactive, refuses the document naming it."""
        key = " + ".join(sorted(names)) if names else NO_TAX
        code = refs.value("tax_codes", key)
        if code is None:
            raise RemoteValidationError(
                f"{where}: the tax {key!r} has no QuickBooks tax code: map it to one of the company's tax codes "
                f"in the connection's settings (value map tax_codes)", code="tax_code")
        found = self.tax_codes().get(str(code))
        if found is None or str(code) in US_LINE_CODES:
            raise RemoteValidationError(f"{where}: the tax {key!r} is mapped to {code!r}, which is not a tax code "
                                        f"of the QuickBooks company: map it to one of its tax codes", code="tax_code")
        if found.get("Active", True) in (False, "false"):
            raise RemoteValidationError(f"{where}: the tax {key!r} is mapped to the tax code {found.get('Name')!r} "
                                        f"(id {code}), which is inactive in QuickBooks", code="610")
        return str(code)

    def _line_taxes(self, record: dict, row: dict) -> list:
        """A line's taxes: its own, else (group tax mode) the document's group taxes."""
        return list(row.get("taxes") or []) or list(record.get("group_taxes") or [])

    def _taxes_to(self, entity, record: dict, refs, out: dict) -> None:
        """The taxes of a document as QuickBooks takes them; it computes the tax itself (our
        ``TotalTax`` is never sent: the total it computes is compared with ours after the write).

        Non-US company: each item line (and the shipping line) a ``TaxCodeRef`` mapped from its taxes,
        ``GlobalTaxCalculation`` TaxExcluded (our prices exclude tax). US company: lines TAX or NON,
        and the one tax of the transaction as ``TxnTaxDetail.TxnTaxCodeRef`` (purchases carry no sales
        tax there)."""
        kind = "ItemBasedExpenseLineDetail" if entity == "purchase-orders" else "SalesItemLineDetail"
        item_lines = [line for line in out["Line"] if line.get("DetailType") == kind]
        rows = list(record.get("lines") or [])
        if not self.is_us():
            for n, (line, row) in enumerate(zip(item_lines, rows), 1):
                line[kind]["TaxCodeRef"] = _ref(self._tax_code(self._line_taxes(record, row), refs, f"line {n}"))
            for line in item_lines[len(rows):]:   # the shipping line
                line[kind]["TaxCodeRef"] = _ref(self._tax_code(record.get("shipping_taxes") or [], refs, "shipping"))
            out["GlobalTaxCalculation"] = "TaxExcluded"
            return
        if entity == "purchase-orders":
            return
        taxed = {" + ".join(sorted(t)) : t for t in (self._line_taxes(record, row) for row in rows) if t}
        if record.get("shipping_taxes"):
            taxed[" + ".join(sorted(record["shipping_taxes"]))] = record["shipping_taxes"]
        if len(taxed) > 1:
            raise RemoteValidationError(f"a US QuickBooks company takes one sales tax per transaction; this one has "
                                        f"{', '.join(sorted(taxed))}", code="tax_code")
        for line, row in zip(item_lines, rows):
            line[kind]["TaxCodeRef"] = _ref("TAX" if self._line_taxes(record, row) else "NON")
        for line in item_lines[len(rows):]:
            line[kind]["TaxCodeRef"] = _ref("TAX" if record.get("shipping_taxes") else "NON")
        if taxed:
            [names] = taxed.values()
            out["TxnTaxDetail"] = {"TxnTaxCodeRef": _ref(self._tax_code(names, refs, "sales tax"))}

    def total_difference(self, entity: str, local: dict, remote: dict) -> str | None:
        """QuickBooks computes a document's tax: when its total differs from ours, what to log."""
        if entity not in DOCUMENT_ENTITIES or remote.get("status") == "cancelled":
            return None
        ours, theirs = local.get("total"), remote.get("total")
        if ours is None or theirs is None or _d(ours) == _d(theirs):
            return None
        return (f"QuickBooks computed a total of {theirs} (its tax {remote.get('tax') or '0'}); ours is {ours} "
                f"(tax {local.get('tax') or '0'}): check the tax codes mapped to our taxes and the rounding")

    def _line_to(self, entity, row: dict, refs, detail_type: str) -> dict:
        """A document's item line as a QuickBooks line of ``detail_type``."""
        qty, price = _d(row.get("quantity") or "1"), _d(row.get("unit_price"))
        gross = qty * price
        discount = Decimal("0")
        if row.get("discount_percent") is not None:
            discount = gross * _d(row["discount_percent"]) / 100
        elif row.get("discount_amount") is not None:
            discount = _d(row["discount_amount"])
        if discount:
            # QuickBooks has no line discount: the net unit price (Amount = Qty * UnitPrice must hold)
            price = round_places((gross - discount) / qty, 4) if qty else price
        detail = {"ItemRef": _ref(refs.remote("items", row.get("item_id"))), "Qty": qty, "UnitPrice": price}
        return {"DetailType": detail_type, "Amount": round_places(qty * price, 2),
                "Description": row.get("description", ""), detail_type: detail}

    def _doc_to(self, entity, record, refs) -> dict:
        detail_type = "ItemBasedExpenseLineDetail" if entity == "purchase-orders" else "SalesItemLineDetail"
        lines = [self._line_to(entity, row, refs, detail_type) for row in record.get("lines") or []]
        if entity == "purchase-orders":
            _spread_discount(lines, _d(record.get("discount")), detail_type)
        out = {"Line": lines + _discount_and_shipping_to(entity, record), "PrivateNote": record.get("subject", "")}
        if record.get("number"):
            out["DocNumber"] = str(record["number"])[:21]
        if entity == "purchase-orders":
            out["VendorRef"] = _ref(refs.remote("vendors", record.get("vendor_id")))
        else:
            out["CustomerRef"] = _ref(refs.remote("accounts", record.get("account_id")))
        self._taxes_to(entity, record, refs, out)
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
        if entity in DOCUMENT_ENTITIES:
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

    def _line_from(self, entity, line: dict, detail: dict, item, refs, txn_code=None) -> dict:
        """A QuickBooks item line (its ``detail`` naming ``item``) as a document's line."""
        qty = detail.get("Qty")
        price = detail.get("UnitPrice")
        if price is None:
            price = _d(line.get("Amount")) / _d(qty or 1)
        row = {"item_id": refs.local("items", item), "description": line.get("Description", ""),
               "quantity": dec(qty if qty is not None else 1), "unit_price": dec(price)}
        code = (detail.get("TaxCodeRef") or {}).get("value")
        if code == "TAX":       # a US company: taxed at the transaction's rate
            code = txn_code
        elif code == "NON":
            row["taxes"] = []
            return row
        name = refs.value("tax_codes", code, reverse=True) if code is not None else None
        if name is not None:
            row["taxes"] = [] if name == NO_TAX else sorted(name.split(" + "))
        return row

    def _doc_from(self, entity, o, refs) -> dict:
        detail_type = "ItemBasedExpenseLineDetail" if entity == "purchase-orders" else "SalesItemLineDetail"
        lines = []
        discount: dict = {}
        txn_code = ((o.get("TxnTaxDetail") or {}).get("TxnTaxCodeRef") or {}).get("value")
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
            lines.append(self._line_from(entity, line, detail, item, refs, txn_code))
        out = {"number": o.get("DocNumber"), "subject": o.get("PrivateNote", ""), "lines": lines,
               "total": dec(o.get("TotalAmt")), "tax": dec((o.get("TxnTaxDetail") or {}).get("TotalTax") or 0),
               **discount}
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
