"""What the scheduled jobs did: each run recorded (start, end, summary, the last error), shown
with the next run by ``crm jobs list`` and on the admin's Jobs page, which say when no worker
is running."""
from __future__ import annotations

import datetime as dt

import pytest

from crm import hookimpl
from crm.jobs import ScheduledJob, next_run
from crm.testing import TEST_PASSWORD, registered_plugin
from crm.worker import beat


class Failing:
    """A plugin with a job that fails, until told otherwise."""

    def __init__(self):
        self.broken = True

    def work(self, session, today):
        if self.broken:
            raise RuntimeError("the disk is on fire")
        return "all good"

    @hookimpl
    def crm_scheduled_jobs(self):
        return [ScheduledJob("fragile", self.work, every_minutes=15)]


@pytest.fixture
def queued_app(app, tmp_path):
    app.config["QUEUE_IMMEDIATE"] = False
    app.instance_path = str(tmp_path)
    app.extensions.pop("crm.huey", None)
    return app


def _page(app, user) -> str:
    client = app.test_client()
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    answer = client.get("/admin/jobs")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def _row(page: str, job: str) -> str:
    return page.split(f'data-job="{job}"', 1)[1].split("</tr>", 1)[0]


def test_runs_last_errors_and_next_runs_on_the_page_and_the_command(queued_app, runner, make_user):
    plugin = Failing()
    admin = make_user("admin")
    with registered_plugin(queued_app, plugin, "fragile_plugin"):
        listed = runner.invoke(["jobs", "list"])
        assert "recurring_invoices\tevery 60 min\tlast run: never\tnext run: when a worker runs" in listed.output
        assert "background work is not running: start `crm worker`" in listed.output

        failed = runner.invoke(["jobs", "run-due"])
        assert failed.exit_code == 1 and "the disk is on fire" in failed.output
        page = _page(queued_app, admin)
        assert "Background work is not running: start `crm worker`" in page
        assert "RuntimeError: the disk is on fire" in _row(page, "fragile") and "failed" in _row(page, "fragile")
        assert "done" in _row(page, "recurring_invoices") and "created: 0" in _row(page, "recurring_invoices")
        assert "when a worker runs" in _row(page, "fragile")

        plugin.broken = False
        assert runner.invoke(["jobs", "run-due", "--job", "fragile"]).exit_code == 0
        beat(queued_app)  # a worker is running: the schedule applies
        page = _page(queued_app, admin)
        row = _row(page, "fragile")
        assert "all good" in row and "done" in row
        assert "RuntimeError: the disk is on fire" in row  # the last error stays, with its moment
        assert "Background work is not running" not in page and "A background worker is running" in page
        assert "when a worker runs" not in row

        listed = runner.invoke(["jobs", "list"]).output
        line = next(line for line in listed.splitlines() if line.startswith("fragile\t"))
        assert "every 15 min" in line and " ok: all good" in line and "when a worker runs" not in line
        assert "\tlast error (" in listed and "RuntimeError: the disk is on fire" in listed
        assert "background work is not running" not in listed


def test_the_menu_leads_admins_to_the_jobs_page(app, make_user):
    client = app.test_client()
    client.post("/login", data={"username": make_user("admin").username, "password": TEST_PASSWORD})
    assert 'href="/admin/jobs"' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("every, now, expected", [
    (60, "2027-03-01 10:20", "2027-03-01 11:00"),
    (15, "2027-03-01 10:20", "2027-03-01 10:30"),
    (5, "2027-03-01 10:55", "2027-03-01 11:00"),
    (1440, "2027-03-01 10:20", "2027-03-02 00:00"),
    (120, "2027-03-01 23:30", "2027-03-02 00:00"),
])
def test_next_run_follows_the_workers_schedule(every, now, expected):
    job = ScheduledJob("j", lambda s, t: None, every_minutes=every)
    moment = dt.datetime.fromisoformat(now).replace(tzinfo=dt.timezone.utc)
    assert next_run(job, moment) == dt.datetime.fromisoformat(expected).replace(tzinfo=dt.timezone.utc)
    schedule = job.schedule()
    assert schedule(next_run(job, moment).replace(tzinfo=None))  # the moment huey's consumer runs it
