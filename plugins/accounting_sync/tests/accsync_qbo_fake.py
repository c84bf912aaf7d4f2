"""A stateful contract fake of the QuickBooks Online Accounting API (v3) and of
Intuit's OAuth 2 token endpoint, served over real HTTP on 127.0.0.1.

Written from Intuit's documentation; what it reproduces is listed in the plugin's
README ("The QuickBooks fake"). In short:

- OAuth 2: OpenID discovery document, the consent screen (``/connect/oauth2``, answered at
  once as :attr:`QBOFake.consent` says: back to ``redirect_uri`` with ``code``, ``state``,
  ``realmId``, or ``error=access_denied``), token endpoint (``authorization_code`` bound to
  its ``redirect_uri``, and ``refresh_token`` grants, HTTP Basic client authentication),
  revocation endpoint, refresh-token rotation
  (every refresh returns a new refresh token; the previous one stops working, which
  is stricter than Intuit), access tokens that expire (:meth:`QBOFake.expire_tokens`)
  -> 401 on the API.
- Entities Customer, Vendor, Item, Estimate, Invoice, SalesReceipt, PurchaseOrder,
  Payment, Account, TaxCode, TaxRate, plus CompanyInfo: create, read, full and sparse update with ``SyncToken``
  (a stale one -> 400 Fault 5010 "Stale Object Error"), ``operation=delete`` for
  transactions (names can only be made inactive: 400 Fault 6000 otherwise),
  ``MetaData.CreateTime``/``LastUpdatedTime``. Names (DisplayName across customers and
  vendors, Item Name) unique -> 400 Fault 6240 "Duplicate Name Exists Error".
  Required fields -> 400 Fault 2020. Line ``Amount`` must equal ``UnitPrice * Qty``
  (rounded to cents) -> 400 Fault 6070. ``TotalAmt`` = lines + ``TxnTaxDetail.TotalTax``;
  an invoice's ``Balance`` = ``TotalAmt`` minus the payments linked to it (a payment
  changes the invoice, as in QuickBooks).
- A reference to an inactive name (customer, vendor, item, account, tax code) -> 400 Fault 610
  "Object Not Found" (not naming it, as QuickBooks); an unknown one -> 2500. Items need the
  account references of their type, of the right ``AccountType`` (2020 / 6000), from the
  starting chart of accounts (:data:`ACCOUNTS`).
- Query language subset: ``select * | count(*) from <Entity> [where <field> <op> <value>
  [and ...]] [orderby <field> [asc|desc]] [startposition n] [maxresults m]`` with
  ``= < > <= >= in like``, dotted fields (``MetaData.LastUpdatedTime``), names active
  only unless ``Active`` is in the condition, ``maxresults`` at most 1000.
- Change data capture ``/cdc?entities=...&changedSince=...``: changed and deleted
  objects (``"status": "Deleted"``), ``changedSince`` older than 30 days refused,
  at most 1,000 objects per entity (the oldest first).
- Batch ``/batch``: at most 30 items (create, update, delete, query), one result per
  ``bId``, Faults per item.
- ``requestid``: the same request id (per company) answers the first response again
  and changes nothing.
- Faults on demand: HTTP 429 (with ``Retry-After``), 500/503, slow answers (client
  timeouts), dropped connections (before or after the write is applied).
- Amounts are JSON numbers parsed and written as Decimal (never float).
- Webhooks: :meth:`QBOFake.webhook_body` builds both payload formats (classic
  ``eventNotifications`` and CloudEvents) and :meth:`QBOFake.sign` their
  ``intuit-signature`` (base64 HMAC-SHA256 with the verifier token).
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import secrets
import socket
import threading
import time
from decimal import Decimal

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from crm.money import round_places
from crm_accounting_sync.jsonnum import dumps, loads

ENTITIES = ("Customer", "Vendor", "Employee", "Item", "Estimate", "Invoice", "SalesReceipt", "PurchaseOrder",
            "Payment", "Account", "TaxCode", "TaxRate")
NAMES = ("Customer", "Vendor", "Employee", "Item", "Account", "TaxCode", "TaxRate")
#: the names whose DisplayName is unique among them all
PEOPLE = ("Customer", "Vendor", "Employee")
#: the longest Title (a name's honorific) QuickBooks takes
TITLE_MAX = 16
#: the entities that have custom fields (CustomField); QuickBooks drops them elsewhere
WITH_CUSTOM_FIELDS = ("Estimate", "Invoice", "SalesReceipt", "PurchaseOrder")
#: the company's chart of accounts as the fake starts (a new QuickBooks company has these and more)
ACCOUNTS = (("Checking", "Bank"), ("Sales", "Income"), ("Services", "Income"),
            ("Cost of Goods Sold", "Cost of Goods Sold"), ("Inventory Asset", "Other Current Asset"),
            ("Purchases", "Expense"))
#: an item's account references: which item types need each, and the account types it takes
ITEM_ACCOUNTS = {"IncomeAccountRef": (("Service", "NonInventory", "Inventory"), ("Income", "Other Income")),
                 "ExpenseAccountRef": (("Inventory",), ("Cost of Goods Sold", "Expense", "Other Expense")),
                 "AssetAccountRef": (("Inventory",), ("Other Current Asset",))}
#: the tax codes a company starts with, per country: (name, rate %); a US company has the pseudo
#: codes TAX and NON for lines and rate codes for ``TxnTaxDetail.TxnTaxCodeRef``
TAX_CODES = {"ES": (("IVA 21%", "21"), ("IVA 10%", "10"), ("IVA 4%", "4"), ("Exento", "0")),
             "GB": (("20.0% S", "20"), ("5.0% R", "5"), ("0.0% Z", "0")),
             "US": (("California", "8.25"), ("Nevada", "6.85"))}
US_LINE_CODES = ("TAX", "NON")
TRANSACTIONS = ("Estimate", "Invoice", "SalesReceipt", "PurchaseOrder", "Payment")
CDC_DAYS = 30
CDC_MAX = 1000
MAX_RESULTS = 1000
BATCH_MAX = 30


#: QuickBooks' throttle per company: (requests, seconds, batch requests only)
THROTTLE = {"second": (10, 1.0, False), "minute": (500, 60.0, False), "batch": (40, 60.0, True)}


class SimClock:
    """A simulated monotonic clock (seconds): sleeping moves it forward at once. Shared by the
    fake's throttle and the connector's pacing, it paces a sync as QuickBooks would without
    waiting; ``now`` is then the time QuickBooks' limits alone would have taken."""

    def __init__(self):
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(0.0, float(seconds))


# --- JSON with exact decimals ---------------------------------------------------------------------

class Fault(Exception):
    def __init__(self, code: str, message: str, detail: str = "", status: int = 400, kind: str = "ValidationFault"):
        super().__init__(message)
        self.code, self.message, self.detail, self.status, self.kind = code, message, detail, status, kind

    def body(self) -> dict:
        return {"Fault": {"Error": [{"Message": self.message, "Detail": self.detail or self.message,
                                     "code": self.code, "element": ""}], "type": self.kind}}


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(text: str) -> dt.datetime:
    text = text.strip().strip("'")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


