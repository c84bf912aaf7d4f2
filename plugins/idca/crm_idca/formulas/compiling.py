"""Compiling a checked formula into closures: Decimal operators in the money context (division
by zero and overflow trapped), lazy ``IF`` and ``coalesce``, ``sum(column)``, mapping-only
attribute access and no Python built-ins; what the checker refuses is refused here too."""
from __future__ import annotations

import ast
import operator as op
from decimal import Decimal
from typing import Any, Callable, Mapping

from crm.money import CONTEXT, round_places
from crm_idca.formulas.checking import literal_integer
from crm_idca.formulas.language import (
    MAX_EXPONENT,
    MAX_TEXT_LITERAL,
    NAMESPACES,
    Empty,
    EvaluationError,
    Failed,
    FormulaError,
)


def _power(base: Decimal, exponent: Decimal) -> Decimal:
    if abs(exponent) > MAX_EXPONENT:  # never passes the checker; defence in depth
        raise EvaluationError("number too large")
    return CONTEXT.power(base, exponent)


def _round(value: Decimal, places: Decimal = Decimal(0)) -> Decimal:
    return round_places(value, int(places))


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

#: the names a compiled formula reads (plain names, ``item``, ``doc``, ``sum``)
Names = Mapping[str, Any]
#: a compiled formula, or a part of one
Evaluator = Callable[[Names], Any]

#: the eager functions (``IF`` and ``coalesce`` are lazy and handled by the compiler)
FUNCTION_TABLE: dict[str, Callable] = {
    "round": _round,
    "min": min,
    "max": max,
    "abs": CONTEXT.abs,
}


def _read(name: str, value: Any) -> Any:
    """A value read by a formula: empty and failed values stop the evaluation."""
    if value is None:
        raise Empty(name)
    if value.__class__ is Failed:
        raise EvaluationError(f"{value.name} has an error ({value.message})")
    return value


class Uncompilable(FormulaError):
    """Something the compiler does not compile (the checker refuses it first)."""


