"""The tests shown in docs/writing-plugins.md ("Testing the plugin") pass as written: the guide's
``conftest.py`` and test functions are copied into a fresh folder and run by pytest in a
process of its own, with the example plugin of docs/example-plugin."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "writing-plugins.md"


def _guide_blocks() -> list[str]:
    section = GUIDE.read_text(encoding="utf-8").split("## 9. Testing the plugin", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.mark.slow
def test_the_tests_of_the_plugin_guide_pass(pytester, monkeypatch):
    blocks = _guide_blocks()
    conftest = next(block for block in blocks if "def crm_extra_plugins" in block)
    tests = [block for block in blocks if "def test_" in block]
    assert len(tests) == 1, "the guide's tests are one block"
    expected = len(re.findall(r"^def test_", tests[0], re.M))
    pytester.makeconftest(conftest)
    pytester.makepyfile(test_hello=tests[0])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "docs" / "example-plugin"),
                                                      os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=expected)
