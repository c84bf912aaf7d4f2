"""The money rule of ``make lint``: only crm.money and crm.totals round.

Anywhere else in the product (the core, the plugins, the example plugin; not the tests nor the
benches, which compute their expected figures and their plain-Python floor on their own) it reports:

* a call of ``.quantize()`` or ``.to_integral()`` / ``.to_integral_value()`` /
  ``.to_integral_exact()``: round with :mod:`crm.money` (``round_money``, ``round_quantity``,
  ``round_places``, ``round_half_even``, ``floor_quantity``, ``whole_times``, ``is_whole``);
* a rounding mode, ``ROUND_HALF_UP`` and the others, as a name, an attribute (``decimal.ROUND_UP``)
  or a string (``rounding="ROUND_FLOOR"``), which only rounding needs.

Usage: ``python tools/check_money.py [ROOT]`` (ROOT: the repository, by default the one holding
this file). Prints one ``path:line:column: message`` per finding and exits 1 when there is one.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ALLOWED = {Path("core/crm/money.py"), Path("core/crm/totals.py")}
SCANNED = ("core", "plugins", "docs")
SKIPPED_DIRS = {"tests", "__pycache__", ".venv", "node_modules", "build", "dist"}
ROUNDING_METHODS = {"quantize", "to_integral", "to_integral_value", "to_integral_exact"}
ROUNDING_MODES = {"ROUND_UP", "ROUND_DOWN", "ROUND_CEILING", "ROUND_FLOOR", "ROUND_HALF_UP", "ROUND_HALF_DOWN",
                  "ROUND_HALF_EVEN", "ROUND_05UP"}
ADVICE = "money and quantities are rounded by crm.money only"


def findings(tree: ast.AST) -> list[tuple[int, int, str]]:
    """``(line, column, message)`` of every rounding in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ROUNDING_METHODS:
            found.append((node.lineno, node.col_offset, f".{node.func.attr}() outside crm.money: {ADVICE}"))
        elif isinstance(node, ast.Name) and node.id in ROUNDING_MODES:
            found.append((node.lineno, node.col_offset, f"{node.id} outside crm.money: {ADVICE}"))
        elif isinstance(node, ast.Attribute) and node.attr in ROUNDING_MODES:
            found.append((node.lineno, node.col_offset, f"{node.attr} outside crm.money: {ADVICE}"))
        elif isinstance(node, ast.alias) and node.name in ROUNDING_MODES:
            found.append((node.lineno, node.col_offset, f"import of {node.name} outside crm.money: {ADVICE}"))
        elif isinstance(node, ast.Constant) and node.value in ROUNDING_MODES:
            found.append((node.lineno, node.col_offset, f"{node.value!r} outside crm.money: {ADVICE}"))
    return sorted(found)


def checked_files(root: Path) -> list[Path]:
    files = []
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            relative = path.relative_to(root)
            if relative in ALLOWED or SKIPPED_DIRS & set(relative.parts[:-1]) or relative.name == "conftest.py":
                continue
            files.append(relative)
    return files


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent
    count = 0
    for relative in checked_files(root):
        tree = ast.parse((root / relative).read_text(encoding="utf-8"), filename=str(relative))
        for line, column, message in findings(tree):
            print(f"{relative}:{line}:{column + 1}: {message}")
            count += 1
    if count:
        print(f"{count} rounding(s) outside crm.money and crm.totals", file=sys.stderr)
    return 1 if count else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
