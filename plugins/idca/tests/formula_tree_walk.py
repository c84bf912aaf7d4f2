"""A second evaluator of the formula language, for tests only: simpleeval's tree walk with the
formula language's rules and the plugin's operator and function tables. The plugin compiles
formulas into closures (:class:`crm_idca.formulas.Compiler`); the tests check that both give
the same value or the same error for the same checked formula."""
from __future__ import annotations

import ast
from typing import Any, Mapping

import simpleeval

from crm_idca import formulas as fx


def tree_walk(formula: fx.Formula, names: Mapping[str, Any]):
    """``formula`` evaluated by walking its tree: the value, or the error, the closures give."""
    evaluator = TreeWalk(names)
    evaluator.expr = formula.text
    return evaluator.eval(formula.text, previously_parsed=formula.tree)


def _read(name: str, value):
    if value is None:
        raise fx.Empty(name)
    if value.__class__ is fx.Failed:
        raise fx.EvaluationError(f"{value.name} has an error ({value.message})")
    return value


class TreeWalk(simpleeval.SimpleEval):
    """simpleeval with Decimal numbers and the formula language's rules: only the plugin's
    operators and functions, lazy ``IF`` and ``coalesce``, ``sum(column)``, attributes only on
    the ``item`` and ``doc`` dicts, no names with _, no float literals."""

    def __init__(self, names: Mapping[str, Any] | None = None):
        super().__init__(operators=dict(fx.OPERATORS), functions=dict(fx.FUNCTION_TABLE), names=dict(names or {}))
        for node_type in (ast.Assign, ast.AugAssign, ast.Import, ast.Subscript, ast.Slice, ast.JoinedStr,
                          ast.FormattedValue, ast.keyword):
            self.nodes.pop(node_type, None)
        self.nodes[ast.Expression] = self._eval_expression
        self.ATTR_INDEX_FALLBACK = False

    @staticmethod
    def parse(expr):
        return fx.parse(expr)[0]

    def _eval_expression(self, node):
        return self._eval(node.body)

    @staticmethod
    def _eval_constant(node):
        value = node.value
        if isinstance(value, (float, complex)) or (isinstance(value, int) and not isinstance(value, bool)):
            raise simpleeval.FeatureNotAvailable("number literals must be parsed as Decimal")
        if isinstance(value, str) and len(value) > fx.MAX_TEXT_LITERAL:
            raise simpleeval.IterableTooLong("text literal too long")
        return value

    def _eval_name(self, node):
        if node.id.startswith("_") or node.id in ("item", "doc"):
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
        if not isinstance(base, ast.Name) or base.id not in ("item", "doc"):
            raise simpleeval.FeatureNotAvailable("attributes are only allowed on item. and doc.")
        value = self.names.get(base.id)
        path = base.id
        for attr in reversed(chain):
            if not isinstance(value, dict):
                raise simpleeval.AttributeDoesNotExist(attr, self.expr)
            path = f"{path}.{attr}"
            value = value.get(attr)
        if isinstance(value, dict):
            raise fx.EvaluationError(f"{path} is a group of fields")
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
                except fx.Empty:
                    continue
            segment = (ast.get_source_segment(self.expr, node) or "coalesce()").replace("IF(", "if(")
            raise fx.Empty(f"every value of {segment}")
        if name == "sum":
            column = args[0].id
            return _read(f"sum({column})", self.names["sum"].get(column))
        if name not in self.functions:
            raise simpleeval.FunctionNotDefined(name, self.expr)
        return self.functions[name](*(self._eval(arg) for arg in args))
