"""Making an app (``crm.create_app`` with every installed plugin): what each web worker, job
worker, ``crm`` command and test pays before its first request. Printed: the CPU time of the
first app of a process (every URL rule parsed), of each app after it in the same process (tests
make one or more each: the rules were parsed), and of the first with werkzeug's own URL rules,
which also compile two URL builders per rule as it is added (``crm.routing`` compiles each on
first use)."""
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

    from crm import create_app, plugins, routing
    from crm.routing import Rule

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/crm.db" if backend == "sqlite" else "postgresql://postgres@127.0.0.1:5432/postgres"
        config = {"DATABASE_URL": url, "SECRET_KEY": "bench"}   # making an app does not connect
        app = create_app(dict(config))
        rules = sum(1 for _ in app.url_map.iter_rules())
        later = _cpu_ms(lambda: create_app(dict(config)))

        def first():   # nothing parsed, no plugin discovered yet
            routing._parsed.clear()
            plugins._installed = None
            create_app(dict(config))
        first_ms = _cpu_ms(first)
        ours = {name: Rule.__dict__[name] for name in ("compile", "_compile_builder")}
        try:   # werkzeug's own rules: parsed, and their builders compiled, as each is added
            for name in ours:
                setattr(Rule, name, getattr(WerkzeugRule, name))
            werkzeug = _cpu_ms(first)
        finally:
            for name, method in ours.items():
                setattr(Rule, name, method)
    header(f"startup [{backend}]")
    row(f"make the first app of a process, every plugin ({rules} URL rules), CPU", f"{first_ms:.0f} ms",
        f"{werkzeug:.0f} ms with werkzeug's own URL rules -> {werkzeug / first_ms:.1f}x")
    row("  each app after it in the same process (rules parsed, plugins found), CPU", f"{later:.0f} ms",
        f"-> {werkzeug / later:.1f}x")
