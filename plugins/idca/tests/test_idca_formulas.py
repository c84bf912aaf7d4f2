"""The formula language on its own: exact Decimal arithmetic, the functions, the checks made
when a layout is saved, per-cell evaluation errors, and a corpus of sandbox-escape and
resource-exhaustion attempts that must all be refused."""
from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest

from crm_idca import formulas as fx
from formula_tree_walk import tree_walk

pytestmark = pytest.mark.no_database   # CI runs it once, on SQLite

D = Decimal

LINE = fx.Scope(
    names={"quantity": fx.NUMBER, "unit_price": fx.NUMBER, "gross": fx.NUMBER, "discount": fx.NUMBER,
           "net": fx.NUMBER, "tax": fx.NUMBER, "total": fx.NUMBER, "cost": fx.NUMBER, "note": fx.TEXT,
           "delivery": fx.DATE},
    item_fields={"purchase_cost": fx.NUMBER, "unit_price": fx.NUMBER, "name": fx.TEXT, "category": fx.TEXT},
    item_custom={"weight": fx.NUMBER, "origin": fx.TEXT},
    doc_fields={"currency": fx.TEXT, "due_date": fx.DATE, "date": fx.DATE, "billing_country": fx.TEXT},
    doc_custom={"project": fx.TEXT},
    plain=frozenset({"quantity", "unit_price", "gross", "discount", "net", "tax", "total"}))
TOTALS = fx.Scope(
    names={"subtotal": fx.NUMBER, "taxable": fx.NUMBER, "tax": fx.NUMBER, "grand_total": fx.NUMBER,
           "margin_total": fx.NUMBER},
    doc_fields={"currency": fx.TEXT, "billing_country": fx.TEXT},
    sum_columns={"net": fx.NUMBER, "margin": fx.NUMBER, "note": fx.TEXT},
    plain=frozenset({"subtotal", "taxable", "tax", "grand_total"}), kind="totals")


def names(**overrides):
    values = {"quantity": D("3.000"), "unit_price": D("19.99"), "gross": D("59.97"), "discount": D("6.00"),
              "net": D("53.97"), "tax": D("11.33"), "total": D("65.30"), "cost": None, "note": "fragile",
              "delivery": dt.date(2027, 3, 1),
              "item": {"purchase_cost": D("12.00"), "unit_price": D("19.99"), "name": "Widget",
                       "category": "Hardware", "custom": {"weight": D("0.250"), "origin": None}},
              "doc": {"currency": "EUR", "due_date": dt.date(2027, 2, 1), "date": dt.date(2027, 1, 15),
                      "billing_country": "ES", "custom": {"project": "Alcalá"}}}
    values.update(overrides)
    return values


def evaluate(source, scope=LINE, **overrides):
    """The compiled closures, checked against a tree walk of the same formula (tests only)."""
    formula = fx.prepare(source, scope)
    values = names(**overrides)
    compiled = formula(values)
    reference = tree_walk(formula, values)
    assert compiled == reference and type(compiled) is type(reference)
    return compiled


