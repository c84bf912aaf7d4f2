"""Browser tests read the page through Playwright's retrying assertions.

`locator.count()`, `is_visible()` and `is_hidden()` answer at once, from whatever page is loaded
at that instant: right after a click that submits a form they may still read the page before
(a test that passes on a fast machine and fails on a slow one). `expect(locator).to_have_count()`,
`to_be_visible()` and `to_be_hidden()` wait for the page to agree. This test finds every
assertion in a browser test that reads without waiting.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_database   # CI runs it once, on SQLite

ROOT = Path(__file__).resolve().parent.parent
NOT_WAITING = {"count", "is_visible", "is_hidden"}


def browser_tests() -> list[Path]:
    files = [*ROOT.glob("tests/**/test_*.py"), *ROOT.glob("plugins/*/tests/**/test_*.py")]
    return [f for f in files if "new_page" in f.read_text() or f.parent.name == "browser"]


def reads_without_waiting(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Assert):
            continue
        for call in ast.walk(node.test):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr in NOT_WAITING and not call.args
                    and not (isinstance(call.func.value, ast.Name) and call.func.value.id == "func")):
                lines.append(call.lineno)
    return lines


def test_the_check_finds_a_read_that_does_not_wait():
    assert reads_without_waiting("assert page.locator('tr').count() == 1\nassert row.is_visible()\n") == [1, 2]
    assert reads_without_waiting("expect(page.locator('tr')).to_have_count(1)\n"
                                 "assert s.scalar(select(func.count())) == 2\n"
                                 "assert text.count('Madrid') == 1\n") == []


def test_browser_tests_only_assert_through_waiting_reads():
    found = {f"{path.relative_to(ROOT)}:{line}" for path in browser_tests()
             for line in reads_without_waiting(path.read_text())}
    assert browser_tests() and not found, f"use playwright's expect(...) instead: {sorted(found)}"
