"""Parsing a formula: ``if(`` rewritten to the function ``IF(`` (``if`` is a Python keyword), the
text parsed by :mod:`ast` in ``eval`` mode, its size bounded, and every number literal made a
:class:`~decimal.Decimal` read from its source text (no float is ever made)."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from decimal import Decimal

from flask_babel import gettext as _

from crm_idca.formulas.language import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_SOURCE,
    FormulaError,
)

_NUMBER_LITERAL = re.compile(r"^(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?$")
_EXPRESSION_END = {")", "]", "}"}
_NOT_EXPRESSION_END = {"and", "or", "not", "if", "else", "in", "is", "lambda", "await", "yield",
                       "return", "import", "from", "for", "while", "assert", "del", "with", "as"}


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


def _ends_expression(token: tokenize.TokenInfo | None) -> bool:
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
            node.value = value  # type: ignore[assignment]  # the formula language's numbers: typeshed has no Decimal constants
