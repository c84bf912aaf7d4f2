""""Connect to QuickBooks": the OAuth 2 consent over real HTTP, a browser session (requests)
going from the CRM (``live_server``) to the fake's consent screen and back to the callback,
which exchanges the code at the fake's token endpoint."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from accsync_helpers import connect, in_app, sync
from crm.testing import TEST_PASSWORD


@pytest.fixture
def fake():
    from accsync_qbo_fake import QBOFake
    fake = QBOFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def books(app, fake):
    """A QuickBooks connection with the Intuit app's credentials, not connected yet."""
    connect(app, "books", "quickbooks",
            settings={"client_id": fake.client_id, "environment": "production", "discovery_url": fake.discovery_url, "api_base_url": fake.api_url,
                      "minorversion": 75, "timeout_seconds": 5},
            secrets={"client_secret": fake.client_secret})
    return "books"


def browser(live_server, make_user, role="admin", **user):
    person = make_user(role, **user)
    http = requests.Session()
    signed = http.post(f"{live_server}/login", data={"username": person.username, "password": TEST_PASSWORD},
                       allow_redirects=False)
    assert signed.status_code == 302
    return http


def stored(app, name="books"):
    from crm_accounting_sync import crypto
    from crm_accounting_sync.models import Connection

    def read(s):
        row = s.get(Connection, name)
        return dict(row.settings), crypto.decrypt(row.secrets, app)
    return in_app(app, read)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.text)


def test_connect_through_the_consent_screen_then_sync_and_disconnect(app, live_server, make_user, fake, books,
                                                                     api):
    http = browser(live_server, make_user)
    page = http.get(f"{live_server}/accounting-sync/settings/books")
    assert "Not connected to QuickBooks yet." in text(page)
    assert re.search(r'action="/accounting-sync/settings/books/connect">\s*<input type="hidden" name="csrf_token"',
                     page.text)
    answer = http.post(f"{live_server}/accounting-sync/settings/books/connect")
    # the CRM -> Intuit's consent screen (the fake) -> back to the callback -> the settings page
    hops = [(urlsplit(r.url).netloc, urlsplit(r.url).path, r.status_code) for r in answer.history]
    assert hops == [(urlsplit(live_server).netloc, "/accounting-sync/settings/books/connect", 303),
                    (urlsplit(fake.url).netloc, "/connect/oauth2", 302),
                    (urlsplit(live_server).netloc, "/accounting-sync/oauth/callback", 302)]
    assert answer.status_code == 200 and answer.url.endswith("/accounting-sync/settings/books")
    assert "Connected to QuickBooks: Fake Company (QuickBooks fake)." in text(answer)
    assert f"Connected to the QuickBooks company {fake.realm}." in text(answer)
    [consent] = fake.consents
    assert consent["client_id"] == fake.client_id and consent["scope"] == "com.intuit.quickbooks.accounting"
    assert consent["redirect_uri"] == f"{live_server}/accounting-sync/oauth/callback"
    assert len(consent["state"]) >= 32 and consent["state"] not in answer.text
    settings, secrets = stored(app)
    assert settings["realm_id"] == fake.realm
    assert secrets["refresh_token"] in fake.refresh_tokens and secrets["access_token"] in fake.access_tokens
    assert secrets["refresh_token"] not in answer.text and secrets["access_token"] not in answer.text
    assert api.get("/accounting-sync/connections/books").json()["secrets_set"] == [
        "access_token", "client_secret", "refresh_token", "refresh_token_expires_at"]
    # the tokens work, and rotate: an expired access token is refreshed, the new refresh token stored
    fake.expire_tokens()
    fake.user_create("Customer", {"DisplayName": "Made in QuickBooks"})
    run = sync(app, "books", ["accounts"])
    assert run.status == "done" and run.count("accounts", "from_remote", "created") == 1, run
    _, rotated = stored(app)
    assert rotated["refresh_token"] != secrets["refresh_token"] and secrets["refresh_token"] not in fake.refresh_tokens
    assert rotated["refresh_token"] in fake.refresh_tokens
    # the callback cannot be replayed: its state was used up
    replay = http.get(answer.history[-1].url, allow_redirects=False)
    assert replay.status_code == 400 and "state does not match" in text(replay)
    # disconnect: revoked at Intuit, forgotten here
    gone = http.post(f"{live_server}/accounting-sync/settings/books/disconnect")
    assert gone.status_code == 200 and "Disconnected from QuickBooks" in text(gone)
    assert rotated["refresh_token"] in fake.revoked and rotated["refresh_token"] not in fake.refresh_tokens
    _, left = stored(app)
    assert left == {"client_secret": fake.client_secret}
    assert "Connect to QuickBooks" in text(gone)
    assert api.post("/accounting-sync/connections/books/check").json()["ok"] is False


