"""Form fields of the record pages: how each is shown and how what was typed
becomes the JSON-like value the API's marshmallow schema validates (so the web
UI accepts and refuses exactly what the API does, then calls the same service).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from marshmallow import ValidationError as SchemaError

from crm.api.schema_messages import translate_fields
from crm.errors import ValidationError
from crm.web.common import money_input, parse_date, parse_decimal, parse_int, plain

ADDRESS_KEYS = ("street", "city", "state", "postal_code", "country")


@dataclass
class FormField:
    name: str
    label: object                  # a string or a lazy string
    type: str = "text"             # text, email, url, textarea, money, decimal, quantity, percent, int,
                                   # bool, select, id, address, ids, date, components, lines
    required: bool = False
    choices: object = None         # [(value, label)] or a callable(session) -> that list
    help: object = ""
    max_length: int | None = None
    blank: object = None           # the value of an empty, optional input (None: leave it None)
    full_width: bool = False
    fixed: bool = False            # cannot change once the record exists (shown read-only)
    source: str | None = None      # the record's attribute shown, when it is not ``name`` ("taxes" for tax_ids)
    default: object = None         # what the input of a new record shows (None: empty; boxes ticked)

    def options(self, session) -> list:
        choices = self.choices(session) if callable(self.choices) else (self.choices or [])
        return list(choices)

    # -- record -> what the input shows -------------------------------------------------------

    def display(self, record):
        """The input's value for an existing record (or the defaults of a new one)."""
        if self.name.startswith("custom."):
            value = (getattr(record, "custom", None) or {}).get(self.name[7:]) if record is not None else None
            return "" if value is None else value
        if record is None and self.default is not None:
            return self.default
        value = getattr(record, self.source or self.name, None) if record is not None else None
        if self.type == "money":
            return money_input(value)
        if self.type in ("decimal", "quantity", "percent"):
            return plain(value)
        if self.type == "address":
            return dict(value or {})
        if self.type == "ids":
            return [r.id for r in (value or [])]
        if self.type == "textlist":
            return "\n".join(str(v) for v in (value or []))
        if self.type == "bool":
            return True if record is None and value is None else bool(value)
        if value is None:
            return ""
        return value

    # -- the submitted form -> a raw value ------------------------------------------------------

    def read(self, form):
        """What the form holds for this field, as the API would receive it (before the schema)."""
        name, kind = self.name, self.type
        if kind == "bool":
            return name in form and form.get(name) not in ("", "0", "false", "off")
        if kind == "address":
            return {key: form.get(f"{name}.{key}", "").strip() for key in ADDRESS_KEYS}
        if kind == "ids":
            ids = []
            for index, value in enumerate(form.getlist(name)):
                number = parse_int(value, f"{name}.{index}")
                if number is not None:
                    ids.append(number)
            return ids
        text = form.get(name, "")
        if kind in ("text", "email", "url", "select", "textarea"):
            text = text if kind == "textarea" else text.strip()
            if not text and self.blank is not None:
                return self.blank
            return text if text or kind != "select" else (None if self.blank is None else self.blank)
        if kind == "id":
            return parse_int(text, name, required=self.required)
        if kind == "int":
            value = parse_int(text, name, required=self.required)
            return self.blank if value is None else value
        if kind == "date":
            value = parse_date(text, name)
            return value.isoformat() if value is not None else None
        if kind in ("money", "decimal", "quantity", "percent"):
            value = parse_decimal(text, name, required=self.required)
            return self.blank if value is None else value
        raise ValueError(f"unknown field type {kind}")


def custom_form_fields(session, entity: str) -> list[FormField]:
    """The admin-defined custom fields of ``entity`` as form fields named ``custom.<key>``."""
    from crm.services.custom_fields import fields_for
    result = []
    for definition in fields_for(session, entity):
        kind = {"text": "text", "number": "custom_number", "decimal": "custom_decimal", "date": "date",
                "boolean": "bool", "select": "select"}[definition.type]
        choices = [(c, c) for c in definition.choices or []]
        result.append(FormField(f"custom.{definition.key}", definition.label, kind, required=definition.required,
                                choices=choices))
    return result


def read_custom(fields_: list[FormField], form, current: dict | None = None) -> dict:
    """The ``custom`` dict of a record from the ``custom.<key>`` inputs (blank -> None).

    A field the record has no value for (``current``) and that is left blank, or an unticked
    box, stays without a value rather than getting ``None`` or ``False``, so a form saved
    unchanged changes nothing. A required field left blank is refused."""
    values, problems = {}, {}
    for f in fields_:
        key = f.name[7:]
        text = form.get(f.name, "").strip()
        try:
            if f.type == "bool":
                value = f.name in form
            elif f.type == "custom_decimal":
                number = parse_decimal(text, f.name)
                value = plain(number) if number is not None else None
            elif f.type == "date":
                day = parse_date(text, f.name)
                value = day.isoformat() if day is not None else None
            else:
                value = text if text else None
        except ValidationError as exc:
            problems.update(exc.fields)
            continue
        if value is None and f.required:
            problems[f.name] = [_("is required")]
        elif value not in (None, False) or key in (current or {}):
            values[key] = value
    if problems:
        raise ValidationError(refusal_message(problems, fields_), problems)
    return values


def refusal_message(problems: dict[str, list[str]], fields_: list[FormField]) -> str:
    """The message above a refused form: the field and its reason when only one is refused."""
    if len(problems) != 1:
        return _("Check the highlighted fields.")
    name, reasons = next(iter(problems.items()))
    return f"{labels_of(fields_).get(name, name)}: {reasons[0]}"


def labels_of(fields_: list[FormField]) -> dict[str, str]:
    """Input names -> the labels the form shows (for the messages of a refused form)."""
    return {f.name: str(f.label) for f in fields_}


def flatten_schema_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages -> ``{"billing_address.city": [...], "prices.0.item_id": [...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in flatten_schema_errors(value, name).items():
                flat.setdefault(k, []).extend(v)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat.setdefault(prefix or "_form", []).extend(messages)
    else:
        flat.setdefault(prefix or "_form", []).append(str(messages))
    return flat


def load(schema, raw: dict) -> dict:
    """Validate ``raw`` with an API schema; its refusals become a domain ``ValidationError``."""
    try:
        return schema.load(raw)
    except SchemaError as exc:
        fields_ = translate_fields(flatten_schema_errors(exc.messages))
        first = next(iter(fields_.items()))
        raise ValidationError(_("Check the highlighted fields.") if len(fields_) > 1
                              else f"{first[0]}: {first[1][0]}", fields_) from None

