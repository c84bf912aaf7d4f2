"""Checking a parsed formula: a whitelist walk of the tree against a :class:`Scope` (the names,
item and document fields and functions it may use), which infers the formula's type and
collects what it reads; anything else is refused with a message quoting the offending part."""
from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Mapping, NoReturn

from flask_babel import gettext as _, lazy_gettext as _l

from crm.money import is_whole
from crm_idca.formulas.language import (
    AGGREGATES,
    BOOL,
    FUNCTIONS,
    MAX_EXPONENT,
    MAX_ROUND_PLACES,
    MAX_TEXT_LITERAL,
    NAMESPACES,
    NUMBER,
    TEXT,
    TYPE_NAMES,
    FormulaError,
)


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

    def fail(self, node: ast.AST, message: str) -> NoReturn:
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

    def _unknown(self, what: str, name: str, known: Iterable[str]) -> str:
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
            exponent = literal_integer(node.right)
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

    def _arity(self, node: ast.AST, args: list[ast.expr], low: int, high: int | None, name: str) -> None:
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

    def _call_if(self, node: ast.Call, args: list[ast.expr]) -> str:
        self._arity(node, args, 3, 3, "if")
        self._condition(args[0], "if()")
        return self._same(node, args[1:], _BOTH_RESULTS_OF_IF_CALL)

    def _call_round(self, node: ast.Call, args: list[ast.expr]) -> str:
        self._arity(node, args, 1, 2, "round")
        self._number(args[0], "round()")
        if len(args) == 2:
            places = literal_integer(args[1])
            if places is None or not 0 <= places <= MAX_ROUND_PLACES:
                self.fail(node, _("the places of round() must be a whole number from 0 to %(limit)s",
                                  limit=MAX_ROUND_PLACES))
        return NUMBER

    def _call_min(self, node: ast.Call, args: list[ast.expr]) -> str:
        self._arity(node, args, 2, None, "min")
        for arg in args:
            self._number(arg, "min()")
        return NUMBER

    def _call_max(self, node: ast.Call, args: list[ast.expr]) -> str:
        self._arity(node, args, 2, None, "max")
        for arg in args:
            self._number(arg, "max()")
        return NUMBER

    def _call_abs(self, node: ast.Call, args: list[ast.expr]) -> str:
        self._arity(node, args, 1, 1, "abs")
        self._number(args[0], "abs()")
        return NUMBER

    def _call_coalesce(self, node: ast.Call, args: list[ast.expr]) -> str:
        self._arity(node, args, 2, None, "coalesce")
        return self._same(node, args, _VALUES_OF_COALESCE)

    def _call_sum(self, node: ast.Call, args: list[ast.expr]) -> str:
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


def literal_integer(node: ast.AST) -> int | None:
    """The value of a whole-number literal (possibly negated), else None."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, Decimal) and is_whole(node.value):
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
