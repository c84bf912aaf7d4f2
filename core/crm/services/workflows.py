"""Workflows: an admin's rules of trigger, conditions and actions (see docs/workflows.md).

A rule watches the records of one entity (``invoices``, ``accounts``, ``items``...). Its trigger
is an event the core announces through its hooks (a record created, updated, deleted, a
document's status changed, a product's stock changed), a date field of the record reached with
an offset (found by the ``workflow_dates`` job), or a trigger a plugin declares
(``crm_workflow_triggers``) and fires (:func:`fire`).

When a trigger happens, the enabled rules for it evaluate their conditions on the record, in the
transaction of the change: comparisons of the record's fields (``=``, ``!=``, ``<``, ``<=``,
``>``, ``>=``, ``contains``, ``is empty``, ``is not empty``) combined with all/any, as data,
never code. A rule that matches gets a run (:class:`crm.models.WorkflowRun`), once per rule,
record, trigger and period (a unique key), queued; the job queue runs its actions after the
commit (:func:`run_due`, the ``workflow_runs`` job every minute, and a task queued right after
the commit). Each action's outcome is written in the run, in the transaction of what the action
did, so an action done is never done again when a run resumes after a failure.

Actions: send an email (through :mod:`crm.services.email`'s outbox), update a field (through
the record's own service, so its rules hold), add a comment (on the record's activity timeline),
notify a user or a role (in-app notifications), call a webhook (a JSON body signed
with HMAC-SHA256 under the rule's key, retried with backoff), and the actions plugins declare
(``crm_workflow_actions``). Nothing here answers HTTP; only the webhook action talks to a server.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    event,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from crm.errors import CRMError, NotFound, ValidationError
from crm.models import ROLES, Account, AuditEntry, Contact, Document, Item, User, Vendor
from crm.models.base import utcnow
from crm.models.workflows import Notification, WorkflowRule, WorkflowRun
from crm.services import hooks
from crm.services.doctypes import DOC_TYPES
from crm.services.records import changes_configuration, once_per_configuration, read_again_when_flushed

log = logging.getLogger(__name__)

#: the purpose of the rules' webhook keys for :func:`crm.security.encrypt_secret`
SECRET_PURPOSE = "workflow-webhook"
#: seconds to wait before each new attempt of a webhook that failed in a way that may pass
WEBHOOK_BACKOFF = (60, 300, 1800, 7200, 21600)
WEBHOOK_ATTEMPTS = len(WEBHOOK_BACKOFF) + 1
WEBHOOK_TIMEOUT = 10.0
#: a run held by a worker longer than this is taken for abandoned (its worker died) and resumed
STALE_AFTER = dt.timedelta(minutes=15)
MAX_CONDITIONS = 30
MAX_DEPTH = 3
MAX_ACTIONS = 10
MAX_TEXT = 10_000

# --- what a rule may watch ------------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    key: str
    label: Any
    model: Any
    doc_type: str | None = None
    #: the fields an update_field action may set (through the record's service)
    updatable: tuple[str, ...] = ()


_DOC_UPDATABLE = ("status", "subject", "customer_reference", "description", "terms", "due_date", "valid_until")
_PARTY = ("name", "email", "phone", "website", "description", "active")
ENTITIES: dict[str, Entity] = {
    "accounts": Entity("accounts", _l("Accounts"), Account, updatable=_PARTY),
    "contacts": Entity("contacts", _l("Contacts"), Contact,
                       updatable=("first_name", "last_name", "email", "phone", "title", "active")),
    "vendors": Entity("vendors", _l("Vendors"), Vendor, updatable=_PARTY),
    "items": Entity("items", _l("Products and services"), Item,
                    updatable=("name", "description", "category", "active", "reorder_level", "reorder_quantity",
                               "unit_price", "purchase_cost")),
    **{kind.path: Entity(kind.path, label, Document, kind.name, _DOC_UPDATABLE)
       for kind, label in ((DOC_TYPES["quote"], _l("Quotes")), (DOC_TYPES["sales_order"], _l("Sales orders")),
                           (DOC_TYPES["purchase_order"], _l("Purchase orders")), (DOC_TYPES["invoice"], _l("Invoices")))},
}
#: fields never shown to conditions nor templates
_HIDDEN = {"version", "custom", "billing_address", "shipping_address", "address", "group_taxes", "shipping_taxes",
           "extra_totals", "doc_type", "search_text"}

FIELD_KINDS = ("text", "number", "integer", "date", "datetime", "bool")


def fields_of(entity: str) -> dict[str, str]:
    """The fields of an entity's records a condition may compare: ``{name: kind}``."""
    spec = ENTITIES.get(entity)
    if spec is None:
        return {}
    found: dict[str, str] = {}
    mapper: Any = inspect(spec.model)
    for column in mapper.columns:
        if column.key in _HIDDEN or not hasattr(spec.model, column.key):
            continue
        kind = _kind_of(column.type)
        if kind:
            found[column.key] = kind
    return found


def _kind_of(column_type: Any) -> str:
    impl = column_type.impl if isinstance(column_type, TypeDecorator) else column_type
    if isinstance(column_type, TypeDecorator) and type(column_type).__name__ == "ExactNumeric":
        return "number"
    if isinstance(impl, Boolean):
        return "bool"
    if isinstance(impl, DateTime):
        return "datetime"
    if isinstance(impl, Date):
        return "date"
    if isinstance(impl, Numeric):
        return "number"
    if isinstance(impl, Integer):
        return "integer"
    if isinstance(impl, (String, Text)):
        return "text"
    return ""


# --- triggers and actions, the core's and the plugins' -------------------------------------------

@dataclass(frozen=True)
class WorkflowTrigger:
    """A trigger a plugin declares (hook ``crm_workflow_triggers``) and fires with :func:`fire`:
    ``key`` (unique, e.g. ``payment_recorded``) on the records of ``entity``; ``per`` says how
    often it may run a rule for one record: ``"record"`` (once), ``"period"`` (once per
    ``period`` given to :func:`fire`, e.g. a payment's id).

    ``placeholders(session, period, language)``, when given, returns what the templates of the
    trigger's rules see besides the record (``{"payment": {"amount": ...}}``), written in
    ``language`` (``en``, ``es``): called with the run's ``period`` when a rule runs, and with
    None when one is saved, then with sample values, for checking its templates (a template
    using a name that is not there is refused)."""

    key: str
    entity: str
    label: Any
    per: str = "period"
    placeholders: Callable[[Session, str | None, str], dict[str, Any]] | None = None


@dataclass(frozen=True)
class WorkflowAction:
    """An action a plugin declares (hook ``crm_workflow_actions``): ``check(config)`` returns the
    config to store or raises :class:`crm.errors.ValidationError` naming a key of it;
    ``run(session, record, config, context)`` does it (in the run's transaction) and returns what
    it did, in words; ``record`` is None when it was deleted. An exception fails the action."""

    key: str
    label: Any
    check: Callable[[dict], dict]
    run: Callable[..., str]


EVENTS = {"created": _l("Record created"), "updated": _l("Record updated"), "status_changed": _l("Status changed"),
          "deleted": _l("Record deleted"), "date": _l("A date is reached"), "stock_changed": _l("Stock changed")}
ACTION_TYPES = {"send_email": _l("Send an email"), "update_field": _l("Update a field"),
                "add_comment": _l("Add a comment"), "notify": _l("Notify a user or a role"),
                "webhook": _l("Call a webhook")}
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "contains", "is empty", "is not empty")
_UNARY = ("is empty", "is not empty")


def _declared(hook_name: str) -> list:
    reg = hooks.registry()
    caller = getattr(reg.hook, hook_name, None) if reg is not None else None
    return caller() if caller is not None else []


def plugin_triggers() -> dict[str, WorkflowTrigger]:
    found: dict[str, WorkflowTrigger] = {}
    for batch in _declared("crm_workflow_triggers"):
        for trigger in batch or []:
            found[trigger.key] = trigger
    return found


