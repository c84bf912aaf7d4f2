"""`make lint`: its tools pass on the repository and fail on a violation of each rule.

The violations are planted in a copy of the repository's Python files (and the lint settings)
in a temporary folder, which the tools check with the copy first on the import path; each tool
must name what was planted. Two more tests keep the contracts' lists of modules complete: every
core module is public (docs/architecture.md) or forbidden to plugins (.importlinter), and every
plugin module is an HTTP module or one the "no HTTP" contract covers.
"""
from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_database   # CI runs it once, on SQLite

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PLUGINS = ("payments", "item_lookup", "idca", "accounting_sync", "warehouses")
#: a plugin's modules that may use the core's API and pages (its endpoints, pages, API schemas, wiring)
PLUGIN_HTTP_MODULES = {"api", "web", "schemas", "plugin"}
COPIED = ("core", "plugins", "docs/example-plugin", "tools")
SETTINGS = ("pyproject.toml", ".importlinter")


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A lint tool of the virtualenv run in ``cwd``, with ``cwd``'s packages first on the path."""
    path = [cwd / "core", *(cwd / "plugins" / p for p in PLUGINS), cwd / "docs" / "example-plugin"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, path))}
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def lint(cwd: Path, mypy_cache: Path) -> dict[str, subprocess.CompletedProcess]:
    """What `make lint` runs, tool by tool."""
    return {
        "ruff": run("ruff", "check", "--no-cache", "--output-format", "concise", ".", cwd=cwd),
        "import-linter": run("lint-imports", "--no-cache", "--no-logo", cwd=cwd),
        "mypy": run("mypy", "--cache-dir", str(mypy_cache), cwd=cwd),
        "money": run("python", "tools/check_money.py", cwd=cwd),
    }


def test_make_lint_runs_the_four_tools():
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    for command in ("ruff check .", "lint-imports", "mypy", "tools/check_money.py"):
        assert command in recipe, command
    assert "make lint" in (ROOT / ".ci" / "run").read_text()


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mypy_cache")


def test_the_repository_passes_every_tool(mypy_cache):
    for tool, result in lint(ROOT, mypy_cache).items():
        assert result.returncode == 0, f"{tool}:\n{result.stdout}\n{result.stderr}"


# --- planted violations -------------------------------------------------------------------------

def _copy(target: Path) -> None:
    def ignored(folder: str, names: list[str]) -> list[str]:
        return [name for name in names if name == "__pycache__" or name.endswith(".egg-info")
                or ((Path(folder) / name).is_file() and Path(name).suffix not in (".py", ".toml", ".cfg"))]
    for top in COPIED:
        shutil.copytree(ROOT / top, target / top, ignore=ignored)
    for name in SETTINGS:
        shutil.copy2(ROOT / name, target / name)


def _plant(tree: Path, relative: str, code: str) -> None:
    path = tree / relative
    path.write_text(path.read_text() + "\n\n" + code + "\n")


