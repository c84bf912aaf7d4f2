"""What an invoice owes, seen in a real browser (Playwright driving Debian's chromium against the
``live_server``): a cancelled invoice owes nothing; the dashboard, the payments summary and the
invoice aging report show one overdue figure for the same invoices; installments follow a
credit and a payment received outside the schedule, so each "Mark paid" goes through and no
message names an API field."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from crm.testing import sign_in
from payments_helpers import days_ago, invoice_state

#: words of the API's bodies a message on a page must never show
API_FIELDS = re.compile(r"\b(amount|status|status_id|version|invoice_id|date|method_id|fields)\s*:", re.I)


@pytest.fixture
def page(new_page):
    return new_page(width=1400, height=1000)


def expect_owed(page, received: str, balance: str, status: str) -> None:
    """The invoice page shows these figures in the core's totals box and in the payments panel."""
    from playwright.sync_api import expect
    expect(page.locator('[data-total="received"]')).to_have_text(received)
    expect(page.locator('[data-total="balance"]')).to_have_text(balance)
    expect(page.locator('[data-payments="balance"]')).to_have_text(balance)
    expect(page.locator("h1 .status")).to_have_text(status)


def test_a_cancelled_invoice_shows_no_balance(page, live_server, api, make_user, make_invoice):
    from playwright.sync_api import expect
    inv = make_invoice(total="80.00", status="Approved")
    sign_in(page, make_user("accounting"))
    page.goto(f"{live_server}/invoices/{inv}")
    expect_owed(page, "€0.00", "€80.00", "Approved")
    page.locator("button.status-action", has_text="Mark as Cancelled").click()   # confirmed by the fixture
    expect_owed(page, "€0.00", "€0.00", "Cancelled")
    # nothing left to pay, schedule or take from a credit
    expect(page.locator("#payments-record")).to_have_count(0)
    expect(page.locator("#payments-schedule")).to_have_count(0)
    assert invoice_state(api, inv) == ("0.00", "0.00", "Cancelled")
    # and one cancelled before it was ever opened
    cancelled = make_invoice(total="55.00", status="Cancelled")
    page.goto(f"{live_server}/invoices/{cancelled}")
    expect_owed(page, "€0.00", "€0.00", "Cancelled")


def test_the_dashboard_the_summary_and_the_aging_report_show_one_overdue_figure(
        page, live_server, api, make_user, make_invoice):
    from playwright.sync_api import expect
    past, future = days_ago(10).isoformat(), (dt.date.today() + dt.timedelta(days=10)).isoformat()
    make_invoice(total="100.00", due_date=past)                           # overdue
    make_invoice(total="20.00", status="Sent", due_date=past)             # overdue
    make_invoice(total="7.00", invoice_date=days_ago(3).isoformat())      # no due date: due on its date
    paid_part = make_invoice(total="50.00", due_date=past)                # partly paid: its balance, 30.00
    assert api.post(f"/invoices/{paid_part}/payments", json={"amount": "20.00"}).status_code == 201
    make_invoice(total="900.00", status="Created", due_date=past)         # a draft is not owed
    make_invoice(total="800.00", status="Cancelled", due_date=past)       # nor a cancelled one
    make_invoice(total="700.00", status="Credit Invoice", due_date=past)  # nor a credit invoice
    make_invoice(total="600.00", due_date=future)                         # not due yet
    make_invoice(total="500.00", currency="USD", due_date=past)           # another currency
    sign_in(page, make_user("accounting"))

    page.goto(f"{live_server}/")
    kpi = page.locator("a.kpi", has=page.locator('[data-kpi="overdue"]'))
    expect(kpi.locator('[data-kpi="overdue"]')).to_have_text("4")
    expect(kpi.locator(".kpi-note")).to_have_text("€157.00")
    kpi.click()                                                           # the invoices it counts
    expect(page).to_have_url(re.compile(r"/invoices/\?overdue=1$"))
    expect(page.get_by_role("checkbox", name="Overdue only")).to_be_checked()
    expect(page.locator("table.list tbody tr")).to_have_count(5)          # the 4 and the one in USD

    page.goto(f"{live_server}/payments/summary")
    eur = page.locator("section.card", has=page.locator("h2", has_text="EUR"))
    expect(eur.locator('[data-kpi="overdue"] .kpi-value')).to_have_text("€157.00")

    page.goto(f"{live_server}/reports/invoice-aging")
    figures = page.locator("dl.totals-inline")

    def aging(label: str):
        return figures.locator("div", has=page.locator("dt", has_text=re.compile(rf"^{re.escape(label)}$")))

    expect(aging("Current").locator("dd")).to_have_text("€600.00")       # not due yet
    expect(aging("1-30").locator("dd")).to_have_text("€157.00")           # all overdue 3 to 10 days
    for later in ("31-60", "61-90", "90+"):
        expect(aging(later).locator("dd")).to_have_text("€0.00")
    expect(aging("Total").locator("dd")).to_have_text("€757.00")


