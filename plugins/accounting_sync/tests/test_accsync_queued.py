"""A run queued for the background worker never looks done: its page says it waits for the
worker, and, when no worker was heard from lately, that background work is not running (to an
administrator: start ``crm worker``), until a worker has run it."""
from __future__ import annotations

import re

from crm.testing import TEST_PASSWORD
from crm.worker import beat

QUEUED = "Queued: the run starts when the background worker takes it."
NOT_RUNNING_ADMIN = "Background work is not running: start `crm worker`"
NOT_RUNNING_OTHERS = "Background work is not running, so queued work waits: tell your administrator."
DONE_NOTHING = "Nothing to do: both sides agree."


def _client(app, user):
    client = app.test_client()
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    return client


def test_a_queued_run_says_it_waits_for_a_worker(app, make_user, mem, catalog, tmp_path):
    app.config["QUEUE_IMMEDIATE"] = False            # a real queue (a file of this test), no worker
    app.instance_path = str(tmp_path)
    app.extensions.pop("crm.huey", None)
    admin, clerk = _client(app, make_user("admin")), _client(app, make_user("accounting"))

    started = admin.post("/accounting-sync/sync", data={"connection": "mem"})
    run_url = started.headers["Location"]
    page = admin.get(run_url).get_data(as_text=True)
    assert QUEUED in page and NOT_RUNNING_ADMIN in page and DONE_NOTHING not in page
    assert "The sync runs in the background" not in page                  # no promise nothing keeps
    page = clerk.get(run_url).get_data(as_text=True)
    assert QUEUED in page and NOT_RUNNING_OTHERS in page and DONE_NOTHING not in page
    assert NOT_RUNNING_ADMIN in admin.get("/accounting-sync/").get_data(as_text=True)

    beat(app)                                                               # a worker is running
    page = admin.get(run_url).get_data(as_text=True)
    assert QUEUED in page and "Background work is not running" not in page
    assert "Background work is not running" not in admin.get("/accounting-sync/").get_data(as_text=True)

    from crm_accounting_sync.runner import worker_run
    with app.app_context():                              # the worker takes it, as the queue's task does
        worker_run(app, int(re.search(r"/runs/(\d+)", run_url).group(1)))
    page = admin.get(run_url).get_data(as_text=True)
    assert QUEUED not in page and "Background work is not running" not in page
    assert len(mem.live("accounts")) == 1
