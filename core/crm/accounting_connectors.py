"""The contract of an accounting connector (hook ``crm_accounting_connectors``).

A connector translates between the CRM's records and one accounting system's
and talks to that system. The accounting_sync plugin runs the sync engine (link
table, change detection, conflict policy, retries, log); a third party adds a
system (Xero, Holded, ...) as a plugin of its own that returns its connector
class from the hook::

    from crm import hookimpl
    from crm.accounting_connectors import BaseConnector

    class XeroConnector(BaseConnector):
        name = "xero"
        label = "Xero"
        entities = ("accounts", "items", "invoices", "payments")
        ...

    @hookimpl
    def crm_accounting_connectors():
        return [XeroConnector]

Records on the CRM side ("canonical" records)
---------------------------------------------
The engine hands the connector and expects back plain JSON-able dicts in the
CRM's shape, one shape per entity (keys below; a connector maps the subset it
supports and lists it in :attr:`Connector.fields`). Money and quantities are
decimal *strings* (``"19.99"``, normalised: no trailing zeros), never floats;
dates are ISO strings; references to other records are CRM ids (``account_id``),
translated through :class:`Refs`.

==================  ===========================================================
entity              keys
==================  ===========================================================
accounts            name, email, phone, website, tax_id, billing_address{street,
                    city, state, postal_code, country}, shipping_address{...},
                    description, active, custom{}
contacts            first_name, last_name, email, phone, title, account_id,
                    active, custom{}
vendors             name, email, phone, website, address{...}, description,
                    active, custom{}
items               kind ("product"|"service"), name, sku, unit_price,
                    purchase_cost, description, usage_unit, active, custom{}
quotes, sales-      number (read-only), account_id (purchase-orders:
orders, purchase-   vendor_id), date, due_date, subject, terms, lines[{item_id,
orders, invoices    description, quantity, unit_price, discount_percent,
                    discount_amount, taxes[names]}], discount_percent,
                    discount_amount (the document's discount: one or the
                    other), status (see below), custom{}, total, tax,
                    shipping, discount (read-only: sent as amounts the remote
                    shows, never written here)
payments            invoice_id, account_id (read-only: the invoice's), amount,
                    date, method, reference
==================  ===========================================================

Entities are named like the core's ``crm_record_saved`` entities ("accounts",
"sales-orders", ...) plus "payments".

A document's ``status`` is a *sync status*, one of :data:`DOCUMENT_STATUSES`, not the
CRM's own status (which a remote cannot represent one by one): ``open`` (quotes:
Created, Delivered, Reviewed; orders: Created, Approved; purchase orders also
Delivered; invoices: every status but Cancelled -- Paid comes from payments),
``accepted`` / ``rejected`` (quotes), ``closed`` (sales orders: Delivered; purchase
orders: Received Shipment) and ``cancelled`` (orders and invoices: Cancelled). A
connector maps it to what the remote has (QuickBooks: an estimate's ``TxnStatus``, a
voided invoice or sales receipt, a purchase order's ``POStatus``; Tryton: the
document's state) and back; ``None`` means "nothing to say". A sync status that
arrives from the remote moves the CRM document along its allowed transitions (a
quote rejected there -> Rejected here), or fails with the core's reason.

Errors
------
A connector raises the :class:`SyncError` subclasses below; the engine decides
what to do: :class:`RetryableError` (429, 5xx, timeouts, dropped connections) is
retried with exponential backoff, :class:`AuthenticationError` (401) makes it
call :meth:`Connector.refresh_auth` once and retry, :class:`StaleVersionError`
makes it re-read the remote record, merge again and retry, :class:`RemoteConflict`
(the remote refuses a change of its current state: a posted invoice) is logged as
a conflict, and :class:`RemoteValidationError` / :class:`DuplicateError` are
never retried: the record is kept as failed with the message, for a retry after
a fix or a skip.

Records on our side ("local entities")
---------------------------------------
The engine reads and changes CRM records through one :class:`LocalEntity` adapter
per entity. The sync plugin brings those of the core's records (accounts, contacts,
vendors, items, documents); a plugin that owns records of a sync entity contributes
its adapter through the hook ``crm_accounting_entities`` (the payments plugin: the
entity "payments"), so the sync never imports another plugin. When no enabled plugin
provides an entity, that entity is not synced (the run's log says so)::

    from crm import hookimpl
    from crm.accounting_connectors import LocalEntity

    class Payments(LocalEntity):
        entity = "payments"
        ...

    @hookimpl
    def crm_accounting_entities():
        return [Payments()]
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, ClassVar, Protocol, runtime_checkable

from crm import money
from crm.services.doctypes import BY_PATH

#: the documents, by their paths (quotes, sales-orders, purchase-orders, invoices)
DOCUMENT_ENTITIES: tuple[str, ...] = tuple(BY_PATH)
#: every entity a connector may support, in dependency order (parents first)
ENTITIES: tuple[str, ...] = ("accounts", "contacts", "vendors", "items", *DOCUMENT_ENTITIES, "payments")
#: the sync statuses of documents (the canonical ``status`` key)
DOCUMENT_STATUSES: tuple[str, ...] = ("open", "accepted", "rejected", "closed", "cancelled")


# --- canonical values -----------------------------------------------------------------------------

def dec(value) -> str | None:
    """A decimal as a normalised string ("19.99", "40", "0.5"); None stays None. Never a float."""
    if value is None or value == "":
        return None
    return money.decimal_text(_decimal(value))   # ValueError: not a decimal


def _decimal(value) -> Decimal:
    """str(value) read as :func:`crm.money.to_decimal` does (ASCII, finite); a float by its repr."""
    if isinstance(value, Decimal):
        text = value
    else:
        text = repr(value) if isinstance(value, float) else str(value)
    try:
        return money.to_decimal(text)
    except (TypeError, ValueError):
        raise ValueError(f"not a decimal: {value!r}") from None


def canonical_decimal(value, field: str = "value") -> Decimal | None:
    """A canonical decimal string (or number) -> Decimal; None or "" -> None. Anything else
    (``"1_000"``, NaN, non-ASCII digits) is a ValidationError on ``field``: a record pulled
    from an accounting system with such a value is refused, like one typed here."""
    if value is None or value == "":
        return None
    try:
        return _decimal(value)
    except ValueError:
        from crm.errors import ValidationError
        raise ValidationError.for_field(field, f"not a number: {str(value)[:40]!r}") from None


def iso(value) -> str | None:
    """A date (or datetime, or ISO string) -> "YYYY-MM-DD"; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def net_unit_price(unit_price, quantity, discount_percent=None, discount_amount=None, *,
                   places: int = 4) -> Decimal:
    """A line's unit price after its discount, for a remote without line discounts (QuickBooks,
    Tryton without its discount modules): ``unit_price * (100 - percent) / 100``, or
    ``(quantity * unit_price - amount) / quantity``, rounded half-up to ``places`` decimals."""
    price = Decimal(str(unit_price or 0))
    qty = Decimal(str(quantity or 0))
    if discount_percent not in (None, ""):
        price = price * (100 - Decimal(str(discount_percent))) / 100
    elif discount_amount not in (None, "") and qty:
        price = (qty * price - Decimal(str(discount_amount))) / qty
    return money.round_places(price, places)


