"""Canonical records: normalising, hashing and comparing them.

Both sides are compared in the CRM's shape (see :mod:`crm.accounting_connectors`): money and
quantities as normalised decimal strings, dates as ISO strings. A hash of the
normalised JSON tells whether a side changed since the last sync; the field-level
diff drives the three-way merge.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

from crm.accounting_connectors import canonical_decimal, dec, iso  # noqa: F401  (the canonical values live in the core)


def normalise(value):
    """JSON-able, deterministic: Decimals as strings, dicts sorted, None-valued keys dropped
    from nested dicts (an empty address field and a missing one are the same)."""
    if isinstance(value, Decimal):
        return dec(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return iso(value)
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, str):
        return value.strip()
    return value


def digest(record: dict | None) -> str | None:
    if record is None:
        return None
    text = json.dumps(normalise(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def changed_fields(now: dict, base: dict | None) -> set[str]:
    """Top-level keys whose value differs from ``base`` (every key when there is no base).
    ``custom`` is compared per custom field (``custom.<key>``)."""
    now, base = normalise(now or {}), normalise(base or {}) if base is not None else None
    keys = set(now) | set(base or {})
    out = set()
    for key in keys:
        if key == "custom":
            mine, theirs = now.get("custom") or {}, (base or {}).get("custom") or {}
            for ck in set(mine) | set(theirs):
                if base is None or mine.get(ck) != theirs.get(ck):
                    out.add(f"custom.{ck}")
            continue
        if base is None or now.get(key) != base.get(key):
            out.add(key)
    return out


def get(record: dict, key: str):
    if key.startswith("custom."):
        return (record.get("custom") or {}).get(key[7:])
    return record.get(key)


def put(record: dict, key: str, value) -> None:
    if key.startswith("custom."):
        record.setdefault("custom", {})[key[7:]] = value
    else:
        record[key] = value


def restrict(record: dict, keys) -> dict:
    """Only ``keys`` (and the ``custom.<key>`` ones) of ``record``."""
    out = {}
    for key in keys:
        value = get(record, key)
        if key.startswith("custom.") and value is None and key[7:] not in (record.get("custom") or {}):
            continue
        put(out, key, value)
    return out