def plugin_actions() -> dict[str, WorkflowAction]:
    found: dict[str, WorkflowAction] = {}
    for batch in _declared("crm_workflow_actions"):
        for action in batch or []:
            found[action.key] = action
    return found


def events_for(entity: str) -> dict[str, Any]:
    """The triggers a rule on ``entity`` may use: ``{event: label}``."""
    spec = ENTITIES[entity]
    found = {key: label for key, label in EVENTS.items()
             if not (key == "status_changed" and spec.doc_type is None)
             and not (key == "stock_changed" and entity != "items")
             and not (key == "date" and not any(k == "date" for k in fields_of(entity).values()))}
    found.update({t.key: t.label for t in plugin_triggers().values() if t.entity == entity})
    return found


def action_types() -> dict[str, Any]:
    return {**ACTION_TYPES, **{a.key: a.label for a in plugin_actions().values()}}


# --- conditions -----------------------------------------------------------------------------------

def _name(value: Any) -> str | None:
    """A key given as JSON (a field, an operator, a type): text, or None (a list or an object is no name)."""
    return value if isinstance(value, str) else None


def _typed(kind: str, raw: Any, where: str) -> Any:
    """``raw`` (a form's or JSON's value) as the field's type; refused naming ``where``."""
    if raw is None:
        return None
    try:
        if kind == "number":
            if isinstance(raw, float):
                raw = repr(raw)
            value = Decimal(str(raw).strip())
            if not value.is_finite():
                raise InvalidOperation
            return value
        if kind == "integer":
            if isinstance(raw, bool):
                raise ValueError
            return int(str(raw).strip())
        if kind == "date":
            return raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw).strip())
        if kind == "datetime":
            moment = dt.datetime.fromisoformat(str(raw).strip())
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError
    except (ValueError, InvalidOperation, TypeError):
        raise ValidationError.for_field(where, _("%(value)s is not a valid %(kind)s", value=str(raw)[:40],
                                                 kind=kind)) from None
    return str(raw)


def check_conditions(entity: str, conditions: Any, where: str = "conditions") -> dict:
    """The conditions as stored (``{"match": "all"|"any", "items": [...]}``, each item a
    comparison ``{"field", "op", "value"}`` or ``{"field", "op", "value_field"}`` or a group),
    each field checked against the entity's fields; refused naming the part that is wrong."""
    return _check_group(fields_of(entity), conditions, where, 1, [0])


def _check_group(fields: dict[str, str], node: Any, where: str, depth: int, count: list[int]) -> dict:
    if node in (None, {}, []):
        return {"match": "all", "items": []}
    if isinstance(node, list):
        node = {"match": "all", "items": node}
    if not isinstance(node, dict):
        raise ValidationError.for_field(where, _("must be an object with match and items"))
    match = node.get("match", "all")
    if match not in ("all", "any"):
        raise ValidationError.for_field(f"{where}.match", _("must be all or any"))
    items = node.get("items") or []
    if not isinstance(items, list):
        raise ValidationError.for_field(f"{where}.items", _("must be a list"))
    out = []
    for i, item in enumerate(items):
        here = f"{where}.items[{i}]"
        if isinstance(item, dict) and "items" in item:
            if depth >= MAX_DEPTH:
                raise ValidationError.for_field(here, _("groups nest at most %(count)s deep", count=MAX_DEPTH))
            out.append(_check_group(fields, item, here, depth + 1, count))
        else:
            count[0] += 1
            if count[0] > MAX_CONDITIONS:
                raise ValidationError.for_field(here, _("at most %(count)s conditions", count=MAX_CONDITIONS))
            out.append(_check_leaf(fields, item, here))
    return {"match": match, "items": out}


def _check_leaf(fields: dict[str, str], item: Any, where: str) -> dict:
    if not isinstance(item, dict):
        raise ValidationError.for_field(where, _("must be an object with field, op and value"))
    field, op = _name(item.get("field")), _name(item.get("op"))
    if field not in fields:
        raise ValidationError.for_field(f"{where}.field", _("unknown field %(field)s; the fields are: %(fields)s",
                                                            field=str(field)[:60], fields=", ".join(sorted(fields))))
    if op not in OPERATORS:
        raise ValidationError.for_field(f"{where}.op", _("must be one of: %(values)s", values=", ".join(OPERATORS)))
    kind = fields[field]
    if op == "contains" and kind != "text":
        raise ValidationError.for_field(f"{where}.op", _("contains compares text fields only"))
    if op in ("<", "<=", ">", ">=") and kind in ("text", "bool"):
        raise ValidationError.for_field(f"{where}.op", _("%(op)s compares numbers and dates only", op=op))
    stored: dict = {"field": field, "op": op}
    if op in _UNARY:
        return stored
    if item.get("value_field"):
        other = _name(item["value_field"])
        if other not in fields:
            raise ValidationError.for_field(f"{where}.value_field", _("unknown field %(field)s", field=str(other)[:60]))
        if fields[other] != kind and {fields[other], kind} != {"number", "integer"}:
            raise ValidationError.for_field(f"{where}.value_field", _("%(field)s is not of the same kind",
                                                                      field=other))
        stored["value_field"] = other
        return stored
    value = item.get("value")
    if value is None or (isinstance(value, str) and not value.strip() and kind != "text"):
        raise ValidationError.for_field(f"{where}.value", _("a value is required (or use is empty)"))
    _typed(kind, value, f"{where}.value")
    stored["value"] = value if isinstance(value, (bool, int)) else str(value)
    return stored


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "is empty":
        return _empty(actual)
    if op == "is not empty":
        return not _empty(actual)
    if actual is None or expected is None:
        return (op == "=" and actual is expected) or (op == "!=" and (actual is None) != (expected is None))
    if isinstance(actual, dt.datetime) and actual.tzinfo is None:
        return _compare(actual.replace(tzinfo=dt.timezone.utc), op, expected)
    if op == "contains":
        return str(expected).casefold() in str(actual).casefold()
    if op == "=":
        return actual == expected
    if op == "!=":
        return actual != expected
    if op == "<":
        return actual < expected
    if op == "<=":
        return actual <= expected
    if op == ">":
        return actual > expected
    return actual >= expected


def evaluate(entity: str, conditions: Mapping, values: Mapping[str, Any]) -> bool:
    """Whether the record's ``values`` (``{field: value}``, typed) meet ``conditions`` (as
    :func:`check_conditions` stores them). No code is evaluated: the operators are a table."""
    fields = fields_of(entity)

    def node(item: Mapping) -> bool:
        if "items" in item:
            results = (node(child) for child in item["items"])
            return all(results) if item.get("match", "all") == "all" else any(results)
        kind = fields.get(item["field"], "text")
        actual = values.get(item["field"])
        if item["op"] in _UNARY:
            return _compare(actual, item["op"], None)
        expected = (values.get(item["value_field"]) if item.get("value_field")
                    else _typed(kind, item.get("value"), item["field"]))
        return _compare(actual, item["op"], expected)

    if not conditions or not conditions.get("items"):
        return True
    return node(conditions)


def describe(conditions: Mapping) -> str:
    """The conditions in words: ``status != Paid and balance > 0``."""
    def node(item: Mapping) -> str:
        if "items" in item:
            joiner = " and " if item.get("match", "all") == "all" else " or "
            parts = [node(child) for child in item["items"]]
            return "(" + joiner.join(parts) + ")" if len(parts) > 1 else "".join(parts)
        if item["op"] in _UNARY:
            return f"{item['field']} {item['op']}"
        other = item.get("value_field")
        return f"{item['field']} {item['op']} {other if other else repr(item.get('value'))}"
    text = node(conditions) if conditions and conditions.get("items") else ""
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


# --- a record's values ----------------------------------------------------------------------------

def values_of(entity: str, record: Any) -> dict[str, Any]:
    """The record's fields (typed) that conditions compare."""
    return {name: getattr(record, name, None) for name in fields_of(entity)}


