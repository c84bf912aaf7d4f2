"""Recurring invoices: every due period invoiced exactly once, month ends clamped."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from crm.services.recurring import add_months, period_dates


def test_month_ends_are_clamped_from_the_start_date():
    start = dt.date(2027, 1, 31)
    assert [add_months(start, n) for n in range(4)] == [dt.date(2027, 1, 31), dt.date(2027, 2, 28),
                                                        dt.date(2027, 3, 31), dt.date(2027, 4, 30)]
    assert add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)


def recurring_order(api, c, **schedule):
    body = {"account_id": c.account, "subject": "Maintenance",
            "lines": [{"item_id": c.consulting, "quantity": "2"}],
            "recurring": {"frequency": "monthly", "start_date": "2027-01-31", "payment_terms_days": 15, **schedule}}
    order = api.post("/sales-orders", json=body)
    assert order.status_code == 201, order.text
    order = order.json()
    api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
    return order


def invoices_of(api, order_id):
    return [d for d in api.get(f"/sales-orders/{order_id}/related").json()["items"] if d["type"] == "invoice"]


def test_run_due_catches_up_once_and_clamps(api, catalog, runner):
    order = recurring_order(api, catalog)
    assert order["recurring"]["frequency"] == "monthly"
    result = runner.invoke(["jobs", "run-due", "--today", "2027-04-15"])
    assert result.exit_code == 0, result.output
    assert "recurring_invoices: {'created': 3" in result.output
    invoices = [api.get(f"/invoices/{d['id']}").json() for d in invoices_of(api, order["id"])]
    assert [i["invoice_date"] for i in invoices] == ["2027-01-31", "2027-02-28", "2027-03-31"]
    assert [i["due_date"] for i in invoices] == ["2027-02-15", "2027-03-15", "2027-04-15"]
    assert {i["status"] for i in invoices} == {"AutoCreated"}
    # 2 hours x 40.00 = 80.00 + IVA 21 % 16.80 = 96.80 each
    assert {i["totals"]["grand_total"] for i in invoices} == {"96.80"}
    again = runner.invoke(["jobs", "run-due", "--today", "2027-04-15"])
    assert "'created': 0" in again.output and len(invoices_of(api, order["id"])) == 3
    runner.invoke(["jobs", "run-due", "--today", "2027-05-01"])
    assert len(invoices_of(api, order["id"])) == 4
    # recurring invoices do not count against the order's quantities
    assert api.get(f"/sales-orders/{order['id']}").json()["lines"][0]["invoiced"] == "0"


def test_end_date_cancelled_orders_and_stopping(api, catalog, runner):
    order = recurring_order(api, catalog, frequency="quarterly", end_date="2027-08-01")
    runner.invoke(["jobs", "run-due", "--today", "2028-01-01"])
    assert len(invoices_of(api, order["id"])) == 3  # Jan 31, Apr 30, Jul 31
    stopped = api.patch(f"/sales-orders/{order['id']}", json={"recurring": None}).json()
    assert stopped["recurring"] is None
    other = recurring_order(api, catalog, frequency="weekly", start_date="2027-03-01")
    api.patch(f"/sales-orders/{other['id']}", json={"status": "Cancelled"})
    result = runner.invoke(["jobs", "run-due", "--today", "2027-03-20"])
    assert "'created': 0" in result.output


def test_bad_schedules_are_refused(api, catalog):
    for schedule, field in [({"frequency": "hourly"}, "recurring.frequency"),
                            ({"start_date": "2027-02-30"}, "recurring.start_date"),
                            ({"end_date": "2026-01-01"}, "recurring.end_date"),
                            ({"invoice_status": "Paid"}, "recurring.invoice_status")]:
        body = {"account_id": catalog.account, "lines": [{"item_id": catalog.consulting}],
                "recurring": {"frequency": "monthly", "start_date": "2027-01-31", **schedule}}
        r = api.post("/sales-orders", json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (schedule, r.text)
    r = api.post("/quotes", json={"account_id": catalog.account, "lines": [],
                                  "recurring": {"frequency": "monthly", "start_date": "2027-01-31"}})
    assert r.status_code == 422


def test_dates_out_of_range_are_refused_naming_the_field(api, catalog):
    order = recurring_order(api, catalog)
    for schedule, field in [({"start_date": "0001-01-01"}, "recurring.start_date"),
                            ({"start_date": "9999-12-31"}, "recurring.start_date"),
                            ({"start_date": "1899-12-31"}, "recurring.start_date"),
                            ({"end_date": "9999-12-31"}, "recurring.end_date")]:
        body = {"account_id": catalog.account, "lines": [{"item_id": catalog.consulting}],
                "recurring": {"frequency": "daily", "start_date": "2027-01-31", **schedule}}
        created = api.post("/sales-orders", json=body)
        assert created.status_code == 422 and field in created.json()["error"]["fields"], (schedule, created.text)
        changed = api.patch(f"/sales-orders/{order['id']}", json={"recurring": body["recurring"]})
        assert changed.status_code == 422 and field in changed.json()["error"]["fields"], (schedule, changed.text)
    assert api.get(f"/sales-orders/{order['id']}").json()["recurring"]["start_date"] == "2027-01-31"


def invoice_dates(api, order_id):
    return sorted(api.get(f"/invoices/{d['id']}").json()["invoice_date"] for d in invoices_of(api, order_id))


def last_invoice(api, account_id):
    """How many invoices the account has, and the newest one."""
    page = api.get(f"/invoices?account_id={account_id}&sort=-number&per_page=1").json()
    return page["total"], api.get(f"/invoices/{page['items'][0]['id']}").json()


@pytest.mark.slow
def test_a_daily_schedule_started_years_ago_catches_up_to_today_in_one_run(api, catalog, runner):
    today = dt.date.today()
    start = today - dt.timedelta(days=1100)  # more than the 1,000 periods a run once stopped at
    order = recurring_order(api, catalog, frequency="daily", start_date=start.isoformat())
    result = runner.invoke(["jobs", "run-due"])
    assert result.exit_code == 0, result.output
    assert "recurring_invoices: {'created': 1101}" in result.output
    total, newest = last_invoice(api, catalog.account)
    assert total == 1101 and newest["invoice_date"] == today.isoformat()
    assert newest["source"]["id"] == order["id"]
    again = runner.invoke(["jobs", "run-due"])
    assert "recurring_invoices: {'created': 0}" in again.output
    assert last_invoice(api, catalog.account)[0] == 1101


def test_monthly_on_the_31st_catches_up_from_the_last_invoiced_period(api, catalog, runner):
    order = recurring_order(api, catalog, start_date="2015-01-31")
    runner.invoke(["jobs", "run-due", "--today", "2015-03-15"])
    assert invoice_dates(api, order["id"]) == ["2015-01-31", "2015-02-28"]
    today = dt.date.today()
    result = runner.invoke(["jobs", "run-due"])
    assert result.exit_code == 0, result.output
    expected = [add_months(dt.date(2015, 1, 31), n) for n in range(12 * 40)]
    expected = [day.isoformat() for day in expected if day <= today]
    dates = invoice_dates(api, order["id"])
    assert dates == expected  # Mar 31, Apr 30, ..., Feb 29 2016, ...: clamped from the start, no drift
    assert dates[2:5] == ["2015-03-31", "2015-04-30", "2015-05-31"] and "2016-02-29" in dates
    assert "recurring_invoices: {'created': 0}" in runner.invoke(["jobs", "run-due"]).output


def test_catch_up_starts_after_the_last_invoiced_period_whatever_the_frequency():
    from crm.models import RecurringSchedule
    for frequency, start, after, until, expected in [
            ("monthly", "2024-01-31", "2024-02-29", "2024-05-01", ["2024-03-31", "2024-04-30"]),
            ("quarterly", "2024-11-30", "2025-02-28", "2025-09-01", ["2025-05-30", "2025-08-30"]),
            ("yearly", "2024-02-29", "2025-02-28", "2028-03-01", ["2026-02-28", "2027-02-28", "2028-02-29"]),
            ("weekly", "2024-01-01", "2024-01-10", "2024-01-29", ["2024-01-15", "2024-01-22", "2024-01-29"]),
            ("daily", "2024-01-01", "2023-12-01", "2024-01-02", ["2024-01-01", "2024-01-02"]),
            ("monthly", "2024-01-31", "9999-12-31", "9999-12-31", [])]:
        schedule = RecurringSchedule(frequency=frequency, start_date=dt.date.fromisoformat(start))
        found = period_dates(schedule, dt.date.fromisoformat(until), after=dt.date.fromisoformat(after))
        assert [day.isoformat() for day in found] == expected, frequency
    far = RecurringSchedule(frequency="daily", start_date=dt.date(9999, 12, 30))
    assert list(period_dates(far, dt.date.max)) == [dt.date(9999, 12, 30), dt.date(9999, 12, 31)]


def test_unknown_day_is_a_clear_cli_error(runner):
    result = runner.invoke(["jobs", "run-due", "--today", "2027-13-01"])
    assert result.exit_code != 0 and "YYYY-MM-DD" in result.output


def test_jobs_running_at_once_create_each_invoice_once(api, catalog, app):
    from crm.jobs import run_due
    order = recurring_order(api, catalog, frequency="daily", start_date="2027-01-01")
    barrier = threading.Barrier(4)
    errors = []

    def worker():
        try:
            barrier.wait()
            run_due(app, dt.date(2027, 1, 20), only="recurring_invoices")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    dates = [api.get(f"/invoices/{d['id']}").json()["invoice_date"] for d in invoices_of(api, order["id"])]
    assert sorted(dates) == [f"2027-01-{day:02d}" for day in range(1, 21)]
