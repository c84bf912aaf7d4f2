"""A plugin that raises inside a hook: contained where a page shows its part (template slots,
menu entries, settings pages: the page shows a notice, the error is logged with the plugin's
id); a hook called inside a transaction still aborts it."""
from __future__ import annotations

import logging
import types

import pytest
from sqlalchemy import func, select

from crm import hookimpl
from crm.models import Account
from crm.testing import TEST_PASSWORD, registered_plugin


class Boom(RuntimeError):
    pass


def _raise(*args, **kwargs):
    raise Boom("the plugin broke")


def _signed_in(app, make_user):
    user = make_user("admin")
    client = app.test_client()
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    return client


@pytest.mark.crm_plugins("hello")
def test_a_failing_slot_and_menu_show_a_notice_and_the_rest_of_the_page(app, make_user, caplog):
    broken = types.SimpleNamespace(
        crm_template_slot=hookimpl(lambda slot, context: _raise()),
        crm_menu_items=hookimpl(lambda user: _raise()),
        crm_settings_pages=hookimpl(lambda: _raise()),
    )
    client = _signed_in(app, make_user)
    with caplog.at_level(logging.ERROR), registered_plugin(app, broken, "breaks"):
        home = client.get("/")
        plugins_page = client.get("/admin/plugins")
    page = home.get_data(as_text=True)
    assert home.status_code == 200
    assert 'data-plugin="breaks"' in page and "The plugin breaks could not show this part of the page" in page
    assert "Hello from the example plugin!" in page and ">Greetings</a>" in page   # the other plugin's parts stay
    assert plugins_page.status_code == 200
    failures = [r for r in caplog.records if getattr(r, "plugin", None) == "breaks"]
    assert {r.hook for r in failures} >= {"crm_template_slot", "crm_menu_items"}
    assert all("plugin breaks failed in" in r.getMessage() and r.exc_info for r in failures)


@pytest.mark.crm_plugins("hello")
def test_a_hook_failing_inside_a_transaction_still_aborts_it(app, api, session):
    before = session.scalar(select(func.count()).select_from(Account))
    session.rollback()
    broken = types.SimpleNamespace(crm_record_saved=hookimpl(lambda session, entity, record, created: _raise()))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with registered_plugin(app, broken, "breaks"):
        answer = api.post("/accounts", json={"name": "Never saved S.L."})
    assert answer.status_code == 500
    assert session.scalar(select(func.count()).select_from(Account)) == before


@pytest.mark.crm_plugins("hello")
def test_failing_line_columns_are_left_out_of_the_document_page_but_stop_the_editor(app, make_user, session, catalog,
                                                                                    caplog):
    from decimal import Decimal

    from crm.services import documents
    quote = documents.create_document(session, "quote", {"account_id": catalog.account, "lines": [
        {"item_id": catalog.widget, "quantity": Decimal("2")}]})
    session.commit()
    broken = types.SimpleNamespace(crm_line_columns=hookimpl(lambda doc_type, session, document: _raise()))
    client = _signed_in(app, make_user)
    with caplog.at_level(logging.ERROR), registered_plugin(app, broken, "breaks"):
        shown = client.get(f"/quotes/{quote.id}")
        with pytest.raises(Boom):        # the editor could save the lines without the plugin's values
            client.get(f"/quotes/{quote.id}/edit")
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200 and quote.number in page
    assert "The plugin breaks could not show this part of the page" in page
    assert any(getattr(r, "plugin", None) == "breaks" and r.hook == "crm_line_columns" for r in caplog.records)