class Compiler:
    """Compiles a checked formula tree into closures ``f(names)``.

    ``names`` maps plain names to values; ``item`` and ``doc`` map to dicts of fields (with
    ``custom`` a dict of custom values); ``sum`` maps column keys to their sums. Only checked
    trees should be compiled, but the compiler refuses on its own what the checker refuses
    (attributes on anything but those dicts, names with _, calls of unknown functions, float
    literals, any other syntax), as a second line of defence.
    """

    operators = OPERATORS
    functions = FUNCTION_TABLE

    def __init__(self, text: str):
        self.expr = text   # the source, for messages

    @staticmethod
    def _literal(node: ast.Constant) -> Any:
        value = node.value
        if isinstance(value, (float, complex)) or (isinstance(value, int) and not isinstance(value, bool)):
            raise Uncompilable("number literals must be parsed as Decimal")
        if isinstance(value, str) and len(value) > MAX_TEXT_LITERAL:
            raise Uncompilable("text literal too long")
        return value


    def compile(self, node: ast.AST, plain: frozenset[str] = frozenset()) -> Evaluator:
        """A function ``f(names)`` computing the checked tree ``node``; ``plain`` names are read
        without the empty/failed check (the built-in amounts, never empty)."""
        method = getattr(self, f"_compile_{type(node).__name__}", None)
        if method is None:
            raise Uncompilable(f"{type(node).__name__} is not available")
        return method(node, plain)

    def _compile_Expression(self, node: ast.Expression, plain: frozenset[str]) -> Evaluator:
        return self.compile(node.body, plain)

    def _compile_Constant(self, node: ast.Constant, plain: frozenset[str]) -> Evaluator:
        value = self._literal(node)
        return lambda names: value

    def _compile_Name(self, node: ast.Name, plain: frozenset[str]) -> Evaluator:
        key = node.id
        if key.startswith("_") or key in NAMESPACES:
            raise Uncompilable(f"name {key!r} is not available")
        if key in plain:
            return op.itemgetter(key)

        def name(names: Names) -> Any:
            value = names[key]
            if value is None or value.__class__ is Failed:
                return _read(key, value)
            return value
        return name

    def _compile_Attribute(self, node: ast.Attribute, plain: frozenset[str]) -> Evaluator:
        chain = []
        base: ast.expr = node
        while isinstance(base, ast.Attribute):
            if base.attr.startswith("_"):
                raise Uncompilable(f"access to {base.attr!r} is not allowed")
            chain.append(base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in NAMESPACES:
            raise Uncompilable("attributes are only allowed on item. and doc.")
        chain.reverse()
        root, path = base.id, ".".join([base.id, *chain])
        if len(chain) == 1:
            attr = chain[0]

            def attribute(names: Names) -> Any:
                value = names[root].get(attr)
                if value is None or value.__class__ is Failed or value.__class__ is dict:
                    return _checked_leaf(path, value)
                return value
            return attribute
        first, second = chain

        def custom(names: Names) -> Any:
            group = names[root].get(first)
            value = group.get(second) if group.__class__ is dict else None
            if value is None or value.__class__ is Failed or value.__class__ is dict:
                return _checked_leaf(path, value)
            return value
        return custom

    def _compile_BinOp(self, node: ast.BinOp, plain: frozenset[str]) -> Evaluator:
        return self._pair(self.operators[type(node.op)], node.left, node.right, plain)

    _NOT_CONSTANT = object()

    def _constant(self, node: ast.expr) -> Any:
        """The value of a literal (or a negated number literal), else ``_NOT_CONSTANT``."""
        if isinstance(node, ast.Constant):
            return self._literal(node)
        if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
                and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, Decimal)):
            return self.operators[type(node.op)](node.operand.value)
        return self._NOT_CONSTANT

    def _pair(self, function: Callable[[Any, Any], Any], left_node: ast.expr, right_node: ast.expr,
              plain: frozenset[str]) -> Evaluator:
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
        both_left = left if left is not None else self.compile(left_node, plain)
        both_right = right if right is not None else self.compile(right_node, plain)
        return lambda names: function(both_left(names), both_right(names))

    def _compile_UnaryOp(self, node: ast.UnaryOp, plain: frozenset[str]) -> Evaluator:
        function = self.operators[type(node.op)]
        operand = self.compile(node.operand, plain)
        return lambda names: function(operand(names))

    def _compile_BoolOp(self, node: ast.BoolOp, plain: frozenset[str]) -> Evaluator:
        values = [self.compile(value, plain) for value in node.values]
        if isinstance(node.op, ast.And):
            def both(names: Names) -> Any:
                result = False
                for value in values:
                    result = value(names)
                    if not result:
                        break
                return result
            return both

        def either(names: Names) -> Any:
            result = False
            for value in values:
                result = value(names)
                if result:
                    break
            return result
        return either

    def _compile_Compare(self, node: ast.Compare, plain: frozenset[str]) -> Evaluator:
        if len(node.ops) == 1:
            return self._pair(self.operators[type(node.ops[0])], node.left, node.comparators[0], plain)
        first = self.compile(node.left, plain)
        pairs = [(self.operators[type(operation)], self.compile(comparator, plain))
                 for operation, comparator in zip(node.ops, node.comparators)]

        def compare(names: Names) -> bool:
            right = first(names)
            for function, comparator in pairs:
                left, right = right, comparator(names)
                if not function(left, right):
                    return False
            return True
        return compare

    def _compile_IfExp(self, node: ast.IfExp, plain: frozenset[str]) -> Evaluator:
        test, body, orelse = (self.compile(part, plain) for part in (node.test, node.body, node.orelse))
        return lambda names: body(names) if test(names) else orelse(names)

    def _compile_Call(self, node: ast.Call, plain: frozenset[str]) -> Evaluator:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise Uncompilable("only the formula functions can be called")
        name = node.func.id
        args = [self.compile(arg, plain) for arg in node.args] if name != "sum" else []
        if name == "IF":
            test, body, orelse = args
            return lambda names: body(names) if test(names) else orelse(names)
        if name == "coalesce":
            text = _segment(self.expr, node)

            def coalesce(names: Names) -> Any:
                for arg in args:
                    try:
                        return arg(names)
                    except Empty:
                        continue
                raise Empty(f"every value of {text}")
            return coalesce
        if name == "sum":
            if not isinstance(node.args[0], ast.Name):
                raise Uncompilable("sum() takes a column's key")
            column = node.args[0].id
            label = f"sum({column})"
            return lambda names: _read(label, names["sum"].get(column))
        if name not in self.functions:
            raise Uncompilable(f"unknown function {name!r}")
        function = self.functions[name]
        if function is _round:
            places = literal_integer(node.args[1]) if len(node.args) == 2 else 0
            if places is not None:
                value = args[0]
                return lambda names: round_places(value(names), places)
        if len(args) == 1:
            only = args[0]
            return lambda names: function(only(names))
        if len(args) == 2:
            first, second = args
            return lambda names: function(first(names), second(names))
        return lambda names: function(*[arg(names) for arg in args])


def _checked_leaf(path: str, value: Any) -> Any:
    if value.__class__ is dict:
        raise EvaluationError(f"{path} is a group of fields")
    return _read(path, value)


def _segment(text: str, node: ast.AST) -> str:
    try:
        segment = ast.get_source_segment(text, node) or "coalesce()"
    except Exception:  # noqa: BLE001 - only for a message
        segment = "coalesce()"
    return segment.replace("IF(", "if(")
