"""Accounting sync: an initial sync of 10,000 records to the QuickBooks fake (served over
HTTP on 127.0.0.1, the real connector on python-quickbooks), then an incremental sync of
10 changed records among them (5 changed here, 5 changed in QuickBooks).

The fake throttles as QuickBooks does (10 requests a second, 500 a minute, 40 batch requests a
minute per company: 429 over them) on a simulated clock that the connector's pacing shares:
nothing really waits, and the clock's time at the end is what QuickBooks' limits alone make the
sync take ("QuickBooks-paced time"); the wall time is what the machine took.

Figures: QuickBooks-paced time, wall time, records/s and HTTP calls of the initial sync (batches
of 30 writes, queries of 1,000 reads) and the 429s it got (none: paced), HTTP calls of the
incremental one. The incremental sync must make a small constant number of calls (change data
capture per entity + one batch), not a number that grows with the 10,000 records.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import insert, select

from bench import data
from bench.common import bench_app, header, row

#: where the QuickBooks fake lives: with the plugin's tests
PLUGIN_TESTS = Path(__file__).resolve().parent.parent / "plugins" / "accounting_sync" / "tests"

ACCOUNTS = 4_000
VENDORS = 1_000
PRODUCTS = 4_000
SERVICES = 1_000
CHANGED_HERE = 5
CHANGED_THERE = 5
MAX_INCREMENTAL_CALLS = 25


def _fill(app, tax_id: int) -> int:
    from crm.db import db
    from crm.models import Account, Vendor
    data.products(app, PRODUCTS, tax_id, services=SERVICES)
    with app.app_context():
        session = db.new_session(app)
        session.execute(insert(Account), [{"name": f"Cliente {n:05d} S.L.", "email": f"c{n}@bench.example",
                                           "phone": f"+34 600 {n:06d}", "website": "", "tax_id": "",
                                           "billing_address": {"street": f"Calle {n}", "city": "Madrid",
                                                               "country": "ES"},
                                           "shipping_address": {}, "description": "", "active": True, "custom": {},
                                           "version": 1} for n in range(ACCOUNTS)])
        session.execute(insert(Vendor), [{"name": f"Proveedor {n:05d} S.A.", "email": f"v{n}@bench.example",
                                          "phone": "", "website": "", "address": {}, "description": "",
                                          "active": True, "custom": {}, "version": 1} for n in range(VENDORS)])
        session.commit()
        session.close()
    return ACCOUNTS + VENDORS + PRODUCTS + SERVICES + 2   # + the base account and vendor


def _sync(app, sleep):
    from crm.db import db
    from crm_accounting_sync.engine import execute_run
    from crm_accounting_sync.runner import create_run
    with app.app_context():
        session = db.new_session(app)
        run = create_run(session, "qbo", background=False)
        session.commit()
        run = execute_run(app, session, run.id, sleep=sleep)
        result = (run.status, run.error, run.counts)
        session.close()
        return result


def _kind(method: str, path: str) -> str:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if "oauth2" in path or "openid" in path:
        return "oauth"
    return last if last in ("cdc", "batch", "query") else f"{method} {last if not last.isdigit() else 'read'}"


def run(backend: str) -> None:
    from crm.db import db
    from crm.models import Account
    from crm.services import accounts
    from crm_accounting_sync.connections import save_connection
    sys.path.insert(0, str(PLUGIN_TESTS))
    from accsync_qbo_fake import QBOFake

    header(f"accounting sync: QuickBooks fake over HTTP ({backend})")
    with bench_app(backend, "accounting_sync") as bench:
        app = bench.app
        base = data.base_records(app)
        total = _fill(app, base["tax"])
        fake = QBOFake().start()
        try:
            with app.app_context():
                session = db.new_session(app)
                save_connection(session, "qbo", {"connector": "quickbooks", "settings": {
                    "realm_id": fake.realm, "client_id": fake.client_id, "environment": "production", "discovery_url": fake.discovery_url,
                    "api_base_url": fake.api_url, "minorversion": 75, "timeout_seconds": 60,
                    "income_account_id": fake.account_id("Sales"),
                    "expense_account_id": fake.account_id("Cost of Goods Sold"),
                    "entities": {e: {"direction": "none"} for e in ("quotes", "sales-orders", "purchase-orders",
                                                                       "invoices", "payments", "contacts")}},
                    "secrets": {"client_secret": fake.client_secret, "refresh_token": fake.issue_refresh_token()}})
                session.commit()
                session.close()
            calls = len(fake.calls)
            started, paced = time.perf_counter(), fake.clock()
            status, error, counts = _sync(app, fake.clock.sleep)
            elapsed, paced = time.perf_counter() - started, fake.clock() - paced
            initial_calls = len(fake.calls) - calls
            created = sum(c.get("to_remote", {}).get("created", 0) for c in counts.values())
            assert status == "done", error
            assert created == total, (created, total)
            row("initial sync: records created in QuickBooks", f"{created}")
            row("initial sync: QuickBooks-paced time (simulated clock)", f"{paced / 60:.1f} min",
                f"({paced:.0f} s: 10 requests/s, 500/min, 40 batches/min)")
            row("initial sync: wall time", f"{elapsed:.1f} s")
            row("initial sync: records/s (wall; paced)", f"{created / elapsed:.0f}; {created / max(paced, 1):.0f}")
            kinds = Counter(_kind(method, path) for method, path in fake.calls[calls:])
            row("initial sync: HTTP calls", f"{initial_calls}", f"({initial_calls / created:.3f} per record: "
                + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + ")")
            row("initial sync: 429 answers (throttled)", f"{fake.throttled}")

            # 5 changed here (through the services: outbox), 5 changed in QuickBooks
            with app.app_context():
                session = db.new_session(app)
                for account in session.scalars(select(Account).order_by(Account.id).limit(CHANGED_HERE)):
                    accounts.update_account(session, account, {"phone": "+34 900 000 000"})
                session.commit()
                session.close()
            for customer_id in list(fake.objects("Customer"))[-CHANGED_THERE:]:
                fake.user_update("Customer", customer_id, {"Notes": "changed in QuickBooks"})
            calls = len(fake.calls)
            started = time.perf_counter()
            status, error, counts = _sync(app, fake.clock.sleep)
            elapsed = time.perf_counter() - started
            incremental_calls = len(fake.calls) - calls
            updated = {side: sum(c.get(side, {}).get("updated", 0) for c in counts.values())
                       for side in ("to_remote", "from_remote")}
            assert status == "done", error
            assert updated == {"to_remote": CHANGED_HERE, "from_remote": CHANGED_THERE}, updated
            row("incremental sync (10 of 10,000 changed): time", f"{elapsed * 1000:.0f} ms")
            kinds = Counter(_kind(method, path) for method, path in fake.calls[calls:])
            row("incremental sync: HTTP calls", f"{incremental_calls}",
                f"(constant; limit {MAX_INCREMENTAL_CALLS}): " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
            assert incremental_calls <= MAX_INCREMENTAL_CALLS, incremental_calls
        finally:
            fake.stop()
