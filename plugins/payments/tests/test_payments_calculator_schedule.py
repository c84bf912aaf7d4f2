"""The calculator, schedules of installments, and overdue installments."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from payments_helpers import days_ago, invoice_state

# --- calculator ---------------------------------------------------------------------------------------

def test_calculator_percent_of_total_and_of_balance_rounded_half_up(api, make_invoice):
    inv = make_invoice(total="48.41")
    api.post(f"/invoices/{inv}/payments", json={"amount": "10.00"})
    r = api.get(f"/invoices/{inv}/payment-calculator?basis=total&percent=50")
    assert r.status_code == 200, r.text
    calc = r.json()
    assert (calc["base"], calc["amount"], calc["balance"], calc["currency"]) == ("48.41", "24.21", "38.41", "EUR")
    # presets 25 / 33 / 50 / 100 of the same basis: 12.1025 -> 12.10, 15.9753 -> 15.98, 24.205 -> 24.21
    assert [(p["percent"], p["amount"]) for p in calc["presets"]] == [
        ("25", "12.10"), ("33", "15.98"), ("50", "24.21"), ("100", "48.41")]
    balance = api.get(f"/invoices/{inv}/payment-calculator?basis=balance&percent=50").json()
    assert (balance["base"], balance["amount"]) == ("38.41", "19.21")  # 19.205 rounds half up
    full = api.get(f"/invoices/{inv}/payment-calculator").json()  # defaults: the full balance
    assert (full["basis"], full["percent"], full["amount"], full["full_balance"]) == ("balance", "100", "38.41",
                                                                                      "38.41")
    assert api.get(f"/invoices/{inv}/payment-calculator?basis=total&percent=100").json()["exceeds_balance"] is True


def test_calculator_free_percent_and_a_currency_without_cents(api, make_invoice):
    inv = make_invoice(total="1001", currency="JPY")
    calc = api.get(f"/invoices/{inv}/payment-calculator?basis=total&percent=12.5").json()
    assert calc["amount"] == "125.00" and Decimal(calc["amount"]) == Decimal("125")  # 125.125 -> 125 yen


@pytest.mark.parametrize("query", ["basis=half", "percent=0", "percent=101", "percent=-5", "percent=abc"])
def test_calculator_bad_input(api, make_invoice, query):
    inv = make_invoice(total="10.00")
    assert api.get(f"/invoices/{inv}/payment-calculator?{query}").status_code == 422


def test_calculator_unknown_invoice(api):
    assert api.get("/invoices/999999/payment-calculator").status_code == 404


# --- schedules ---------------------------------------------------------------------------------------

def test_a_schedule_splits_the_balance_exactly_with_the_remainder_on_the_last(api, make_invoice):
    inv = make_invoice(total="100.00")
    api.post(f"/invoices/{inv}/payments", json={"amount": "0.01"})
    r = api.post(f"/invoices/{inv}/payment-schedule",
                 json={"installments": 3, "first_date": "2027-01-31", "interval": "monthly", "method": "Direct debit"})
    assert r.status_code == 201, r.text
    schedule = r.json()
    amounts = [p["amount"] for p in schedule["payments"]]
    assert amounts == ["33.33", "33.33", "33.33"] and schedule["amount"] == "99.99"
    assert sum(Decimal(a) for a in amounts) == Decimal("99.99")
    assert [p["date"] for p in schedule["payments"]] == ["2027-01-31", "2027-02-28", "2027-03-31"]
    assert {p["status"] for p in schedule["payments"]} == {"Scheduled"}
    assert {p["method"] for p in schedule["payments"]} == {"Direct debit"}
    assert [p["reference"] for p in schedule["payments"]] == ["1/3", "2/3", "3/3"]
    assert invoice_state(api, inv) == ("0.01", "99.99", "Partially Paid")  # scheduled does not count


def test_remainder_goes_on_the_last_installment(api, make_invoice):
    inv = make_invoice(total="100.00")
    r = api.post(f"/invoices/{inv}/payment-schedule", json={"installments": 7, "first_date": "2027-01-01"}).json()
    amounts = [Decimal(p["amount"]) for p in r["payments"]]
    assert amounts[:-1] == [Decimal("14.28")] * 6 and amounts[-1] == Decimal("14.32")
    assert sum(amounts) == Decimal("100.00")


@pytest.mark.parametrize("interval, dates", [
    ("weekly", ["2028-02-26", "2028-03-04", "2028-03-11"]),
    ("monthly", ["2028-01-31", "2028-02-29", "2028-03-31"]),     # leap year, clamped, not drifting
    ("quarterly", ["2027-11-30", "2028-02-29", "2028-05-30"]),
])
def test_installment_dates(api, make_invoice, interval, dates):
    inv = make_invoice(total="90.00")
    first = dates[0]
    r = api.post(f"/invoices/{inv}/payment-schedule", json={"installments": 3, "first_date": first,
                                                             "interval": interval})
    assert [p["date"] for p in r.json()["payments"]] == dates


def test_paying_the_installments_one_by_one_reaches_paid(api, make_invoice):
    inv = make_invoice(total="100.00", status="Sent")
    schedule = api.post(f"/invoices/{inv}/payment-schedule",
                        json={"installments": 3, "first_date": "2027-01-15"}).json()
    expected = [("33.33", "66.67", "Partially Paid"), ("66.66", "33.34", "Partially Paid"), ("100.00", "0.00", "Paid")]
    for payment, state in zip(schedule["payments"], expected):
        r = api.patch(f"/payments/{payment['id']}", json={"status": "Paid"})
        assert r.status_code == 200, r.text
        assert invoice_state(api, inv) == state


def _open_installments(api, inv):
    return [(p["reference"], p["amount"]) for p in api.get("/payments", params={"invoice_id": inv}).json()["items"]
            if p["status"] == "Scheduled"]


@pytest.mark.parametrize("pay", ["payment", "credit"])
def test_installments_follow_a_payment_or_a_credit_received_outside_the_schedule(api, make_invoice, catalog, pay):
    inv = make_invoice(total="100.00", status="Sent")
    schedule = api.post(f"/invoices/{inv}/payment-schedule", json={"installments": 3, "first_date": "2027-01-15"})
    installments = [p["id"] for p in schedule.json()["payments"]]
    if pay == "payment":
        assert api.post(f"/invoices/{inv}/payments", json={"amount": "40.00"}).status_code == 201
    else:
        donor = make_invoice(total="10.00", status="Sent")
        api.post(f"/invoices/{donor}/payments", json={"amount": "50.00", "excess_as_credit": True})
        credit = api.get(f"/payments/credits?account_id={catalog.account}").json()["items"][0]["id"]
        assert api.post(f"/payments/credits/{credit}/apply", json={"invoice_id": inv, "amount": "40.00"}) \
            .status_code == 201
    # 60.00 is owed: the last installment shrank from 33.34 to 0 and went, the second from 33.33 to 26.67
    assert sorted(_open_installments(api, inv)) == [("1/3", "33.33"), ("2/3", "26.67")]
    for payment, state in zip(installments, [("73.33", "26.67", "Partially Paid"), ("100.00", "0.00", "Paid")]):
        r = api.patch(f"/payments/{payment}", json={"status": "Paid"})   # "Mark paid", one by one
        assert r.status_code == 200, r.text
        assert invoice_state(api, inv) == state


def test_installments_grow_back_when_a_payment_is_deleted(api, make_invoice):
    inv = make_invoice(total="100.00", status="Sent")
    api.post(f"/invoices/{inv}/payment-schedule", json={"installments": 2, "first_date": "2027-01-15"})
    paid = api.post(f"/invoices/{inv}/payments", json={"amount": "20.00"}).json()["id"]
    assert sorted(_open_installments(api, inv)) == [("1/2", "50.00"), ("2/2", "30.00")]
    assert api.delete(f"/payments/{paid}").status_code in (200, 204)
    assert sorted(_open_installments(api, inv)) == [("1/2", "50.00"), ("2/2", "50.00")]


def test_a_second_schedule_needs_replace(api, make_invoice):
    inv = make_invoice(total="100.00")
    body = {"installments": 2, "first_date": "2027-01-01"}
    first = api.post(f"/invoices/{inv}/payment-schedule", json=body).json()
    again = api.post(f"/invoices/{inv}/payment-schedule", json=body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_scheduled"
    replaced = api.post(f"/invoices/{inv}/payment-schedule", json={**body, "installments": 4, "replace": True})
    assert replaced.status_code == 201 and len(replaced.json()["payments"]) == 4
    listed = api.get(f"/invoices/{inv}/payments").json()["items"]
    assert [p["amount"] for p in listed] == ["25.00"] * 4 and len(first["payments"]) == 2
    assert {p["schedule_id"] for p in listed} == {replaced.json()["id"]} != {first["id"]}


def test_nothing_to_schedule_and_bad_input(api, make_invoice):
    paid = make_invoice(total="10.00")
    api.post(f"/invoices/{paid}/payments", json={"amount": "10.00"})
    r = api.post(f"/invoices/{paid}/payment-schedule", json={"installments": 2, "first_date": "2027-01-01"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "nothing_to_pay"
    inv = make_invoice(total="0.02")
    too_many = api.post(f"/invoices/{inv}/payment-schedule", json={"installments": 3, "first_date": "2027-01-01"})
    assert too_many.status_code == 422 and "installments" in too_many.json()["error"]["fields"]
    for body in ({"installments": 0, "first_date": "2027-01-01"}, {"installments": 2},
                 {"installments": 2, "first_date": "2027-01-01", "interval": "daily"}):
        assert api.post(f"/invoices/{inv}/payment-schedule", json=body).status_code == 422
    draft = make_invoice(total="10.00", status="Created")
    assert api.post(f"/invoices/{draft}/payment-schedule",
                    json={"installments": 2, "first_date": "2027-01-01"}).status_code == 409
    assert api.get(f"/invoices/{inv}/payments").json()["total"] == 0


@pytest.mark.parametrize("body, field, message", [
    # the last of 120 quarterly installments would fall in 3029
    ({"installments": 120, "interval": "quarterly", "first_date": "2999-01-31"}, "installments",
     "the last one would fall on 3028-10-31, after 2999-12-31"),
    # a schedule crossing year 9999 was a server error
    ({"installments": 3, "interval": "monthly", "first_date": "9999-11-30"}, "first_date",
     "must be between 1900-01-01 and 2999-12-31"),
    ({"installments": 3, "interval": "weekly", "first_date": "0001-01-01"}, "first_date",
     "must be between 1900-01-01 and 2999-12-31"),
])
def test_a_schedule_whose_dates_leave_the_accepted_range_is_refused(api, make_invoice, body, field, message):
    inv = make_invoice(total="1000.00")
    refused = api.post(f"/invoices/{inv}/payment-schedule", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["fields"] == {field: [message]}
    assert api.get(f"/invoices/{inv}/payments").json()["total"] == 0


def test_schedule_is_idempotent(api, make_invoice):
    inv = make_invoice(total="100.00")
    headers = {"Idempotency-Key": "schedule-1"}
    body = {"installments": 2, "first_date": "2027-01-01"}
    first = api.post(f"/invoices/{inv}/payment-schedule", json=body, headers=headers)
    again = api.post(f"/invoices/{inv}/payment-schedule", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()    # answered in its transaction, or read again: the same
    assert api.get(f"/invoices/{inv}/payments").json()["total"] == 2


# --- overdue -------------------------------------------------------------------------------------------

def test_overdue_scheduled_payments_are_listed(api, make_invoice):
    inv = make_invoice(total="90.00")
    api.post(f"/invoices/{inv}/payment-schedule",
             json={"installments": 3, "first_date": days_ago(40).isoformat(), "interval": "quarterly"})
    overdue = api.get("/payments?overdue=true").json()
    assert overdue["total"] == 1 and overdue["items"][0]["overdue"] is True
    assert overdue["items"][0]["date"] == days_ago(40).isoformat()
    assert api.get(f"/payments?overdue=false&invoice_id={inv}").json()["total"] == 2
    # paid, it is no longer overdue
    api.patch(f"/payments/{overdue['items'][0]['id']}", json={"status": "Paid"})
    assert api.get("/payments?overdue=true").json()["total"] == 0


def test_the_job_marks_overdue_payments_once_and_fires_the_event_once(app, api, make_invoice, runner):
    from crm import hookimpl
    from crm.testing import registered_plugin
    events = []

    class Reminders:
        @hookimpl
        def crm_payment_event(self, session, event, payment, invoice):
            events.append((event, payment.id, invoice.id, payment.overdue_since))

    inv = make_invoice(total="90.00")
    cancelled = make_invoice(total="90.00")
    schedule = api.post(f"/invoices/{inv}/payment-schedule",
                        json={"installments": 3, "first_date": "2027-01-10", "interval": "monthly"}).json()
    api.post(f"/invoices/{cancelled}/payment-schedule", json={"installments": 1, "first_date": "2027-01-01"})
    assert api.patch(f"/invoices/{cancelled}", json={"status": "Cancelled"}).status_code == 200
    first, second = schedule["payments"][0]["id"], schedule["payments"][1]["id"]
    with registered_plugin(app, Reminders(), "reminders"):
        result = runner.invoke(["jobs", "run-due", "--today", "2027-02-11"])
        assert result.exit_code == 0, result.output
        assert "payments_overdue: 2 scheduled payment(s) became overdue" in result.output
        again = runner.invoke(["jobs", "run-due", "--today", "2027-02-12"])
        assert "payments_overdue: 0 scheduled payment(s)" in again.output
    overdue_events = [e for e in events if e[0] == "overdue"]
    assert overdue_events == [("overdue", first, inv, dt.date(2027, 2, 11)),
                              ("overdue", second, inv, dt.date(2027, 2, 11))]
    assert api.get(f"/payments/{first}").json()["overdue_since"] == "2027-02-11"
    assert api.get(f"/payments/{schedule['payments'][2]['id']}").json()["overdue_since"] is None


def test_rescheduling_clears_the_overdue_mark(app, api, make_invoice, runner):
    inv = make_invoice(total="90.00")
    schedule = api.post(f"/invoices/{inv}/payment-schedule",
                        json={"installments": 1, "first_date": "2027-01-10"}).json()
    pid = schedule["payments"][0]["id"]
    runner.invoke(["jobs", "run-due", "--today", "2027-01-20"])
    assert api.get(f"/payments/{pid}").json()["overdue_since"] == "2027-01-20"
    api.patch(f"/payments/{pid}", json={"date": "2027-03-01"})
    assert api.get(f"/payments/{pid}").json()["overdue_since"] is None