# --- worked examples ----------------------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    ("net - quantity * item.purchase_cost", D("17.97")),            # 53.97 - 36.000
    ("round(net - quantity * item.purchase_cost, 2)", D("17.97")),
    ("round((net - quantity * item.purchase_cost) / net * 100, 2)", D("33.30")),   # 33.2962... -> 33.30
    ("0.1 + 0.2", D("0.3")),                                        # exact: no float anywhere
    ("round(1 / 3 * 3, 2)", D("1.00")),
    ("round(2.675, 2)", D("2.68")),                                 # HALF_UP on the exact decimal
    ("round(-2.5)", D("-3")),                                       # ties away from zero
    ("quantity * 1.5", D("4.5000")),
    ("1_000.5 + 2e2", D("1200.5")),
    ("2 ** 10", D("1024")),
    ("2 ** -2", D("0.25")),
    ("-net", D("-53.97")),
    ("abs(discount - gross)", D("53.97")),
    ("min(net, 50, tax)", D("11.33")),
    ("max(net, 50)", D("53.97")),
    ("if(quantity > 2, net, 0)", D("53.97")),
    ("net if quantity > 5 else tax", D("11.33")),
    ("if(item.category == 'Hardware' and doc.billing_country == 'ES', 1, 2)", D("1")),
    ("if(not (quantity < 1 or net > 100), 10, 20)", D("10")),
    ("if(1 < quantity <= 3, 1, 0)", D("1")),
    ("quantity * item.custom.weight", D("0.750000")),
    ("coalesce(cost, item.purchase_cost) * quantity", D("36.00000")),
    ("coalesce(item.custom.origin, 'unknown')", "unknown"),
    ("item.name", "Widget"),
    ("doc.custom.project", "Alcalá"),
    ("if(doc.due_date > doc.date, 'credit', 'cash')", "credit"),
    ("delivery", dt.date(2027, 3, 1)),
    ("IF(net > 0, 1, 2)", D("1")),
])
def test_worked_examples(source, expected):
    assert evaluate(source) == expected


def test_if_keyword_and_conditional_expression():
    assert evaluate("1 if (net > 0) else 2") == D("1")
    assert evaluate("if(net > 0, 1, 2) + if (net < 0, 1, 2)") == D("3")
    assert evaluate("(1 if net > 0 else 2) * if(net > 0, 3, 4)") == D("3")


def test_literals_are_decimals_read_from_their_text():
    tree, _text = fx.parse("0.1 + 3 + 1e-3")
    values = [node.value for node in __import__("ast").walk(tree) if hasattr(node, "value")
              and isinstance(node.value, Decimal)]
    assert sorted(values) == [D("1e-3"), D("0.1"), D("3")]
    assert all(type(v) is Decimal for v in values)


def test_if_is_lazy_so_a_guarded_division_never_fails():
    assert evaluate("if(quantity == 0, 0, net / quantity)", quantity=D("0")) == D("0")
    assert evaluate("net / quantity if quantity != 0 else 0", quantity=D("0")) == D("0")
    assert evaluate("coalesce(cost, 5)") == D("5")


def test_totals_formulas_read_totals_and_sums_of_columns():
    values = {"subtotal": D("123.88"), "taxable": D("123.88"), "tax": D("24.37"), "grand_total": D("148.25"),
              "margin_total": D("81.88"), "sum": {"net": D("123.88"), "margin": D("81.88")},
              "doc": {"currency": "EUR", "billing_country": "ES", "custom": {}}}
    for source, expected in [("sum(margin)", D("81.88")),
                             ("round(sum(margin) / subtotal * 100, 2)", D("66.10")),
                             ("round(taxable * 15 / 100, 2)", D("18.58")),
                             ("grand_total - round(taxable * 15 / 100, 2)", D("129.67")),
                             ("if(doc.billing_country == 'ES', round(taxable * 0.15, 2), 0)", D("18.58"))]:
        formula = fx.prepare(source, TOTALS)
        assert formula(values) == tree_walk(formula, values) == expected


# --- evaluation errors: clear, per cell, never a silent 0 ---------------------------------------------

@pytest.mark.parametrize("source, overrides, message", [
    ("net / 0", {}, "division by zero"),
    ("net / (quantity - 3)", {}, "division by zero"),
    ("0 / (quantity - 3)", {}, "division by zero"),            # 0/0 too
    ("cost * 2", {}, "cost is empty"),
    ("item.custom.origin", {}, "item.custom.origin is empty"),
    ("quantity * item.custom.weight", {"item": {"custom": {}}}, "item.custom.weight is empty"),
    ("cost + 1", {"cost": fx.Failed("cost", "division by zero")}, "cost has an error (division by zero)"),
    ("coalesce(cost, item.custom.weight)", {"item": {"custom": {}}}, "every value of coalesce(cost, item.custom.weight) is empty"),
    ("(net ** 12) ** 12", {"net": D("1e300000")}, "number too large"),
])
def test_evaluation_errors_are_clear(source, overrides, message):
    formula = fx.prepare(source, LINE)
    values = names(**overrides)
    for run in (formula, lambda values: tree_walk(formula, values)):
        with pytest.raises(Exception) as caught:
            run(values)
        assert message in fx.error_message(caught.value)