def snapshot(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as JSON (numbers and dates as text)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, (dt.date, dt.datetime)):
            out[name] = value.isoformat()
        elif isinstance(value, Decimal):
            out[name] = str(value)
        elif value is None or isinstance(value, (bool, int, str)):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def record_of(session: Session, entity: str, record_id: int, *, for_update: bool = False) -> Any:
    spec = ENTITIES.get(entity)
    if spec is None:
        return None
    record = session.get(spec.model, record_id, with_for_update=True if for_update else None)
    if record is not None and spec.doc_type and record.doc_type != spec.doc_type:
        return None
    return record


def record_link(entity: str, record_id: int, values: Mapping[str, Any]) -> str:
    """The record's page (a path), for notifications."""
    if entity == "items":
        kind = values.get("kind") or "product"
        return f"/{'bundles' if values.get('is_bundle') else kind + 's'}/{record_id}"
    return f"/{entity}/{record_id}"


def entity_of_document(document: Document) -> str:
    return DOC_TYPES[document.doc_type].path


# --- rules ----------------------------------------------------------------------------------------

def _text(data: Mapping, key: str, where: str, limit: int, *, required: bool = False, line: bool = False) -> str:
    value = data.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError.for_field(where, _("must be text"))
    value = value.strip() if line else value
    if line and any(ch in value for ch in "\r\n"):
        raise ValidationError.for_field(where, _("must be one line"))
    if required and not value.strip():
        raise ValidationError.for_field(where, _("is required"))
    if len(value) > limit:
        raise ValidationError.for_field(where, _("at most %(count)s characters", count=limit))
    return value


def check_trigger(entity: str, trigger: Any) -> dict:
    if not isinstance(trigger, dict):
        raise ValidationError.for_field("trigger", _("must be an object with an event"))
    available = events_for(entity)
    event_key = _name(trigger.get("event"))
    if event_key not in available:
        raise ValidationError.for_field("trigger.event", _("must be one of: %(values)s",
                                                           values=", ".join(available)))
    out: dict = {"event": event_key}
    if event_key == "status_changed":
        to_status = trigger.get("to_status") or ""
        statuses = DOC_TYPES[ENTITIES[entity].doc_type or ""].statuses
        if to_status and to_status not in statuses:
            raise ValidationError.for_field("trigger.to_status", _("must be one of: %(values)s",
                                                                   values=", ".join(statuses)))
        out["to_status"] = to_status
    if event_key == "date":
        dates = [name for name, kind in fields_of(entity).items() if kind == "date"]
        if _name(trigger.get("field")) not in dates:
            raise ValidationError.for_field("trigger.field", _("unknown date field %(field)s; the date fields are: "
                                                               "%(fields)s", field=str(trigger.get("field"))[:60],
                                                               fields=", ".join(dates)))
        offset = trigger.get("offset_days", 0)
        try:
            offset = int(offset if offset not in (None, "") else 0)
        except (TypeError, ValueError):
            raise ValidationError.for_field("trigger.offset_days", _("must be a whole number of days")) from None
        if not -3650 <= offset <= 3650:
            raise ValidationError.for_field("trigger.offset_days", _("must be between -3650 and 3650"))
        out.update(field=trigger["field"], offset_days=offset)
    return out


def template_sample(session: Session, entity: str, language: str = "en", event: str | None = None) -> dict[str, Any]:
    """What the templates of a rule on ``entity`` started by ``event`` may use, with sample values
    (to check them)."""
    from crm.services import email
    spec = ENTITIES[entity]
    context: dict[str, Any] = email.sample_context(spec.doc_type, language) if spec.doc_type else {
        "company": {"name": "Company", "address": "Street 1"}}
    sample = {"text": "Sample", "number": "12.50", "integer": "1", "date": "2027-01-31",
              "datetime": "2027-01-31T10:00:00+00:00", "bool": True}
    context["record"] = {name: sample[kind] for name, kind in fields_of(entity).items()}
    context["record"]["id"] = 1
    context["rule"] = {"name": "Rule", "id": 1}
    context["event"] = event or "updated"
    context["link"] = "/"
    return {**_trigger_placeholders(session, event, None, language), **context}


def placeholder_names(session: Session) -> list[tuple[Any, list[str]]]:
    """The plugins' triggers that give their rules more placeholders, each with their names
    (``payment.amount``, ...), for the rule form: ``[(label, names)]``."""
    found = []
    for trigger in plugin_triggers().values():
        if trigger.placeholders is not None:
            names: list[str] = []
            for name, value in trigger.placeholders(session, None, "en").items():
                names += [f"{name}.{part}" for part in value] if isinstance(value, Mapping) else [name]
            found.append((trigger.label, names))
    return found


def _trigger_placeholders(session: Session, event: str | None, period: str | None, language: str) -> dict[str, Any]:
    """What a plugin's trigger adds to its rules' templates (``WorkflowTrigger.placeholders``);
    the core's own names (``record``, ``document``, ...) are kept over a plugin's."""
    trigger = plugin_triggers().get(event or "")
    if trigger is None or trigger.placeholders is None:
        return {}
    return dict(trigger.placeholders(session, period, language))


def _render(subject: str, body: str, context: Mapping[str, Any], where: str,
            fields: tuple[str, str] = ("subject", "body")) -> tuple[str, str]:
    """Render in the email service's sandbox; refused naming ``where.<field>``."""
    from crm.services import email
    try:
        return email.render_template_text(subject or " ", body or "", context)
    except ValidationError as exc:
        name = next(iter(exc.fields or {"subject": []}))
        reasons = (exc.fields or {}).get(name) or [exc.message]
        field = fields[0] if name == "subject" else fields[1]
        raise ValidationError.for_field(f"{where}.{field}", reasons[0]) from None


def _recipients(value: Any, where: str) -> list[str]:
    from crm.services import email
    if value in (None, ""):
        return []
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValidationError.for_field(where, _("must be a list of recipients"))
    out = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            continue
        item = item.strip()
        if item in ("party", "contact"):
            out.append(item)
        elif item.startswith("role:"):
            if item[5:] not in ROLES:
                raise ValidationError.for_field(where, _("unknown role %(role)s", role=item[5:][:30]))
            out.append(item)
        elif item.startswith("user:"):
            if not item[5:].isdigit():
                raise ValidationError.for_field(where, _("user: takes a user's id"))
            out.append(item)
        else:
            out.append(email.check_address(item, where))
    return out