# --- the query language subset --------------------------------------------------------------------

QUERY = re.compile(r"^\s*select\s+(?P<what>\*|count\(\*\))\s+from\s+(?P<entity>\w+)"
                   r"(?:\s+where\s+(?P<where>.*?))?"
                   r"(?:\s+order\s*by\s+(?P<order>[\w.]+)(?:\s+(?P<dir>asc|desc))?)?"
                   r"(?:\s+startposition\s+(?P<start>\d+))?"
                   r"(?:\s+maxresults\s+(?P<max>\d+))?\s*$", re.I | re.S)
CONDITION = re.compile(r"^\s*(?P<field>[\w.]+)\s*(?P<op><=|>=|!=|=|<|>|\bin\b|\blike\b)\s*(?P<value>.+?)\s*$", re.I | re.S)


def _split_and(where: str) -> list[str]:
    parts, depth, quote, current = [], 0, False, ""
    tokens = re.split(r"(\s+and\s+|'|\(|\))", where, flags=re.I)
    for token in tokens:
        if token is None:
            continue
        if token == "'":
            quote = not quote
        elif not quote and token == "(":
            depth += 1
        elif not quote and token == ")":
            depth -= 1
        if not quote and depth == 0 and re.fullmatch(r"\s+and\s+", token, re.I):
            parts.append(current)
            current = ""
        else:
            current += token
    parts.append(current)
    return [p for p in parts if p.strip()]


def _literal(text: str):
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("\\'", "'")
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return Decimal(text)
    except Exception:  # noqa: BLE001
        raise Fault("4000", f"QueryParserError: invalid value {text}") from None


def _field(obj: dict, path: str):
    value = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        match = {k.lower(): k for k in value}.get(part.lower())
        value = value.get(match) if match else None
    return value


def _compare(actual, op: str, expected) -> bool:
    op = op.lower()
    if op == "in":
        return any(_compare(actual, "=", e) for e in expected)
    if op == "like":
        pattern = "^" + re.escape(str(expected)).replace("%", ".*") + "$"
        return actual is not None and re.match(pattern, str(actual), re.I) is not None
    if actual is None:
        return False
    if isinstance(expected, str) and isinstance(actual, str) and re.match(r"^\d{4}-\d\d-\d\dT", expected):
        actual, expected = parse_time(actual), parse_time(expected)
    elif isinstance(expected, Decimal):
        actual = Decimal(str(actual))
    elif isinstance(expected, bool):
        actual = bool(actual)
    elif isinstance(expected, str):
        actual, expected = str(actual).lower(), expected.lower()
    return {"=": actual == expected, "!=": actual != expected, "<": actual < expected, ">": actual > expected,
            "<=": actual <= expected, ">=": actual >= expected}[op]


# --- the company ----------------------------------------------------------------------------------

class Company:
    def __init__(self, realm: str, name: str, country: str = "ES"):
        self.realm = realm
        self.name = name
        self.country = country
        self.subscription_ended = False     # True: every write answers 6190 "Invalid Company Status"
        self.sandbox = False                # a sandbox company: served on the sandbox host only (else 403 3100)
        self.sent: dict[str, list[float]] = {name: [] for name in THROTTLE}   # the throttle's windows
        self.unique_doc_numbers = True      # the preference "warn if duplicate numbers": 6140 then
        self.objects: dict[str, dict[str, dict]] = {e: {} for e in ENTITIES}
        self.deleted: dict[str, dict[str, dict]] = {e: {} for e in ENTITIES}
        self.ids = itertools.count(1)
        self.requests: dict[str, tuple[int, str]] = {}