def to_date(value, field: str = "date") -> dt.date | None:
    """A canonical date ("YYYY-MM-DD", or a date) -> date; None or "" -> None. A date outside
    :mod:`crm.dates`' range, or text that is not one, is a ValidationError on ``field``."""
    from crm import dates
    from crm.errors import ValidationError
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dates.parse_date(str(value)[:10])
        except ValueError:
            raise ValidationError.for_field(field, f"not a date (YYYY-MM-DD): {str(value)[:40]!r}") from None
    if not dates.in_range(value):
        raise ValidationError.for_field(field, dates.range_message())
    return value


# --- errors ---------------------------------------------------------------------------------------

class SyncError(Exception):
    """Something the remote system answered or failed to answer."""

    retry = False

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, detail: Any = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.detail = detail


class RetryableError(SyncError):
    """Transient: 429 (``retry_after`` seconds when the remote says), 5xx, timeout, network drop."""

    retry = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class AuthenticationError(SyncError):
    """401: the access token expired or was revoked; refresh it and try again once."""


class StaleVersionError(SyncError):
    """The remote record changed since the version sent (QuickBooks 5010, Tryton's ``_timestamp``)."""


class RemoteConflict(SyncError):
    """The remote refuses to change the record in its current state (a posted invoice)."""


class RemoteValidationError(SyncError):
    """The remote refuses the data itself; retrying the same data cannot help."""


class DuplicateError(RemoteValidationError):
    """The remote already has a record with this name (QuickBooks 6240)."""