def check_webhook_url(url: Any, where: str = "url") -> str:
    """An http(s) URL with a host, no credentials, one line; refused naming ``where``."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError.for_field(where, _("a URL is required"))
    url = url.strip()
    if len(url) > 2000 or any(ch in url for ch in "\r\n\t ") or any(ord(ch) < 32 for ch in url):
        raise ValidationError.for_field(where, _("not a valid URL"))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError.for_field(where, _("not a valid URL")) from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError.for_field(where, _("must start with http:// or https://"))
    if not parts.hostname:
        raise ValidationError.for_field(where, _("must name a host"))
    if parts.username or parts.password:
        raise ValidationError.for_field(where, _("must not carry a user name or password; the rule's key signs "
                                                 "every call"))
    if port == 0:
        raise ValidationError.for_field(where, _("not a valid port"))
    return url


def check_action(session: Session, entity: str, action: Any, i: int, event: str | None = None) -> dict:
    """One action of a rule on ``entity`` started by ``event`` as it is stored; refused naming
    ``actions[i].<key>``."""
    where = f"actions[{i}]"
    if not isinstance(action, dict):
        raise ValidationError.for_field(where, _("must be an object with a type"))
    kind = _name(action.get("type"))
    plugin = plugin_actions()
    if kind in plugin:
        try:
            config = plugin[kind].check({k: v for k, v in action.items() if k != "type"})
        except ValidationError as exc:
            name = next(iter(exc.fields or {"": []}))
            reason = ((exc.fields or {}).get(name) or [exc.message])[0]
            raise ValidationError.for_field(f"{where}.{name}".rstrip("."), reason) from None
        return {"type": kind, **(config or {})}
    checks = {"send_email": _check_send_email, "update_field": _check_update_field,
              "add_comment": _check_add_comment, "notify": _check_notify, "webhook": _check_webhook}
    if kind not in checks:
        raise ValidationError.for_field(f"{where}.type", _("must be one of: %(values)s",
                                                           values=", ".join(action_types())))
    return {"type": kind, **checks[kind](session, entity, action, where, event)}


def _check_send_email(session: Session, entity: str, action: dict, where: str, event: str | None) -> dict:
    from crm.services import email
    language = action.get("language") or "en"
    if language not in email.LANGUAGES:
        raise ValidationError.for_field(f"{where}.language", _("must be one of: %(values)s",
                                                               values=", ".join(email.LANGUAGES)))
    to = _recipients(action.get("to"), f"{where}.to")
    if not to:
        raise ValidationError.for_field(f"{where}.to", _("at least one recipient is required"))
    cc = _recipients(action.get("cc"), f"{where}.cc")
    subject = _text(action, "subject", f"{where}.subject", email.MAX_SUBJECT, line=True)
    body = _text(action, "body", f"{where}.body", email.MAX_BODY)
    attach = bool(action.get("attach_pdf")) and ENTITIES[entity].doc_type is not None
    if not subject and not (attach and not body):
        raise ValidationError.for_field(f"{where}.subject", _("a subject is required (or attach the document's "
                                                              "PDF with its type's template)"))
    if subject or body:
        _render(subject, body, template_sample(session, entity, language, event), where)
    return {"to": to, "cc": cc, "subject": subject, "body": body, "language": language, "attach_pdf": attach}


def _check_update_field(session: Session, entity: str, action: dict, where: str, event: str | None) -> dict:
    spec = ENTITIES[entity]
    field = _name(action.get("field"))
    if field not in spec.updatable or field not in fields_of(entity):
        raise ValidationError.for_field(f"{where}.field", _("unknown or read-only field %(field)s; the fields a "
                                                            "rule may set are: %(fields)s", field=str(field)[:60],
                                                            fields=", ".join(spec.updatable)))
    value = action.get("value")
    if field == "status" and value not in DOC_TYPES[spec.doc_type or ""].statuses:
        raise ValidationError.for_field(f"{where}.value", _("must be one of: %(values)s",
                                                            values=", ".join(DOC_TYPES[spec.doc_type or ""].statuses)))
    if value not in (None, ""):
        _typed(fields_of(entity)[field], value, f"{where}.value")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ValidationError.for_field(f"{where}.value", _("at most %(count)s characters", count=MAX_TEXT))
    return {"field": field, "value": value if isinstance(value, (bool, int)) or value is None else str(value)}


def _check_add_comment(session: Session, entity: str, action: dict, where: str, event: str | None) -> dict:
    text = _text(action, "text", f"{where}.text", MAX_TEXT, required=True)
    _render(" ", text, template_sample(session, entity, event=event), where, ("text", "text"))
    return {"text": text}


def _check_notify(session: Session, entity: str, action: dict, where: str, event: str | None) -> dict:
    role, user_id = _name(action.get("role")) or "", action.get("user_id")
    if bool(role) == bool(user_id):
        raise ValidationError.for_field(f"{where}.role", _("name a role or a user, one of them"))
    if role and role not in ROLES:
        raise ValidationError.for_field(f"{where}.role", _("must be one of: %(values)s", values=", ".join(ROLES)))
    if user_id:
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            raise ValidationError.for_field(f"{where}.user_id", _("must be a user's id")) from None
        from crm.services.records import find
        if find(session, User, user_id) is None:
            raise ValidationError.for_field(f"{where}.user_id", _("no user %(id)s", id=user_id))
    title = _text(action, "title", f"{where}.title", 250, required=True, line=True)
    message = _text(action, "message", f"{where}.message", MAX_TEXT)
    _render(title, message, template_sample(session, entity, event=event), where, ("title", "message"))
    return {"role": role, "user_id": user_id or None, "title": title, "message": message}


def _check_webhook(session: Session, entity: str, action: dict, where: str, event: str | None) -> dict:
    return {"url": check_webhook_url(action.get("url"), f"{where}.url")}


def check_rule(session: Session, data: Mapping[str, Any], current: WorkflowRule | None = None) -> dict:
    """A rule's definition as it is stored; refused with a ValidationError naming the field."""
    merged = {"name": current.name, "description": current.description, "enabled": current.enabled,
              "entity": current.entity, "trigger": current.trigger, "conditions": current.conditions,
              "actions": current.actions} if current is not None else {}
    merged.update({k: v for k, v in data.items() if k in ("name", "description", "enabled", "entity", "trigger",
                                                          "conditions", "actions")})
    name = _text(merged, "name", "name", 200, required=True, line=True)
    description = _text(merged, "description", "description", MAX_TEXT)
    entity = _name(merged.get("entity"))
    if entity not in ENTITIES:
        raise ValidationError.for_field("entity", _("must be one of: %(values)s", values=", ".join(ENTITIES)))
    trigger = check_trigger(entity, merged.get("trigger"))
    conditions = check_conditions(entity, merged.get("conditions"))
    actions = merged.get("actions") or []
    if not isinstance(actions, list) or not actions:
        raise ValidationError.for_field("actions", _("at least one action is required"))
    if len(actions) > MAX_ACTIONS:
        raise ValidationError.for_field("actions", _("at most %(count)s actions", count=MAX_ACTIONS))
    checked = [check_action(session, entity, action, i, trigger.get("event")) for i, action in enumerate(actions)]
    enabled = merged.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ValidationError.for_field("enabled", _("must be true or false"))
    return {"name": name, "description": description, "enabled": enabled, "entity": entity, "trigger": trigger,
            "conditions": conditions, "actions": checked}


def _unique_name(session: Session, name: str, rule_id: int | None) -> None:
    clash = session.scalar(select(WorkflowRule.id).where(WorkflowRule.name == name))
    if clash is not None and clash != rule_id:
        raise ValidationError.for_field("name", _("another rule is named %(name)s", name=name))


def create_rule(session: Session, data: Mapping[str, Any]) -> WorkflowRule:
    values = check_rule(session, data)
    _unique_name(session, values["name"], None)
    rule = WorkflowRule(**values, event=values["trigger"]["event"], webhook_secret="", example="")
    _ensure_secret(rule)
    session.add(rule)
    session.flush()
    return rule


def update_rule(session: Session, rule: WorkflowRule, data: Mapping[str, Any]) -> WorkflowRule:
    from crm.services.records import check_version, flush
    check_version(rule, data.get("version"))
    values = check_rule(session, data, rule)
    _unique_name(session, values["name"], rule.id)
    for key, value in values.items():
        setattr(rule, key, value)
    rule.event = values["trigger"]["event"]
    _ensure_secret(rule)
    flush(session)
    return rule


def delete_rule(session: Session, rule: WorkflowRule) -> None:
    session.delete(rule)
    session.flush()


def get_rule(session: Session, rule_id: int) -> WorkflowRule:
    from crm.services.records import find
    rule = find(session, WorkflowRule, rule_id)
    if rule is None:
        raise NotFound(_("workflow rule %(id)s not found", id=rule_id), {"id": [_("not found")]})
    return rule


def list_rules(session: Session) -> list[WorkflowRule]:
    return list(session.scalars(select(WorkflowRule).order_by(WorkflowRule.name, WorkflowRule.id)))


def runs_of(session: Session, rule: WorkflowRule, limit: int = 100) -> list[WorkflowRun]:
    return list(session.scalars(select(WorkflowRun).where(WorkflowRun.rule_id == rule.id)
                                .order_by(WorkflowRun.id.desc()).limit(limit)))


def _ensure_secret(rule: WorkflowRule) -> None:
    from crm.security import encrypt_secret
    if not rule.webhook_secret and any(a.get("type") == "webhook" for a in rule.actions or []):
        rule.webhook_secret = encrypt_secret(secrets.token_urlsafe(32), SECRET_PURPOSE)


