"""docs/reference.md is generated from the code (``python -m crm.docs_reference docs/reference.md``,
``make reference``): the hooks, slots, document types, permission resources, errors, the public
names of the modules plugins use, the fields of the records hooks receive, the page endpoints and
every module. This fails while the committed page says something else than the code."""
from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from crm.docs_reference import render

pytestmark = pytest.mark.no_database   # CI runs it once, on SQLite

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reference.md"


def test_the_committed_reference_page_is_what_the_code_says():
    expected = render()
    committed = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    changes = list(difflib.unified_diff(committed.splitlines(), expected.splitlines(), "committed", "generated",
                                        lineterm="", n=0))
    assert changes == [], ("docs/reference.md is out of date: run `make reference` and commit it\n"
                           + "\n".join(changes[:60]))


def test_the_reference_page_is_linked_from_the_guides():
    for page in ("README.md", "docs/writing-plugins.md", "docs/hooks/README.md"):
        assert "reference.md" in (ROOT / page).read_text(encoding="utf-8"), f"{page} does not link the reference"