class SkipRecord(SyncError):
    """This record cannot be synced by design (a payment applied to no invoice, a contact
    without an account where the remote needs one): logged as skipped, not retried."""


class NotFoundError(SyncError):
    """The remote record does not exist (any more)."""


class MissingLink(SyncError):
    """A record refers to another that is not synced yet (its parent failed): it waits."""

    def __init__(self, entity: str, ident, side: str = "local"):
        super().__init__(f"waits for {entity} {ident} ({side} side), not synced yet", code="waiting")
        self.entity = entity
        self.ident = ident


# --- data passed between the engine and a connector -----------------------------------------------

@dataclass
class RemoteRecord:
    """One remote record: its id, its version (QuickBooks SyncToken, Tryton timestamp),
    when it last changed there, whether it is deleted, and the raw data."""

    id: str
    version: str | None = None
    updated_at: dt.datetime | None = None
    deleted: bool = False
    data: dict = field(default_factory=dict)


@dataclass
class ChangeSet:
    """What :meth:`Connector.changes` returns: the records and the cursor to ask from next time."""

    records: list[RemoteRecord]
    cursor: str | None
    #: True when the connector listed every record (a full query), not only the changes
    complete: bool = False
    #: the ids of every record that exists there now, when the connector can list them cheaply
    #: (a system without a deletion log): links to any other id were deleted there
    existing: set[str] | None = None


@dataclass
class PushResult:
    """One outcome of :meth:`Connector.push_batch`: the record written, or the error."""

    record: RemoteRecord | None = None
    error: SyncError | None = None


@runtime_checkable
class Refs(Protocol):
    """Translates references between the two sides (given by the engine)."""

    def remote(self, entity: str, local_id: int | None) -> str | None:
        """The remote id linked to a CRM record; raises :class:`MissingLink` when not linked."""

    def local(self, entity: str, remote_id: str | None) -> int | None:
        """The CRM id linked to a remote record; raises :class:`MissingLink` when not linked."""

    def value(self, map_name: str, value, *, reverse: bool = False, default=None):
        """A value map of the connection (``tax_codes``, ``payment_methods``, ...)."""


@dataclass(frozen=True)
class SettingField:
    """One setting of a connection, as a connector declares it (:attr:`Connector.settings_fields`)
    for the settings form: its key, its label (shown to people; may be a lazy translation),
    its ``type`` ("text", "url", "int" or "choice" with ``choices``), whether it is ``secret``
    (stored encrypted, write-only) and ``required``, and an optional ``help`` text."""

    name: str
    label: Any = ""
    type: str = "text"
    secret: bool = False
    required: bool = False
    choices: tuple = ()
    help: Any = ""


def settings_fields(cls) -> tuple[SettingField, ...]:
    """The settings fields of a connector class: the ones it declares, else one text field
    per ``settings_keys`` entry and one secret field per ``secret_keys`` entry."""
    declared = tuple(getattr(cls, "settings_fields", ()) or ())
    if declared:
        return declared
    return (tuple(SettingField(key, key) for key in getattr(cls, "settings_keys", ()))
            + tuple(SettingField(key, key, secret=True) for key in getattr(cls, "secret_keys", ())))


# --- the contract ---------------------------------------------------------------------------------