def new_webhook_secret(rule: WorkflowRule) -> str:
    """Give the rule a new webhook key (the old one stops signing at once); returns it."""
    from crm.security import encrypt_secret
    key = secrets.token_urlsafe(32)
    rule.webhook_secret = encrypt_secret(key, SECRET_PURPOSE)
    return key


def webhook_secret(rule: WorkflowRule) -> str:
    """The rule's webhook key in clear ("" without one), for the admin and for signing."""
    from crm.security import decrypt_secret
    return decrypt_secret(rule.webhook_secret, SECRET_PURPOSE) if rule.webhook_secret else ""


def sign(secret: str, body: bytes) -> str:
    """The ``X-CRM-Signature`` header of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- the shipped examples -------------------------------------------------------------------------

EXAMPLES: dict[str, dict[str, Any]] = {
    "overdue_invoice_reminder": {
        "name": "Overdue invoice reminder",
        "description": "Seven days after an invoice falls due unpaid, email its customer a reminder with the "
                       "invoice attached (not for a draft the customer never had, nor a cancelled one).",
        "entity": "invoices",
        "trigger": {"event": "date", "field": "due_date", "offset_days": 7},
        "conditions": {"match": "all", "items": [
            {"field": "status", "op": "!=", "value": "Created"},
            {"field": "status", "op": "!=", "value": "AutoCreated"},
            {"field": "status", "op": "!=", "value": "Cancelled"},
            {"field": "status", "op": "!=", "value": "Credit Invoice"},
            {"field": "balance", "op": ">", "value": "0"}]},
        "actions": [{"type": "send_email", "to": ["party"], "language": "en", "attach_pdf": True,
                     "subject": "Reminder: invoice {{ document.number }} is overdue",
                     "body": "Dear {{ contact.first_name or party.name }},\n\n"
                             "invoice {{ document.number }} was due on {{ document.due_date }} and "
                             "{{ document.balance }} is still open. Please find it attached.\n\n"
                             "Kind regards,\n{{ company.name }}\n"}],
    },
    "payment_receipt": {
        "name": "Payment receipt to the customer",
        "description": "When an invoice is paid in full, thank its customer and confirm the payment.",
        "entity": "invoices",
        "trigger": {"event": "status_changed", "to_status": "Paid"},
        "conditions": {"match": "all", "items": []},
        "actions": [{"type": "send_email", "to": ["party"], "language": "en", "attach_pdf": False,
                     "subject": "Payment received for invoice {{ document.number }}",
                     "body": "Dear {{ contact.first_name or party.name }},\n\n"
                             "we have received your payment of {{ document.total }} for invoice "
                             "{{ document.number }}. Thank you.\n\nKind regards,\n{{ company.name }}\n"}],
    },
    "low_stock_alert": {
        "name": "Low-stock alert to purchasing",
        "description": "When a product's stock falls to its reorder level, tell the purchasing team (once a day "
                       "at most for each product).",
        "entity": "items",
        "trigger": {"event": "stock_changed"},
        "conditions": {"match": "all", "items": [
            {"field": "kind", "op": "=", "value": "product"},
            {"field": "reorder_level", "op": ">", "value": "0"},
            {"field": "on_hand", "op": "<=", "value_field": "reorder_level"}]},
        "actions": [{"type": "notify", "role": "purchasing",
                     "title": "Low stock: {{ record.name }}",
                     "message": "{{ record.name }} ({{ record.sku }}) has {{ record.on_hand }} on hand; its reorder "
                                "level is {{ record.reorder_level }}."}],
    },
}


def ensure_examples(session: Session) -> int:
    """Add the shipped example rules that are missing (off); returns how many were added."""
    have = set(session.scalars(select(WorkflowRule.example).where(WorkflowRule.example != "")))
    names = set(session.scalars(select(WorkflowRule.name)))
    added = 0
    for key, example in EXAMPLES.items():
        if key in have or example["name"] in names:
            continue
        values = check_rule(session, {**example, "enabled": False})
        session.add(WorkflowRule(**values, event=values["trigger"]["event"], webhook_secret="", example=key))
        added += 1
    if added:
        session.flush()
    return added


# --- triggers: from the hooks to queued runs -------------------------------------------------------

#: the hooks whose calls may fire rules (:func:`crm.services.hooks.call` hands them here)
WATCHED_HOOKS = frozenset({"crm_record_saved", "crm_records_saved", "crm_record_deleted", "crm_document_status_changed",
                           "crm_stock_moved", "crm_payment_event"})
_NEW_RUNS = "crm.workflows.new_runs"
_DELETED = "crm.workflows.deleted"


def on_hook(hook_name: str, kwargs: Mapping[str, Any]) -> None:
    """Fire the rules a hook's call concerns (called by :func:`crm.services.hooks.call`)."""
    session = kwargs.get("session")
    if session is None:
        return
    if hook_name == "crm_record_saved":
        entity = kwargs["entity"]
        if entity in ENTITIES:
            fire(session, "created" if kwargs.get("created") else "updated", entity, kwargs["record"])
    elif hook_name == "crm_records_saved":
        _fire_batch(session, kwargs["entity"], list(kwargs.get("record_ids") or ()), bool(kwargs.get("created")))
    elif hook_name == "crm_record_deleted":
        entity = kwargs["entity"]
        spec = ENTITIES.get(entity)
        if spec is not None:
            gone = session.info.get(_DELETED, {}).get((spec.model.__tablename__, kwargs["record_id"]))
            fire(session, "deleted", entity, gone, record_id=kwargs["record_id"])
    elif hook_name == "crm_document_status_changed":
        document = kwargs["document"]
        fire(session, "status_changed", entity_of_document(document), document, period=kwargs["new_status"],
             to_status=kwargs["new_status"])
    elif hook_name == "crm_stock_moved":
        product_ids = sorted({move.product_id for move in kwargs.get("moves") or [] if move.product_id})
        today = dt.date.today().isoformat()
        for product_id in product_ids:
            item = session.get(Item, product_id)
            if item is not None:
                fire(session, "stock_changed", "items", item, period=today)
    elif hook_name == "crm_payment_event":
        invoice, payment = kwargs.get("invoice"), kwargs.get("payment")
        key = f"payment_{kwargs.get('event')}"
        if invoice is not None and _has_rules(session, "invoices", key):
            declared = plugin_triggers().get(key)
            if declared is not None:
                fire(session, key, "invoices", invoice, period=str(getattr(payment, "id", "") or ""))


def _fire_batch(session: Session, entity: str, ids: list[int], created: bool) -> None:
    """``crm_records_saved``: the rules of each record's creation or change, the records read
    in one query, only when such rules exist."""
    event_key = "created" if created else "updated"
    spec = ENTITIES.get(entity)
    if spec is None or not ids or not _has_rules(session, entity, event_key):
        return
    with session.no_autoflush:
        found = {r.id: r for r in session.scalars(select(spec.model).where(spec.model.id.in_(ids)))}
    for record_id in ids:
        if record_id in found:
            fire(session, event_key, entity, found[record_id])


def _has_rules(session: Session, entity: str, event_key: str) -> bool:
    return bool(_rules_for(session, entity, event_key))


def _rules_for(session: Session, entity: str, event_key: str) -> list[tuple[int, dict, dict]]:
    """The enabled rules for an entity's event: (id, trigger, conditions). Every enabled rule is
    read in one query, kept by the process while no rule changes (:func:`once_per_configuration`;
    a bulk import fires thousands of saves, an approval a save and a status change); a rule added,
    changed or deleted in the session makes the next call read them again."""
    def read() -> dict[tuple[str, str], list[tuple[int, dict, dict]]]:
        grouped: dict[tuple[str, str], list[tuple[int, dict, dict]]] = {}
        for rule_id, rule_entity, rule_event, trigger, conditions in session.execute(
                select(WorkflowRule.id, WorkflowRule.entity, WorkflowRule.event, WorkflowRule.trigger,
                       WorkflowRule.conditions).where(WorkflowRule.enabled.is_(True)).order_by(WorkflowRule.id)):
            grouped.setdefault((rule_entity, rule_event), []).append((rule_id, trigger, conditions))
        return grouped
    return once_per_configuration(session, _RULES, read).get((entity, event_key), [])


