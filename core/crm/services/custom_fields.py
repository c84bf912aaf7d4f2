"""Admin-defined custom fields and the validation of the values records carry."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import Conflict, NotFound, ValidationError
from crm.models import CustomField
from crm.models.catalog import CUSTOM_FIELD_ENTITIES, CUSTOM_FIELD_TYPES

KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
MAX_TEXT = 2000


def fields_for(session: Session, entity: str, *, active_only: bool = True) -> list[CustomField]:
    stmt = select(CustomField).where(CustomField.entity == entity)
    if active_only:
        stmt = stmt.where(CustomField.active.is_(True))
    return list(session.scalars(stmt.order_by(CustomField.position, CustomField.id)))


def validate_custom(session: Session, entity: str, values: dict | None, *, current: dict | None = None,
                    field_prefix: str = "custom") -> dict:
    """Check ``values`` against the custom fields of ``entity`` and return the
    record's new ``custom`` dict (``current`` updated with ``values``).
    Unknown keys, wrong types and missing required values are a 422 naming the field."""
    definitions = {f.key: f for f in fields_for(session, entity)}
    result = dict(current or {})
    for key, value in (values or {}).items():
        definition = definitions.get(key)
        where = f"{field_prefix}.{key}"
        if definition is None:
            raise ValidationError.for_field(where, "unknown custom field")
        result[key] = _convert(definition, value, where)
    for key, definition in definitions.items():
        if definition.required and result.get(key) in (None, ""):
            raise ValidationError.for_field(f"{field_prefix}.{key}", "is required")
    return result


def _convert(definition: CustomField, value, where: str):
    """The JSON-storable value for ``definition``: decimals and dates as ISO strings."""
    if value is None:
        return None
    kind = definition.type
    if kind == "text":
        if not isinstance(value, str):
            raise ValidationError.for_field(where, "must be text")
        if len(value) > MAX_TEXT:
            raise ValidationError.for_field(where, f"must be at most {MAX_TEXT} characters")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValidationError.for_field(where, "must be true or false")
        return value
    if kind in ("number", "decimal"):
        if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
            raise ValidationError.for_field(where, "must be a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValidationError.for_field(where, "must be a number") from None
        if not number.is_finite() or abs(number) > Decimal("1e15"):
            raise ValidationError.for_field(where, "must be a finite number below 10^15")
        if kind == "number":
            if number != number.to_integral_value():
                raise ValidationError.for_field(where, "must be a whole number")
            return int(number)
        return str(number)
    if kind == "date":
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValidationError.for_field(where, "must be a date (YYYY-MM-DD)") from None
    if kind == "select":
        if value not in (definition.choices or []):
            raise ValidationError.for_field(where, "must be one of: " + ", ".join(map(str, definition.choices)))
        return value
    raise ValidationError.for_field(where, f"unsupported type {kind}")


def get_field(session: Session, field_id: int) -> CustomField:
    field = session.get(CustomField, field_id)
    if field is None:
        raise NotFound(f"custom field {field_id} not found")
    return field


def create_field(session: Session, data: dict) -> CustomField:
    entity, key, kind = data.get("entity"), data.get("key"), data.get("type")
    if entity not in CUSTOM_FIELD_ENTITIES:
        raise ValidationError.for_field("entity", "must be one of " + ", ".join(CUSTOM_FIELD_ENTITIES))
    if not isinstance(key, str) or not KEY.match(key):
        raise ValidationError.for_field("key", "use lower case letters, digits and _ (starting with a letter)")
    if kind not in CUSTOM_FIELD_TYPES:
        raise ValidationError.for_field("type", "must be one of " + ", ".join(CUSTOM_FIELD_TYPES))
    if kind == "select" and not data.get("choices"):
        raise ValidationError.for_field("choices", "a select field needs choices")
    if session.scalar(select(CustomField.id).where(CustomField.entity == entity, CustomField.key == key)):
        raise Conflict(f"{entity} already have a custom field {key!r}", {"key": ["already exists"]})
    field = CustomField(**data)
    session.add(field)
    session.flush()
    return field