# --- checks when a layout is saved ------------------------------------------------------------------

@pytest.mark.parametrize("source, message", [
    ("net +", "syntax error"),
    ("(net", "syntax error"),
    ("net net", "syntax error"),
    ("", "is empty"),
    ("   ", "is empty"),
    ("x" * 501, "is too long"),
    ("margn * 2", "unknown name 'margn'"),
    ("nett - 1", "did you mean 'net'"),
    ("item.purchase_cots", "unknown item field 'purchase_cots' (did you mean 'purchase_cost'?)"),
    ("item.custom.colour", "unknown item custom field 'colour'"),
    ("doc.customer", "unknown doc field 'customer'"),
    ("item", "item is a group of fields"),
    ("item.custom", "write item.custom.<key>"),
    ("item.name + 1", "'+' needs numbers, but 'item.name' is text"),
    ("note * 2", "'*' needs numbers, but 'note' is text"),
    ("-note", "a sign needs numbers"),
    ("if(note, 1, 2)", "if() needs a condition"),
    ("net if note else 1", "'if' needs a condition"),
    ("if(net > 0, 'a', 1)", "both results of if() must have the same type"),
    ("net == 'a'", "cannot compare a number"),
    ("delivery < 3", "cannot compare a date"),
    ("(net > 1) < (net > 2)", "true/false values can only be compared with == and !="),
    ("net and tax", "and needs a condition"),
    ("round(net, 11)", "the places of round() must be a whole number from 0 to 10"),
    ("round(net, quantity)", "the places of round()"),
    ("round()", "round() takes 1 to 2 arguments, got 0"),
    ("abs(net, tax)", "abs() takes 1 argument"),
    ("min(net)", "min() takes at least 2 arguments"),
    ("if(net > 0, 1)", "if() takes 3 arguments"),
    ("sum(net)", "sum() is only available in totals formulas"),
    ("floor(net)", "unknown function 'floor'"),
    ("net ** quantity", "the exponent of ** must be a whole number"),
    ("net ** 13", "the exponent of ** must be a whole number between -12 and 12"),
    ("net ** 0.5", "the exponent of ** must be a whole number"),
    ("net // 2", "operator // is not allowed"),
    ("net % 2", "operator % is not allowed"),
    ("None", "None is not a value here"),
    ("coalesce(net, 'x')", "the values of coalesce() must have the same type"),
    ("round", "round is a function"),
    ("0x1F", "write numbers in decimal"),
    ("1j", "write numbers in decimal"),
    ("1e20", "number out of range"),
    ("'" + "a" * 201 + "'", "text literals may have at most 200 characters"),
    ("-" * 40 + "net", "nested too deeply"),
    ("net in tax", "operator in is not allowed"),
    ("net is tax", "operator is is not allowed"),
])
def test_line_formulas_are_checked_when_saved(source, message):
    with pytest.raises(fx.FormulaError) as refused:
        fx.prepare(source, LINE)
    assert message in refused.value.message


@pytest.mark.parametrize("source, message", [
    ("sum(price)", "unknown number column 'price'"),
    ("sum(note)", "sum() needs a number column; note is text"),
    ("sum(net + 1)", "sum() takes the key of a line column"),
    ("sum(net, tax)", "sum() takes 1 argument"),
    ("item.purchase_cost", "item fields are only available in line formulas"),
    ("margin", "unknown name 'margin'"),
])
def test_totals_formulas_are_checked_when_saved(source, message):
    with pytest.raises(fx.FormulaError) as refused:
        fx.prepare(source, TOTALS)
    assert message in refused.value.message


def test_messages_quote_the_offending_part():
    with pytest.raises(fx.FormulaError) as refused:
        fx.prepare("round(net * 2, 2) + item.name", LINE)
    assert "(in 'item.name')" in refused.value.message
    with pytest.raises(fx.FormulaError) as refused:
        fx.prepare("if(net > 0, 1, margn)", LINE)
    assert "unknown name 'margn'" in refused.value.message and "if(" not in refused.value.message.split("(in")[0]