_RULES = "crm.workflows.rules"
read_again_when_flushed(WorkflowRule, _RULES)
changes_configuration(WorkflowRule)


def fire(session: Session, event_key: str, entity: str, record: Any, *, period: str = "",
         record_id: int | None = None, to_status: str | None = None) -> list[int]:
    """A trigger happened to ``record`` (of ``entity``), in ``session``'s transaction: queue a run
    of every enabled rule for it whose conditions hold, unless that rule already ran for this
    record, trigger and ``period``. Plugins call it for the triggers they declare
    (``crm_workflow_triggers``). Returns the new runs' ids."""
    rules = _rules_for(session, entity, event_key)
    if not rules:
        return []
    record_id = record_id if record_id is not None else getattr(record, "id", None)
    if record_id is None:
        return []
    values = values_of(entity, record) if record is not None else {"id": record_id}
    made = []
    for rule_id, trigger, conditions in rules:
        if event_key == "status_changed" and trigger.get("to_status") and trigger["to_status"] != to_status:
            continue
        try:
            if not evaluate(entity, conditions, values):
                continue
            status, error = "queued", ""
        except Exception as exc:  # noqa: BLE001  a rule that cannot be evaluated is a failed run, not a 500
            status, error = "failed", f"the conditions could not be evaluated: {type(exc).__name__}: {exc}"
        run_id = _insert_run(session, rule_id=rule_id, entity=entity, record_id=record_id, event=event_key,
                             period=period, snapshot=snapshot(values), matched=describe(conditions) or "-",
                             status=status, error=error)
        if run_id is not None and status == "queued":
            made.append(run_id)
    if made:
        session.info.setdefault(_NEW_RUNS, []).extend(made)
    return made


def _insert_run(session: Session, **values: Any) -> int | None:
    """Insert a run unless its key is taken (ON CONFLICT DO NOTHING: on PostgreSQL a concurrent
    transaction's insert of the same key waits for it and then does nothing)."""
    now = utcnow()
    row = {**values, "attempts": 0, "steps": [], "created_at": now,
           "next_attempt_at": now if values["status"] == "queued" else None,
           "finished_at": None if values["status"] == "queued" else now}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, WorkflowRun.__table__)  # a Core insert: the ORM's bulk path costs more than the row
    statement = (insert(table).values(**row)
                 .on_conflict_do_nothing(index_elements=["rule_id", "entity", "record_id", "event", "period"])
                 .returning(table.c.id))
    with session.no_autoflush:
        return session.execute(statement).scalar_one_or_none()


@event.listens_for(Session, "persistent_to_deleted")
def _remember_deleted(session: Session, instance: Any) -> None:
    """Keep a deleted record (its loaded fields) until the commit, for the rules on deletions."""
    table = getattr(instance, "__tablename__", "")
    if table in ("accounts", "contacts", "vendors", "items", "documents"):
        session.info.setdefault(_DELETED, {})[(table, instance.id)] = instance


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's commit (fired too): the transaction goes on
    session.info.pop(_DELETED, None)
    run_ids = session.info.pop(_NEW_RUNS, None)
    if run_ids and has_app_context():
        dispatch(current_app._get_current_object(), run_ids)  # type: ignore[attr-defined]


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.info.pop(_DELETED, None)
    session.info.pop(_NEW_RUNS, None)


TASK = "crm.services.workflows:run_task"


def dispatch(app: Flask, run_ids: list[int]) -> None:
    """Queue the runs just committed. A queue that cannot be reached loses nothing: the
    ``workflow_runs`` job runs what is due every minute."""
    if app.config.get("WORKFLOWS_DISPATCH", True) is False:
        return
    try:
        from crm.worker import enqueue, queue
        if queue(app).immediate:
            return  # not inside the commit that queued them; the job runs them
        enqueue(app, TASK, run_ids=list(run_ids))
    except Exception as exc:  # noqa: BLE001
        log.warning("workflow runs %s not queued (%s); the workflow_runs job runs them", run_ids, exc)


# --- the date triggers ------------------------------------------------------------------------------

def scan_dates(session: Session, today: dt.date) -> int:
    """Queue a run of every enabled date rule for each record whose date field, plus the
    rule's offset, is today or past (once per record and date reached)."""
    rules = list(session.scalars(select(WorkflowRule).where(WorkflowRule.event == "date",
                                                            WorkflowRule.enabled.is_(True))))
    made = 0
    for rule in rules:
        spec = ENTITIES.get(rule.entity)
        field = rule.trigger.get("field")
        if spec is None or field not in fields_of(rule.entity):
            continue
        limit = today - dt.timedelta(days=int(rule.trigger.get("offset_days") or 0))
        column = getattr(spec.model, field)
        query: Any = select(spec.model).where(column.is_not(None), column <= limit)
        if spec.doc_type:
            query = query.where(spec.model.doc_type == spec.doc_type)
        done = select(WorkflowRun.record_id).where(WorkflowRun.rule_id == rule.id, WorkflowRun.event == "date")
        for record in session.scalars(query.where(spec.model.id.not_in(done)).order_by(spec.model.id).limit(5000)):
            values = values_of(rule.entity, record)
            period = getattr(record, field).isoformat()
            try:
                if not evaluate(rule.entity, rule.conditions, values):
                    continue
                status, error = "queued", ""
            except Exception as exc:  # noqa: BLE001
                status, error = "failed", f"the conditions could not be evaluated: {type(exc).__name__}: {exc}"
            if _insert_run(session, rule_id=rule.id, entity=rule.entity, record_id=record.id, event="date",
                           period=period, snapshot=snapshot(values), matched=describe(rule.conditions) or "-",
                           status=status, error=error) is not None:
                made += 1
    return made


def run_dates_job(session: Session, today: dt.date) -> dict[str, int]:
    """The ``workflow_dates`` job: :func:`scan_dates` (its runs are run by ``workflow_runs``)."""
    return {"queued": scan_dates(session, today)}


# --- running a run ----------------------------------------------------------------------------------

class RetryLater(Exception):
    """An action failed in a way that may pass (a webhook's 5xx, a timeout): try the run again later."""


def run_task(app: Flask, run_ids: list[int]) -> dict[str, int]:
    """The queue's task for runs just committed."""
    counts: dict[str, int] = {}
    for run_id in run_ids:
        status = execute(app, run_id)
        counts[status] = counts.get(status, 0) + 1
    return counts


def run_due(app: Flask, now: dt.datetime | None = None, limit: int = 200) -> dict[str, int]:
    """What the ``workflow_runs`` job does every minute: resume the runs of workers that stopped,
    then run every run that is due (queued, or waiting for a retry whose moment came)."""
    from crm.db import db
    now = now or utcnow()
    session = db.new_session(app)
    try:
        session.execute(update(WorkflowRun).where(WorkflowRun.status == "running",
                                                  WorkflowRun.claimed_at < now - STALE_AFTER)
                        .values(status="retry", next_attempt_at=now).execution_options(synchronize_session=False))
        session.commit()
        due = list(session.scalars(select(WorkflowRun.id).where(
            WorkflowRun.status.in_(("queued", "retry")),
            or_(WorkflowRun.next_attempt_at.is_(None), WorkflowRun.next_attempt_at <= now))
            .order_by(WorkflowRun.id).limit(limit)))
    finally:
        session.close()
    counts: dict[str, int] = {}
    for run_id in due:
        status = execute(app, run_id, now=now)
        counts[status] = counts.get(status, 0) + 1
    return counts


def run_runs_job(session: Session, today: dt.date) -> dict[str, int]:
    """The ``workflow_runs`` job (its own sessions: ``session`` stays unused)."""
    return run_due(current_app._get_current_object())  # type: ignore[attr-defined]


