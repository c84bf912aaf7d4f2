"""Disabled or removed, the plugin lets invoices work by hand again and keeps its data;
enabled again, its payments are all there and ``crm payments recompute`` realigns the
invoices edited by hand in between."""
from __future__ import annotations

from decimal import Decimal

from payments_helpers import invoice_state, signed_in


def test_disable_then_enable_keeps_the_payments(app, api, runner, make_invoice, make_user):
    inv = make_invoice(total="100.00")
    assert api.post(f"/invoices/{inv}/payments", json={"amount": "30.00", "reference": "KEEP"}).status_code == 201
    web = signed_in(app.test_client(), make_user("admin"))

    result = runner.invoke(["plugins", "disable", "payments"])
    assert result.exit_code == 0, result.output
    assert api.get(f"/invoices/{inv}/payments").status_code == 404
    assert api.get("/payments/statuses").status_code == 404
    assert web.get("/payments/").status_code == 404
    page = web.get(f"/invoices/{inv}").get_data(as_text=True)
    assert 'id="payments"' not in page and f'action="/invoices/{inv}/received"' in page  # the core's own form
    assert "payments_overdue" not in runner.invoke(["jobs", "list"]).output
    # invoices work by hand again
    assert invoice_state(api, inv) == ("30.00", "70.00", "Partially Paid")
    by_hand = api.patch(f"/invoices/{inv}", json={"received": "100.00"})
    assert by_hand.status_code == 200, by_hand.text
    assert invoice_state(api, inv) == ("100.00", "0.00", "Paid")

    result = runner.invoke(["plugins", "enable", "payments"])
    assert result.exit_code == 0, result.output
    listed = api.get(f"/invoices/{inv}/payments").json()
    assert [(p["amount"], p["reference"]) for p in listed["items"]] == [("30.00", "KEEP")]
    assert api.patch(f"/invoices/{inv}", json={"received": "10.00"}).status_code == 422
    dry = runner.invoke(["payments", "recompute", "--dry-run"])
    assert dry.exit_code == 1 and "received 100" in dry.output and "-> 30" in dry.output
    fixed = runner.invoke(["payments", "recompute"])
    assert fixed.exit_code == 0 and "1 invoice(s) recomputed" in fixed.output
    assert invoice_state(api, inv) == ("30.00", "70.00", "Partially Paid")
    assert runner.invoke(["payments", "recompute", "--dry-run"]).exit_code == 0


def test_recompute_refuses_while_disabled(runner):
    runner.invoke(["plugins", "disable", "payments"])
    result = runner.invoke(["payments", "recompute"])
    assert result.exit_code != 0 and "disabled" in result.output


def test_removed_plugin_invoices_work_and_the_data_survives(app_factory, catalog):
    from sqlalchemy import inspect

    from crm.db import db
    from payments_helpers import create_invoice
    with_payments = app_factory()
    inv = create_invoice(with_payments, catalog, total="100.00")
    with with_payments.app_context():
        from crm_payments import services
        with db.transaction() as session:
            services.record_payment(session, inv, {"amount": "25.00"})

    without = app_factory(plugins=["hello"])  # as if the package were uninstalled
    assert "payments" not in without.extensions["crm.plugins"].plugins
    with without.app_context():
        from crm.services import documents
        with db.transaction() as session:
            invoice = documents.get_document(session, "invoice", inv, for_update=True)
            documents.update_document(session, invoice, {"received": Decimal("60.00")})
        assert (invoice.received, invoice.balance, invoice.status) == (60, 40, "Partially Paid")
        assert "payments_payments" in inspect(db.engine(without)).get_table_names()
    assert without.test_client().get("/api/v1/payments/statuses").status_code == 404

    again = app_factory()
    with again.app_context():
        from crm_payments import services
        session = db.session
        assert [p.amount for p in services.payments_of(session, inv)] == [25]
        with db.transaction() as session:
            services.recompute_all(session)
        with db.new_session(again) as session:
            invoice = documents.get_document(session, "invoice", inv)
            assert (invoice.received, invoice.status) == (25, "Partially Paid")
