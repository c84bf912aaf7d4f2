"""marshmallow's own messages in the user's language.

Where a schema checks something of ours it gives its own message (wrapped for translation).
The messages marshmallow writes by itself (a missing field, a value of the wrong type, a
length, a range, a choice) are English; :func:`translate` gives them in the user's language.
The API's 422 answers and the pages' form refusals pass their messages through it; any other
message is returned as it is.
"""
from __future__ import annotations

import re

from flask_babel import get_locale, gettext as _

#: marshmallow's English (``{name}``: where it puts a value) -> the message in the user's language.
#: The first pattern that matches wins: a message that extends another one comes before it
#: ("between {min} and {max}" before "{equal}", "greater than or equal to" before "greater than").
MESSAGES = {
    "Missing data for required field.": lambda **v: _("Missing data for required field."),
    "Field may not be null.": lambda **v: _("Field may not be null."),
    "Unknown field.": lambda **v: _("Unknown field."),
    "Invalid input type.": lambda **v: _("Invalid input type."),
    "Invalid type.": lambda **v: _("Invalid type."),
    "Invalid value.": lambda **v: _("Invalid value."),
    "Invalid input.": lambda **v: _("Invalid input."),
    "Not a valid integer.": lambda **v: _("Not a valid integer."),
    "Not a valid number.": lambda **v: _("Not a valid number."),
    "Number too large.": lambda **v: _("Number too large."),
    "Special numeric values (nan or infinity) are not permitted.":
        lambda **v: _("Special numeric values (nan or infinity) are not permitted."),
    "Not a valid boolean.": lambda **v: _("Not a valid boolean."),
    "Not a valid string.": lambda **v: _("Not a valid string."),
    "Not a valid utf-8 string.": lambda **v: _("Not a valid utf-8 string."),
    "Not a valid date.": lambda **v: _("Not a valid date."),
    "Not a valid datetime.": lambda **v: _("Not a valid date and time."),
    "Not a valid list.": lambda **v: _("Not a valid list."),
    "Not a valid mapping type.": lambda **v: _("Not a valid mapping type."),
    "Not a valid email address.": lambda **v: _("Not a valid email address."),
    "Not a valid URL.": lambda **v: _("Not a valid URL."),
    "String does not match expected pattern.": lambda **v: _("String does not match expected pattern."),
    "Must be one of: {choices}.": lambda **v: _("Must be one of: %(choices)s.", **v),
    "Length must be between {min} and {max}.": lambda **v: _("Length must be between %(min)s and %(max)s.", **v),
    "Length must be {equal}.": lambda **v: _("Length must be %(equal)s.", **v),
    "Shorter than minimum length {min}.": lambda **v: _("Shorter than minimum length %(min)s.", **v),
    "Longer than maximum length {max}.": lambda **v: _("Longer than maximum length %(max)s.", **v),
    "Must be greater than or equal to {min} and less than or equal to {max}.":
        lambda **v: _("Must be greater than or equal to %(min)s and less than or equal to %(max)s.", **v),
    "Must be greater than or equal to {min} and less than {max}.":
        lambda **v: _("Must be greater than or equal to %(min)s and less than %(max)s.", **v),
    "Must be greater than {min} and less than or equal to {max}.":
        lambda **v: _("Must be greater than %(min)s and less than or equal to %(max)s.", **v),
    "Must be greater than {min} and less than {max}.":
        lambda **v: _("Must be greater than %(min)s and less than %(max)s.", **v),
    "Must be greater than or equal to {min}.": lambda **v: _("Must be greater than or equal to %(min)s.", **v),
    "Must be greater than {min}.": lambda **v: _("Must be greater than %(min)s.", **v),
    "Must be less than or equal to {max}.": lambda **v: _("Must be less than or equal to %(max)s.", **v),
    "Must be less than {max}.": lambda **v: _("Must be less than %(max)s.", **v),
}


def _pattern(english: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", english)   # text, name, text, name, ..., text
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(f"^{regex}$", re.S)


PATTERNS = [(_pattern(english), translated) for english, translated in MESSAGES.items()]


def translate(message: str) -> str:
    """``message`` in the user's language when it is one of marshmallow's own; else as it is."""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return message
    for pattern, translated in PATTERNS:
        found = pattern.match(message)
        if found:
            return translated(**found.groupdict())
    return message


def translate_fields(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """``{"name": ["Missing data for required field."]}`` in the user's language."""
    return {key: [translate(message) for message in messages] for key, messages in fields.items()}
