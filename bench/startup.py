"""Making an app (``crm.create_app`` with every installed plugin): what each web worker, job
worker, ``crm`` command and test pays before its first request. Printed: the CPU time of one,
and the same with werkzeug's own URL rules, which compile their URL builders as they are added
(``crm.routing`` compiles each on first use)."""
from __future__ import annotations

import statistics
import tempfile
import time

from bench.common import header, row

REPEAT = 7


def _cpu_ms(make) -> float:
    make()  # warm: imports, plugin discovery
    times = []
    for _ in range(REPEAT):
        started = time.process_time()
        make()
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


def run(backend: str) -> None:
    from werkzeug.routing import Rule as WerkzeugRule

    from crm import create_app
    from crm.routing import Rule

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/crm.db" if backend == "sqlite" else "postgresql://postgres@127.0.0.1:5432/postgres"
        config = {"DATABASE_URL": url, "SECRET_KEY": "bench"}   # making an app does not connect
        app = create_app(dict(config))
        rules = sum(1 for _ in app.url_map.iter_rules())
        ours = _cpu_ms(lambda: create_app(dict(config)))
        lazy = Rule.__dict__["_compile_builder"]
        try:   # every rule's builders compiled as it is added, as werkzeug does
            Rule._compile_builder = WerkzeugRule._compile_builder  # type: ignore[method-assign]
            eager = _cpu_ms(lambda: create_app(dict(config)))
        finally:
            Rule._compile_builder = lazy  # type: ignore[method-assign]
    header(f"startup [{backend}]")
    row(f"make an app, every plugin ({rules} URL rules), CPU", f"{ours:.0f} ms",
        f"{eager:.0f} ms with werkzeug's eager URL builders -> {eager / ours:.1f}x")
