"""``python -m bench [name ...]``: run the benchmarks and print their figures."""
from __future__ import annotations

import importlib
import logging
import sys

from bench.common import backends

#: modules in bench/ with a ``run(backend)`` function, in the order they run
SUITES = ["documents", "stock", "idca", "pdf", "item_lookup", "accounting_sync", "scaleout", "imports", "search", "export", "warehouses", "startup"]


def main(argv: list[str]) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    chosen = argv or SUITES
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        for backend in backends():
            module.run(backend)


if __name__ == "__main__":
    main(sys.argv[1:])