def execute(app: Flask, run_id: int, now: dt.datetime | None = None) -> str:
    """Take the run (one conditional UPDATE: one worker at a time) and do its actions not done
    yet, each in a transaction with its step; returns the run's status afterwards (``skipped``
    when another worker has it or it is not due)."""
    with app.app_context():
        return _take_and_execute(app, run_id, now or utcnow())


def _take_and_execute(app: Flask, run_id: int, now: dt.datetime) -> str:
    from crm.db import db
    session = db.new_session(app)
    try:
        taken = cast(CursorResult, session.execute(
            update(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.status.in_(("queued", "retry")),
                                      or_(WorkflowRun.next_attempt_at.is_(None), WorkflowRun.next_attempt_at <= now))
            .values(status="running", claimed_at=utcnow(), attempts=WorkflowRun.attempts + 1)
            .execution_options(synchronize_session=False))).rowcount
        session.commit()
        if not taken:
            return "skipped"
        return _execute(app, session, run_id, now)
    finally:
        session.close()


def _execute(app: Flask, session: Session, run_id: int, now: dt.datetime) -> str:
    run = session.get(WorkflowRun, run_id)
    rule = session.get(WorkflowRule, run.rule_id) if run is not None else None
    if run is None or rule is None:
        return "skipped"
    if not rule.enabled:
        _finish(session, run, "failed", _("the rule was turned off before the run"))
        return "failed"
    finished = {step["action"] for step in run.steps or [] if step.get("status") in ("done", "failed")}
    for i, action in enumerate(rule.actions):
        if i in finished:
            continue
        try:
            detail = _perform(app, session, rule, run, i, action)
        except RetryLater as exc:
            session.rollback()
            run = _run_of(session, run_id)
            attempts = _step_attempts(run, i) + 1
            if attempts >= WEBHOOK_ATTEMPTS:
                _step(run, i, action, "failed", _("%(reason)s; gave up after %(count)s attempts",
                                                  reason=str(exc), count=attempts), attempts)
                session.commit()
                continue
            _step(run, i, action, "retry", str(exc), attempts)
            run.status = "retry"
            run.next_attempt_at = now + dt.timedelta(seconds=WEBHOOK_BACKOFF[attempts - 1])
            run.error = str(exc)[:2000]
            session.commit()
            return "retry"
        except Exception as exc:  # noqa: BLE001  a failed action is recorded; the others still run
            session.rollback()
            run = _run_of(session, run_id)
            reason = exc.message if isinstance(exc, CRMError) else f"{type(exc).__name__}: {exc}"
            if isinstance(exc, CRMError) and exc.fields:
                reason += " (" + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in exc.fields.items()) + ")"
            if not isinstance(exc, CRMError):
                log.warning("workflow run %s, action %s failed", run_id, i, exc_info=exc)
            _step(run, i, action, "failed", reason[:2000], _step_attempts(run, i) + 1)
            session.commit()
            continue
        run = _run_of(session, run_id)
        _step(run, i, action, "done", detail[:2000], _step_attempts(run, i) + 1)
        session.commit()  # the action's effect and its step, together
    run = _run_of(session, run_id)
    failed = [s for s in run.steps if s.get("status") == "failed"]
    _finish(session, run, "failed" if failed else "done",
            "; ".join(f"{s['type']}: {s['detail']}" for s in failed)[:2000])
    return run.status


def _run_of(session: Session, run_id: int) -> WorkflowRun:
    run = session.get(WorkflowRun, run_id)
    if run is None:
        raise NotFound(f"workflow run {run_id} is gone")
    return run


def _step_attempts(run: WorkflowRun, i: int) -> int:
    return next((int(s.get("attempts") or 0) for s in run.steps or [] if s.get("action") == i), 0)


def _step(run: WorkflowRun, i: int, action: Mapping, status: str, detail: str, attempts: int) -> None:
    steps = [s for s in (run.steps or []) if s.get("action") != i]
    steps.append({"action": i, "type": action.get("type"), "status": status, "detail": detail,
                  "attempts": attempts, "at": utcnow().isoformat(timespec="seconds")})
    run.steps = sorted(steps, key=lambda s: s["action"])


def _finish(session: Session, run: WorkflowRun, status: str, error: str) -> None:
    run.status, run.error, run.finished_at, run.next_attempt_at = status, error, utcnow(), None
    session.commit()


# --- the actions ------------------------------------------------------------------------------------

def _context(session: Session, rule: WorkflowRule, run: WorkflowRun, record: Any, language: str) -> dict[str, Any]:
    from crm.services import email
    from crm.services.settings import get_setting
    spec = ENTITIES[run.entity]
    context: dict[str, Any] = {}
    if spec.doc_type and record is not None:
        context.update(email.document_context(session, record, language))
    elif spec.doc_type:
        context.update(email.sample_context(spec.doc_type, language))  # a deleted document: its snapshot is `record`
    context.setdefault("company", {"name": get_setting(session, "company_name") or "",
                                   "address": get_setting(session, "company_address") or ""})
    context["record"] = {**{name: "" for name in fields_of(run.entity)}, **(run.snapshot or {}), "id": run.record_id}
    context["rule"] = {"name": rule.name, "id": rule.id}
    context["event"] = run.event
    context["link"] = record_link(run.entity, run.record_id, run.snapshot or {})
    return {**_trigger_placeholders(session, run.event, run.period, language), **context}


def _perform(app: Flask, session: Session, rule: WorkflowRule, run: WorkflowRun, i: int, action: Mapping) -> str:
    kind = action.get("type")
    record = record_of(session, run.entity, run.record_id, for_update=kind == "update_field")
    plugin = plugin_actions()
    if kind in plugin:
        return plugin[kind].run(session=session, record=record, config=dict(action),
                                context=_context(session, rule, run, record, "en")) or ""
    if kind == "send_email":
        return _send_email(session, rule, run, record, action)
    if kind == "update_field":
        return _update_field(session, run, record, action)
    if kind == "add_comment":
        return _add_comment(session, rule, run, record, action, i)
    if kind == "notify":
        return _notify(session, rule, run, record, action, i)
    if kind == "webhook":
        return _call_webhook(app, rule, run, i, action)
    raise ValidationError.for_field("type", _("unknown action %(type)s", type=str(kind)[:40]))


def _add_comment(session: Session, rule: WorkflowRule, run: WorkflowRun, record: Any, action: Mapping,
                 i: int) -> str:
    """A comment on the record's activity timeline (``crm.services.timeline``: its @mentions
    notify); on a record already deleted, an ``audit_log`` entry of action ``comment``."""
    _subject, text = _render(" ", action["text"], _context(session, rule, run, record, "en"), f"actions[{i}]",
                             ("text", "text"))
    if record is None:
        session.add(AuditEntry(user_id=None, action="comment", entity=run.entity, entity_id=str(run.record_id),
                               changes={"comment": text, "workflow": rule.name, "rule_id": rule.id}))
        session.flush()
        return _("comment recorded in the audit trail (the record was deleted)")
    from crm.services import timeline
    entity = "documents" if ENTITIES[run.entity].doc_type else run.entity
    comment = timeline.add_comment(session, entity, run.record_id, text)
    return _("comment %(id)s added", id=comment.id)


def _addresses(session: Session, entity: str, record: Any, recipients: Iterable[str]) -> list[str]:
    spec = ENTITIES[entity]
    found: list[str] = []
    for item in recipients:
        if item == "party":
            if record is None:
                raise ValidationError.for_field("to", _("the record was deleted: it has no address"))
            if spec.doc_type:
                party = record.vendor if DOC_TYPES[spec.doc_type].party == "vendor" else record.account
                address = getattr(party, "email", "") or (record.contact.email if record.contact else "")
            else:
                address = getattr(record, "email", "") or ""
            if not address:
                raise ValidationError.for_field("to", _("the record's party has no email address"))
            found.append(address)
        elif item == "contact":
            contact = getattr(record, "contact", None) if spec.doc_type else (record if entity == "contacts" else None)
            if contact is None or not contact.email:
                raise ValidationError.for_field("to", _("the record has no contact with an email address"))
            found.append(contact.email)
        elif item.startswith("role:"):
            found.extend(u.email for u in session.scalars(select(User).where(User.role == item[5:],
                                                                             User.active.is_(True))) if u.email)
        elif item.startswith("user:"):
            user = session.get(User, int(item[5:]))
            if user is not None and user.active and user.email:
                found.append(user.email)
        else:
            found.append(item)
    unique = list(dict.fromkeys(found))
    if not unique:
        raise ValidationError.for_field("to", _("no recipient has an email address"))
    return unique