#: (file, code planted at its end, the tool that must refuse it, a pattern of what it must say)
PLANTED = [
    ("core/crm/services/taxes.py", "import crm_payments.services  # noqa: E402,F401,I001",
     "import-linter", r"crm\.services\.taxes -> crm_payments\.services"),
    ("plugins/idca/crm_idca/engine.py", "from crm_payments import models as _payments  # noqa: E402,F401,I001",
     "import-linter", r"crm_idca\.engine -> crm_payments\.models"),
    ("core/crm/services/vendors.py", "from crm.api import fields as _fields  # noqa: E402,F401,I001",
     "import-linter", r"crm\.services\.vendors -> crm\.api\.fields"),
    ("plugins/item_lookup/crm_item_lookup/sync.py", "from crm.web import common as _common  # noqa: E402,F401,I001",
     "import-linter", r"crm_item_lookup\.sync -> crm\.web\.common"),
    ("plugins/payments/crm_payments/web.py", "from crm.web import helpers as _helpers  # noqa: E402,F401,I001",
     "import-linter", r"crm_payments\.web -> crm\.web\.helpers"),
    ("core/crm/totals.py", "from crm import db as _db  # noqa: E402,F401,I001",
     "import-linter", r"crm\.totals -> crm\.db"),
    ("core/crm/dates.py", "import os  # noqa: E402,I001",
     "ruff", r"core/crm/dates\.py:\d+:\d+: F401"),
    ("core/crm/labels.py", "def _planted(a):\n" + "".join(f"    if a == {n}:\n        return {n}\n" for n in range(16))
     + "    return a", "ruff", r"core/crm/labels\.py:\d+:\d+: C901 `_planted` is too complex"),
    ("plugins/payments/crm_payments/services/amounts.py", "from decimal import ROUND_FLOOR  # noqa: E402,F401,I001",
     "ruff", r"crm_payments/services/amounts\.py:\d+:\d+: TID251 `decimal\.ROUND_FLOOR` is banned"),
    ("core/crm/services/receivables.py",
     "def _planted(amount):\n    return amount.quantize(ZERO, rounding='ROUND_FLOOR')",
     "money", r"core/crm/services/receivables\.py:\d+:\d+: \.quantize\(\) outside crm\.money"),
    ("core/crm/services/receivables.py", "",
     "money", r"core/crm/services/receivables\.py:\d+:\d+: 'ROUND_FLOOR' outside crm\.money"),
    ("plugins/idca/crm_idca/validation.py", "import decimal  # noqa: E402,I001\n_PLANTED = decimal.ROUND_UP",
     "money", r"plugins/idca/crm_idca/validation\.py:\d+:\d+: ROUND_UP outside crm\.money"),
    ("plugins/accounting_sync/crm_accounting_sync/services.py", "def _planted() -> int:\n    return 'one'",
     "mypy", r"crm_accounting_sync/services\.py:\d+: error: Incompatible return value type"),
]


@pytest.fixture(scope="module")
def planted(tmp_path_factory, mypy_cache) -> dict[str, subprocess.CompletedProcess]:
    tree = tmp_path_factory.mktemp("planted")
    _copy(tree)
    for relative, code, _tool, _said in PLANTED:
        if code:
            _plant(tree, relative, code)
    return lint(tree, mypy_cache)


@pytest.mark.parametrize("relative, code, tool, said", PLANTED, ids=[f"{p[2]}:{p[3]}" for p in PLANTED])
def test_each_tool_refuses_what_is_planted(planted, relative, code, tool, said):
    result = planted[tool]
    report = result.stdout + result.stderr
    assert result.returncode != 0, report
    assert re.search(said, " ".join(report.split())), report


def test_every_import_contract_is_broken_by_a_planted_import(planted):
    report = planted["import-linter"].stdout
    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter")
    names = [contracts[s]["name"] for s in contracts.sections() if s.startswith("importlinter:contract:")]
    assert names
    for name in names:
        assert f"{' '.join(name.split())} BROKEN" in " ".join(report.split()), name


# --- the lists of modules ----------------------------------------------------------------------

def _modules(folder: Path, package: str) -> set[str]:
    found = set()
    for path in (folder / package).rglob("*.py"):
        parts = path.relative_to(folder).with_suffix("").parts
        if "migrations" in parts or "__pycache__" in parts:
            continue
        found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def _contract(section: str, key: str) -> list[str]:
    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter")
    return contracts[f"importlinter:contract:{section}"][key].split()


def _covered(module: str, listed: list[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in listed)


def test_every_core_module_is_public_or_forbidden_to_plugins():
    section = (ROOT / "docs" / "architecture.md").read_text().split("## The modules a plugin may import")[1]
    section = section.split("\n## ")[0]
    public = set(re.findall(r"`(crm(?:\.\w+)*)`", section))
    forbidden = set(_contract("plugins-use-the-public-modules", "forbidden_modules"))  # as named (as_packages False)
    wrong = {m: ("both" if m in forbidden else "neither") for m in sorted(_modules(ROOT / "core", "crm"))
             if (m in public) == (m in forbidden)}
    assert not wrong, f"say in docs/architecture.md or .importlinter whether plugins may import: {wrong}"


def test_every_plugin_module_is_an_http_module_or_covered_by_the_no_http_contract():
    domain = _contract("plugin-domain-knows-no-http", "source_modules")
    wrong = []
    for plugin in PLUGINS:
        package = f"crm_{plugin}"
        for module in sorted(_modules(ROOT / "plugins" / plugin, package)):
            http = module == package or module.split(".")[1:] in ([name] for name in PLUGIN_HTTP_MODULES)
            if http == _covered(module, domain):
                wrong.append(module)
    assert not wrong, f"name these modules in .importlinter's plugin-domain-knows-no-http contract: {wrong}"
