"""Sessions and API tokens end when they should (signing out, a new password, "sign out
everywhere"), the session cookie's flags, and the security headers of every answer."""
from __future__ import annotations

import re

import pytest
import requests

from crm.db import db
from crm.services.users import issue_token
from crm.testing import TEST_PASSWORD

NEW_PASSWORD = "another horse battery"


def browser(live_server, user, password=TEST_PASSWORD) -> requests.Session:
    """A signed-in HTTP client with its own session cookie."""
    http = requests.Session()
    response = http.post(live_server + "/login", data={"username": user.username, "password": password},
                         allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    return http


def signed_in(live_server, http) -> bool:
    response = http.get(live_server + "/", allow_redirects=False, timeout=30)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def token_for(app, user) -> str:
    with app.app_context():
        session = db.new_session(app)
        plain = issue_token(session, session.merge(user))[1]
        session.commit()
        session.close()
    return plain


def token_works(live_server, token) -> bool:
    response = requests.get(live_server + "/api/v1/auth/tokens", headers={"Authorization": f"Bearer {token}"},
                            timeout=30)
    assert response.status_code in (200, 401)
    return response.status_code == 200


def replay(live_server, cookie: str) -> requests.Session:
    """A client holding a copy of a session cookie (as a thief would)."""
    http = requests.Session()
    http.cookies.set("session", cookie)
    return http


def csrf_free_post(http, url, **data):
    return http.post(url, data=data, allow_redirects=False, timeout=30)


# --- signing out ---------------------------------------------------------------------------------

def test_a_signed_out_session_cookie_replayed_is_refused(live_server, make_user):
    user = make_user("sales")
    http = browser(live_server, user)
    stolen = http.cookies["session"]
    other = browser(live_server, user)   # another browser of the same user
    assert signed_in(live_server, replay(live_server, stolen))
    assert csrf_free_post(http, live_server + "/logout").status_code == 302
    assert not signed_in(live_server, http)
    assert not signed_in(live_server, replay(live_server, stolen))
    assert signed_in(live_server, other)  # signing out ends this session only


def test_a_new_password_ends_every_other_session_and_every_token(app, live_server, make_user):
    user = make_user("sales")
    here, elsewhere = browser(live_server, user), browser(live_server, user)
    stolen = elsewhere.cookies["session"]
    token = token_for(app, user)
    response = csrf_free_post(here, live_server + "/profile/", current_password=TEST_PASSWORD,
                              new_password=NEW_PASSWORD, full_name="", email="", language="en")
    assert response.status_code == 302
    assert signed_in(live_server, here)                     # the session that changed it goes on
    assert not signed_in(live_server, elsewhere)
    assert not signed_in(live_server, replay(live_server, stolen))
    assert not token_works(live_server, token)
    assert signed_in(live_server, browser(live_server, user, NEW_PASSWORD))
    tokens = here.get(live_server + "/api/v1/auth/tokens", timeout=30)
    assert tokens.status_code == 401  # the API takes tokens, never the cookie


def test_a_password_set_by_an_admin_ends_the_users_sessions_and_tokens(app, live_server, make_user):
    admin, user = make_user("admin"), make_user("warehouse")
    admin_browser, user_browser = browser(live_server, admin), browser(live_server, user)
    token = token_for(app, user)
    response = csrf_free_post(admin_browser, f"{live_server}/users/{user.id}", password=NEW_PASSWORD,
                              role="warehouse", language="en", active="on", full_name="", email="")
    assert response.status_code == 302, response.text
    assert signed_in(live_server, admin_browser)
    assert not signed_in(live_server, user_browser)
    assert not token_works(live_server, token)


def test_an_admin_who_sets_their_own_password_stays_signed_in_there_only(live_server, make_user):
    admin = make_user("admin")
    here, elsewhere = browser(live_server, admin), browser(live_server, admin)
    response = csrf_free_post(here, f"{live_server}/users/{admin.id}", password=NEW_PASSWORD, role="admin",
                              language="en", active="on", full_name="", email="")
    assert response.status_code == 302, response.text
    assert signed_in(live_server, here)
    assert not signed_in(live_server, elsewhere)


def test_a_password_set_from_the_command_line_ends_the_users_sessions_and_tokens(app, live_server, make_user,
                                                                                 runner):
    user = make_user("accounting")
    http, token = browser(live_server, user), token_for(app, user)
    result = runner.invoke(["users", "set-password", user.username, "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert not signed_in(live_server, http)
    assert not token_works(live_server, token)
    assert signed_in(live_server, browser(live_server, user, NEW_PASSWORD))
    refused = runner.invoke(["users", "set-password", "nobody-at-all", "--password", NEW_PASSWORD])
    assert refused.exit_code == 1 and "nobody-at-all" in refused.output
    short = runner.invoke(["users", "set-password", user.username, "--password", "short"])
    assert short.exit_code == 1 and "password" in short.output


def test_a_token_made_with_the_api_is_refused_after_a_password_change(live_server, make_user, runner):
    user = make_user("sales")
    made = requests.post(live_server + "/api/v1/auth/tokens", json={"username": user.username,
                                                                    "password": TEST_PASSWORD}, timeout=30)
    assert made.status_code == 201
    token = made.json()["token"]
    assert token_works(live_server, token)
    assert runner.invoke(["users", "set-password", user.username, "--password", NEW_PASSWORD]).exit_code == 0
    refused = requests.get(live_server + "/api/v1/auth/tokens", headers={"Authorization": f"Bearer {token}"},
                           timeout=30)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"


def test_sign_out_everywhere_ends_every_session_and_token_of_the_user_only(app, live_server, make_user):
    user, someone_else = make_user("sales"), make_user("sales")
    here, elsewhere, theirs = browser(live_server, user), browser(live_server, user), browser(live_server, someone_else)
    token, their_token = token_for(app, user), token_for(app, someone_else)
    page = here.get(live_server + "/profile/", timeout=30).text
    assert "Sign out everywhere" in page
    response = csrf_free_post(here, live_server + "/profile/sign-out-everywhere")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert not signed_in(live_server, here)
    assert not signed_in(live_server, elsewhere)
    assert not token_works(live_server, token)
    assert signed_in(live_server, theirs) and token_works(live_server, their_token)
    assert signed_in(live_server, browser(live_server, user))  # signing in again works


def test_a_session_from_before_this_release_without_an_id_is_refused(app, make_user):
    """A cookie that only names the user (what Flask-Login alone stored) no longer signs anyone in."""
    user = make_user("sales")
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    assert client.get("/").status_code == 302


# --- the session cookie --------------------------------------------------------------------------

def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def _sign_in(client, user, **kwargs):
    return client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}, **kwargs)


def test_the_session_cookie_is_httponly_and_samesite_lax_and_secure_on_https(app_factory, make_user):
    app = app_factory()
    user = make_user("sales")
    plain = _session_cookie(_sign_in(app.test_client(), user))
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    secure = _session_cookie(_sign_in(app.test_client(), user, base_url="https://crm.example"))
    assert "HttpOnly" in secure and "SameSite=Lax" in secure and "Secure" in secure


def test_behind_a_trusted_proxy_https_is_read_from_x_forwarded_proto(app_factory, make_user):
    user = make_user("sales")
    behind = app_factory(TRUSTED_PROXIES=1)
    cookie = _session_cookie(_sign_in(behind.test_client(), user, headers={"X-Forwarded-Proto": "https"}))
    assert "Secure" in cookie
    untrusted = app_factory()  # without TRUSTED_PROXIES the header is not believed
    assert "Secure" not in _session_cookie(_sign_in(untrusted.test_client(), user,
                                                    headers={"X-Forwarded-Proto": "https"}))


def test_secure_cookies_can_be_forced(app_factory, make_user):
    app = app_factory(SESSION_COOKIE_SECURE=True)
    assert "Secure" in _session_cookie(_sign_in(app.test_client(), make_user("sales")))


# --- security headers on every answer ------------------------------------------------------------

def _filled(rule) -> str:
    def value(match):
        converter = match.group(1).rpartition(":")[0]
        return re.findall(r"[\w-]+", converter[4:])[0] if converter.startswith("any(") else "1"
    return re.sub(r"<([^<>]+)>", value, rule.rule)


def missing_headers(response) -> list[str]:
    headers = response.headers
    wrong = []
    policy = headers.get("Content-Security-Policy", "")
    if "frame-ancestors 'none'" not in policy:
        wrong.append("Content-Security-Policy frame-ancestors")
    if response.mimetype != "application/pdf" and (
            "default-src 'self'" not in policy or "unsafe-inline" in policy.split("script-src")[1].split(";")[0]
            or "object-src 'none'" not in policy):
        wrong.append(f"Content-Security-Policy {policy!r}")
    for name, value in {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                        "Referrer-Policy": "same-origin"}.items():
        if headers.get(name) != value:
            wrong.append(f"{name}: {headers.get(name)!r}")
    return wrong


@pytest.mark.slow
def test_every_answer_carries_the_security_headers(app, make_user):
    """Every page and API endpoint of the core and the plugins (the URL map), signed in and not,
    found or not, and the static files."""
    admin = make_user("admin")
    token = token_for(app, admin)
    signed = app.test_client()
    assert _sign_in(signed, admin).status_code == 302
    anonymous = app.test_client()
    wrong, checked = [], 0
    for rule in app.url_map.iter_rules():
        url = _filled(rule) if rule.endpoint != "static" else "/static/crm.css"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.endpoint in {"auth.logout", "profile.sign_out_everywhere"}:
                continue  # would sign the client out; checked below
            for who, client, headers in (("admin", signed, {"Authorization": f"Bearer {token}"}),
                                         ("anonymous", anonymous, {})):
                kwargs = {"json": {}} if method in {"POST", "PUT", "PATCH"} and url.startswith("/api/") else {}
                response = client.open(url, method=method, headers=headers, **kwargs)
                checked += 1
                problems = missing_headers(response)
                if problems:
                    wrong.append(f"{who} {method} {url} -> {response.status_code}: {problems}")
    for response in (anonymous.get("/no/such/page"), anonymous.get("/api/v1/no/such/thing"),
                     signed.post("/logout")):
        checked += 1
        if missing_headers(response):
            wrong.append(f"{response.request.path} -> {response.status_code}: {missing_headers(response)}")
    assert checked > 300
    assert wrong == []


def test_an_inline_script_runs_only_with_the_nonce_of_its_page(app, client, make_user):
    assert _sign_in(client, make_user("admin")).status_code == 302
    response = client.get("/idca/layouts/", follow_redirects=True)
    if response.status_code == 404:
        pytest.skip("the idca plugin is not loaded")
    html = response.get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attributes for attributes in inline)
    again = client.get("/idca/layouts/", follow_redirects=True).headers["Content-Security-Policy"]
    assert nonce not in again  # a new nonce for every answer