# --- the escape corpus --------------------------------------------------------------------------------

ESCAPES = [
    "__import__('os')",
    "__import__('os').system('id')",
    "().__class__.__bases__[0].__subclasses__()",
    "''.__class__.__mro__[1].__subclasses__()",
    "net.__class__.__base__.__subclasses__()",
    "9**9**9",
    "10**100000",
    "'a'*10**9",
    "'x' * 99999999",
    "('ab' + 'cd') * 1000",
    "lambda: 1",
    "(lambda: __import__('os'))()",
    "[x for x in range(10**9)]",
    "{x: x for x in 'abc'}",
    "sum(x for x in [net])",
    "{1, 2}",
    "[net][0]",
    "(net, tax)",
    "getattr(net, '__class__')",
    "net.__class__",
    "item.__dict__",
    "item.custom.__class__",
    "doc.__class__.__init__.__globals__",
    "item.purchase_cost.__add__(1)",
    "item.purchase_cost.as_integer_ratio()",
    "net.real",
    "'{0.__class__}'.format(net)",
    "'{.__globals__}'.format(round)",
    "f'{net.__class__}'",
    "f'{net!r:>{10**9}}'",
    "'%s' % net",
    "__builtins__",
    "__builtins__['eval']('1')",
    "eval('1')",
    "exec('x=1')",
    "compile('1', '', 'eval')",
    "open('/etc/passwd').read()",
    "globals()",
    "locals()",
    "vars()",
    "dir()",
    "type(net)",
    "help()",
    "breakpoint()",
    "round.__self__",
    "item['purchase_cost']",
    "(y := 5)",
    "import os",
    "net if True else __import__('os')",
    "max(*[net, tax])",
    "round(net, ndigits=2)",
    "net << 100000",
    "~net",
    "net @ net",
    "1e999999999 * net",
    "0x7fffffff",
    "await net",
    "(yield net)",
    "net\x00",
    "-" * 200 + "net",
    "(" * 201 + "net" + ")" * 201,
    "+".join(["net"] * 120),
    "True.__class__",
    "None.__class__",
    "doc.custom.__globals__",
    "item.custom.weight.__class__",
    "_",
    "__name__",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_corpus_is_refused_when_saved(source):
    assert len(ESCAPES) >= 30
    start = time.perf_counter()
    with pytest.raises(fx.FormulaError):
        fx.prepare(source, LINE)
    with pytest.raises(fx.FormulaError):
        fx.prepare(source, TOTALS)
    assert time.perf_counter() - start < 5  # refused at once, never evaluated (not a timing claim)


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_corpus_fails_even_without_the_checker(source):
    """Defence in depth: the compiler refuses the corpus on its own, unchecked (it never
    returns a class, a function, a module or a huge value)."""
    try:
        tree, text = fx.parse(source)
        result = fx.Compiler(text).compile(tree)(names())
    except (fx.FormulaError, fx.EvaluationError, ArithmeticError, TypeError, ValueError, KeyError,
            AttributeError, RecursionError):
        return
    assert isinstance(result, (Decimal, str, bool, dt.date)), f"{source!r} gave {result!r}"
    assert not isinstance(result, str) or len(result) <= 200


def test_the_compiler_has_no_python_builtins():
    assert set(fx.Compiler.functions) == {"round", "min", "max", "abs"}
    for name in ("int", "float", "str", "rand", "randint", "open", "getattr"):
        tree, text = fx.parse(f"{name}(1)")
        with pytest.raises(fx.FormulaError, match="unknown function"):
            fx.Compiler(text).compile(tree)
    float_literal = __import__("ast").Expression(body=__import__("ast").Constant(value=0.1))
    with pytest.raises(fx.FormulaError, match="must be parsed as Decimal"):   # a float literal never passes
        fx.Compiler("0.1").compile(float_literal)