class QBOFake:
    """The fake. ``start()`` serves it; ``url`` is its base; ``stop()`` ends it."""

    def __init__(self, *, client_id="fake-client", client_secret="fake-secret", realm="9130000000000001",
                 verifier_token="fake-verifier", company_name="Fake Company (QuickBooks fake)", country="ES"):
        self.client_id, self.client_secret = client_id, client_secret
        self.verifier_token = verifier_token
        self.realm = realm
        self.companies = {realm: Company(realm, company_name, country)}
        self.lock = threading.RLock()
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.auth_codes: dict[str, dict] = {}    # code -> {"redirect_uri", "realm"} of its consent
        self.issued: dict[str, str] = {}         # refresh token -> the access token issued with it
        self.consent = "allow"                   # what the next consent screen answers: "allow" or "deny"
        self.consents: list[dict] = []           # the authorization requests seen (their query strings)
        self.revoked: list[str] = []             # the tokens revoked
        self.access_lifetime = 3600
        self.refresh_lifetime = 8726400     # seconds a refresh token lives (Intuit: about 100 days, rolling)
        self.faults: list[dict] = []
        self.calls: list[tuple[str, str]] = []
        self.throttled = 0                  # the requests answered 429 by the throttle
        self.throttle = True                # QuickBooks' limits (THROTTLE) enforced
        self.clock = SimClock()             # the throttle's clock (see start(): the connector's too)
        self._paced: tuple | None = None
        self.bodies: list[tuple[str, dict]] = []   # (path, JSON body) of the writes received
        self.clock_offset = dt.timedelta(0)
        self.server = None
        self.thread = None
        self.url = None
        company = self.companies[realm]
        for name, kind in ACCOUNTS:
            self._create(company, "Account", {"Name": name, "AccountType": kind})
        if country == "US":
            for code in US_LINE_CODES:   # the pseudo codes of lines: taxable or not
                company.objects["TaxCode"][code] = {"Id": code, "Name": code, "Active": True, "Taxable": code == "TAX",
                                                    "SyncToken": "0", "domain": "QBO", "MetaData": {}}
        for name, rate in TAX_CODES.get(country, ()):
            tax_rate = self._create(company, "TaxRate", {"Name": name, "RateValue": Decimal(rate)})
            detail = {"TaxRateDetail": [{"TaxRateRef": {"value": tax_rate["Id"], "name": name},
                                         "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}]}
            self._create(company, "TaxCode", {"Name": name, "Taxable": True, "TaxGroup": True,
                                              "SalesTaxRateList": detail, "PurchaseTaxRateList": detail})

    # -- serving ---------------------------------------------------------------------------------

    def start(self, port: int = 0) -> "QBOFake":
        """Serve; the connector's pacing uses the fake's clock until :meth:`stop` (a simulated one
        by default: nothing waits, and the throttle sees the requests as QuickBooks would)."""
        from crm_accounting_sync.quickbooks.connector import QuickBooksConnector
        if isinstance(self.clock, SimClock) and "clock" in QuickBooksConnector.__dict__:
            self._paced = (QuickBooksConnector.__dict__["clock"], QuickBooksConnector.__dict__["sleep"])
            QuickBooksConnector.clock = staticmethod(self.clock)
            QuickBooksConnector.sleep = staticmethod(self.clock.sleep)
        self.server = make_server("127.0.0.1", port, self.wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        return self

    def real_clock(self) -> None:
        """Throttle on the real clock (a connector in another process paces on its own)."""
        from crm_accounting_sync.quickbooks.connector import QuickBooksConnector
        if self._paced is not None:
            QuickBooksConnector.clock, QuickBooksConnector.sleep = self._paced
            self._paced = None
        self.clock = time.monotonic

    def stop(self) -> None:
        self.real_clock()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid_configuration"

    @property
    def api_url(self) -> str:
        """The production host's API (a sandbox company answers 403 3100 there)."""
        return f"{self.url}/v3"

    @property
    def sandbox_api_url(self) -> str:
        """The sandbox host's API (a production company answers 403 3100 there)."""
        return f"{self.url}/sandbox/v3"

    # -- test controls ---------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc) + self.clock_offset

    def issue_refresh_token(self) -> str:
        """A refresh token as if a user had just connected the app (the OAuth consent)."""
        token = "RT-" + secrets.token_hex(12)
        with self.lock:
            self.refresh_tokens.add(token)
        return token

    def authorization_code(self, redirect_uri: str | None = None, realm: str | None = None) -> str:
        """A code as the consent screen gives it (bound to ``redirect_uri`` when given)."""
        code = "AC-" + secrets.token_hex(8)
        with self.lock:
            self.auth_codes[code] = {"redirect_uri": redirect_uri, "realm": realm or self.realm}
        return code

    def expire_tokens(self) -> None:
        """Every access token stops working (the next API call answers 401)."""
        with self.lock:
            self.access_tokens.clear()

    def inject(self, status: int | None = None, *, times: int = 1, path: str = "", method: str = "",
               delay: float = 0, drop: str | None = None, retry_after: int | None = None, skip: int = 0) -> None:
        """The next ``times`` requests whose path contains ``path`` (after ``skip`` matching ones)
        answer ``status`` (429, 500, 503...), or are answered after ``delay`` seconds, or have their
        connection dropped (``drop="before"``: nothing applied; ``"after"``: applied, answer lost)."""
        with self.lock:
            self.faults.append({"status": status, "times": times, "path": path, "method": method.upper(),
                                "delay": delay, "drop": drop, "retry_after": retry_after, "skip": skip})

    def account_id(self, name: str, realm: str | None = None) -> str:
        """The id of the company's account named ``name``."""
        return next(a["Id"] for a in self.objects("Account", realm).values() if a["Name"] == name)

    def tax_code_id(self, name: str, realm: str | None = None) -> str:
        """The id of the company's tax code named ``name``."""
        return next(c["Id"] for c in self.objects("TaxCode", realm).values() if c["Name"] == name)

    def company(self, realm: str | None = None) -> Company:
        return self.companies[realm or self.realm]

    def objects(self, entity: str, realm: str | None = None) -> dict[str, dict]:
        return self.company(realm).objects[entity]

    def count(self, kind: str = "") -> int:
        return len([c for c in self.calls if kind in c[1]])

    # -- as a QuickBooks user would: change data there ---------------------------------------------

    def user_create(self, entity: str, data: dict, realm: str | None = None) -> dict:
        with self.lock:
            return copy.deepcopy(self._create(self.company(realm), entity, copy.deepcopy(data)))

    def user_update(self, entity: str, obj_id: str, changes: dict, realm: str | None = None) -> dict:
        with self.lock:
            company = self.company(realm)
            current = company.objects[entity][str(obj_id)]
            body = {**copy.deepcopy(changes), "Id": str(obj_id), "SyncToken": current["SyncToken"], "sparse": True}
            return copy.deepcopy(self._update(company, entity, body))

    def user_void(self, entity: str, obj_id: str, realm: str | None = None) -> dict:
        with self.lock:
            company = self.company(realm)
            return copy.deepcopy(self._void(company, entity, {
                "Id": str(obj_id), "SyncToken": company.objects[entity][str(obj_id)]["SyncToken"]}))

    def user_delete(self, entity: str, obj_id: str, realm: str | None = None) -> None:
        with self.lock:
            company = self.company(realm)
            self._delete(company, entity, {"Id": str(obj_id),
                                           "SyncToken": company.objects[entity][str(obj_id)]["SyncToken"]})

    # -- webhooks ----------------------------------------------------------------------------------

    def webhook_body(self, events: list[tuple[str, str, str]], *, fmt: str = "classic",
                     realm: str | None = None) -> str:
        """``events``: (entity, id, operation "Create"|"Update"|"Delete"...)."""
        realm = realm or self.realm
        when = stamp(self.now())
        if fmt == "classic":
            return json.dumps({"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [
                {"name": e, "id": str(i), "operation": op, "lastUpdated": when} for e, i, op in events]}}]})
        return json.dumps([{"specversion": "1.0", "id": secrets.token_hex(8), "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
                            "type": f"qbo.{e.lower()}.{op.lower().rstrip('e')}ed.v1",
                            "datacontenttype": "application/json", "time": when, "intuitentityid": str(i),
                            "intuitaccountid": realm, "data": {}} for e, i, op in events])

    def sign(self, body: str, token: str | None = None) -> str:
        digest = hmac.new((token or self.verifier_token).encode(), body.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    # -- WSGI --------------------------------------------------------------------------------------

    def wsgi(self, environ, start_response):
        request = Request(environ)
        self.calls.append((request.method, request.path))
        if request.method == "POST" and request.mimetype == "application/json":
            try:
                self.bodies.append((request.path, loads(request.get_data(as_text=True) or "{}")))
            except ValueError:
                pass
        fault = self._take_fault(request)
        if fault is not None:
            if fault["delay"]:
                time.sleep(fault["delay"])
            if fault["status"]:
                headers = {"Retry-After": str(fault["retry_after"])} if fault["retry_after"] is not None else {}
                body = {"Fault": {"Error": [{"Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429"
                                             if fault["status"] == 429 else "Service unavailable",
                                             "code": "3001" if fault["status"] == 429 else "10000"}],
                                  "type": "SERVICE"}}
                return Response(dumps(body), fault["status"], headers, content_type="application/json")(
                    environ, start_response)
            if fault["drop"] == "before":
                return self._drop(environ, start_response)
        throttled = self._throttled(request)
        if throttled is not None:
            return throttled(environ, start_response)
        response = self._dispatch(request)
        if fault is not None and fault["drop"] == "after":
            return self._drop(environ, start_response)
        return response(environ, start_response)

    def _throttled(self, request) -> Response | None:
        """QuickBooks' throttle (:data:`THROTTLE`) on the company's API requests: over a limit, 429
        with QuickBooks' body (ThrottleExceeded, code 3001), the request not counted."""
        match = re.match(r"^/(?:sandbox/)?v3/company/(?P<realm>[^/]+)/(?P<rest>.+)$", request.path)
        company = self.companies.get(match["realm"]) if match else None
        if not self.throttle or company is None:
            return None
        batch = match["rest"].rstrip("/").endswith("batch")
        with self.lock:
            now = self.clock()
            for name, (count, seconds, only_batch) in THROTTLE.items():
                if only_batch and not batch:
                    continue
                company.sent[name] = [t for t in company.sent[name] if t > now - seconds]
                if len(company.sent[name]) >= count:
                    self.throttled += 1
                    body = {"Fault": {"Error": [{"Message": "message=ThrottleExceeded; errorCode=003001; "
                                                            "statusCode=429",
                                                 "Detail": "The request limit was reached.", "code": "3001"}],
                                      "type": "SERVICE"}, "time": stamp(self.now())}
                    return Response(dumps(body), 429, content_type="application/json")
            for name, (_count, _seconds, only_batch) in THROTTLE.items():
                if batch or not only_batch:
                    company.sent[name].append(now)
        return None

    def _drop(self, environ, start_response):
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        start_response("500 Dropped", [("Content-Length", "0")])
        return [b""]

    def _take_fault(self, request) -> dict | None:
        with self.lock:
            for fault in self.faults:
                if fault["path"] and fault["path"] not in request.full_path:
                    continue
                if fault["method"] and fault["method"] != request.method:
                    continue
                if fault["skip"] > 0:
                    fault["skip"] -= 1
                    return None
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _dispatch(self, request) -> Response:
        path = request.path
        try:
            if path.startswith("/.well-known/openid"):
                return self._json({"issuer": self.url, "authorization_endpoint": f"{self.url}/connect/oauth2",
                                   "token_endpoint": f"{self.url}/oauth2/v1/tokens/bearer",
                                   "userinfo_endpoint": f"{self.url}/v1/openid_connect/userinfo",
                                   "revocation_endpoint": f"{self.url}/oauth2/v1/tokens/revoke",
                                   "jwks_uri": f"{self.url}/oauth2/v1/keys"})
            if path == "/oauth2/v1/tokens/bearer":
                return self._token(request)
            if path == "/connect/oauth2":
                return self._authorize(request)
            if path == "/oauth2/v1/tokens/revoke":
                return self._revoke(request)
            match = re.match(r"^/(?P<sandbox>sandbox/)?v3/company/(?P<realm>[^/]+)/(?P<rest>.+)$", path)
            if not match:
                return self._json({"error": "not found"}, 404)
            company = self.companies.get(match["realm"])
            auth = request.headers.get("Authorization", "")
            with self.lock:
                expiry = self.access_tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
            if expiry is None or expiry < time.time():
                return Response(dumps({"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                                            "detail": "Token expired", "code": "3200"}],
                                                 "type": "AUTHENTICATION"}}), 401,
                                {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'},
                                content_type="application/json")
            if company is None:
                raise Fault("100", "Permission Denied Error", "unknown company", 403, "AuthorizationFault")
            if bool(match["sandbox"]) != company.sandbox:
                # QuickBooks: a sandbox company on the production host (or the reverse), lowercase body
                return Response(dumps({"fault": {"error": [{
                    "message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                    "detail": "", "code": "3100"}], "type": "SERVICE"}, "time": stamp(self.now())}), 403,
                    content_type="application/json")
            if request.args.get("minorversion") is None:
                raise Fault("2010", "Request has invalid or unsupported property", "minorversion is required here")
            request_id = request.args.get("requestid")
            if request_id and request.method == "POST":
                with self.lock:
                    seen = company.requests.get(request_id)
                if seen is not None:
                    return Response(seen[1], seen[0], content_type="application/json")
            response = self._api(request, company, match["rest"])
            if request_id and request.method == "POST":
                with self.lock:
                    company.requests[request_id] = (response.status_code, response.get_data(as_text=True))
            return response
        except Fault as fault:
            return Response(dumps({**fault.body(), "time": stamp(self.now())}), fault.status,
                            content_type="application/json")

    def _json(self, body, status=200) -> Response:
        return Response(dumps(body), status, content_type="application/json")

    # -- OAuth -------------------------------------------------------------------------------------

    def _authorize(self, request) -> Response:
        """Intuit's consent screen, answered at once as the user would (``self.consent``): back to
        ``redirect_uri`` with ``code``, ``state`` and ``realmId``, or ``error=access_denied``."""
        from urllib.parse import urlencode
        args = request.args
        with self.lock:
            self.consents.append(dict(args))
        if args.get("client_id") != self.client_id:
            return Response("invalid_client: unknown client_id", 400, content_type="text/plain")
        redirect_uri = args.get("redirect_uri") or ""
        if not redirect_uri.startswith(("http://", "https://")):
            return Response("invalid_request: redirect_uri is required", 400, content_type="text/plain")
        if args.get("response_type") != "code" or "com.intuit.quickbooks.accounting" not in args.get("scope", ""):
            answer = {"error": "invalid_scope" if args.get("response_type") == "code" else "unsupported_response_type"}
        elif self.consent == "deny":
            answer = {"error": "access_denied"}
        else:
            answer = {"code": self.authorization_code(redirect_uri), "realmId": self.realm}
        if args.get("state") is not None:
            answer["state"] = args["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return Response("", 302, {"Location": redirect_uri + separator + urlencode(answer)})

    def _client_ok(self, request) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return hmac.compare_digest(request.headers.get("Authorization", ""), expected)

    def _revoke(self, request) -> Response:
        """Revoke a refresh token (and the access token issued with it) or an access token."""
        if not self._client_ok(request):
            return self._json({"error": "invalid_client"}, 401)
        try:
            token = (json.loads(request.get_data(as_text=True) or "{}") or {}).get("token")
        except ValueError:
            token = None
        if not token:
            return self._json({"error": "invalid_request"}, 400)
        with self.lock:
            self.revoked.append(token)
            if token in self.refresh_tokens:
                self.refresh_tokens.discard(token)
                self.access_tokens.pop(self.issued.pop(token, ""), None)
            self.access_tokens.pop(token, None)
        return Response("", 200)

    def _token(self, request) -> Response:
        if not self._client_ok(request):
            return self._json({"error": "invalid_client"}, 401)
        grant = request.form.get("grant_type")
        with self.lock:
            if grant == "refresh_token":
                token = request.form.get("refresh_token")
                if token not in self.refresh_tokens:
                    return self._json({"error": "invalid_grant"}, 400)
                self.refresh_tokens.discard(token)  # rotation: the old refresh token is used up
                self.issued.pop(token, None)
            elif grant == "authorization_code":
                code = request.form.get("code")
                bound = self.auth_codes.pop(code, None)
                if bound is None:
                    return self._json({"error": "invalid_grant"}, 400)
                if bound["redirect_uri"] and bound["redirect_uri"] != request.form.get("redirect_uri"):
                    return self._json({"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, 400)
            else:
                return self._json({"error": "unsupported_grant_type"}, 400)
            access, refresh = "AT-" + secrets.token_hex(16), "RT-" + secrets.token_hex(12)
            self.access_tokens[access] = time.time() + self.access_lifetime
            self.refresh_tokens.add(refresh)
            self.issued[refresh] = access
        return self._json({"access_token": access, "refresh_token": refresh, "token_type": "bearer",
                           "expires_in": self.access_lifetime, "x_refresh_token_expires_in": self.refresh_lifetime})

    # -- the API -----------------------------------------------------------------------------------

    def _api(self, request, company: Company, rest: str) -> Response:
        parts = rest.split("/")
        head = parts[0].lower()
        if head == "query":
            text = request.get_data(as_text=True) if request.method == "POST" else request.args.get("query", "")
            return self._json({"QueryResponse": self._query(company, text), "time": stamp(self.now())})
        if head == "cdc":
            return self._json(self._cdc(company, request.args.get("entities", ""), request.args.get("changedSince", "")))
        if head == "batch":
            return self._json(self._batch(company, loads(request.get_data(as_text=True) or "{}")))
        if head == "companyinfo":
            return self._json({"CompanyInfo": {"Id": company.realm, "CompanyName": company.name, "Country": company.country,
                                               "SyncToken": "0"}, "time": stamp(self.now())})
        entity = {e.lower(): e for e in ENTITIES}.get(head)
        if entity is None:
            raise Fault("2030", "Invalid ID", f"unsupported entity {parts[0]}")
        with self.lock:
            if request.method == "GET" and len(parts) == 2:
                obj = company.objects[entity].get(parts[1])
                if obj is None:
                    raise Fault("610", "Object Not Found", f"Object Not Found : Something you're trying to use has "
                                                           f"been made inactive or deleted. {entity} {parts[1]}")
                return self._json({entity: obj, "time": stamp(self.now())})
            if request.method != "POST":
                raise Fault("4000", "Unsupported method", status=405)
            body = loads(request.get_data(as_text=True) or "{}")
            if request.args.get("operation") == "delete":
                return self._json({entity: self._delete(company, entity, body), "time": stamp(self.now())})
            if request.args.get("operation") == "void" or request.args.get("include") == "void":
                return self._json({entity: self._void(company, entity, body), "time": stamp(self.now())})
            if body.get("Id"):
                return self._json({entity: self._update(company, entity, body), "time": stamp(self.now())})
            return self._json({entity: self._create(company, entity, body), "time": stamp(self.now())})

    # -- writes --------------------------------------------------------------------------------------

    def _meta(self, obj: dict, created: bool) -> None:
        now = stamp(self.now())
        meta = obj.setdefault("MetaData", {})
        if created:
            meta["CreateTime"] = now
        meta["LastUpdatedTime"] = now

    def _check(self, company: Company, entity: str, obj: dict) -> None:
        """Refuse ``obj`` as QuickBooks would (its Faults) and complete it (totals, line numbers)."""
        if company.subscription_ended:
            raise Fault("6190", "Invalid Company Status",
                        "Subscription period has ended or canceled or there was a billing problem : You can't add "
                        "data to QuickBooks Online because your trial or subscription period ended, you canceled "
                        "your subscription, or there was a billing problem.")
        if entity not in WITH_CUSTOM_FIELDS:
            obj.pop("CustomField", None)        # QuickBooks has none there: what is sent is lost
        if entity in PEOPLE:
            self._check_name(company, entity, obj)
        elif entity == "Item":
            self._check_item(company, obj)
        elif entity in ("Estimate", "Invoice", "SalesReceipt", "PurchaseOrder"):
            self._check_transaction(company, entity, obj)
        elif entity == "Payment":
            self._check_payment(company, obj)

    def _check_name(self, company: Company, entity: str, obj: dict) -> None:
        if not obj.get("DisplayName"):
            given = " ".join(x for x in (obj.get("GivenName"), obj.get("FamilyName")) if x)
            obj["DisplayName"] = obj.get("CompanyName") or given
        if not obj.get("DisplayName"):
            raise Fault("2020", "Required param missing, need to supply the required value for the API",
                        "Required parameter DisplayName is missing in the request")
        if ":" in obj["DisplayName"]:
            raise Fault("6000", "A business validation error has occurred while processing your request",
                        "Business Validation Error: DisplayName cannot contain a colon (:)")
        if len(obj.get("Title") or "") > TITLE_MAX:
            raise Fault("2050", "String length is either shorter or longer than supported by specification",
                        f"Title: the length is {len(obj['Title'])}; at most {TITLE_MAX} characters are supported")
        if obj.get("ParentRef") and obj.get("Job") not in (True, "true"):
            raise Fault("6000", "A business validation error has occurred while processing your request",
                        "A sub-customer (ParentRef) must be a job: set Job to true")
        if obj.get("Job") in (True, "true") and not (obj.get("ParentRef") or {}).get("value"):
            raise Fault("2020", "Required param missing, need to supply the required value for the API",
                        "Required parameter ParentRef is missing in the request (Job is true)")
        name = obj["DisplayName"].strip().lower()
        for other in PEOPLE:
            for oid, o in company.objects[other].items():
                if (other != entity or oid != obj.get("Id")) and o.get("DisplayName", "").strip().lower() == name:
                    raise Fault("6240", "Duplicate Name Exists Error",
                                f"The name supplied already exists. : Another customer, vendor or employee is "
                                f"already using this name. Please use a different name. Id={oid}")
        if obj.get("ParentRef"):
            self._named_ref(company, "Customer", obj["ParentRef"].get("value"), "ParentRef")

    def _check_item(self, company: Company, obj: dict) -> None:
        if not obj.get("Name"):
            raise Fault("2020", "Required param missing, need to supply the required value for the API",
                        "Required parameter Name is missing in the request")
        if ":" in obj["Name"]:
            raise Fault("2170", "Invalid Enumeration", "Name cannot contain a colon (:)")
        if obj.get("Type") not in ("Inventory", "NonInventory", "Service", "Group", "Category"):
            raise Fault("2020", "Required param missing", "Type must be Inventory, NonInventory or Service")
        for ref, (kinds, types) in ITEM_ACCOUNTS.items():
            if obj["Type"] in kinds and not (obj.get(ref) or {}).get("value"):
                raise Fault("2020", "Required param missing, need to supply the required value for the API",
                            f"Required parameter {ref} is missing in the request ({obj['Type']} item)")
            if (obj.get(ref) or {}).get("value"):
                account = self._named_ref(company, "Account", obj[ref]["value"], ref)
                if account.get("AccountType") not in types:
                    raise Fault("6000", "A business validation error has occurred while processing your request",
                                f"{ref}: account {account['Name']} is of type {account.get('AccountType')}; "
                                f"an item's {ref} must be of type {' or '.join(types)}")
        name = obj["Name"].strip().lower()
        for oid, o in company.objects["Item"].items():
            if oid != obj.get("Id") and o.get("Name", "").strip().lower() == name:
                raise Fault("6240", "Duplicate Name Exists Error", f"The name supplied already exists. Id={oid}")

    def _check_transaction(self, company: Company, entity: str, obj: dict) -> None:
        party = "VendorRef" if entity == "PurchaseOrder" else "CustomerRef"
        holder = "Vendor" if entity == "PurchaseOrder" else "Customer"
        ref = (obj.get(party) or {}).get("value")
        if not ref:
            raise Fault("2020", "Required param missing", f"Required parameter {party} is missing in the request")
        self._named_ref(company, holder, ref, party)
        lines = obj.get("Line") or []
        if not lines:
            raise Fault("2020", "Required param missing", "Required parameter Line is missing in the request")
        if entity == "PurchaseOrder" and any(li.get("DetailType") not in ("ItemBasedExpenseLineDetail",
                                                                          "AccountBasedExpenseLineDetail")
                                             for li in lines):
            raise Fault("2010", "Request has invalid or unsupported property",
                        "Property Name:DetailType specified is unsupported or invalid: a purchase order's lines are "
                        "ItemBasedExpenseLineDetail or AccountBasedExpenseLineDetail (no discount line)")
        number = obj.get("DocNumber")
        if number and company.unique_doc_numbers:
            for oid, other in company.objects[entity].items():
                if oid != obj.get("Id") and other.get("DocNumber") == number:
                    raise Fault("6140", "Duplicate Document Number Error",
                                f"Duplicate Document Number Error : You must specify a different number. "
                                f"This number has already been used. DocNumber={number} is assigned to TxnType="
                                f"{entity} with TxnId={oid}")
        items_total = sum((Decimal(str(li.get("Amount", "0"))) for li in lines
                           if li.get("DetailType") in ("SalesItemLineDetail", "ItemBasedExpenseLineDetail")
                           and ((li.get("SalesItemLineDetail") or {}).get("ItemRef") or {}).get("value")
                           != "SHIPPING_ITEM_ID"), Decimal("0"))
        total = sum((self._check_line(company, n, line, items_total) for n, line in enumerate(lines, 1)),
                    Decimal("0"))
        tax = self._tax(company, entity, obj, lines, items_total)
        obj["TotalAmt"] = total + tax if obj.get("GlobalTaxCalculation") != "TaxInclusive" else total
        if entity == "Invoice":
            obj["Balance"] = obj["TotalAmt"] - self._paid(company, obj.get("Id"))
            if obj["Balance"] < 0:
                raise Fault("6000", "A business validation error has occurred",
                            "The invoice total is less than what was already paid on it")

    def _check_line(self, company: Company, n: int, line: dict, items_total: Decimal) -> Decimal:
        """Line ``n`` checked and numbered; what it adds to the total (a discount subtracts)."""
        detail = line.get("SalesItemLineDetail") or line.get("ItemBasedExpenseLineDetail")
        discount = line.get("DiscountLineDetail") if line.get("DetailType") == "DiscountLineDetail" else None
        if discount and discount.get("PercentBased") in (True, "true") and \
                discount.get("DiscountPercent") is not None:
            # QuickBooks computes a percent discount's amount from the lines before it
            line["Amount"] = round_places(items_total * Decimal(str(discount["DiscountPercent"])) / 100, 2)
        if line.get("DetailType") in ("SubTotalLineDetail",):
            return Decimal("0")
        amount = Decimal(str(line.get("Amount", "0")))
        if detail is not None:
            item = (detail.get("ItemRef") or {}).get("value")
            if item != "SHIPPING_ITEM_ID":
                self._named_ref(company, "Item", item, f"Line {n} ItemRef")
            if detail.get("Qty") is not None and detail.get("UnitPrice") is not None:
                expected = round_places(Decimal(str(detail["Qty"])) * Decimal(str(detail["UnitPrice"])), 2)
                if expected != round_places(amount, 2):
                    raise Fault("6070", "Amount is not equal to UnitPrice * Qty",
                                f"Line {n}: Amount {amount} is not equal to UnitPrice * Qty ({expected})")
        line["Amount"] = amount
        line.setdefault("Id", str(n))
        line["LineNum"] = n
        return -amount if line.get("DetailType") == "DiscountLineDetail" else amount

    def _tax(self, company: Company, entity: str, obj: dict, lines: list, items_total: Decimal) -> Decimal:
        """The transaction's tax, computed as QuickBooks does (a ``TotalTax`` sent is not taken):
        per tax code, its lines' amounts (item lines less their share of the discount, and the
        shipping line) times its rate, rounded to the cent; ``TxnTaxDetail`` gets the total and a
        ``TaxLine`` per code. A non-US company needs one of its TaxCodes on every line (US
        TAX/NON refused); a US company TAX or NON on lines, and the rate in ``TxnTaxCodeRef``."""
        kind = "ItemBasedExpenseLineDetail" if entity == "PurchaseOrder" else "SalesItemLineDetail"
        rate_list = "PurchaseTaxRateList" if entity == "PurchaseOrder" else "SalesTaxRateList"
        discount = sum((Decimal(str(li.get("Amount", "0"))) for li in lines
                        if li.get("DetailType") == "DiscountLineDetail"), Decimal("0"))
        share = (items_total - discount) / items_total if items_total else Decimal("0")
        detail = obj.get("TxnTaxDetail") or {}
        bases: dict[str, Decimal] = {}
        us = company.country == "US"
        for n, line in enumerate(lines, 1):
            info = line.get(kind) if line.get("DetailType") == kind else None
            if info is None:
                continue
            code = (info.get("TaxCodeRef") or {}).get("value")
            shipping = (info.get("ItemRef") or {}).get("value") == "SHIPPING_ITEM_ID"
            amount = Decimal(str(line.get("Amount", "0"))) * (1 if shipping else share)
            if us:
                if entity == "PurchaseOrder":
                    continue
                if code not in (None, *US_LINE_CODES):
                    raise Fault("6000", "A business validation error has occurred while processing your request",
                                f"Line {n}: TaxCodeRef {code} is not valid for this company: a US company's lines "
                                f"take TAX or NON; the rate goes in TxnTaxDetail.TxnTaxCodeRef")
                if code == "TAX":
                    bases["TXN"] = bases.get("TXN", Decimal("0")) + amount
                continue
            if code is None:
                raise Fault("6000", "A business validation error has occurred while processing your request",
                            f"Business Validation Error: Make sure all your transactions have a VAT rate before "
                            f"you save. (Line {n} has no TaxCodeRef)")
            if code in US_LINE_CODES or code not in company.objects["TaxCode"]:
                raise Fault("6000", "A business validation error has occurred while processing your request",
                            f"Line {n}: Invalid tax code {code}: not a tax code of this company "
                            f"({company.country}); TAX and NON are US sales tax codes")
            self._named_ref(company, "TaxCode", code, f"Line {n} TaxCodeRef")
            bases[code] = bases.get(code, Decimal("0")) + amount
        if us:
            txn_code = (detail.get("TxnTaxCodeRef") or {}).get("value")
            if txn_code is not None:
                if txn_code in US_LINE_CODES:
                    raise Fault("6000", "A business validation error has occurred while processing your request",
                                "TxnTaxDetail.TxnTaxCodeRef must be a sales tax rate, not TAX or NON")
                self._named_ref(company, "TaxCode", txn_code, "TxnTaxCodeRef")
            bases = {txn_code: bases["TXN"]} if txn_code is not None and "TXN" in bases else {}
        inclusive = obj.get("GlobalTaxCalculation") == "TaxInclusive"
        not_applicable = obj.get("GlobalTaxCalculation") == "NotApplicable"
        total, tax_lines = Decimal("0"), []
        for code, base in bases.items():
            rate = self._rate(company, code, rate_list)
            if not_applicable or not rate:
                amount = Decimal("0")
            elif inclusive:
                amount = round_places(base - base * 100 / (100 + rate), 2)
            else:
                amount = round_places(base * rate / 100, 2)
            total += amount
            tax_lines.append({"Amount": amount, "DetailType": "TaxLineDetail", "TaxLineDetail": {
                "TaxRateRef": {"value": code}, "PercentBased": True, "TaxPercent": rate,
                "NetAmountTaxable": round_places(base - amount if inclusive else base, 2)}})
        obj["TxnTaxDetail"] = {**({"TxnTaxCodeRef": detail["TxnTaxCodeRef"]} if detail.get("TxnTaxCodeRef") else {}),
                               "TotalTax": total, "TaxLine": tax_lines}
        return total

    def _rate(self, company: Company, code: str, rate_list: str) -> Decimal:
        """The rate (%) of tax code ``code``: the sum of its tax rates' ``RateValue``."""
        tax_code = company.objects["TaxCode"].get(code) or {}
        rate = Decimal("0")
        for row in (tax_code.get(rate_list) or {}).get("TaxRateDetail") or []:
            tax_rate = company.objects["TaxRate"].get((row.get("TaxRateRef") or {}).get("value")) or {}
            rate += Decimal(str(tax_rate.get("RateValue", "0")))
        return rate

    def _check_payment(self, company: Company, obj: dict) -> None:
        if not (obj.get("CustomerRef") or {}).get("value"):
            raise Fault("2020", "Required param missing", "Required parameter CustomerRef is missing")
        self._named_ref(company, "Customer", obj["CustomerRef"]["value"], "CustomerRef")
        if obj.get("TotalAmt") is None:
            raise Fault("2020", "Required param missing", "Required parameter TotalAmt is missing")
        obj["TotalAmt"] = Decimal(str(obj["TotalAmt"]))
        applied = Decimal("0")
        for line in obj.get("Line") or []:
            for linked in line.get("LinkedTxn") or []:
                if linked.get("TxnType") == "Invoice" and linked.get("TxnId") not in company.objects["Invoice"]:
                    raise Fault("2500", "Invalid Reference Id", f"Invalid Reference Id : Invoice {linked.get('TxnId')}")
            applied += Decimal(str(line.get("Amount", "0")))
            line["Amount"] = Decimal(str(line.get("Amount", "0")))
        if applied > obj["TotalAmt"]:
            raise Fault("6000", "A business validation error has occurred",
                        "The amount applied is more than the payment's total")
        obj["UnappliedAmt"] = obj["TotalAmt"] - applied

    def _named_ref(self, company: Company, entity: str, ref, label: str) -> dict:
        """A reference to a name (customer, vendor, item, account, tax code) must exist (else 2500)
        and be active: QuickBooks answers 610 "Object Not Found" for an inactive one, without naming it."""
        obj = company.objects[entity].get(str(ref)) if ref is not None else None
        if obj is None:
            raise Fault("2500", "Invalid Reference Id", f"Invalid Reference Id : {label} {ref}")
        if not obj.get("Active", True):
            raise Fault("610", "Object Not Found", "Object Not Found : Something you're trying to use has been made "
                                                   "inactive. Check the fields with accounts, customers, items, "
                                                   "vendors or employees.")
        return obj

    def _paid(self, company: Company, invoice_id: str | None, excluding: str | None = None) -> Decimal:
        if invoice_id is None:
            return Decimal("0")
        total = Decimal("0")
        for pid, payment in company.objects["Payment"].items():
            if pid == excluding:
                continue
            for line in payment.get("Line") or []:
                if any(link.get("TxnId") == invoice_id and link.get("TxnType") == "Invoice"
                       for link in line.get("LinkedTxn") or []):
                    total += Decimal(str(line.get("Amount", "0")))
        return total

    def _touch_invoices(self, company: Company, payment: dict, old: dict | None = None) -> None:
        """A payment changes the invoices it pays: their Balance, SyncToken and LastUpdatedTime."""
        ids = set()
        for source in (payment, old or {}):
            for line in source.get("Line") or []:
                ids |= {link.get("TxnId") for link in line.get("LinkedTxn") or [] if link.get("TxnType") == "Invoice"}
        for inv_id in ids:
            invoice = company.objects["Invoice"].get(inv_id)
            if invoice is None:
                continue
            invoice["Balance"] = invoice["TotalAmt"] - self._paid(company, inv_id)
            if invoice["Balance"] < 0:
                raise Fault("6000", "A business validation error has occurred",
                            f"The payment is more than the balance of invoice {invoice.get('DocNumber') or inv_id}")
            invoice["SyncToken"] = str(int(invoice["SyncToken"]) + 1)
            self._meta(invoice, False)

    def _create(self, company: Company, entity: str, body: dict) -> dict:
        obj = {k: v for k, v in body.items() if k not in ("Id", "SyncToken", "sparse", "MetaData")}
        obj["Id"] = str(next(company.ids))
        obj["SyncToken"] = "0"
        obj["domain"] = "QBO"
        if entity in NAMES:
            obj.setdefault("Active", True)
        self._check(company, entity, obj)
        self._meta(obj, True)
        snapshot = copy.deepcopy(company.objects["Invoice"]) if entity == "Payment" else None
        company.objects[entity][obj["Id"]] = obj
        if entity == "Payment":
            try:
                self._touch_invoices(company, obj)
            except Fault:
                company.objects["Invoice"] = snapshot
                del company.objects[entity][obj["Id"]]
                raise
        return obj

    def _update(self, company: Company, entity: str, body: dict) -> dict:
        current = company.objects[entity].get(str(body.get("Id")))
        if current is None:
            raise Fault("610", "Object Not Found", f"Object Not Found : {entity} {body.get('Id')}")
        if body.get("SyncToken") is None:
            raise Fault("2020", "Required param missing", "Required parameter SyncToken is missing in the request")
        if str(body["SyncToken"]) != current["SyncToken"]:
            raise Fault("5010", "Stale Object Error",
                        f"Stale Object Error : You and {company.name} were working on this at the same time. "
                        f"{company.name} finished before you did, so your work was not saved.")
        changes = {k: v for k, v in body.items() if k not in ("Id", "SyncToken", "sparse", "MetaData", "domain")}
        if body.get("sparse") in (True, "true"):
            obj = {**copy.deepcopy(current), **changes}
        else:
            obj = {"Id": current["Id"], "domain": "QBO", "MetaData": current["MetaData"], **changes}
            if entity in NAMES:
                obj.setdefault("Active", True)
        obj["SyncToken"] = str(int(current["SyncToken"]) + 1)
        self._check(company, entity, obj)
        self._meta(obj, False)
        snapshot = copy.deepcopy(company.objects["Invoice"]) if entity == "Payment" else None
        old = company.objects[entity][obj["Id"]]
        company.objects[entity][obj["Id"]] = obj
        if entity == "Payment":
            try:
                self._touch_invoices(company, obj, old)
            except Fault:
                company.objects["Invoice"] = snapshot
                company.objects[entity][obj["Id"]] = old
                raise
        return obj

    def _unpaid_current(self, company: Company, entity: str, body: dict) -> dict:
        """The object ``body`` names, at the SyncToken it sends, and (an invoice) with no payment."""
        current = company.objects[entity].get(str(body.get("Id")))
        if current is None:
            raise Fault("610", "Object Not Found", f"Object Not Found : {entity} {body.get('Id')}")
        if str(body.get("SyncToken")) != current["SyncToken"]:
            raise Fault("5010", "Stale Object Error", "Stale Object Error : the object was changed meanwhile")
        if entity == "Invoice" and self._paid(company, current["Id"]) > 0:
            raise Fault("6480", "A business validation error has occurred",
                        "This transaction is linked to a payment: delete the payment first")
        return current

    def _void(self, company: Company, entity: str, body: dict) -> dict:
        """``operation=void`` (invoices) / ``operation=update&include=void`` (sales receipts, payments):
        the transaction stays, with every amount zero and the memo "Voided"."""
        if entity not in ("Invoice", "SalesReceipt", "Payment"):
            raise Fault("6000", "A business validation error has occurred", f"{entity} cannot be voided")
        current = self._unpaid_current(company, entity, body)
        obj = copy.deepcopy(current)
        for line in obj.get("Line") or []:
            line["Amount"] = Decimal("0")
            detail = line.get("SalesItemLineDetail") or line.get("ItemBasedExpenseLineDetail")
            if detail is not None and "Qty" in detail:
                detail["Qty"] = Decimal("0")
        obj["TotalAmt"] = Decimal("0")
        if entity == "Invoice":
            obj["Balance"] = Decimal("0")
        if obj.get("TxnTaxDetail"):
            obj["TxnTaxDetail"]["TotalTax"] = Decimal("0")
        obj["PrivateNote"] = "Voided"
        obj["SyncToken"] = str(int(current["SyncToken"]) + 1)
        self._meta(obj, False)
        company.objects[entity][obj["Id"]] = obj
        return obj

    def _delete(self, company: Company, entity: str, body: dict) -> dict:
        if entity in NAMES:
            raise Fault("6000", "A business validation error has occurred",
                        f"{entity} cannot be deleted: make it inactive instead (Active = false)")
        current = self._unpaid_current(company, entity, body)
        del company.objects[entity][current["Id"]]
        gone = {"Id": current["Id"], "status": "Deleted", "domain": "QBO",
                "MetaData": {"LastUpdatedTime": stamp(self.now())}}
        company.deleted[entity][current["Id"]] = gone
        if entity == "Payment":
            self._touch_invoices(company, current)
        return gone

    # -- reads ---------------------------------------------------------------------------------------

    def _query(self, company: Company, text: str) -> dict:
        match = QUERY.match(text or "")
        if not match:
            raise Fault("4000", "QueryParserError: Encountered an unsupported or malformed query", text)
        entity = {e.lower(): e for e in ENTITIES + ("CompanyInfo",)}.get(match["entity"].lower())
        if entity is None or entity == "CompanyInfo":
            raise Fault("4000", f"QueryValidationError: Unsupported entity {match['entity']}")
        conditions = []
        mentions_active = False
        for part in _split_and(match["where"] or ""):
            cond = CONDITION.match(part)
            if not cond:
                raise Fault("4000", f"QueryParserError: cannot read condition {part.strip()}")
            raw = cond["value"].strip()
            if cond["op"].lower() == "in":
                if not (raw.startswith("(") and raw.endswith(")")):
                    raise Fault("4000", "QueryParserError: IN needs a list in parentheses")
                value = [_literal(v) for v in re.findall(r"'(?:[^'\\]|\\.)*'|[^,\s()]+", raw[1:-1])]
            else:
                value = _literal(raw)
            if cond["field"].lower() == "active":
                mentions_active = True
            conditions.append((cond["field"], cond["op"], value))
        with self.lock:
            rows = [copy.deepcopy(o) for o in company.objects[entity].values()]
        if entity in NAMES and not mentions_active:
            rows = [r for r in rows if r.get("Active", True)]
        rows = [r for r in rows if all(_compare(_field(r, f), op, v) for f, op, v in conditions)]
        if match["what"].lower().startswith("count"):
            return {"totalCount": len(rows)}
        order = match["order"] or "Id"
        key = (lambda r: (0, int(r["Id"])) if r["Id"].isdigit() else (1, r["Id"])) if order.lower() == "id" else (lambda r: str(_field(r, order) or ""))
        rows.sort(key=key, reverse=(match["dir"] or "asc").lower() == "desc")
        start = int(match["start"] or 1)
        limit = int(match["max"] or 100)
        if limit > MAX_RESULTS:
            raise Fault("4001", "QueryValidationError: maxresults must be 1000 or less")
        page = rows[start - 1:start - 1 + limit]
        if not page:
            return {}
        return {entity: page, "startPosition": start, "maxResults": len(page)}

    def _cdc(self, company: Company, entities: str, since_text: str) -> dict:
        if not entities or not since_text:
            raise Fault("2020", "Required param missing", "entities and changedSince are required")
        since = parse_time(since_text)
        if since < self.now() - dt.timedelta(days=CDC_DAYS):
            raise Fault("4001", "Invalid query",
                        "The value of changedSince must be within the last 30 days")
        responses = []
        for name in entities.split(","):
            entity = {e.lower(): e for e in ENTITIES}.get(name.strip().lower())
            if entity is None:
                raise Fault("4000", f"Unsupported entity {name} for CDC")
            with self.lock:
                rows = [copy.deepcopy(o) for o in list(company.objects[entity].values())
                        + list(company.deleted[entity].values())
                        if parse_time(o["MetaData"]["LastUpdatedTime"]) > since]
            rows.sort(key=lambda r: parse_time(r["MetaData"]["LastUpdatedTime"]))
            rows = rows[:CDC_MAX]
            responses.append({entity: rows, "startPosition": 1, "maxResults": len(rows)} if rows else {})
        return {"CDCResponse": [{"QueryResponse": responses}], "time": stamp(self.now())}

    def _batch(self, company: Company, body: dict) -> dict:
        items = body.get("BatchItemRequest") or []
        if len(items) > BATCH_MAX:
            raise Fault("4000", f"Too many items in the batch: {len(items)} (at most {BATCH_MAX})")
        out = []
        for item in items:
            bid = item.get("bId")
            try:
                if "Query" in item:
                    out.append({"bId": bid, "QueryResponse": self._query(company, item["Query"])})
                    continue
                entity = next((e for e in ENTITIES if e in item), None)
                if entity is None:
                    raise Fault("4000", "Unsupported batch item")
                operation = item.get("operation", "create")
                with self.lock:
                    if operation == "delete":
                        obj = self._delete(company, entity, item[entity])
                    elif operation == "update":
                        obj = self._update(company, entity, item[entity])
                    else:
                        obj = self._create(company, entity, item[entity])
                out.append({"bId": bid, entity: obj})
            except Fault as fault:
                out.append({"bId": bid, **fault.body()})
        return {"BatchItemResponse": out, "time": stamp(self.now())}
