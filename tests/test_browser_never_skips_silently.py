"""`make test` on a machine without the browser: the browser tests fail saying what to do,
unless ``CRM_SKIP_BROWSER=1`` opts out, which the summary says; ``tools/ensure-chromium``
(run by `make test` first) installs Debian's chromium where it can, else stops with a message."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_database   # CI runs it once, on SQLite

ROOT = Path(__file__).resolve().parent.parent

A_BROWSER_TEST = """
def test_a_page(page):
    page.goto("/login")
"""


def _run(pytester, monkeypatch, **env):
    monkeypatch.setenv("CRM_CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CRM_SKIP_BROWSER", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(A_BROWSER_TEST)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider")


@pytest.mark.slow
def test_a_missing_browser_fails_the_browser_tests(pytester, monkeypatch):
    result = _run(pytester, monkeypatch)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*/nonexistent/chromium is missing*CRM_SKIP_BROWSER=1*"])


@pytest.mark.slow
def test_the_opt_out_skips_them_and_says_so_in_the_summary(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, CRM_SKIP_BROWSER="1")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*= 1 browser tests skipped: CRM_SKIP_BROWSER=1 is set =*"])


def _ensure_chromium(tmp_path, **env) -> subprocess.CompletedProcess:
    """``tools/ensure-chromium`` where apt-get cannot be found (a PATH of sh and id only)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("sh", "id"):
        (tools / name).symlink_to(subprocess.run(["sh", "-c", f"command -v {name}"], capture_output=True,
                                                 text=True, check=True).stdout.strip())
    return subprocess.run([str(tools / "sh"), str(ROOT / "tools" / "ensure-chromium")], capture_output=True,
                          text=True, env={"PATH": str(tools), "CRM_CHROMIUM": "/nonexistent/chromium", **env})


def test_make_test_stops_with_what_to_do_when_chromium_cannot_be_installed(tmp_path):
    result = _ensure_chromium(tmp_path)
    assert result.returncode == 1
    assert "the browser tests need Debian's chromium at /nonexistent/chromium" in result.stderr
    assert "CRM_SKIP_BROWSER=1 make test" in result.stderr


def test_make_test_goes_on_without_a_browser_when_opted_out(tmp_path):
    result = _ensure_chromium(tmp_path, CRM_SKIP_BROWSER="1")
    assert result.returncode == 0 and "browser tests are skipped" in result.stdout


def test_make_test_checks_the_browser_first():
    recipe = (ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip() for line in recipe.splitlines()[1:]]
    assert lines[0] == "tools/ensure-chromium" and "pytest" in lines[1]
    assert os.access(ROOT / "tools" / "ensure-chromium", os.X_OK)
