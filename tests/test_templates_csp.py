"""Every template of the core, the plugins and the example plugin works under the
Content-Security-Policy (`script-src 'self'`): no event-handler attribute (``onclick=``...), no
``javascript:`` link and no inline ``<script>`` without the page's nonce (a
``<script type="application/json">`` holds data, which no browser runs). The browser tests find
such a violation only on the pages they open; this finds it in every template."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_database   # CI runs it once, on SQLite

ROOT = Path(__file__).resolve().parent.parent
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I | re.S)
JAVASCRIPT_LINK = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)
#: a script the browser runs, written in the page, without the nonce (JSON data is not run)
INLINE_SCRIPT = re.compile(r"""<script(?![^>]*\b(?:src|nonce)\s*=)(?![^>]*type=["']application/json)[^>]*>""", re.I)


def templates() -> list[Path]:
    return sorted(p for pattern in ("core/crm/templates/**/*.html", "plugins/*/crm_*/templates/**/*.html",
                                    "docs/example-plugin/crm_hello/templates/**/*.html")
                  for p in ROOT.glob(pattern))


def violations(source: str) -> list[str]:
    return [m.group(0)[:80] for pattern in (HANDLER, JAVASCRIPT_LINK, INLINE_SCRIPT) for m in pattern.finditer(source)]


def test_the_check_finds_what_the_policy_refuses():
    assert len(violations('<button type="button"\n  onclick="window.print()">')) == 1
    assert len(violations('<a href="javascript:void(0)">x</a><script>alert(1)</script>')) == 2
    assert violations('<button data-print data-confirm="Sure?">Print</button>'
                      '<script src="/static/crm.js"></script><script nonce="{{ csp_nonce() }}">x</script>'
                      '<script type="application/json" id="data">{"a": 1}</script>'
                      '<p>Written online= here</p>') == []


def test_no_template_uses_what_the_policy_refuses():
    found = {f"{path.relative_to(ROOT)}: {text}" for path in templates() for text in violations(path.read_text())}
    assert templates() and not found, sorted(found)
