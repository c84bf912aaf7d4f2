"""QuickBooks' throttle: the fake answers 429 (QuickBooks' ThrottleExceeded body) over 10 requests a
second, 500 a minute or 40 batch requests a minute per company; the connector paces its requests
within those limits, and waits at least a minute after a 429. The fake's clock is simulated and
shared with the connector's pacing (nothing really waits): its time is what QuickBooks' limits take."""
from __future__ import annotations

import pytest
from sqlalchemy import insert

from accsync_helpers import in_app, sync


def _vendors(app, n: int) -> None:
    from crm.models import Vendor
    in_app(app, lambda s: s.execute(insert(Vendor), [
        {"name": f"Proveedor {i:05d}", "email": "", "phone": "", "website": "", "address": {}, "description": "",
         "active": True, "custom": {}, "version": 1} for i in range(n)]))


def test_the_fake_throttles_like_quickbooks(qbo):
    import requests
    qbo.expire_tokens()
    url = f"{qbo.api_url}/company/{qbo.realm}/companyinfo/{qbo.realm}?minorversion=75"
    answers = [requests.get(url, timeout=5) for _ in range(11)]
    assert [a.status_code for a in answers[:10]] == [401] * 10           # counted, though refused
    assert answers[10].status_code == 429
    assert answers[10].json()["Fault"]["Error"][0]["Message"].startswith("message=ThrottleExceeded")
    qbo.clock.sleep(1.0)
    assert requests.get(url, timeout=5).status_code == 401               # a second later: below the limit


@pytest.mark.slow
def test_a_large_first_sync_is_paced_within_quickbooks_limits_and_finishes(app, qbo, catalog):
    _vendors(app, 1_300)      # 44 batches of 30: over 40 batches a minute, and well over 10 requests a second
    run = sync(app, "qbo", ["vendors"])
    assert run.status == "done", run.error
    assert run.count("vendors", "to_remote", "created") == 1_301
    assert qbo.throttled == 0                         # never over a limit: paced, not refused
    batches = qbo.count("/batch")
    assert batches == 44
    assert qbo.clock.now >= 60                        # the 41st batch waited for the minute to pass


def test_a_429_waits_a_minute_at_least(app, qbo, catalog):
    from crm.db import db
    from crm_accounting_sync.engine import execute_run
    from crm_accounting_sync.runner import create_run
    qbo.inject(429, times=1, path="/query")           # QuickBooks sends no Retry-After
    slept: list[float] = []
    with app.app_context():
        s = db.new_session(app)
        run = create_run(s, "qbo", ["vendors"], background=False)
        s.commit()
        run = execute_run(app, s, run.id, sleep=slept.append)
        assert run.status == "done", run.error
        s.close()
    assert slept and max(slept) >= 60