def _send_email(session: Session, rule: WorkflowRule, run: WorkflowRun, record: Any, action: Mapping) -> str:
    from crm.services import email
    language = action.get("language") or "en"
    spec = ENTITIES[run.entity]
    to = _addresses(session, run.entity, record, action.get("to") or [])
    cc = _addresses(session, run.entity, record, action["cc"]) if action.get("cc") else []
    subject, body = action.get("subject") or "", action.get("body") or ""
    if subject or body:
        subject, body = _render(subject, body, _context(session, rule, run, record, language), "action")
    if action.get("attach_pdf") and spec.doc_type and record is not None:
        data: dict[str, Any] = {"to": to, "cc": cc, "language": language}
        if subject:
            data.update(subject=subject, body=body)
        message = email.send_document(session, record, data)
    else:
        message = email.queue_message(session, to=to, cc=cc, subject=subject, body=body, language=language,
                                      record_type="document" if spec.doc_type else run.entity,
                                      record_id=run.record_id)
    return _("email %(message_id)s queued to %(to)s", message_id=message.message_id, to=", ".join(message.to))


def _update_field(session: Session, run: WorkflowRun, record: Any, action: Mapping) -> str:
    from crm.services import accounts, contacts, documents, items, vendors
    if record is None:
        raise NotFound(_("the record was deleted"))
    field, raw = action["field"], action.get("value")
    kind = fields_of(run.entity).get(field, "text")
    value = _typed(kind, raw, "value") if raw not in (None, "") or kind == "text" else None
    if kind == "text" and value is None:
        value = ""
    spec = ENTITIES[run.entity]
    if spec.doc_type:
        if field == "status":
            documents.change_status(session, record, str(value), note=f"workflow: {run.rule_id}")
        else:
            documents.update_document(session, record, {field: value})
    else:
        services: dict[str, Callable[..., Any]] = {
            "accounts": accounts.update_account, "contacts": contacts.update_contact,
            "vendors": vendors.update_vendor, "items": items.update_item}
        service = services[run.entity]
        service(session, record, {field: value})
    session.flush()
    return _("%(field)s set to %(value)s", field=field, value=str(value)[:200])


def _notify(session: Session, rule: WorkflowRule, run: WorkflowRun, record: Any, action: Mapping, i: int) -> str:
    title, message = _render(action["title"], action.get("message") or "",
                             _context(session, rule, run, record, "en"), f"actions[{i}]", ("title", "message"))
    if action.get("role"):
        users = list(session.scalars(select(User).where(User.role == action["role"], User.active.is_(True))))
    else:
        user = session.get(User, int(action["user_id"]))
        users = [user] if user is not None and user.active else []
    if not users:
        raise NotFound(_("nobody to notify: no active user %(who)s", who=action.get("role") or action.get("user_id")))
    link = record_link(run.entity, run.record_id, run.snapshot or {}) if run.event != "deleted" else ""
    for user in users:
        session.add(Notification(user_id=user.id, title=title[:250], body=message, link=link,
                                 source=f"workflow:{rule.id}"))
    session.flush()
    return _("%(count)s users notified", count=len(users))


# --- webhooks ---------------------------------------------------------------------------------------

class WebhookRefused(Exception):
    """A webhook that must not be called (its address) or whose answer will not change."""


def _vetted_address(host: str, port: int) -> str:
    """The address to connect to for ``host``: refused (:class:`WebhookRefused`) when any address
    it resolves to is loopback, private, link-local, reserved or multicast (the server's own
    network). The connection is made to the address checked here, so a name that resolves to
    another address a moment later (DNS rebinding) cannot reach the network either."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise WebhookRefused(_("%(host)s is an address of a private network (%(address)s); webhooks call public "
                                   "addresses only", host=host, address=str(address)))
    return str(infos[0][4][0])


def _public_only_session() -> Any:
    """A ``requests`` session that connects only to public addresses (:func:`_vetted_address`),
    checked when the socket is opened (TLS still checks the certificate of the host named), and
    ignores proxies of the environment (a proxy would connect where it likes)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.util import connection

    def new_conn(self: Any) -> socket.socket:
        return connection.create_connection((_vetted_address(self._dns_host, self.port), self.port), self.timeout,
                                            source_address=self.source_address, socket_options=self.socket_options)

    http = type("PublicHTTPConnection", (HTTPConnection,), {"_new_conn": new_conn})
    https = type("PublicHTTPSConnection", (HTTPSConnection,), {"_new_conn": new_conn})
    pools = {"http": type("PublicHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
             "https": type("PublicHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https})}

    class PublicAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

    session = requests.Session()
    session.trust_env = False
    session.mount("http://", PublicAdapter())
    session.mount("https://", PublicAdapter())
    return session


def webhook_body(rule: WorkflowRule, run: WorkflowRun, i: int) -> bytes:
    """The JSON a webhook action sends: the same bytes at every attempt."""
    payload = {"delivery": f"{run.id}-{i}", "rule": {"id": rule.id, "name": rule.name}, "event": run.event,
               "entity": run.entity, "record_id": run.record_id, "period": run.period, "record": run.snapshot,
               "matched": run.matched, "run_id": run.id}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _call_webhook(app: Flask, rule: WorkflowRule, run: WorkflowRun, i: int, action: Mapping) -> str:
    import requests
    url = check_webhook_url(action.get("url"))
    body = webhook_body(rule, run, i)
    headers = {"Content-Type": "application/json", "User-Agent": "crm-workflows",
               "X-CRM-Signature": sign(webhook_secret(rule), body), "X-CRM-Delivery": f"{run.id}-{i}",
               "X-CRM-Event": run.event}
    timeout = float(app.config.get("WORKFLOW_WEBHOOK_TIMEOUT") or WEBHOOK_TIMEOUT)
    client = requests.Session() if app.config.get("WORKFLOW_WEBHOOK_ALLOW_PRIVATE") else _public_only_session()
    try:
        with client, client.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False,
                                 stream=True) as answer:
            excerpt = answer.raw.read(500, decode_content=True).decode("utf-8", "replace").strip()
            code = answer.status_code
    except WebhookRefused as exc:
        raise ValidationError.for_field("url", str(exc)) from None
    except requests.Timeout:
        raise RetryLater(_("no answer within %(seconds)s seconds", seconds=timeout)) from None
    except requests.RequestException as exc:
        raise RetryLater(_("could not connect: %(reason)s", reason=type(exc).__name__)) from None
    said = f"HTTP {code}" + (f": {excerpt[:200]}" if excerpt else "")
    if 200 <= code < 300:
        return said
    if code >= 500 or code in (408, 425, 429):
        raise RetryLater(said)
    raise ValidationError.for_field("url", _("refused (%(answer)s); not tried again", answer=said))


# --- in-app notifications ---------------------------------------------------------------------------

def unread_count(session: Session, user_id: int) -> int:
    from sqlalchemy import func
    return session.scalar(select(func.count(Notification.id)).where(Notification.user_id == user_id,
                                                                    Notification.read_at.is_(None))) or 0


def notifications_of(session: Session, user_id: int, limit: int = 100) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.user_id == user_id)
                                .order_by(Notification.id.desc()).limit(limit)))


def mark_read(session: Session, user_id: int, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read (or all of them); returns how many."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    done = session.execute(query.values(read_at=utcnow()).execution_options(synchronize_session=False))
    return cast(CursorResult, done).rowcount


__all__ = ["WorkflowAction", "WorkflowTrigger", "fire", "fields_of", "check_conditions", "evaluate", "sign"]
