"""The issue's "done means" flow in a real browser (Playwright driving Debian's chromium
against the ``live_server``): sign in, open an invoice, record a 30 % deposit with the
calculator, schedule the rest in 3 monthly installments, mark them paid one by one, and
check balance and status on the screen -- and through the API -- at every step. Then the
plugin disabled: the invoice page takes received by hand again; enabled: the payments are
back."""
from __future__ import annotations

import re

import pytest

from crm.testing import sign_in
from payments_helpers import invoice_state


@pytest.fixture
def page(new_page):
    return new_page(width=1400, height=1000)


def expect_screen(page, received: str, balance: str, status: str) -> None:
    """The invoice page shows these amounts (the core's totals box and the panel) and status."""
    from playwright.sync_api import expect
    expect(page.locator('[data-total="received"]')).to_have_text(received)
    expect(page.locator('[data-total="balance"]')).to_have_text(balance)
    expect(page.locator('[data-payments="balance"]')).to_have_text(balance)
    expect(page.locator("h1 .status")).to_have_text(status)


def test_deposit_with_the_calculator_then_three_monthly_installments_paid_one_by_one(
        page, live_server, api, make_user, make_invoice):
    from playwright.sync_api import expect
    inv = make_invoice(total="1234.56", status="Sent")
    user = make_user("accounting")
    sign_in(page, user)
    page.goto(f"{live_server}/invoices/{inv}")
    expect_screen(page, "€0.00", "€1,234.56", "Sent")

    # a 30 % deposit of the total, proposed by the calculator (computed by the server)
    page.check('#payments-calculator input[name="basis"][value="total"]')
    page.fill("#payments-percent", "30")
    page.click("#payments-calculate")
    expect(page.locator("#payments-amount")).to_have_value("370.37")  # 370.368 rounded half up
    assert api.get(f"/invoices/{inv}/payment-calculator?basis=total&percent=30").json()["amount"] == "370.37"
    page.select_option("#payments-method", label="Bank transfer")
    page.fill("#payments-reference", "DEPOSIT")
    page.click("#payments-record")
    expect(page.locator(".flash").first).to_contain_text("Payment of €370.37 recorded.")
    expect_screen(page, "€370.37", "€864.19", "Partially Paid")
    assert invoice_state(api, inv) == ("370.37", "864.19", "Partially Paid")

    # the rest in 3 monthly installments; month ends clamped
    page.fill("#payments-installments", "3")
    page.fill("#payments-first-date", "2027-01-31")
    page.select_option("#payments-interval", "monthly")
    page.click("#payments-schedule")
    expect(page.locator(".flash").first).to_contain_text("scheduled in 3 installments")
    rows = page.locator('#payments-table tr.payment-row.scheduled')
    expect(rows).to_have_count(3)
    assert [rows.nth(i).locator(".p-amount").inner_text() for i in range(3)] == ["€288.06", "€288.06", "€288.07"]
    assert [rows.nth(i).locator(".p-date").inner_text() for i in range(3)] == ["Jan 31, 2027", "Feb 28, 2027",
                                                                               "Mar 31, 2027"]
    expect_screen(page, "€370.37", "€864.19", "Partially Paid")  # scheduled payments do not count
    scheduled = api.get(f"/payments?invoice_id={inv}&scheduled=true&sort=date").json()["items"]
    assert [(p["amount"], p["date"]) for p in scheduled] == [("288.06", "2027-01-31"), ("288.06", "2027-02-28"),
                                                             ("288.07", "2027-03-31")]

    # mark them paid one by one
    steps = [("€658.43", "€576.13", "Partially Paid", ("658.43", "576.13", "Partially Paid")),
             ("€946.49", "€288.07", "Partially Paid", ("946.49", "288.07", "Partially Paid")),
             ("€1,234.56", "€0.00", "Paid", ("1234.56", "0.00", "Paid"))]
    for left, (received, balance, status, through_api) in zip((3, 2, 1), steps):
        expect(page.locator(".mark-paid")).to_have_count(left)
        page.locator(".mark-paid").first.click()
        expect(page.locator(".mark-paid")).to_have_count(left - 1)
        expect_screen(page, received, balance, status)
        assert invoice_state(api, inv) == through_api
    payments = api.get(f"/invoices/{inv}/payments").json()["items"]
    assert [p["status"] for p in payments] == ["Paid"] * 4
    # a paid invoice offers no more schedule, and the full-balance shortcut proposes nothing left
    expect(page.locator("#payments-schedule")).to_have_count(0)
    expect(page.locator("#payments-full-balance")).to_contain_text("€0.00")