def test_a_forged_or_mismatched_state_is_refused_and_nothing_is_stored(app, live_server, make_user, fake, books):
    http = browser(live_server, make_user)
    before = stored(app)
    # no consent started in this session: a callback forged by someone else
    forged = http.get(f"{live_server}/accounting-sync/oauth/callback",
                      params={"code": fake.authorization_code(), "state": "forged", "realmId": fake.realm})
    assert forged.status_code == 400
    assert "the state does not match" in text(forged) and "nothing was stored" in text(forged)
    # a consent started here, answered with another state (an attacker's code and state)
    started = http.post(f"{live_server}/accounting-sync/settings/books/connect", allow_redirects=False)
    assert started.status_code == 303 and started.headers["Location"].startswith(fake.url + "/connect/oauth2?")
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    code = fake.authorization_code()
    other = http.get(f"{live_server}/accounting-sync/oauth/callback",
                     params={"code": code, "state": state[:-2] + "xx", "realmId": "666"})
    assert other.status_code == 400 and "the state does not match" in text(other)
    # the right state, but from another user's session
    started = http.post(f"{live_server}/accounting-sync/settings/books/connect", allow_redirects=False)
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    intruder = browser(live_server, make_user)
    stolen = intruder.get(f"{live_server}/accounting-sync/oauth/callback",
                          params={"code": code, "state": state, "realmId": "666"})
    assert stolen.status_code == 400
    assert stored(app) == before and code in fake.auth_codes      # the code was never exchanged
    assert not any(c[1] == "/oauth2/v1/tokens/bearer" for c in fake.calls)
    # only admins may even get there
    assert browser(live_server, make_user, "accounting").get(
        f"{live_server}/accounting-sync/oauth/callback", params={"state": state}).status_code == 403


def test_consent_denied_on_intuits_screen_is_reported_and_nothing_is_stored(app, live_server, make_user, fake,
                                                                            books):
    http = browser(live_server, make_user, language="es")
    before = stored(app)
    fake.consent = "deny"
    answer = http.post(f"{live_server}/accounting-sync/settings/books/connect")
    assert [r.status_code for r in answer.history] == [303, 302, 302]
    assert "error=access_denied" in answer.history[-1].url
    assert answer.status_code == 200 and answer.url.endswith("/accounting-sync/settings/books")
    assert "No se conectó QuickBooks: se denegó el acceso en la pantalla de consentimiento de Intuit" in text(answer)
    assert stored(app) == before
    # a wrong client secret: the consent passes, Intuit refuses the code exchange
    connect(app, "books", "quickbooks", secrets={"client_secret": "not the secret"})
    fake.consent = "allow"
    wrong = browser(live_server, make_user).post(f"{live_server}/accounting-sync/settings/books/connect")
    assert wrong.status_code == 200 and wrong.url.endswith("/accounting-sync/settings/books")
    assert "QuickBooks was not connected: Intuit refused the authorization code (401): invalid_client" in text(wrong)
    assert "refresh_token" not in stored(app)[1]


def test_connect_and_disconnect_need_the_csrf_token(app_factory, make_user, fake):
    """With CSRF on (as in production) the buttons' forms carry the token and a post without it
    is refused; the callback is a GET protected by the state instead."""
    app = app_factory(WTF_CSRF_ENABLED=True)
    connect(app, "books", "quickbooks", settings={"client_id": fake.client_id, "environment": "production", "discovery_url": fake.discovery_url},
            secrets={"client_secret": fake.client_secret})
    user = make_user("admin")
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": token})
    page = client.get("/accounting-sync/settings/books").get_data(as_text=True)
    token = re.search(r'/connect">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/accounting-sync/settings/books/connect").status_code == 400
    assert client.post("/accounting-sync/settings/books/disconnect").status_code == 400
    started = client.post("/accounting-sync/settings/books/connect", data={"csrf_token": token})
    assert started.status_code == 303 and started.headers["Location"].startswith(fake.url + "/connect/oauth2?")


def test_a_connection_linked_to_one_company_cannot_be_connected_to_another(app, live_server, make_user, fake,
                                                                            books):
    from accsync_helpers import configure
    from crm_accounting_sync.models import Link
    configure(app, "books", realm_id="4620816365000000")
    in_app(app, lambda s: s.add(Link(connection="books", entity="accounts", local_id=1, remote_id="7")))
    before = stored(app)
    answer = browser(live_server, make_user).post(f"{live_server}/accounting-sync/settings/books/connect")
    assert answer.status_code == 200 and answer.url.endswith("/accounting-sync/settings/books")
    assert (f"this connection syncs the QuickBooks company 4620816365000000, not {fake.realm}; create a new "
            "connection for that company") in text(answer)
    assert stored(app) == before and not any(c[1] == "/oauth2/v1/tokens/bearer" for c in fake.calls)

