"""The evaluation order of a layout's formulas (graphlib): what a formula reads is computed
before it; a circular reference is reported with its path (``margin -> cost -> margin``) at the
formula of its first entry in the layout."""
from __future__ import annotations

import graphlib
from typing import TYPE_CHECKING, Callable

from flask_babel import gettext as _

from crm_idca.layouts.model import GRAND_TOTAL_PARTS, LINE_NAMES, Column, Total

if TYPE_CHECKING:
    from crm_idca.layouts.validation import Errors


def column_order(columns: list[Column], errors: Errors) -> list[Column]:
    """The formula columns in evaluation order."""
    formulas = {c.key: c for c in columns if not c.builtin and c.formula is not None}
    reads = {key: sorted(column.prepared.checked.names - set(LINE_NAMES)) for key, column in formulas.items()}
    order = _evaluation_order(reads, lambda key: f"columns.{formulas[key].position}.formula", errors)
    return [formulas[key] for key in order]


def total_order(totals: list[Total], errors: Errors) -> list[Total]:
    """The totals with a formula in evaluation order."""
    formulas = {t.key: t for t in totals if t.formula is not None}
    overridden = {t.key for t in totals if t.overrides}
    reads: dict[str, list[str]] = {}
    for key, total in formulas.items():
        needs: list[str] = []
        for name in sorted(total.prepared.checked.names):
            if name == key and total.builtin:
                # inside the formula replacing a built-in total, its own name is the value before
                # the replacement: it only waits for the parts that change that value
                if key == "grand_total":
                    needs.extend(p for p in GRAND_TOTAL_PARTS if p in overridden)
                continue
            if name in formulas:
                needs.append(name)
            if name == "grand_total" and "grand_total" not in overridden:
                needs.extend(p for p in GRAND_TOTAL_PARTS if p in overridden)
        reads[key] = needs
    order = _evaluation_order(reads, lambda key: f"totals.{formulas[key].position}.formula", errors)
    return [formulas[key] for key in order]


def _evaluation_order(reads: dict[str, list[str]], where_of: Callable[[str], str], errors: Errors) -> list[str]:
    """The keys of ``reads`` (key -> the keys its formula reads) in evaluation order. Each
    circular reference is reported once, then left out, so that the next one is found too."""
    graph = {key: list(dict.fromkeys(r for r in needs if r in reads)) for key, needs in reads.items()}
    position = {key: index for index, key in enumerate(reads)}
    while True:
        try:
            return list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            cycle = _as_read(exc.args[1], position)
            errors.add(where_of(cycle[0]), _("circular reference: %(cycle)s", cycle=" -> ".join(cycle)))
            graph[cycle[0]].remove(cycle[1])


def _as_read(cycle: list[str], position: dict[str, int]) -> list[str]:
    """graphlib's cycle (each key comes before the key that reads it, the first key repeated at
    the end) as the path of reads from the key that comes first in the layout."""
    keys = cycle[:-1][::-1]
    start = min(range(len(keys)), key=lambda i: position[keys[i]])
    keys = keys[start:] + keys[:start]
    return keys + keys[:1]