def test_quick_edit_and_the_full_balance_shortcut(page, live_server, api, make_user, make_invoice):
    from playwright.sync_api import expect
    inv = make_invoice(total="200.00", status="Approved")
    sign_in(page, make_user("accounting"))
    page.goto(f"{live_server}/invoices/{inv}")
    page.click('#payments-calculator button.preset[value="25"]')
    expect(page.locator("#payments-amount")).to_have_value("50.00")
    page.click("#payments-record")
    expect_screen(page, "€50.00", "€150.00", "Partially Paid")
    # quick edit of the amount
    row = page.locator("#payments-table tr.payment-row").first
    row.locator("details.payment-edit summary").click()
    row.locator('input[name="amount"]').fill("80.00")
    row.locator('details.payment-edit button[type="submit"]', has_text="Save").click()
    expect_screen(page, "€80.00", "€120.00", "Partially Paid")
    # the balance shortcut fills exactly what is left
    page.click("#payments-full-balance")
    expect(page.locator("#payments-amount")).to_have_value("120.00")
    page.click("#payments-record")
    expect_screen(page, "€200.00", "€0.00", "Paid")
    assert invoice_state(api, inv) == ("200.00", "0.00", "Paid")
    # an overpayment typed by hand is refused, with the balance, and nothing changes
    page.fill("#payments-amount", "1,00")
    page.click("#payments-record")
    expect(page.locator(".flash.error")).to_contain_text(re.compile(r"no balance left|0\.00 EUR"))
    expect_screen(page, "€200.00", "€0.00", "Paid")


def test_disabled_the_invoice_page_takes_received_by_hand_and_enabled_the_payments_are_back(
        page, live_server, api, runner, make_user, make_invoice):
    from playwright.sync_api import expect
    inv = make_invoice(total="100.00", status="Sent")
    assert api.post(f"/invoices/{inv}/payments", json={"amount": "40.00", "reference": "KEPT"}).status_code == 201
    sign_in(page, make_user("accounting"))
    assert runner.invoke(["plugins", "disable", "payments"]).exit_code == 0
    page.goto(f"{live_server}/invoices/{inv}")
    expect(page.locator("#payments")).to_have_count(0)
    expect(page.locator('[data-total="balance"]')).to_have_text("€60.00")  # the core's totals box
    page.fill("#received", "100.00")
    page.locator(f'form[action="/invoices/{inv}/received"] button[type="submit"]').click()
    expect(page.locator('[data-total="balance"]')).to_have_text("€0.00")
    expect(page.locator("h1 .status")).to_have_text("Paid")
    assert invoice_state(api, inv) == ("100.00", "0.00", "Paid")

    assert runner.invoke(["plugins", "enable", "payments"]).exit_code == 0
    assert runner.invoke(["payments", "recompute"]).exit_code == 0
    page.goto(f"{live_server}/invoices/{inv}")
    expect(page.locator("#payments-table tr.payment-row")).to_have_count(1)
    expect(page.locator("#payments-table")).to_contain_text("KEPT")
    expect_screen(page, "€40.00", "€60.00", "Partially Paid")
    expect(page.locator("#received")).to_have_count(0)
