"""The connection settings form of the pages: from the stored settings to the form's values and
back, with every problem reported on its field.

Field names are the paths the API reports in a 422's ``fields`` (so an error lands beside its
input): ``settings.<key>`` (the connector's own fields, :func:`crm.accounting_connectors.settings_fields`),
``secrets.<key>`` (write-only, blank keeps what is stored; ``forget.<key>`` removes it),
``settings.entities.<entity>.direction|policy``, ``settings.schedule_minutes``,
``settings.background_threshold``, ``settings.mappings.<n>.entity|local|remote|direction|map|default``
(rows; a row left blank or marked ``remove`` goes) and ``settings.value_maps.<map>.<n>.ours|theirs``.
Keys of the settings the form does not show (``retry``, ``initial_cutoff``, ...) are kept.
"""
from __future__ import annotations

from crm.accounting_connectors import settings_fields
from crm.money import is_digits
from crm_accounting_sync.connections import RESERVED, default_direction

VALUE_MAPS = ("tax_codes", "payment_methods")
MAPPING_KEYS = ("entity", "local", "remote", "direction", "map", "default")


def _map_text(mapping: dict | None) -> str:
    return "\n".join(f"{k} = {v}" for k, v in (mapping or {}).items())


def values_of(settings: dict, cls) -> dict:
    """The form's values for stored settings (every value a string, rows as lists)."""
    settings = settings or {}
    values: dict = {"fields": {}, "entities": {}, "mappings": [], "value_maps": {}}
    for f in settings_fields(cls) if cls else ():
        if not f.secret:
            value = settings.get(f.name)
            values["fields"][f.name] = "" if value is None else str(value)
    for entity in (cls.entities if cls else ()):
        cfg = (settings.get("entities") or {}).get(entity) or {}
        values["entities"][entity] = {"direction": cfg.get("direction", default_direction(cls, entity)),
                                      "policy": cfg.get("policy", "newest")}
    for key in ("schedule_minutes", "background_threshold"):
        values[key] = "" if settings.get(key) is None else str(settings[key])
    for m in settings.get("mappings") or []:
        values["mappings"].append({"entity": m.get("entity") or "", "local": m.get("local") or "",
                                   "remote": m.get("remote") or "", "direction": m.get("direction") or "both",
                                   "map": _map_text(m.get("map")),
                                   "default": "" if m.get("default") is None else str(m["default"])})
    maps = settings.get("value_maps") or {}
    for name in list(VALUE_MAPS) + [n for n in maps if n not in VALUE_MAPS]:
        values["value_maps"][name] = [{"ours": str(k), "theirs": str(v)} for k, v in (maps.get(name) or {}).items()]
    return values


def parse(form, cls, stored: dict) -> tuple[dict, dict, dict, dict]:
    """The submitted form -> (settings, secrets, values to show again, errors by field)."""
    errors: dict[str, list[str]] = {}
    values = values_of({}, cls)
    settings = {k: v for k, v in (stored or {}).items()
                if k not in ("entities", "mappings", "value_maps", "schedule_minutes", "background_threshold")}
    secrets = _read_fields(form, cls, settings, values)
    settings["entities"] = _read_entities(form, cls, stored, values)
    for key in ("schedule_minutes", "background_threshold"):
        raw = form.get(f"settings.{key}", "").strip()
        values[key] = raw
        if raw:
            settings[key] = int(raw) if is_digits(raw) else raw   # validation reports what is not a number
    settings["mappings"] = _read_mappings(form, values, errors)
    settings["value_maps"] = _read_value_maps(form, stored, values, errors)
    return settings, secrets, values, errors


