"""The formula language of the IDCA plugin: parsed once, checked once, evaluated with Decimal.

A formula is one expression (see the plugin's README for the reference). Three steps:

1. :func:`parse` -- ``if(`` is rewritten to the function ``IF(`` (``if`` is a Python keyword),
   the text is parsed by :mod:`ast` in ``eval`` mode, and every number literal becomes a
   :class:`~decimal.Decimal` read from its source text (``0.1`` is exactly one tenth; no float
   is ever made).
2. :func:`check` -- a whitelist walk of the tree against a :class:`Scope` (the names, item
   and document fields and functions a formula may use): anything else is refused with a
   message that quotes the offending part (attributes other than ``item.`` / ``doc.``
   fields, dunders, calls of anything but the six functions, lambdas, comprehensions,
   subscripts, f-strings, powers other than small whole literal exponents, text in
   arithmetic, ...). It infers the formula's type (number, text, true/false, date) and
   collects what the formula reads, for the dependency graph and cycle detection.
3. Compilation. :class:`Compiler` turns the checked tree, once per layout version, into a
   chain of closures that documents call: Decimal operators in the money context (division
   by zero and overflow trapped), lazy ``IF`` and ``coalesce``, ``sum(column)`` and
   mapping-only attribute access, no Python built-ins. It refuses on its own what the
   checker refuses, as a second line of defence.

A failing evaluation raises :class:`EvaluationError` with a short message ("division by
zero", "item.custom.weight is empty", "margin has an error"); callers turn it into a
per-cell error, never into a silent 0.

The steps are the modules :mod:`~crm_idca.formulas.parsing`, :mod:`~crm_idca.formulas.checking`
and :mod:`~crm_idca.formulas.compiling`, on :mod:`~crm_idca.formulas.language` (types, limits,
errors); this module prepares a formula with the three and names what the plugin uses.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from flask_babel import gettext as _

from crm_idca.formulas.checking import Checked, Scope, check
from crm_idca.formulas.compiling import FUNCTION_TABLE, OPERATORS, Compiler, Uncompilable
from crm_idca.formulas.language import (
    BOOL,
    DATE,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_NODES,
    MAX_SOURCE,
    MAX_TEXT_LITERAL,
    NUMBER,
    TEXT,
    TYPE_NAMES,
    Empty,
    EvaluationError,
    Failed,
    FormulaError,
    error_message,
)
from crm_idca.formulas.parsing import parse

__all__ = [
    "NUMBER", "TEXT", "BOOL", "DATE", "TYPE_NAMES", "FUNCTIONS",
    "FormulaError", "EvaluationError", "Empty", "Failed", "Scope", "Checked", "Formula",
    "parse", "check", "prepare", "Compiler", "error_message", "OPERATORS", "FUNCTION_TABLE",
    "MAX_SOURCE", "MAX_NODES", "MAX_DEPTH", "MAX_EXPONENT", "MAX_TEXT_LITERAL",
]


@dataclass
class Formula:
    """A parsed, checked and compiled formula."""

    source: str
    text: str
    tree: ast.Expression
    checked: Checked
    function: Callable[[Mapping], Any]

    @property
    def type(self) -> str:
        return self.checked.type

    def __call__(self, names: Mapping) -> Any:
        return self.function(names)


def prepare(source: str, scope: Scope) -> Formula:
    """Parse, check and compile ``source``; raises :class:`FormulaError`."""
    tree, text = parse(source)
    checked = check(tree, text, scope)
    try:
        function = Compiler(text).compile(tree, scope.plain)
    except (Uncompilable, RecursionError) as exc:  # the checker refuses these first
        raise FormulaError(_("cannot be compiled: %(error)s", error=str(exc))) from None
    return Formula(source=source, text=text, tree=tree, checked=checked, function=function)
