"""The web UI: the payments panel of the invoice page and its forms, the payments list,
the business summary, the settings pages, the menu, both languages, CSRF."""
from __future__ import annotations

import re

import pytest

from payments_helpers import days_ago, signed_in


def _page(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _panel(html: str) -> str:
    start = html.find('<section id="payments"')
    assert start >= 0, "no payments panel on the page"
    return html[start:html.find("</section>", start)]


def _received_balance(client, inv):
    panel = _panel(_page(client, f"/invoices/{inv}"))
    received = re.search(r'data-payments="received">([^<]*)<', panel).group(1)
    balance = re.search(r'data-payments="balance">([^<]*)<', panel).group(1)
    status = re.search(r'data-payments="status">([^<]*)<', panel).group(1)
    return received, balance, status


def test_the_panel_is_on_invoice_pages_only(web_as, make_invoice, app, catalog):
    inv = make_invoice(total="100.00")
    admin = web_as("admin")
    panel = _panel(_page(admin, f"/invoices/{inv}"))
    assert "Record a payment" in panel and 'id="payments-calculator"' in panel and "Schedule the balance" in panel
    assert panel.count('name="csrf_token"') >= 2  # every posting form carries the token
    # the core's hand-edited "received" form is gone while the plugin keeps received
    assert 'action="/invoices/%d/received"' % inv not in _page(admin, f"/invoices/{inv}")
    from crm.db import db
    from crm.services import documents
    with app.app_context():
        session = db.new_session(app)
        quote = documents.create_document(session, "quote", {"account_id": catalog.account, "lines": []})
        session.commit()
        quote_id = quote.id
        session.close()
    assert 'id="payments"' not in _page(admin, f"/quotes/{quote_id}")


def test_record_edit_mark_paid_and_delete_through_the_panel(web_as, make_invoice):
    inv = make_invoice(total="100.00")
    client = web_as("accounting")
    r = client.post(f"/payments/invoices/{inv}/add", data={"amount": "30,00", "date": "2027-01-10",
                                                          "reference": "TR-9"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/invoices/{inv}#payments")
    html = _page(client, f"/invoices/{inv}")
    assert "Payment of €30.00 recorded." in html
    assert _received_balance(client, inv) == ("€30.00", "€70.00", "Partially Paid")
    assert "TR-9" in _panel(html)
    payment_id = int(re.search(r'data-payment-id="(\d+)"', _panel(html)).group(1))
    client.post(f"/payments/{payment_id}/edit", data={"amount": "40.00", "note": "corrected", "status": "",
                                                      "date": "2027-01-10"})
    assert _received_balance(client, inv) == ("€40.00", "€60.00", "Partially Paid")
    client.post(f"/payments/invoices/{inv}/add", data={"amount": "60.00", "status": "Pending"})
    pending_id = max(int(i) for i in re.findall(r'data-payment-id="(\d+)"', _panel(_page(client, f"/invoices/{inv}"))))
    assert _received_balance(client, inv)[0] == "€40.00"
    client.post(f"/payments/{pending_id}/mark-paid")
    assert _received_balance(client, inv) == ("€100.00", "€0.00", "Paid")
    client.post(f"/payments/{payment_id}/delete")
    assert _received_balance(client, inv) == ("€60.00", "€40.00", "Partially Paid")


def test_an_overpayment_in_the_form_is_refused_with_the_balance(web_as, make_invoice):
    inv = make_invoice(total="100.00")
    client = web_as("admin")
    client.post(f"/payments/invoices/{inv}/add", data={"amount": "100.01"})
    html = _page(client, f"/invoices/{inv}")
    assert 'class="flash error"' in html and "100.00 EUR" in html
    assert _received_balance(client, inv) == ("€0.00", "€100.00", "Approved")
    client.post(f"/payments/invoices/{inv}/add", data={"amount": "120.00", "excess_as_credit": "1"})
    html = _page(client, f"/invoices/{inv}")
    assert "€20.00 recorded as customer credit" in html
    assert _received_balance(client, inv) == ("€100.00", "€0.00", "Paid")


def test_the_calculator_fills_the_amount(web_as, make_invoice):
    inv = make_invoice(total="48.41")
    client = web_as("accounting")
    # without JavaScript: back to the invoice page with the amount filled in
    r = client.get(f"/payments/invoices/{inv}/calculator?basis=total&custom=50")
    assert r.status_code == 302 and "payments_amount=24.21" in r.headers["Location"]
    panel = _panel(_page(client, r.headers["Location"]))
    assert re.search(r'id="payments-amount" name="amount"[^>]*value="24.21"', panel)
    # with htmx: the amount input comes back, computed by the server
    fragment = client.get(f"/payments/invoices/{inv}/calculator?basis=balance&percent=33&custom=10",
                          headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="payments-amount"' in fragment and 'value="15.98"' in fragment  # the preset wins over the free one
    assert "33 % of the balance" in fragment
    as_json = client.get(f"/payments/invoices/{inv}/calculator?basis=total&percent=100&format=json").get_json()
    assert as_json == {"amount": "48.41", "percent": "100", "basis": "total", "exceeds_balance": False}
    bad = client.get(f"/payments/invoices/{inv}/calculator?percent=150", headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "at most 100" in bad.get_data(as_text=True)


def test_schedule_and_credit_through_the_panel(web_as, make_invoice):
    client = web_as("admin")
    source = make_invoice(total="10.00")
    inv = make_invoice(total="100.00")
    client.post(f"/payments/invoices/{source}/add", data={"amount": "35.00", "excess_as_credit": "on"})
    r = client.post(f"/payments/invoices/{inv}/schedule", data={"installments": "3", "first_date": "2027-01-31",
                                                                "interval": "monthly"})
    assert r.status_code == 302
    panel = _panel(_page(client, f"/invoices/{inv}"))
    assert "The balance is scheduled in 3 installments." in _page(client, f"/invoices/{inv}") or "Scheduled" in panel
    assert panel.count("Mark paid") == 3 and "€33.34" in panel
    assert "Customer credit" in panel and "€25.00" in panel
    credit_id = re.search(r'/payments/credits/(\d+)/apply', panel).group(1)
    client.post(f"/payments/credits/{credit_id}/apply", data={"invoice_id": str(inv), "amount": "25,00"})
    assert _received_balance(client, inv) == ("€25.00", "€75.00", "Partially Paid")
    again = client.post(f"/payments/invoices/{inv}/schedule", data={"installments": "2", "first_date": "2027-01-31"})
    assert again.status_code == 302
    assert "already has 3 scheduled payment(s)" in _page(client, f"/invoices/{inv}")


def test_read_only_roles_see_the_payments_but_no_forms(web_as, make_invoice):
    inv = make_invoice(total="100.00")
    web_as("admin").post(f"/payments/invoices/{inv}/add", data={"amount": "10.00"})
    warehouse = web_as("warehouse")
    panel = _panel(_page(warehouse, f"/invoices/{inv}"))
    assert "€10.00" in panel and "Record a payment" not in panel and "Mark paid" not in panel
    assert warehouse.post(f"/payments/invoices/{inv}/add", data={"amount": "1.00"}).status_code == 403
    assert _received_balance(warehouse, inv)[0] == "€10.00"


def test_payments_list_with_filters_and_the_menu_entry(web_as, make_invoice):
    inv = make_invoice(total="100.00")
    client = web_as("admin")
    client.post(f"/payments/invoices/{inv}/add", data={"amount": "11.00", "reference": "ALPHA"})
    client.post(f"/payments/invoices/{inv}/schedule", data={"installments": "2",
                                                            "first_date": days_ago(10).isoformat(),
                                                            "interval": "monthly"})
    html = _page(client, "/payments/")
    assert "ALPHA" in html and html.count("data-payment-id=") == 3
    assert 'href="/payments/"' in _page(client, "/")  # the menu entry
    overdue = _page(client, "/payments/?overdue=1")
    assert overdue.count("data-payment-id=") == 1 and "overdue" in overdue
    assert _page(client, "/payments/?q=alpha").count("data-payment-id=") == 1
    assert _page(client, "/payments/?from=2000-01-01&to=2000-12-31").count("data-payment-id=") == 0
    assert "must be a date" in _page(client, "/payments/?from=nonsense")
    anonymous = client.application.test_client()
    assert anonymous.get("/payments/").status_code == 302


def test_the_summary_page(web_as, make_invoice):
    inv = make_invoice(total="100.00", due_date=days_ago(3))
    client = web_as("admin")
    client.post(f"/payments/invoices/{inv}/add", data={"amount": "40.00", "date": "2027-03-05"})
    html = _page(client, "/payments/summary")
    for kpi, value in (("invoiced", "€100.00"), ("received", "€40.00"), ("outstanding", "€60.00"),
                       ("overdue", "€60.00")):
        assert re.search(rf'data-kpi="{kpi}">.*?{re.escape(value)}', html, re.S), kpi
    assert "2027-03" in html and 'id="payments-chart-EUR"' in html and "chart.umd.min.js" in html


def test_settings_pages_are_for_admins(web_as, make_invoice):
    admin = web_as("admin")
    assert "/payments/settings/statuses" in _page(admin, "/settings/")
    html = _page(admin, "/payments/settings/statuses")
    assert "Counts as received" in html and "Refunded" in html
    admin.post("/payments/settings/statuses", data={"name": "Cleared", "counts_as_received": "1"})
    assert "Status Cleared added." in _page(admin, "/payments/settings/statuses")
    admin.post("/payments/settings/statuses", data={"name": "Odd", "is_refund": "1"})
    assert "must also count as received" in _page(admin, "/payments/settings/statuses")
    admin.post("/payments/settings/types", data={"name": "Bizum"})
    assert "Payment type Bizum added." in _page(admin, "/payments/settings/types")
    sales = web_as("sales")
    assert sales.get("/payments/settings/statuses").status_code == 403
    assert sales.post("/payments/settings/types", data={"name": "x"}).status_code == 403


def test_status_in_use_cannot_be_deleted_from_the_settings_page(web_as, make_invoice, api):
    inv = make_invoice(total="100.00")
    api.post(f"/invoices/{inv}/payments", json={"amount": "5.00", "status": "Pending"})
    pending = next(s for s in api.get("/payments/statuses").json()["items"] if s["name"] == "Pending")
    admin = web_as("admin")
    admin.post(f"/payments/settings/statuses/{pending['id']}/delete")
    assert "cannot be deleted; deactivate it instead" in _page(admin, "/payments/settings/statuses")
    admin.post(f"/payments/settings/statuses/{pending['id']}", data={"name": "Pending", "position": "1"})
    assert next(s for s in api.get("/payments/statuses").json()["items"] if s["name"] == "Pending")["active"] is False


def test_the_panel_and_pages_in_spanish(web_as, make_invoice):
    inv = make_invoice(total="100.00")
    client = web_as("admin", language="es")
    client.post(f"/payments/invoices/{inv}/add", data={"amount": "100,01"})
    html = _page(client, f"/invoices/{inv}")
    panel = _panel(html)
    assert "Registrar un pago" in panel and "Calculadora" in panel and "Programar el saldo pendiente" in panel
    assert "supera el saldo pendiente" in html  # the refusal, in Spanish
    assert "Resumen de cobros" in _page(client, "/payments/summary")
    assert "Estados de pago" in _page(client, "/payments/settings/statuses")
    assert ">Pagado</option>" in panel and ">Transferencia bancaria</option>" in panel  # the seeded names


@pytest.mark.parametrize("path", ["/payments/invoices/{inv}/add", "/payments/invoices/{inv}/schedule"])
def test_forms_without_the_csrf_token_are_refused(app_factory, make_user, make_invoice, path):
    app = app_factory(WTF_CSRF_ENABLED=True)
    inv = make_invoice(total="100.00")
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    user = make_user("admin")
    from crm.testing import TEST_PASSWORD
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                       "csrf_token": token}).status_code == 302
    refused = client.post(path.format(inv=inv), data={"amount": "10.00", "installments": "2",
                                                      "first_date": "2027-01-01"})
    assert refused.status_code == 400
    html = client.get(f"/invoices/{inv}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    accepted = client.post(path.format(inv=inv), data={"amount": "10.00", "installments": "2",
                                                       "first_date": "2027-01-01", "csrf_token": token})
    assert accepted.status_code == 302
    assert signed_in  # the helper signs in without CSRF when the test app disables it
