"""QuickBooks' 401 and 403 answers (their bodies say ``fault``/``error`` in lower case): a 401 is an
access token to refresh; a 403 is a setup to fix, never retried (3100: a sandbox company on the
production host, or the reverse), and the run says what to check. The environment is a choice."""
from __future__ import annotations

from accsync_helpers import connect, qbo_settings, sync


def test_a_sandbox_company_on_the_production_host_stops_the_run_saying_what_to_check(app, qbo, catalog):
    qbo.company().sandbox = True                       # the connection calls the production host
    run = sync(app, "qbo")
    assert run.status == "failed", run
    assert "3100" in run.error and "environment" in run.error and "sandbox" in run.error
    refused = [c for c in qbo.calls if c[1].startswith("/v3/")]
    assert len(refused) == 1                           # not retried
    # on the sandbox host it goes
    connect(app, "sandboxed", "quickbooks", settings={**qbo_settings(qbo), "environment": "sandbox",
                                                      "api_base_url": qbo.sandbox_api_url},
            secrets={"client_secret": qbo.client_secret, "refresh_token": qbo.issue_refresh_token()})
    run = sync(app, "sandboxed", ["accounts"])
    assert run.status == "done" and run.count("accounts", "to_remote", "created") == 1, run


def test_a_401_with_its_lowercase_body_refreshes_the_token_once(app, qbo, catalog):
    assert sync(app, "qbo", ["accounts"]).status == "done"
    qbo.expire_tokens()
    run = sync(app, "qbo", ["vendors"])
    assert run.status == "done", run
    assert qbo.count("/oauth2/v1/tokens/bearer") >= 2


def test_the_environment_is_a_choice(api, qbo):
    answer = api.put("/accounting-sync/connections/qbo", json={"settings": {"environment": qbo.discovery_url}})
    assert answer.status_code == 422, answer.text
    assert "settings.environment" in answer.json()["error"]["fields"]
    answer = api.put("/accounting-sync/connections/qbo", json={"settings": {"environment": "sandbox"}})
    assert answer.status_code == 200, answer.text


def test_the_settings_form_offers_the_environments(app, qbo, make_user):
    from test_accsync_settings_form import html, signed_in
    page = html(signed_in(app, make_user).get("/accounting-sync/settings/qbo"))
    select = page.split('name="settings.environment"')[1].split("</select>")[0]
    assert 'value="production" selected' in select and 'value="sandbox"' in select
