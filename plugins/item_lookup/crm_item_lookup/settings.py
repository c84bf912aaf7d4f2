"""The picker's settings.

The facet fields of each kind live in the plugin's own table
(``item_lookup_facet_fields``), because the database triggers read them to fill
``item_lookup_entries.f1..f3``; the rest (which kind opens first, which switches
are shown, the picture column) is kept in the core's settings table under the
namespace ``item_lookup``.

A facet field is an item column that holds text (``category``, ``subcategory``,
``manufacturer``, ``usage_unit``) or an active custom field of entity ``items``
of type text or select, written ``custom.<key>`` (a bare ``<key>`` is accepted
when it is not a column name, and stored as ``custom.<key>``).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import ValidationError
from crm.models import CustomField
from crm.services.settings import all_settings, set_setting
from crm_item_lookup import sync
from crm_item_lookup.models import FacetFields

NAMESPACE = "item_lookup"
KINDS = ("product", "service", "bundle")
SWITCHES = ("in_stock", "include_inactive", "bundles_only")
MAX_FACETS = 3
CUSTOM_PREFIX = "custom."
CUSTOM_TYPES = ("text", "select")
BUILTIN_LABELS = {"category": _l("Category"), "subcategory": _l("Subcategory"),
                  "manufacturer": _l("Manufacturer"), "usage_unit": _l("Usage unit")}

DEFAULT_FACETS = {
    "product": ["category", "subcategory", "manufacturer"],
    "service": ["category"],
    "bundle": ["category", "subcategory", "manufacturer"],
}
DEFAULTS = {
    "default_kind": "product",
    "switches": list(SWITCHES),
    "show_picture": False,
    "picture_field": None,
}


@dataclass(frozen=True)
class Field:
    """A field that can be a facet: its canonical name and label."""

    name: str
    label: str
    type: str
    builtin: bool


def _custom_fields(session: Session, types: tuple[str, ...] = CUSTOM_TYPES) -> dict[str, CustomField]:
    stmt = (select(CustomField).where(CustomField.entity == "items", CustomField.active.is_(True),
                                      CustomField.type.in_(types))
            .order_by(CustomField.position, CustomField.id))
    return {f.key: f for f in session.scalars(stmt)}


def available_fields(session: Session) -> list[Field]:
    """Every field an admin may choose as a facet, built-in ones first."""
    fields = [Field(name, str(label), "text", True) for name, label in BUILTIN_LABELS.items()]
    fields += [Field(CUSTOM_PREFIX + key, f.label, f.type, False) for key, f in _custom_fields(session).items()]
    return fields


def canonical(name: object, custom: dict[str, CustomField]) -> str | None:
    """``category`` -> ``category``; ``custom.color`` or ``color`` -> ``custom.color`` (an active text
    or select custom field of items); anything else -> None."""
    if not isinstance(name, str):
        return None
    if name in BUILTIN_LABELS:
        return name
    key = name[len(CUSTOM_PREFIX):] if name.startswith(CUSTOM_PREFIX) else name
    return CUSTOM_PREFIX + key if key in custom else None


# --- reading --------------------------------------------------------------------------------------

def facet_config(session: Session) -> dict[str, list[str | None]]:
    """The configured facet fields of each kind, by position (``[f1, f2, f3]``, None where unset)."""
    rows = {row.kind_key: row for row in session.scalars(select(FacetFields))}
    config: dict[str, list[str | None]] = {}
    for kind in KINDS:
        row = rows.get(kind)
        config[kind] = [row.f1, row.f2, row.f3] if row is not None else [None, None, None]
    return config


def load(session: Session) -> dict:
    stored = all_settings(session, NAMESPACE)
    values = {key: stored.get(key, default) for key, default in DEFAULTS.items()}
    values["facets"] = {kind: [f for f in fields if f] for kind, fields in facet_config(session).items()}
    return values


@dataclass(frozen=True)
class Snapshot:
    """Everything a search needs to know about the settings, read in three small queries (and
    cached by the search for as long as ``item_lookup_state.generation`` does not change: saving
    settings and changing custom fields raise it)."""

    facets: dict            # kind -> the fields still usable, by position: a custom field deactivated
                            # or deleted since it was chosen is None until the admin picks another
    custom_labels: dict     # custom.<key> -> label
    values: dict            # as load() returns them

    def label(self, name: str) -> str:
        if name in BUILTIN_LABELS:
            return str(BUILTIN_LABELS[name])
        return self.custom_labels.get(name, name)

    @property
    def default_kind(self) -> str:
        kind = self.values.get("default_kind")
        return kind if kind in KINDS else "product"


def snapshot(session: Session) -> Snapshot:
    custom = _custom_fields(session)
    config = facet_config(session)
    stored = all_settings(session, NAMESPACE)
    values = {key: stored.get(key, default) for key, default in DEFAULTS.items()}
    values["facets"] = {kind: [f for f in fields if f] for kind, fields in config.items()}
    effective = {kind: [f if f is not None and canonical(f, custom) == f else None for f in fields]
                 for kind, fields in config.items()}
    return Snapshot(effective, {CUSTOM_PREFIX + k: f.label for k, f in custom.items()}, values)


# --- changing -------------------------------------------------------------------------------------

def save(session: Session, values: dict) -> dict:
    """Validate and store the given settings (others keep their value). A change of a kind's
    facet fields recomputes that kind's entries in the same transaction."""
    values = dict(values)
    custom = _custom_fields(session)
    if "default_kind" in values and values["default_kind"] not in KINDS:
        raise ValidationError.for_field("default_kind", _("must be one of %(choices)s", choices=", ".join(KINDS)))
    if "switches" in values:
        values["switches"] = _switches(values["switches"])
    if "show_picture" in values and not isinstance(values["show_picture"], bool):
        raise ValidationError.for_field("show_picture", _("must be true or false"))
    if "picture_field" in values:
        values["picture_field"] = _picture_field(values["picture_field"], custom)
    facets = _facets(values.pop("facets"), custom) if "facets" in values else {}
    for key in DEFAULTS:
        if key in values:
            set_setting(session, key, values[key], namespace=NAMESPACE)
    if facets:
        _store_facets(session, facets)
    session.flush()
    sync.bump(session.connection())  # cached settings and counts are not reused
    return load(session)


