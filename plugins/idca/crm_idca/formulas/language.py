"""The formula language's types, limits, functions and errors (shared by its parser,
checker and compiler)."""
from __future__ import annotations

from decimal import (
    DecimalException,
    DivisionByZero,
    DivisionUndefined,
    InvalidOperation,
    Overflow,
)

from flask_babel import lazy_gettext as _l

NUMBER, TEXT, BOOL, DATE = "number", "text", "bool", "date"
#: how messages name the types (lazy: translated when a message is built; pass ``str(...)``)
TYPE_NAMES = {NUMBER: _l("a number"), TEXT: _l("text"), BOOL: _l("true/false"), DATE: _l("a date")}

MAX_SOURCE = 500          # characters of one formula
MAX_NODES = 200           # syntax tree nodes of one formula
MAX_DEPTH = 30            # nesting depth of one formula
MAX_EXPONENT = 12         # x ** n: n a whole literal in -12..12
MAX_TEXT_LITERAL = 200    # characters of one text literal
MAX_ROUND_PLACES = 10

#: functions of every formula (``IF`` is how ``if(...)`` is spelt after parsing)
FUNCTIONS = ("if", "round", "min", "max", "abs", "coalesce")
#: only in totals formulas
AGGREGATES = ("sum",)
NAMESPACES = ("item", "doc")


class FormulaError(ValueError):
    """A formula refused when it is saved: ``message`` says what and where."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EvaluationError(Exception):
    """A formula could not be computed for one line or document (a per-cell error)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Empty(EvaluationError):
    """A value the formula needs is empty (an editable cell left blank, a custom field unset)."""

    def __init__(self, name: str):
        super().__init__(f"{name} is empty")
        self.name = name


class Failed:
    """Stands in the names of an evaluation for a value that has an error itself."""

    __slots__ = ("name", "message")

    def __init__(self, name: str, message: str):
        self.name, self.message = name, message

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Failed({self.name!r}, {self.message!r})"


def error_message(exc: BaseException) -> str:
    """A short, user-facing message for an exception raised while evaluating."""
    if isinstance(exc, EvaluationError):
        return exc.message
    signals = exc.args[0] if isinstance(exc, DecimalException) and exc.args and isinstance(exc.args[0], list) else ()
    if isinstance(exc, (ZeroDivisionError, DivisionByZero)) or any(
            issubclass(signal, (DivisionByZero, DivisionUndefined)) for signal in signals if isinstance(signal, type)):
        return "division by zero"
    if isinstance(exc, Overflow):
        return "number too large"
    if isinstance(exc, (InvalidOperation, DecimalException)):
        return "invalid arithmetic (result out of range)"
    if isinstance(exc, RecursionError):
        return "formula too complex"
    return "cannot be computed"