def _read_fields(form, cls, settings: dict, values: dict) -> dict:
    """The connector's own settings into ``settings``; returns the secrets typed (None: forget it)."""
    secrets: dict = {}
    for f in settings_fields(cls):
        if f.secret:
            if form.get(f"forget.{f.name}"):
                secrets[f.name] = None
            elif form.get(f"secrets.{f.name}", "").strip():
                secrets[f.name] = form[f"secrets.{f.name}"].strip()
            continue
        if f.name in RESERVED:
            continue
        raw = form.get(f"settings.{f.name}", "").strip()
        values["fields"][f.name] = raw
        settings.pop(f.name, None)
        if raw:
            settings[f.name] = int(raw) if f.type == "int" and is_digits(raw) else raw
    return secrets


def _read_entities(form, cls, stored: dict, values: dict) -> dict:
    """Each entity's direction and policy; a default left as shown stays unset."""
    entities = {}
    configured = (stored or {}).get("entities") or {}
    for entity in cls.entities:
        default = default_direction(cls, entity)
        direction = form.get(f"settings.entities.{entity}.direction", default)
        policy = form.get(f"settings.entities.{entity}.policy", "newest")
        values["entities"][entity] = {"direction": direction, "policy": policy}
        if entity in configured or (direction, policy) != (default, "newest"):
            entities[entity] = {"direction": direction, "policy": policy}
    return entities


def _read_mappings(form, values: dict, errors: dict[str, list[str]]) -> list[dict]:
    """The field mappings' rows, but the removed and the empty ones."""
    mappings: list[dict] = []
    for n in _row_numbers(form, "settings.mappings."):
        row = {k: form.get(f"settings.mappings.{n}.{k}", "").strip() for k in MAPPING_KEYS}
        if form.get(f"settings.mappings.{n}.remove") or not (row["local"] or row["remote"] or row["map"]):
            continue
        at = len(mappings)
        values["mappings"].append(row)
        mapping = {"entity": row["entity"], "local": row["local"], "remote": row["remote"],
                   "direction": row["direction"] or "both"}
        if row["local"] and not row["local"].startswith("custom."):
            mapping["local"] = "custom." + row["local"]
            row["local"] = mapping["local"]
        pairs, problem = _pairs(row["map"])
        if problem:
            errors.setdefault(f"settings.mappings.{at}.map", []).append(problem)
        if pairs:
            mapping["map"] = pairs
        if row["default"]:
            mapping["default"] = row["default"]
        mappings.append(mapping)
    return mappings


def _read_value_maps(form, stored: dict, values: dict, errors: dict[str, list[str]]) -> dict:
    """Each value map's pairs (ours -> theirs), both sides required, ours once."""
    maps = {}
    names = list(VALUE_MAPS) + [n for n in (stored or {}).get("value_maps", {}) if n not in VALUE_MAPS]
    for name in names:
        rows, pairs = [], {}
        for n in _row_numbers(form, f"settings.value_maps.{name}."):
            ours = form.get(f"settings.value_maps.{name}.{n}.ours", "").strip()
            theirs = form.get(f"settings.value_maps.{name}.{n}.theirs", "").strip()
            if not ours and not theirs:
                continue
            at = len(rows)
            rows.append({"ours": ours, "theirs": theirs})
            if not ours:
                errors.setdefault(f"settings.value_maps.{name}.{at}.ours", []).append("is required")
            elif not theirs:
                errors.setdefault(f"settings.value_maps.{name}.{at}.theirs", []).append("is required")
            elif ours in pairs:
                errors.setdefault(f"settings.value_maps.{name}.{at}.ours", []).append("appears twice")
            else:
                pairs[ours] = theirs
        values["value_maps"][name] = rows
        if pairs:
            maps[name] = pairs
    return maps


def _row_numbers(form, prefix: str) -> list[int]:
    numbers = set()
    for key in form.keys():
        if key.startswith(prefix):
            head = key[len(prefix):].split(".", 1)[0]
            if is_digits(head):
                numbers.add(int(head))
    return sorted(numbers)


def _pairs(text: str) -> tuple[dict, str | None]:
    pairs = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        ours, sep, theirs = line.partition("=")
        if not sep or not ours.strip():
            return pairs, "write one 'ours = theirs' per line"
        pairs[ours.strip()] = theirs.strip()
    return pairs, None