def _switches(switches: object) -> list[str]:
    if not isinstance(switches, list):
        raise ValidationError.for_field("switches", _("must be a list"))
    for index, name in enumerate(switches):
        if name not in SWITCHES:
            raise ValidationError.for_field(f"switches.{index}",
                                            _("must be one of %(choices)s", choices=", ".join(SWITCHES)))
    if len(set(switches)) != len(switches):
        raise ValidationError.for_field("switches", _("a switch is listed twice"))
    return [name for name in SWITCHES if name in switches]


def _picture_field(name: object, custom: dict[str, CustomField]) -> str | None:
    if name in (None, ""):
        return None
    texts = {k: f for k, f in custom.items() if f.type == "text"}
    found = canonical(name, texts) if name not in BUILTIN_LABELS else None
    if found is None:
        raise ValidationError.for_field("picture_field", _("must be an active custom field of items of type text "
                                                           "(holding the picture's URL)"))
    return found


def _facets(facets: object, custom: dict[str, CustomField]) -> dict[str, list[str]]:
    if not isinstance(facets, dict):
        raise ValidationError.for_field("facets", _("must map product, service and bundle to lists of fields"))
    result = {}
    for kind, names in facets.items():
        if kind not in KINDS:
            raise ValidationError.for_field(f"facets.{kind}", _("unknown kind; use %(choices)s",
                                                                 choices=", ".join(KINDS)))
        if not isinstance(names, list):
            raise ValidationError.for_field(f"facets.{kind}", _("must be a list of fields"))
        if len(names) > MAX_FACETS:
            raise ValidationError.for_field(f"facets.{kind}", _("at most %(max)s fields", max=MAX_FACETS))
        chosen = []
        for index, name in enumerate(names):
            field = canonical(name, custom)
            if field is None:
                raise ValidationError.for_field(
                    f"facets.{kind}.{index}",
                    _("%(name)s is not a text or select field of items; use one of: %(choices)s", name=repr(name),
                      choices=", ".join(list(BUILTIN_LABELS) + [CUSTOM_PREFIX + k for k in custom])))
            if field in chosen:
                raise ValidationError.for_field(f"facets.{kind}.{index}", _("%(field)s is listed twice", field=field))
            chosen.append(field)
        result[kind] = chosen
    return result


def _store_facets(session: Session, facets: dict[str, list[str]]) -> None:
    current = facet_config(session)
    changed = []
    for kind, fields in facets.items():
        padded = (fields + [None] * MAX_FACETS)[:MAX_FACETS]
        if padded == current[kind]:
            continue
        row = session.get(FacetFields, kind)
        if row is None:
            row = FacetFields(kind_key=kind)
            session.add(row)
        row.f1, row.f2, row.f3 = padded
        changed.append(kind)
    session.flush()
    for kind in changed:
        sync.rebuild(session.connection(), kind)
