"""Email delivered by a real ``crm worker`` process from the queue, and a worker killed (SIGKILL)
after handing a message to the SMTP server: the message arrived once, is marked uncertain once
the worker is known to be gone, and is never sent again."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from crm import mailer
from crm.db import db
from crm.models.base import utcnow
from crm.models.email import EmailMessage
from tests.email_server import SmtpServer
from tests.test_email import configure

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def row(app, message_id):
    with app.app_context():
        session = db.new_session(app)
        found = session.scalar(select(EmailMessage).where(EmailMessage.id == message_id))
        session.close()
        return found


@pytest.fixture
def worker_env(app, crm_database_url, tmp_path):
    app.config["QUEUE_IMMEDIATE"] = False       # a real queue in this test's folder
    app.instance_path = str(tmp_path)
    return {**os.environ, "CRM_DATABASE_URL": crm_database_url, "CRM_INSTANCE_PATH": str(tmp_path),
            "CRM_SECRET_KEY": app.config["SECRET_KEY"],
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "docs" / "example-plugin")])}


def start_worker(env):
    return subprocess.Popen([sys.executable, "-m", "crm.cli", "worker", "--workers", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_a_worker_process_delivers_the_queued_invoice_and_a_killed_one_never_sends_twice(
        app, api, catalog, worker_env):
    server = SmtpServer().start()
    try:
        configure(app, server.port, timeout=60)
        invoice = api.post("/invoices", json={"account_id": catalog.account,
                                              "lines": [{"item_id": catalog.consulting}]}).json()
        first = api.post(f"/invoices/{invoice['id']}/emails", json={"to": ["ana@lopez.example"]}).json()
        assert first["status"] == "queued" and server.messages == []       # no worker yet: it waits
        worker = start_worker(worker_env)
        try:
            assert wait_for(lambda: row(app, first["id"]).status == "sent"), "the worker did not send it"
            assert len(server.messages) == 1
            assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "Sent"

            server.recorder.data_delay = 30                               # takes the message, answers late
            second = api.post(f"/invoices/{invoice['id']}/emails/{first['id']}/resend").json()
            assert wait_for(lambda: len(server.messages) == 2), "the worker did not hand the copy over"
            assert row(app, second["id"]).status == "sending" and row(app, second["id"]).handed_at is not None
            worker.send_signal(signal.SIGKILL)                             # dies waiting for the answer
            worker.wait(timeout=20)
        finally:
            if worker.poll() is None:
                worker.terminate()
            worker.communicate(timeout=20)
        server.recorder.data_delay = 0
        assert mailer.send_due(app) == {"recovered": 0}                    # not known to be gone yet
        stopped = utcnow() + mailer.STALE_AFTER + dt.timedelta(seconds=5)
        assert mailer.send_due(app, now=stopped) == {"recovered": 1}
        assert mailer.send_due(app, now=stopped + dt.timedelta(days=1)) == {"recovered": 0}
        after = row(app, second["id"])
        assert after.status == "uncertain" and "may have been delivered" in after.last_response
        assert [m.message["Message-ID"] for m in server.messages] == [first["message_id"], second["message_id"]]
    finally:
        server.stop()
