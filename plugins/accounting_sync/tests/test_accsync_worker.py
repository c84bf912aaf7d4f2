"""A big sync through the real background worker: ``crm worker`` in a process of its own
consuming the huey queue (the SQLite file in the instance folder), against the QuickBooks
fake over HTTP; the test follows the run's progress through the API until it ends."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from accsync_helpers import in_app
from crm.services import accounts

ROOT = Path(__file__).resolve().parents[3]
HERE = 240        # accounts made here (sent as customers)
THERE = 180       # customers made in QuickBooks (received as accounts)
ITEMS = 90        # items made in QuickBooks


def test_a_big_sync_runs_in_a_worker_process(app, api, qbo, crm_database_url, tmp_path):
    app.config["QUEUE_IMMEDIATE"] = False            # this test has a real worker
    qbo.real_clock()                                 # the worker paces on the real clock
    app.extensions.pop("crm.huey", None)
    app.instance_path = str(tmp_path)                # the queue file the worker reads

    def make_accounts(s):
        for n in range(HERE):
            accounts.create_account(s, {"name": f"Here {n:03}", "email": f"here{n}@example.com"})
    in_app(app, make_accounts)
    for n in range(THERE):
        qbo.user_create("Customer", {"DisplayName": f"There {n:03}", "PrimaryEmailAddr": {"Address": f"t{n}@x.es"}})
    sales = qbo.account_id("Sales")
    for n in range(ITEMS):
        qbo.user_create("Item", {"Name": f"Service {n:03}", "Type": "Service", "UnitPrice": 10 + n,
                                 "IncomeAccountRef": {"value": sales}})
    env = {**os.environ, "CRM_DATABASE_URL": crm_database_url, "CRM_INSTANCE_PATH": str(tmp_path),
           "CRM_SECRET_KEY": app.config["SECRET_KEY"],              # the key of the stored secrets
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "docs" / "example-plugin")])}
    env.pop("CRM_REDIS_URL", None)
    worker = subprocess.Popen([sys.executable, "-m", "crm.cli", "worker", "--workers", "1"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started = api.post("/accounting-sync/runs", json={"connection": "qbo", "entities": ["accounts", "items"]})
        assert started.status_code == 202, started.text                  # a first run: queued for the worker
        run = started.json()
        assert run["mode"] == "background" and run["status"] == "queued"
        seen = []
        deadline = time.monotonic() + 240
        while run["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.3)
            run = api.get(f"/accounting-sync/runs/{run['id']}", params={"limit": 1}).json()
            seen.append((run["status"], run["progress"].get("entity"), run["progress"].get("done")))
            assert worker.poll() is None, "the worker stopped"
        assert run["status"] == "done", (run["status"], run["error"], seen[-5:])
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert "worker: queue" in output, output[-3000:]
    assert seen[0][0] in ("queued", "running"), seen[:5]      # followed while the worker had it
    assert {e for status, e, _d in seen if status == "running"} <= {None, "accounts", "items"}
    counts = run["counts"]
    assert counts["accounts"]["to_remote"]["created"] == HERE
    assert counts["accounts"]["from_remote"]["created"] == THERE
    assert counts["items"]["from_remote"]["created"] == ITEMS
    assert sum(v for sides in counts.values() for side in sides.values() for k, v in side.items()
               if k in ("failed", "updated", "deleted")) == 0
    assert run["progress"]["phase"] == "finished" and run["http_calls"] > 0
    # the per-record log has one line per record, and its filters count the same
    log = api.get(f"/accounting-sync/runs/{run['id']}", params={"limit": 1}).json()
    assert log["records_total"] == HERE + THERE + ITEMS
    made_there = api.get(f"/accounting-sync/runs/{run['id']}",
                         params={"entity": "accounts", "action": "created", "limit": 5000}).json()
    assert made_there["records_total"] == HERE + THERE
    assert {r["side"] for r in made_there["records"]} == {"to_remote", "from_remote"}
    # both sides hold everything, linked
    assert len([c for c in qbo.objects("Customer").values() if not c.get("ParentRef")]) == HERE + THERE
    links = api.get("/accounting-sync/links", params={"connection": "qbo", "entity": "accounts",
                                                      "per_page": 1}).json()
    assert links["total"] == HERE + THERE
