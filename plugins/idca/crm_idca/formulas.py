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
3. Evaluation. :class:`DecimalEval` is a :class:`simpleeval.SimpleEval` with Decimal
   operators in the money context (division by zero and overflow trapped), lazy ``IF`` and
   ``coalesce``, ``sum(column)`` and mapping-only attribute access; it walks the tree.
   For speed, :meth:`DecimalEval.compile` turns the same checked tree, once per layout
   version, into a chain of closures that apply the same operator and function tables
   (a property test checks both agree); that is what documents use.

A failing evaluation raises :class:`EvaluationError` with a short message ("division by
zero", "item.custom.weight is empty", "margin has an error"); callers turn it into a
per-cell error, never into a silent 0.
"""
from __future__ import annotations

import ast
import difflib
import io
import operator as op
import re
import tokenize
from dataclasses import dataclass, field
from decimal import (ROUND_HALF_UP, Decimal, DecimalException, DivisionByZero, DivisionUndefined,
                     InvalidOperation, Overflow)
from typing import Any, Callable, Mapping

import simpleeval
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.money import CONTEXT

__all__ = [
    "NUMBER", "TEXT", "BOOL", "DATE", "TYPE_NAMES", "FUNCTIONS",
    "FormulaError", "EvaluationError", "Empty", "Failed", "Scope", "Checked", "Formula",
    "parse", "check", "prepare", "DecimalEval", "error_message", "OPERATORS", "FUNCTION_TABLE",
    "MAX_SOURCE", "MAX_NODES", "MAX_DEPTH", "MAX_EXPONENT", "MAX_TEXT_LITERAL",
]

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

_NUMBER_LITERAL = re.compile(r"^(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?$")
_EXPRESSION_END = {")", "]", "}"}
_NOT_EXPRESSION_END = {"and", "or", "not", "if", "else", "in", "is", "lambda", "await", "yield",
                       "return", "import", "from", "for", "while", "assert", "del", "with", "as"}


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


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

def _rewrite_if(text: str) -> str:
    """``if(`` used as a function becomes ``IF(`` (same length, so positions stay); the
    conditional expression ``a if c else b`` is left alone."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text  # ast.parse reports the problem
    chars = list(text)
    previous = None
    significant = [t for t in tokens if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT,
                                                       tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)]
    for index, token in enumerate(significant):
        following = significant[index + 1] if index + 1 < len(significant) else None
        if (token.type == tokenize.NAME and token.string == "if" and following is not None
                and following.string == "(" and not _ends_expression(previous)):
            row, col = token.start
            if row == 1:
                chars[col:col + 2] = ["I", "F"]
        previous = token
    return "".join(chars)


def _ends_expression(token) -> bool:
    if token is None:
        return False
    if token.type in (tokenize.NUMBER, tokenize.STRING):
        return True
    if token.type == tokenize.NAME:
        return token.string not in _NOT_EXPRESSION_END
    return token.string in _EXPRESSION_END


def parse(source: str) -> tuple[ast.Expression, str]:
    """The syntax tree of ``source`` with Decimal literals, and the normalised text the
    tree's positions refer to. Raises :class:`FormulaError`."""
    if not isinstance(source, str):
        raise FormulaError(_("must be text"))
    if len(source) > MAX_SOURCE:
        raise FormulaError(_("is too long (%(length)s characters; at most %(limit)s)", length=len(source),
                               limit=MAX_SOURCE))
    if "\x00" in source:
        raise FormulaError(_("contains a NUL character"))
    text = re.sub(r"[\r\n\t\f\v]", " ", source).strip()
    if not text:
        raise FormulaError(_("is empty"))
    text = _rewrite_if(text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        message = (exc.msg or "invalid syntax").replace("IF", "if")  # Python's own text, as it is
        if exc.offset:
            raise FormulaError(_("syntax error at character %(offset)s: %(message)s", offset=exc.offset,
                                 message=message)) from None
        raise FormulaError(_("syntax error: %(message)s", message=message)) from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise FormulaError(_("is too complex")) from None
    _check_size(tree)
    _decimal_literals(tree, text)
    return tree, text


def _check_size(tree: ast.AST) -> None:
    """Refuse huge or deeply nested trees before any recursive walk."""
    count = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise FormulaError(_("is too complex (more than %(limit)s parts)", limit=MAX_NODES))
        if depth > MAX_DEPTH:
            raise FormulaError(_("is nested too deeply (more than %(limit)s levels)", limit=MAX_DEPTH))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _decimal_literals(tree: ast.AST, text: str) -> None:
    """Every number literal becomes the exact Decimal of its source text."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
            continue
        if isinstance(node.value, (int, float, complex)):
            literal = ast.get_source_segment(text, node) or ""
            if isinstance(node.value, complex) or not _NUMBER_LITERAL.match(literal):
                raise FormulaError(_("%(literal)s: write numbers in decimal, like 12 or 0.15",
                                     literal=repr(literal or node.value)))
            if len(literal) > 40:
                raise FormulaError(_("%(start)s...: number literal too long", start=literal[:20]))
            value = Decimal(literal.replace("_", ""))
            if value and not -20 <= value.adjusted() < 15:  # adjusted(): no arithmetic, no overflow
                raise FormulaError(_("%(literal)s: number out of range (below 10^15, at most 20 decimals)",
                                     literal=literal))
            node.value = value


# --------------------------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------------------------

@dataclass
class Scope:
    """What a formula may read.

    ``names``: plain names and their types (line columns, or totals); ``sum_columns``:
    numeric line columns ``sum()`` may add up (totals only; None: no ``sum``);
    ``item_fields`` / ``item_custom``: ``item.<field>`` and ``item.custom.<key>`` (None: no
    ``item``); ``doc_fields`` / ``doc_custom``: ``doc.<field>``, ``doc.custom.<key>``.
    ``plain``: names whose values are never empty nor failed (read without checks).
    """

    names: Mapping[str, str]
    item_fields: Mapping[str, str] | None = None
    item_custom: Mapping[str, str] | None = None
    doc_fields: Mapping[str, str] = field(default_factory=dict)
    doc_custom: Mapping[str, str] = field(default_factory=dict)
    sum_columns: Mapping[str, str] | None = None
    plain: frozenset = frozenset()
    kind: str = "line"   # "line" or "totals", for messages


@dataclass
class Checked:
    """A checked formula: its type and what it reads."""

    type: str
    names: set = field(default_factory=set)         # plain names (columns or totals)
    sums: set = field(default_factory=set)          # columns inside sum()
    item_fields: set = field(default_factory=set)
    item_custom: set = field(default_factory=set)
    doc_fields: set = field(default_factory=set)
    doc_custom: set = field(default_factory=set)


_REFUSED = {
    ast.Lambda: _l("lambda functions are not allowed"),
    ast.ListComp: _l("comprehensions are not allowed"),
    ast.SetComp: _l("comprehensions are not allowed"),
    ast.DictComp: _l("comprehensions are not allowed"),
    ast.GeneratorExp: _l("generator expressions are not allowed"),
    ast.Subscript: _l("indexing with [...] is not allowed"),
    ast.Slice: _l("slices are not allowed"),
    ast.Starred: _l("* unpacking is not allowed"),
    ast.JoinedStr: _l("f-strings are not allowed"),
    ast.FormattedValue: _l("f-strings are not allowed"),
    ast.NamedExpr: _l("assignments (:=) are not allowed"),
    ast.List: _l("lists are not allowed"),
    ast.Tuple: _l("tuples are not allowed (use one expression)"),
    ast.Set: _l("sets are not allowed"),
    ast.Dict: _l("dictionaries are not allowed"),
    ast.Await: _l("await is not allowed"),
    ast.Yield: _l("yield is not allowed"),
    ast.YieldFrom: _l("yield is not allowed"),
}
#: what the checker's messages call some operands (the others are code: 'if', round(), and...)
_A_SIGN = _l("a sign")
_BOTH_RESULTS_OF_IF = _l("both results of 'if'")
_BOTH_RESULTS_OF_IF_CALL = _l("both results of if()")
_VALUES_OF_COALESCE = _l("the values of coalesce()")
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_OPERATOR_SYMBOLS = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
                     ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~", ast.In: "in",
                     ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_EQUALITY = (ast.Eq, ast.NotEq)


class _Checker:
    def __init__(self, scope: Scope, text: str):
        self.scope = scope
        self.text = text
        self.result = Checked(type=NUMBER)

    def part(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.text, node) or type(node).__name__
        segment = segment.replace("IF(", "if(")
        return segment if len(segment) <= 60 else segment[:57] + "..."

    def fail(self, node: ast.AST, message: str):
        raise FormulaError(_("%(message)s (in '%(part)s')", message=str(message), part=self.part(node)))

    def check(self, node: ast.AST) -> str:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            reason = _REFUSED.get(type(node)) or _("%(node)s is not allowed in a formula", node=type(node).__name__)
            self.fail(node, reason)
        return method(node)

    # --- leaves ---

    def _Expression(self, node: ast.Expression) -> str:
        return self.check(node.body)

    def _Constant(self, node: ast.Constant) -> str:
        value = node.value
        if isinstance(value, bool):
            return BOOL
        if isinstance(value, Decimal):
            return NUMBER
        if isinstance(value, str):
            if len(value) > MAX_TEXT_LITERAL:
                self.fail(node, _("text literals may have at most %(limit)s characters", limit=MAX_TEXT_LITERAL))
            return TEXT
        if value is None:
            self.fail(node, _("None is not a value here; use coalesce(x, other) for empty values"))
        self.fail(node, _("%(type)s literals are not allowed", type=type(value).__name__))

    def _Name(self, node: ast.Name) -> str:
        name = node.id
        if name.startswith("_"):
            self.fail(node, _("names starting with _ are not allowed: %(name)s", name=name))
        if name in NAMESPACES:
            if name == "item" and self.scope.item_fields is None:
                self.fail(node, _("item fields are only available in line formulas"))
            self.fail(node, _("%(name)s is a group of fields: write %(name)s.<field>", name=name))
        if name in self.scope.names:
            self.result.names.add(name)
            return self.scope.names[name]
        if name == "IF" or name in FUNCTIONS or name in AGGREGATES:
            self.fail(node, _("%(name)s is a function: call it as %(name)s(...)", name=name.lower()))
        self.fail(node, self._unknown(_("name"), name, self.scope.names))

    def _unknown(self, what: str, name: str, known) -> str:
        close = difflib.get_close_matches(name, list(known), n=1)
        if close:
            return _("unknown %(what)s '%(name)s' (did you mean '%(close)s'?)", what=what, name=name, close=close[0])
        return _("unknown %(what)s '%(name)s'", what=what, name=name)

    def _Attribute(self, node: ast.Attribute) -> str:
        chain = []
        base: ast.AST = node
        while isinstance(base, ast.Attribute):
            if base.attr.startswith("_"):
                self.fail(node, _("access to internal attributes ('%(attr)s') is not allowed", attr=base.attr))
            chain.append(base.attr)
            base = base.value
        chain.reverse()
        if not isinstance(base, ast.Name) or base.id not in NAMESPACES:
            self.fail(node, _("attributes are only allowed on item. and doc. fields"))
        if base.id == "item":
            if self.scope.item_fields is None:
                self.fail(node, _("item fields are only available in line formulas"))
            fields, custom, used, used_custom = (self.scope.item_fields, self.scope.item_custom or {},
                                                 self.result.item_fields, self.result.item_custom)
        else:
            fields, custom, used, used_custom = (self.scope.doc_fields, self.scope.doc_custom,
                                                 self.result.doc_fields, self.result.doc_custom)
        prefix = base.id
        if chain[0] == "custom":
            if len(chain) != 2:
                self.fail(node, _("write %(prefix)s.custom.<key>", prefix=prefix))
            if chain[1] not in custom:
                self.fail(node, self._unknown(_("%(prefix)s custom field", prefix=prefix), chain[1], custom))
            used_custom.add(chain[1])
            return custom[chain[1]]
        if len(chain) != 1:
            self.fail(node, _("%(prefix)s.%(field)s has no fields", prefix=prefix, field=chain[0]))
        if chain[0] not in fields:
            self.fail(node, self._unknown(_("%(prefix)s field", prefix=prefix), chain[0], fields))
        used.add(chain[0])
        return fields[chain[0]]

    # --- operators ---

    def _number(self, node: ast.AST, what: str) -> None:
        kind = self.check(node)
        if kind != NUMBER:
            self.fail(node, _("%(what)s needs numbers, but '%(part)s' is %(type)s", what=str(what),
                              part=self.part(node), type=str(TYPE_NAMES[kind])))

    def _BinOp(self, node: ast.BinOp) -> str:
        symbol = _BINARY.get(type(node.op))
        if symbol is None:
            self.fail(node, _("operator %(symbol)s is not allowed", symbol=_OPERATOR_SYMBOLS.get(type(node.op), "?")))
        self._number(node.left, f"'{symbol}'")
        if isinstance(node.op, ast.Pow):
            exponent = _literal_integer(node.right)
            if exponent is None or abs(exponent) > MAX_EXPONENT:
                self.fail(node, _("the exponent of ** must be a whole number between -%(limit)s and %(limit)s "
                                  "written in the formula", limit=MAX_EXPONENT))
        else:
            self._number(node.right, f"'{symbol}'")
        return NUMBER

    def _UnaryOp(self, node: ast.UnaryOp) -> str:
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            self._number(node.operand, _A_SIGN)
            return NUMBER
        if isinstance(node.op, ast.Not):
            self._condition(node.operand, "not")
            return BOOL
        self.fail(node, _("operator %(symbol)s is not allowed", symbol=_OPERATOR_SYMBOLS.get(type(node.op), "?")))

    def _condition(self, node: ast.AST, what: str) -> None:
        kind = self.check(node)
        if kind != BOOL:
            self.fail(node, _("%(what)s needs a condition (a comparison), but '%(part)s' is %(type)s",
                              what=what, part=self.part(node), type=str(TYPE_NAMES[kind])))

    def _BoolOp(self, node: ast.BoolOp) -> str:
        word = "and" if isinstance(node.op, ast.And) else "or"
        for value in node.values:
            self._condition(value, word)
        return BOOL

    def _Compare(self, node: ast.Compare) -> str:
        left_node, left = node.left, self.check(node.left)
        for operation, right_node in zip(node.ops, node.comparators):
            if not isinstance(operation, _ORDERING + _EQUALITY):
                symbol = _OPERATOR_SYMBOLS.get(type(operation), "?")
                self.fail(node, _("operator %(symbol)s is not allowed", symbol=symbol))
            right = self.check(right_node)
            if left != right:
                self.fail(node, _("cannot compare %(left)s ('%(left_part)s') with %(right)s ('%(right_part)s')",
                                  left=str(TYPE_NAMES[left]), left_part=self.part(left_node),
                                  right=str(TYPE_NAMES[right]), right_part=self.part(right_node)))
            if isinstance(operation, _ORDERING) and left == BOOL:
                self.fail(node, _("true/false values can only be compared with == and !="))
            left_node = right_node
        return BOOL

    def _IfExp(self, node: ast.IfExp) -> str:
        self._condition(node.test, "'if'")
        return self._same(node, [node.body, node.orelse], _BOTH_RESULTS_OF_IF)

    def _same(self, node: ast.AST, parts: list, what: str) -> str:
        kinds = [self.check(part) for part in parts]
        for part, kind in zip(parts[1:], kinds[1:]):
            if kind != kinds[0]:
                self.fail(node, _("%(what)s must have the same type: '%(first)s' is %(first_type)s, "
                                  "'%(part)s' is %(type)s", what=str(what), first=self.part(parts[0]),
                                  first_type=str(TYPE_NAMES[kinds[0]]), part=self.part(part),
                                  type=str(TYPE_NAMES[kind])))
        return kinds[0]

    def _Call(self, node: ast.Call) -> str:
        allowed = list(FUNCTIONS) + (list(AGGREGATES) if self.scope.sum_columns is not None else [])
        if not isinstance(node.func, ast.Name):
            self.fail(node, _("only these functions can be called: %(functions)s", functions=", ".join(allowed)))
        name = "if" if node.func.id == "IF" else node.func.id
        if name not in allowed:
            if name in AGGREGATES:
                self.fail(node, _("%(name)s() is only available in totals formulas", name=name))
            self.fail(node, _("unknown function '%(name)s'; the functions are: %(functions)s", name=name,
                              functions=", ".join(allowed)))
        if node.keywords:
            self.fail(node, _("%(name)s() takes no named arguments", name=name))
        args = node.args
        if any(isinstance(arg, ast.Starred) for arg in args):
            self.fail(node, _("* unpacking is not allowed"))
        return getattr(self, f"_call_{name}")(node, args)

    def _arity(self, node, args, low: int, high: int | None, name: str) -> None:
        if len(args) < low or (high is not None and len(args) > high):
            got = len(args)
            if high == 1 == low:
                message = _("%(name)s() takes 1 argument, got %(got)s", name=name, got=got)
            elif high == low:
                message = _("%(name)s() takes %(low)s arguments, got %(got)s", name=name, low=low, got=got)
            elif high:
                message = _("%(name)s() takes %(low)s to %(high)s arguments, got %(got)s", name=name, low=low,
                            high=high, got=got)
            else:
                message = _("%(name)s() takes at least %(low)s arguments, got %(got)s", name=name, low=low, got=got)
            self.fail(node, message)

    def _call_if(self, node, args) -> str:
        self._arity(node, args, 3, 3, "if")
        self._condition(args[0], "if()")
        return self._same(node, args[1:], _BOTH_RESULTS_OF_IF_CALL)

    def _call_round(self, node, args) -> str:
        self._arity(node, args, 1, 2, "round")
        self._number(args[0], "round()")
        if len(args) == 2:
            places = _literal_integer(args[1])
            if places is None or not 0 <= places <= MAX_ROUND_PLACES:
                self.fail(node, _("the places of round() must be a whole number from 0 to %(limit)s",
                                  limit=MAX_ROUND_PLACES))
        return NUMBER

    def _call_min(self, node, args) -> str:
        self._arity(node, args, 2, None, "min")
        for arg in args:
            self._number(arg, "min()")
        return NUMBER

    def _call_max(self, node, args) -> str:
        self._arity(node, args, 2, None, "max")
        for arg in args:
            self._number(arg, "max()")
        return NUMBER

    def _call_abs(self, node, args) -> str:
        self._arity(node, args, 1, 1, "abs")
        self._number(args[0], "abs()")
        return NUMBER

    def _call_coalesce(self, node, args) -> str:
        self._arity(node, args, 2, None, "coalesce")
        return self._same(node, args, _VALUES_OF_COALESCE)

    def _call_sum(self, node, args) -> str:
        self._arity(node, args, 1, 1, "sum")
        column = args[0]
        columns = self.scope.sum_columns or {}
        if not isinstance(column, ast.Name):
            self.fail(node, _("sum() takes the key of a line column, like sum(net)"))
        if column.id not in columns:
            self.fail(node, self._unknown(_("number column"), column.id, columns))
        if columns[column.id] != NUMBER:
            self.fail(node, _("sum() needs a number column; %(column)s is %(type)s", column=column.id,
                              type=str(TYPE_NAMES[columns[column.id]])))
        self.result.sums.add(column.id)
        return NUMBER


def _literal_integer(node: ast.AST) -> int | None:
    """The value of a whole-number literal (possibly negated), else None."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, Decimal) and node.value == node.value.to_integral_value():
        return sign * int(node.value)
    return None


def check(tree: ast.Expression, text: str, scope: Scope) -> Checked:
    """Check a parsed formula against ``scope``; raises :class:`FormulaError`."""
    checker = _Checker(scope, text)
    try:
        checker.result.type = checker.check(tree)
    except RecursionError:
        raise FormulaError(_("is too complex")) from None
    return checker.result


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------

def _power(base: Decimal, exponent: Decimal) -> Decimal:
    if abs(exponent) > MAX_EXPONENT:  # never passes the checker; defence in depth
        raise simpleeval.NumberTooHigh(f"exponent {exponent} too large")
    return CONTEXT.power(base, exponent)


def _round(value: Decimal, places: Decimal = Decimal(0)) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-int(places)), ROUND_HALF_UP, CONTEXT)


OPERATORS: dict[type, Callable] = {
    ast.Add: CONTEXT.add,
    ast.Sub: CONTEXT.subtract,
    ast.Mult: CONTEXT.multiply,
    ast.Div: CONTEXT.divide,
    ast.Pow: _power,
    ast.USub: CONTEXT.minus,
    ast.UAdd: CONTEXT.plus,
    ast.Not: op.not_,
    ast.Eq: op.eq,
    ast.NotEq: op.ne,
    ast.Lt: op.lt,
    ast.LtE: op.le,
    ast.Gt: op.gt,
    ast.GtE: op.ge,
}

#: the eager functions (``IF`` and ``coalesce`` are lazy and handled by the evaluator)
FUNCTION_TABLE: dict[str, Callable] = {
    "round": _round,
    "min": min,
    "max": max,
    "abs": CONTEXT.abs,
}


def _read(name: str, value):
    """A value read by a formula: empty and failed values stop the evaluation."""
    if value is None:
        raise Empty(name)
    if value.__class__ is Failed:
        raise EvaluationError(f"{value.name} has an error ({value.message})")
    return value


class DecimalEval(simpleeval.SimpleEval):
    """simpleeval with Decimal numbers and the formula language's rules.

    ``names`` maps plain names to values; ``item`` and ``doc`` map to dicts of fields (with
    ``custom`` a dict of custom values); ``sum`` maps column keys to their sums. Only checked
    trees should be evaluated, but the evaluator refuses on its own what the checker refuses
    (attributes on anything but those dicts, names with _, calls of unknown functions,
    float literals), as a second line of defence.
    """

    def __init__(self, names: Mapping[str, Any] | None = None):
        super().__init__(operators=dict(OPERATORS), functions=dict(FUNCTION_TABLE), names=dict(names or {}))
        for node_type in (ast.Assign, ast.AugAssign, ast.Import, ast.Subscript, ast.Slice, ast.JoinedStr,
                          ast.FormattedValue, ast.keyword, getattr(ast, "Index", ast.Subscript)):
            self.nodes.pop(node_type, None)
        self.nodes[ast.Expression] = self._eval_expression
        self.ATTR_INDEX_FALLBACK = False

    # --- simpleeval API ---

    @staticmethod
    def parse(expr):
        return parse(expr)[0]

    def _eval_expression(self, node):
        return self._eval(node.body)

    @staticmethod
    def _eval_constant(node):
        value = node.value
        if isinstance(value, (float, complex)) or (isinstance(value, int) and not isinstance(value, bool)):
            raise simpleeval.FeatureNotAvailable("number literals must be parsed as Decimal")
        if isinstance(value, str) and len(value) > MAX_TEXT_LITERAL:
            raise simpleeval.IterableTooLong("text literal too long")
        return value

    def _eval_name(self, node):
        if node.id.startswith("_") or node.id in NAMESPACES:
            raise simpleeval.FeatureNotAvailable(f"name {node.id!r} is not available")
        try:
            value = self.names[node.id]
        except KeyError:
            raise simpleeval.NameNotDefined(node.id, self.expr) from None
        return _read(node.id, value)

    def _eval_attribute(self, node):
        chain = []
        base = node
        while isinstance(base, ast.Attribute):
            if base.attr.startswith("_"):
                raise simpleeval.FeatureNotAvailable(f"access to {base.attr!r} is not allowed")
            chain.append(base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in NAMESPACES:
            raise simpleeval.FeatureNotAvailable("attributes are only allowed on item. and doc.")
        value = self.names.get(base.id)
        path = base.id
        for attr in reversed(chain):
            if not isinstance(value, dict):
                raise simpleeval.AttributeDoesNotExist(attr, self.expr)
            path = f"{path}.{attr}"
            value = value.get(attr)
        if isinstance(value, dict):
            raise simpleeval.FeatureNotAvailable(f"{path} is a group of fields")
        return _read(path, value)

    def _eval_call(self, node):
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise simpleeval.FeatureNotAvailable("only the formula functions can be called")
        name, args = node.func.id, node.args
        if name == "IF":
            return self._eval(args[1] if self._eval(args[0]) else args[2])
        if name == "coalesce":
            for arg in args:
                try:
                    return self._eval(arg)
                except Empty:
                    continue
            raise Empty(f"every value of {_segment(self.expr, node)}")
        if name == "sum":
            column = args[0].id
            return _read(f"sum({column})", self.names["sum"].get(column))
        if name not in self.functions:
            raise simpleeval.FunctionNotDefined(name, self.expr)
        return self.functions[name](*(self._eval(arg) for arg in args))

    # --- compiling -------------------------------------------------------------------------

    def compile(self, node: ast.AST, plain: frozenset = frozenset()) -> Callable[[Mapping], Any]:
        """A function ``f(names)`` computing the checked tree ``node`` exactly as :meth:`eval`
        would with ``self.names = names``; ``plain`` names are read without the empty/failed
        check (the built-in amounts, never empty)."""
        method = getattr(self, f"_compile_{type(node).__name__}", None)
        if method is None:
            raise simpleeval.FeatureNotAvailable(f"{type(node).__name__} is not available")
        return method(node, plain)

    def _compile_Expression(self, node, plain):
        return self.compile(node.body, plain)

    def _compile_Constant(self, node, plain):
        value = self._eval_constant(node)
        return lambda names: value

    def _compile_Name(self, node, plain):
        key = node.id
        if key.startswith("_") or key in NAMESPACES:
            raise simpleeval.FeatureNotAvailable(f"name {key!r} is not available")
        if key in plain:
            return op.itemgetter(key)

        def name(names):
            value = names[key]
            if value is None or value.__class__ is Failed:
                return _read(key, value)
            return value
        return name

    def _compile_Attribute(self, node, plain):
        chain = []
        base = node
        while isinstance(base, ast.Attribute):
            if base.attr.startswith("_"):
                raise simpleeval.FeatureNotAvailable(f"access to {base.attr!r} is not allowed")
            chain.append(base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in NAMESPACES:
            raise simpleeval.FeatureNotAvailable("attributes are only allowed on item. and doc.")
        chain.reverse()
        root, path = base.id, ".".join([base.id, *chain])
        if len(chain) == 1:
            attr = chain[0]

            def attribute(names):
                value = names[root].get(attr)
                if value is None or value.__class__ is Failed or value.__class__ is dict:
                    return _checked_leaf(path, value)
                return value
            return attribute
        first, second = chain

        def custom(names):
            group = names[root].get(first)
            value = group.get(second) if group.__class__ is dict else None
            if value is None or value.__class__ is Failed or value.__class__ is dict:
                return _checked_leaf(path, value)
            return value
        return custom

    def _compile_BinOp(self, node, plain):
        return self._pair(self.operators[type(node.op)], node.left, node.right, plain)

    _NOT_CONSTANT = object()

    def _constant(self, node):
        """The value of a literal (or a negated number literal), else ``_NOT_CONSTANT``."""
        if isinstance(node, ast.Constant):
            return self._eval_constant(node)
        if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
                and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, Decimal)):
            return self.operators[type(node.op)](node.operand.value)
        return self._NOT_CONSTANT

    def _pair(self, function, left_node, right_node, plain):
        """``function(left, right)`` with the common shapes (a built-in name, a literal) read
        directly instead of through a closure: the same operations, fewer Python calls."""
        missing = self._NOT_CONSTANT
        left_constant, right_constant = self._constant(left_node), self._constant(right_node)
        left_key = left_node.id if isinstance(left_node, ast.Name) and left_node.id in plain else None
        right_key = right_node.id if isinstance(right_node, ast.Name) and right_node.id in plain else None
        if left_key and right_key:
            return lambda names: function(names[left_key], names[right_key])
        if left_key and right_constant is not missing:
            return lambda names: function(names[left_key], right_constant)
        if right_key and left_constant is not missing:
            return lambda names: function(left_constant, names[right_key])
        left = self.compile(left_node, plain) if left_constant is missing and not left_key else None
        right = self.compile(right_node, plain) if right_constant is missing and not right_key else None
        if left is not None and right_constant is not missing:
            return lambda names: function(left(names), right_constant)
        if right is not None and left_constant is not missing:
            return lambda names: function(left_constant, right(names))
        if left_key and right is not None:
            return lambda names: function(names[left_key], right(names))
        if right_key and left is not None:
            return lambda names: function(left(names), names[right_key])
        if left is None:
            left = self.compile(left_node, plain)
        if right is None:
            right = self.compile(right_node, plain)
        return lambda names: function(left(names), right(names))

    def _compile_UnaryOp(self, node, plain):
        function = self.operators[type(node.op)]
        operand = self.compile(node.operand, plain)
        return lambda names: function(operand(names))

    def _compile_BoolOp(self, node, plain):
        values = [self.compile(value, plain) for value in node.values]
        if isinstance(node.op, ast.And):
            def both(names):
                result = False
                for value in values:
                    result = value(names)
                    if not result:
                        break
                return result
            return both

        def either(names):
            result = False
            for value in values:
                result = value(names)
                if result:
                    break
            return result
        return either

    def _compile_Compare(self, node, plain):
        if len(node.ops) == 1:
            return self._pair(self.operators[type(node.ops[0])], node.left, node.comparators[0], plain)
        first = self.compile(node.left, plain)
        pairs = [(self.operators[type(operation)], self.compile(comparator, plain))
                 for operation, comparator in zip(node.ops, node.comparators)]

        def compare(names):
            right = first(names)
            for function, comparator in pairs:
                left, right = right, comparator(names)
                if not function(left, right):
                    return False
            return True
        return compare

    def _compile_IfExp(self, node, plain):
        test, body, orelse = (self.compile(part, plain) for part in (node.test, node.body, node.orelse))
        return lambda names: body(names) if test(names) else orelse(names)

    def _compile_Call(self, node, plain):
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise simpleeval.FeatureNotAvailable("only the formula functions can be called")
        name = node.func.id
        args = [self.compile(arg, plain) for arg in node.args] if name != "sum" else []
        if name == "IF":
            test, body, orelse = args
            return lambda names: body(names) if test(names) else orelse(names)
        if name == "coalesce":
            text = _segment(self.expr, node)

            def coalesce(names):
                for arg in args:
                    try:
                        return arg(names)
                    except Empty:
                        continue
                raise Empty(f"every value of {text}")
            return coalesce
        if name == "sum":
            column = node.args[0].id
            label = f"sum({column})"
            return lambda names: _read(label, names["sum"].get(column))
        if name not in self.functions:
            raise simpleeval.FunctionNotDefined(name, self.expr)
        function = self.functions[name]
        if function is _round:
            places = _literal_integer(node.args[1]) if len(node.args) == 2 else 0
            if places is not None:
                quantum, value = Decimal(1).scaleb(-places), args[0]
                return lambda names: value(names).quantize(quantum, ROUND_HALF_UP, CONTEXT)
        if len(args) == 1:
            only = args[0]
            return lambda names: function(only(names))
        if len(args) == 2:
            first, second = args
            return lambda names: function(first(names), second(names))
        return lambda names: function(*[arg(names) for arg in args])


def _checked_leaf(path: str, value):
    if value.__class__ is dict:
        raise EvaluationError(f"{path} is a group of fields")
    return _read(path, value)


def _segment(text: str, node: ast.AST) -> str:
    try:
        segment = ast.get_source_segment(text, node) or "coalesce()"
    except Exception:  # noqa: BLE001 - only for a message
        segment = "coalesce()"
    return segment.replace("IF(", "if(")


# --------------------------------------------------------------------------------------------
# One prepared formula
# --------------------------------------------------------------------------------------------

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

    def evaluate_reference(self, names: Mapping) -> Any:
        """The same value through simpleeval's tree walk (tests, diagnostics)."""
        evaluator = DecimalEval(names)
        evaluator.expr = self.text
        return evaluator.eval(self.text, previously_parsed=self.tree)


def prepare(source: str, scope: Scope) -> Formula:
    """Parse, check and compile ``source``; raises :class:`FormulaError`."""
    tree, text = parse(source)
    checked = check(tree, text, scope)
    compiler = DecimalEval()
    compiler.expr = text
    try:
        function = compiler.compile(tree, scope.plain)
    except (simpleeval.InvalidExpression, RecursionError) as exc:  # the checker refuses these first
        raise FormulaError(_("cannot be compiled: %(error)s", error=str(exc))) from None
    return Formula(source=source, text=text, tree=tree, checked=checked, function=function)