class Connector(Protocol):
    """What the sync engine calls. Subclass :class:`BaseConnector` for the defaults."""

    #: unique name, e.g. "quickbooks"
    name: ClassVar[str]
    #: shown to people
    label: ClassVar[str]
    #: entities this system supports (a subset of :data:`ENTITIES`)
    entities: ClassVar[tuple[str, ...]]
    #: canonical keys the default mapping covers, per entity (custom fields come on top)
    fields: ClassVar[dict[str, tuple[str, ...]]]
    #: entities the remote cannot delete, only deactivate (``active: false``)
    deactivate_only: ClassVar[frozenset[str]]
    #: the settings (not secret) and secrets a connection of this kind takes, for forms and docs
    settings_keys: ClassVar[tuple[str, ...]]
    secret_keys: ClassVar[tuple[str, ...]]
    #: optional: the settings form's fields (:class:`SettingField`); default: from the keys above
    settings_fields: ClassVar[tuple[SettingField, ...]]
    #: how many writes :meth:`push_batch` takes at once (1: no batching)
    batch_size: ClassVar[int]

    def __init__(self, settings: dict, secrets: dict, save_secrets: Callable[[dict], None] | None = None) -> None:
        """``save_secrets(changed)`` stores rotated secrets (a new refresh token) encrypted."""

    def changes(self, entity: str, cursor: str | None) -> ChangeSet:
        """Remote records of ``entity`` changed since ``cursor`` (None: all of them)."""

    def fetch(self, entity: str, remote_id: str) -> RemoteRecord | None:
        """One remote record as it is now (None when it no longer exists)."""

    def push(self, entity: str, payload: dict, remote_id: str | None, remote_version: str | None,
             *, request_id: str) -> RemoteRecord:
        """Create (``remote_id`` None) or update a remote record; ``request_id`` is stable for
        the same change, so a retried create after a lost answer creates nothing twice."""

    def push_batch(self, entity: str, ops: list[dict]) -> list[PushResult]:
        """Several :meth:`push` calls at once; ``ops`` items have the keys of its arguments."""

    def delete(self, entity: str, remote_id: str, remote_version: str | None, *, request_id: str) -> RemoteRecord | None:
        """Delete, or deactivate where the remote only deactivates (see :attr:`deactivate_only`)."""

    def to_remote(self, entity: str, record: dict, refs: Refs, current: RemoteRecord | None = None) -> dict:
        """A canonical record -> the payload :meth:`push` sends (``current``: the remote record
        being updated, when known)."""

    def from_remote(self, entity: str, remote: RemoteRecord, refs: Refs) -> dict:
        """A remote record -> a canonical record (the keys of :attr:`fields` it maps)."""

    def get_custom(self, entity: str, remote: RemoteRecord, path: str):
        """The value of a remote custom field (a mapping's ``remote`` path)."""

    def set_custom(self, entity: str, payload: dict, path: str, value) -> None:
        """Put a custom field's value into a payload."""

    def refresh_auth(self) -> None:
        """Get a new access token (rotating the refresh token through ``save_secrets``)."""

    def check(self) -> dict:
        """Reach the remote and say who it is (company name...), for "test connection"."""

    def close(self) -> None:
        """Release connections."""


