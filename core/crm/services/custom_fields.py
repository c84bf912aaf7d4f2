"""Admin-defined custom fields and the validation of the values records carry.

A record keeps its values in its ``custom`` dict (key -> value). Values are
stored JSON-ready: text, whole numbers, decimals as strings, dates as ISO
strings, booleans, a select's choice. A value left behind by a field that was
later deactivated or deleted stays on the record: it may be sent back
unchanged or cleared with ``null``, but not changed.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import dates
from crm.errors import Conflict, ValidationError
from crm.models import CustomField
from crm.models.catalog import CUSTOM_FIELD_ENTITIES, CUSTOM_FIELD_TYPES
from crm.money import decimal_text, is_whole, parse_decimal
from crm.services.records import (
    apply_changes,
    check_version,
    deleted,
    flush,
    get_or_404,
    once_per_transaction,
    read_again_when_flushed,
    saved,
)

KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}\Z")
MAX_TEXT = 2000
MAX_CHOICES = 200
#: what a PATCH may not change: the values already stored depend on them
FIXED = ("entity", "key", "type")
ENTITY = "custom_fields"
UNIQUE = {"key": ("uq_custom_fields_entity_key", "custom_fields.entity")}


def fields_for(session: Session, entity: str, *, active_only: bool = True) -> list[CustomField]:
    """The custom fields of ``entity`` in their order (only the active ones with ``active_only``).
    Every field is read in one query once per transaction (an import checks thousands of records'
    values); a field added, changed or deleted in the session makes the next call read them again."""
    every = once_per_transaction(session, _FIELDS, lambda: list(session.scalars(
        select(CustomField).order_by(CustomField.position, CustomField.id))))
    return [f for f in every if f.entity == entity and (f.active or not active_only)]


_FIELDS = "crm.custom_fields.fields"
read_again_when_flushed(CustomField, _FIELDS)


def validate_custom(session: Session, entity: str, values: dict | None, *, current: dict | None = None,
                    field_prefix: str = "custom", fields: list[CustomField] | None = None) -> dict:
    """Check ``values`` against the custom fields of ``entity`` and return the
    record's new ``custom`` dict (``current`` updated with ``values``).
    Unknown keys, wrong types and missing required values are a 422 naming the field.
    ``fields``: the active fields of ``entity``, when the caller already read them
    (:func:`fields_for`; a batch of records checks them once)."""
    definitions = {f.key: f for f in (fields if fields is not None else fields_for(session, entity))}
    result = dict(current or {})
    for key, value in (values or {}).items():
        definition = definitions.get(key)
        where = f"{field_prefix}.{key}"
        if definition is not None:
            result[key] = _convert(definition, value, where)
        elif key in result and value is None:
            del result[key]  # clearing a value left by a removed field
        elif key not in result or value != result[key]:
            raise ValidationError.for_field(where, _("unknown custom field") if key not in result else
                                            _("this custom field was removed or deactivated: send it unchanged "
                                              "or null"))
    for key, definition in definitions.items():
        if definition.required and result.get(key) in (None, ""):
            raise ValidationError.for_field(f"{field_prefix}.{key}", _("is required"))
    return result


def check_change(session: Session, entity: str, record: Any, data: dict) -> None:
    """A change ``data`` of a record of ``entity`` checked before it is set: the version it was
    read at (``data["version"]``, popped; 409 when stale) and its custom fields
    (``data["custom"]`` becomes the record's new ``custom`` dict, :func:`validate_custom`)."""
    check_version(record, data.pop("version", None))
    if "custom" in data:
        data["custom"] = validate_custom(session, entity, data["custom"], current=record.custom)


def _convert(definition: CustomField, value: Any, where: str) -> Any:
    """The JSON-storable value for ``definition``: decimals and dates as ISO strings."""
    if value is None:
        return None
    convert = _CONVERTERS.get(definition.type)
    if convert is None:
        raise ValidationError.for_field(where, _("unsupported type %(type)s", type=definition.type))
    return convert(definition, value, where)


def _text(definition: CustomField, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValidationError.for_field(where, _("must be text"))
    if len(value) > MAX_TEXT:
        raise ValidationError.for_field(where, _("must be at most %(count)s characters", count=MAX_TEXT))
    if "\x00" in value or not _encodable(value):
        raise ValidationError.for_field(where, _("must be text without NUL characters or lone surrogates"))
    return value


def _boolean(definition: CustomField, value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError.for_field(where, _("must be true or false"))
    return value


def _number(definition: CustomField, value: Any, where: str) -> int | str:
    """A ``number`` field's whole number, a ``decimal`` field's decimal as text. A JSON number
    with a fraction reaches here as a float (the API's request parser reads JSON that way): it
    is taken as the digits it was written with (``repr``), as the API's decimal fields take it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValidationError.for_field(where, _("must be a number"))
    try:   # text: ASCII digits, a sign and one dot (never "1_000" or "١٢")
        if isinstance(value, float):
            value = Decimal(repr(value))
        number = parse_decimal(value) if isinstance(value, str) else Decimal(value)
    except ValueError:
        raise ValidationError.for_field(where, _("must be a number")) from None
    if not number.is_finite() or abs(number) >= Decimal("1e15"):
        raise ValidationError.for_field(where, _("must be a finite number below 10^15"))
    if definition.type == "decimal":
        return decimal_text(number)
    if not is_whole(number):
        raise ValidationError.for_field(where, _("must be a whole number"))
    return int(number)


def _date(definition: CustomField, value: Any, where: str) -> str:
    if isinstance(value, str):
        try:
            return dates.parse_date(value).isoformat()
        except dates.OutOfRange:
            raise ValidationError.for_field(where, dates.range_message()) from None
        except ValueError:
            pass
    raise ValidationError.for_field(where, _("must be a date (YYYY-MM-DD)"))


def _select(definition: CustomField, value: Any, where: str) -> Any:
    if isinstance(value, (dict, list)) or value not in (definition.choices or []):
        raise ValidationError.for_field(where, _("must be one of: %(choices)s",
                                                 choices=", ".join(map(str, definition.choices))))
    return value


#: how a value of each type of custom field is checked and stored
_CONVERTERS: dict[str, Callable[[CustomField, Any, str], Any]] = {"text": _text, "boolean": _boolean, "number": _number, "decimal": _number, "date": _date,
               "select": _select}


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- the definitions ----------------------------------------------------------

def get_field(session: Session, field_id: int, *, for_update: bool = False) -> CustomField:
    return get_or_404(session, CustomField, field_id, _("custom field"), for_update=for_update)


def create_field(session: Session, data: dict) -> CustomField:
    entity, key, kind = data.get("entity"), data.get("key"), data.get("type")
    if entity not in CUSTOM_FIELD_ENTITIES:
        raise ValidationError.for_field("entity", _("must be one of %(choices)s",
                                                    choices=", ".join(CUSTOM_FIELD_ENTITIES)))
    if not isinstance(key, str) or not KEY.match(key):
        raise ValidationError.for_field("key", _("use lower case letters, digits and _ (starting with a letter)"))
    if kind not in CUSTOM_FIELD_TYPES:
        raise ValidationError.for_field("type", _("must be one of %(choices)s", choices=", ".join(CUSTOM_FIELD_TYPES)))
    _check_choices(kind, data.get("choices") or [])
    if session.scalar(select(CustomField.id).where(CustomField.entity == entity, CustomField.key == key)):
        raise Conflict(_("%(entity)s already have a custom field %(key)s", entity=entity, key=repr(key)),
                       {"key": [_("already exists")]})
    field = CustomField(**data)
    session.add(field)
    flush(session, UNIQUE)
    saved(session, ENTITY, field, True)
    return field


def update_field(session: Session, field: CustomField, data: dict) -> CustomField:
    """Change label, choices, required, position or active; entity, key and type are fixed."""
    for name in FIXED:
        if name in data and data.pop(name) != getattr(field, name):
            raise ValidationError.for_field(name, _("cannot be changed; create a new field instead"))
    _check_choices(field.type, data.get("choices", field.choices) or [])
    apply_changes(field, data)
    flush(session)
    saved(session, ENTITY, field, False)
    return field


def delete_field(session: Session, field: CustomField) -> None:
    """Delete a definition. Values records already carry stay with them (see the module doc);
    deactivating keeps the field for later instead."""
    field_id = field.id
    session.delete(field)
    flush(session)
    deleted(session, ENTITY, field_id)


def _check_choices(kind: str, choices: list) -> None:
    if kind == "select":
        if not choices:
            raise ValidationError.for_field("choices", _("a select field needs choices"))
        if len(set(choices)) != len(choices):
            raise ValidationError.for_field("choices", _("the same choice is listed twice"))
    elif choices:
        raise ValidationError.for_field("choices", _("only select fields have choices"))
    if len(choices) > MAX_CHOICES:
        raise ValidationError.for_field("choices", _("at most %(count)s choices", count=MAX_CHOICES))