def test_mark_paid_after_a_credit_and_a_payment_outside_the_schedule(page, live_server, api, make_user,
                                                                      make_invoice):
    """100.00 in 3 installments (33.33, 33.33, 33.34); 40.00 of customer credit and a 10.00
    payment shrink what is scheduled to 50.00 (33.33 and 16.67); each "Mark paid" then goes
    through. Marking paid from a page left open while the schedule changed is refused in words,
    never with an API field's name."""
    from playwright.sync_api import expect
    inv = make_invoice(total="100.00", status="Sent")
    donor = make_invoice(total="10.00", status="Sent")
    assert api.post(f"/invoices/{donor}/payments", json={"amount": "50.00", "excess_as_credit": True}) \
        .status_code == 201                                              # 40.00 of credit for the account
    sign_in(page, make_user("accounting"))
    page.goto(f"{live_server}/invoices/{inv}")
    page.fill("#payments-installments", "3")
    page.fill("#payments-first-date", "2027-01-15")
    page.select_option("#payments-interval", "monthly")
    page.click("#payments-schedule")
    expect(page.locator(".flash").first).to_contain_text("scheduled in 3 installments")
    scheduled = page.locator("#payments-table tr.payment-row.scheduled .p-amount")
    expect(scheduled).to_have_text(["€33.33", "€33.33", "€33.34"])

    credit = page.locator("ul.payments-credits li", has_text="€40.00 left")
    credit.locator('input[name="amount"]').fill("40,00")
    credit.locator("button", has_text="Apply credit").click()
    expect_owed(page, "€40.00", "€60.00", "Partially Paid")
    expect(scheduled).to_have_text(["€33.33", "€26.67"])                 # the last one went

    page.fill("#payments-amount", "10.00")
    page.click("#payments-record")
    expect(page.locator(".flash").first).to_contain_text("Payment of €10.00 recorded.")
    expect_owed(page, "€50.00", "€50.00", "Partially Paid")
    expect(scheduled).to_have_text(["€33.33", "€16.67"])

    # a second tab opened now, left while the first marks the next installment paid
    stale = page.context.new_page()
    stale.goto(f"{live_server}/invoices/{inv}")
    expect(stale.locator(".mark-paid")).to_have_count(2)

    page.locator(".mark-paid").first.click()
    expect(page.locator(".flash").first).to_have_text("Payment of €33.33 marked as paid.")
    expect(page.locator(".flash.error")).to_have_count(0)
    expect_owed(page, "€83.33", "€16.67", "Partially Paid")

    stale.locator(".mark-paid").first.click()                            # the one just paid
    refusal = stale.locator(".flash.error")
    expect(refusal).to_have_count(1)
    expect(refusal).not_to_have_text(API_FIELDS)
    expect_owed(stale, "€83.33", "€16.67", "Partially Paid")             # nothing changed

    page.locator(".mark-paid").first.click()
    expect(page.locator(".flash").first).to_have_text("Payment of €16.67 marked as paid.")
    expect(page.locator(".flash.error")).to_have_count(0)
    expect_owed(page, "€100.00", "€0.00", "Paid")
    expect(page.locator(".mark-paid")).to_have_count(0)
    assert invoice_state(api, inv) == ("100.00", "0.00", "Paid")