class BaseConnector:
    """Defaults for the optional parts of :class:`Connector`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    entities: ClassVar[tuple[str, ...]] = ()
    fields: ClassVar[dict[str, tuple[str, ...]]] = {}
    deactivate_only: ClassVar[frozenset[str]] = frozenset()
    settings_keys: ClassVar[tuple[str, ...]] = ()
    secret_keys: ClassVar[tuple[str, ...]] = ()
    settings_fields: ClassVar[tuple[SettingField, ...]] = ()
    batch_size: ClassVar[int] = 1

    def __init__(self, settings: dict, secrets: dict, save_secrets: Callable[[dict], None] | None = None) -> None:
        self.settings = dict(settings or {})
        self.secrets = dict(secrets or {})
        self._save_secrets = save_secrets

    def save_secrets(self, changed: dict) -> None:
        self.secrets.update(changed)
        if self._save_secrets is not None:
            self._save_secrets(changed)

    def push_batch(self, entity: str, ops: list[dict]) -> list[PushResult]:
        results = []
        for op in ops:
            try:
                if op.get("delete"):
                    results.append(PushResult(self.delete(entity, op["remote_id"], op.get("remote_version"),
                                                          request_id=op["request_id"])))
                else:
                    results.append(PushResult(self.push(entity, op["payload"], op.get("remote_id"),
                                                        op.get("remote_version"), request_id=op["request_id"])))
            except (RetryableError, AuthenticationError):
                raise
            except SyncError as exc:
                results.append(PushResult(error=exc))
        return results

    def get_custom(self, entity: str, remote: RemoteRecord, path: str):
        value = remote.data
        for part in path.split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    def set_custom(self, entity: str, payload: dict, path: str, value) -> None:
        parts = path.split(".")
        target = payload
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value

    def refresh_auth(self) -> None:
        raise AuthenticationError("this connector cannot refresh its credentials")

    def check(self) -> dict:
        return {"ok": True}

    def close(self) -> None:
        pass

    # the three abstract parts
    def changes(self, entity: str, cursor: str | None) -> ChangeSet:  # pragma: no cover
        raise NotImplementedError

    def fetch(self, entity: str, remote_id: str) -> RemoteRecord | None:  # pragma: no cover
        raise NotImplementedError

    def push(self, entity, payload, remote_id, remote_version, *, request_id):  # pragma: no cover
        raise NotImplementedError

    def delete(self, entity, remote_id, remote_version, *, request_id):  # pragma: no cover
        raise NotImplementedError


# --- our side: local entities ---------------------------------------------------------------------

class LocalEntity:
    """Our side of one sync entity: reads CRM records as canonical records and changes them
    ONLY through services (so validation, numbering, audit and hooks apply).

    Subclass it and set :attr:`entity` (one of :data:`ENTITIES`) and :attr:`model` (the
    SQLAlchemy model, whose ``id`` is the local id); implement :meth:`shape`, :meth:`create`,
    :meth:`update` and :meth:`remove`; override the others where the default does not fit.
    Methods that change records raise ``crm.errors.CRMError`` subclasses (``ValidationError``,
    ``Conflict``, ``NotFound``) to refuse: the engine logs the record as failed with the message.
    The engine calls them inside a savepoint and never commits for them.
    """

    #: the sync entity ("payments", ...)
    entity: ClassVar[str] = ""
    #: the model of the records (``model.id`` is the local id)
    model: Any = None
    #: canonical keys holding money or quantities (turned into Decimal by :meth:`_input`)
    decimals: ClassVar[tuple[str, ...]] = ()
    #: whether the records have an ``active`` flag (deactivated instead of deleted when in use)
    has_active: ClassVar[bool] = True

    def load(self, session, local_id: int | None):
        """The record with this id, or None."""
        return session.get(self.model, local_id) if local_id is not None else None

    def load_many(self, session, ids) -> dict:
        """Records by id (those that exist)."""
        from sqlalchemy import select
        if not ids:
            return {}
        return {r.id: r for r in session.scalars(select(self.model).where(self.model.id.in_(list(ids))))}

    def all_ids(self, session) -> list[int]:
        """Every record the sync sends on a connection's first run, in a stable order."""
        from sqlalchemy import select
        return list(session.scalars(select(self.model.id).order_by(self.model.id)))

    def label(self, record) -> str:
        """How the sync log names the record."""
        return str(getattr(record, "name", "") or getattr(record, "number", "") or record.id)[:200]

    def updated_at(self, record) -> dt.datetime | None:
        """When the record last changed here (aware, UTC), for the ``newest`` conflict policy."""
        value = getattr(record, "updated_at", None)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value

    def skip_reason(self, record) -> str | None:
        """Why this record is not sent (logged as skipped), or None to send it."""
        return None

    def shape(self, session, record) -> dict:
        """The record as a canonical record (the keys of its entity, module docstring)."""
        raise NotImplementedError

    def create(self, session, data: dict):
        """Create a record from a canonical record (read-only keys removed); return it."""
        raise NotImplementedError

    def update(self, session, record, changes: dict):
        """Apply the canonical keys in ``changes`` to the record; return it."""
        raise NotImplementedError

    def remove(self, session, record) -> str:
        """Deleted on the remote side: delete it, or deactivate / cancel it when it is still
        used; return what was done ("deleted", "deactivated", "cancelled")."""
        raise NotImplementedError

    def match(self, session, data: dict):
        """An existing record that is obviously the same (first sync of two filled systems), or None."""
        return None

    def _input(self, data: dict) -> dict:
        """``data`` with the :attr:`decimals` keys as Decimal (None ones dropped)."""
        out = {}
        for key, value in data.items():
            if key in self.decimals:
                value = canonical_decimal(value, key)
                if value is None:
                    continue
            out[key] = value
        return out


def local_entity_adapters(app=None) -> dict[str, LocalEntity]:
    """The local entity adapters contributed by the enabled plugins, by entity (hook
    ``crm_accounting_entities``; the first one of an entity wins)."""
    from crm.plugins import get_registry
    found: dict[str, LocalEntity] = {}
    for batch in get_registry(app).hook.crm_accounting_entities():
        for adapter in batch or ():
            if isinstance(adapter, type):
                adapter = adapter()
            found.setdefault(adapter.entity, adapter)
    return found


def connector_classes(app=None) -> dict[str, type]:
    """The connector classes of the enabled plugins, by name (hook ``crm_accounting_connectors``)."""
    from crm.plugins import get_registry
    found: dict[str, type] = {}
    for batch in get_registry(app).hook.crm_accounting_connectors():
        for cls in batch or ():
            found.setdefault(cls.name, cls)
    return found

