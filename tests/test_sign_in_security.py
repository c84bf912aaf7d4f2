"""Signing in as an attacker would: parallel password guessing against the rate limits (per
username and per address), open redirects through ``next``."""
from __future__ import annotations

from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from crm.testing import TEST_PASSWORD, all_at_once

PARALLEL = 40


class FromAddress(HTTPAdapter):
    """Connect from a chosen loopback address (127.0.0.2, ...): the server sees it as the client's."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def http_from(address: str = "127.0.0.1") -> requests.Session:
    http = requests.Session()
    http.mount("http://", FromAddress(address))
    return http



def wrong_sign_in(live_server, http, username, i):
    """A wrong password, through the web sign-in (even i) or the API's token exchange (odd i)."""
    if i % 2:
        return http.post(live_server + "/api/v1/auth/tokens", json={"username": username, "password": f"wrong-{i}"},
                         timeout=60).status_code
    return http.post(live_server + "/login", data={"username": username, "password": f"wrong-{i}"},
                     allow_redirects=False, timeout=60).status_code


def right_sign_in(live_server, http, username):
    return http.post(live_server + "/api/v1/auth/tokens", json={"username": username, "password": TEST_PASSWORD},
                     timeout=60).status_code


@pytest.fixture
def limits(app):
    app.config.update(LOGIN_ATTEMPTS_LIMIT=5, LOGIN_ADDRESS_ATTEMPTS_LIMIT=12)
    return app.config


def test_parallel_guesses_at_one_username_get_the_limit_and_no_more(live_server, make_user, limits):
    """40 wrong passwords at once, web and API mixed, each from its own address (so that only the
    per-username limit applies): 5 are checked, 35 refused."""
    user = make_user("sales")
    clients = [http_from(f"127.0.0.{i + 2}") for i in range(PARALLEL)]
    codes = all_at_once(PARALLEL, lambda i: wrong_sign_in(live_server, clients[i], user.username, i))
    assert sorted(codes) == [401] * limits["LOGIN_ATTEMPTS_LIMIT"] + [429] * (PARALLEL - 5), codes
    assert right_sign_in(live_server, http_from("127.0.0.99"), user.username) == 429  # even the right one


def test_parallel_guesses_from_one_address_at_many_usernames_get_the_address_limit(live_server, make_user, limits):
    """Password spraying: 40 usernames at once from one address; the per-username limit never
    triggers, the per-address one does."""
    usernames = [make_user("sales").username for _ in range(PARALLEL)]
    http = http_from("127.0.0.7")
    codes = all_at_once(PARALLEL, lambda i: wrong_sign_in(live_server, http, usernames[i], i))
    assert sorted(codes) == [401] * limits["LOGIN_ADDRESS_ATTEMPTS_LIMIT"] + [429] * (PARALLEL - 12), codes
    assert right_sign_in(live_server, http, usernames[0]) == 429   # the address is refused for anyone
    assert right_sign_in(live_server, http_from("127.0.0.8"), usernames[0]) == 201  # elsewhere not


def test_a_successful_sign_in_clears_its_username_but_not_its_address(live_server, make_user, limits):
    victim, own = make_user("sales"), make_user("sales")
    http = http_from("127.0.0.9")
    for i in range(4):
        assert wrong_sign_in(live_server, http, victim.username, i) == 401
    assert right_sign_in(live_server, http, victim.username) == 201   # 4 failures, then the right one
    for i in range(5):
        assert wrong_sign_in(live_server, http, victim.username, i) == 401  # the count starts again
    assert wrong_sign_in(live_server, http, victim.username, 0) == 429
    # the address keeps those 5 failures (the first 4 went with the victim's sign-in); signing in
    # to one's own account does not wipe them: 7 more failures reach the address limit of 12
    assert right_sign_in(live_server, http, own.username) == 201
    codes = [wrong_sign_in(live_server, http, make_user("sales").username, i) for i in range(8)]
    assert codes == [401] * 7 + [429]


# --- open redirects -----------------------------------------------------------------------------

#: ``next`` as an attacker writes it in a link (percent-encoded as it would be in the query)
OPEN_REDIRECTS = [
    "//evil.example/", "///evil.example/", "////evil.example/", "/%2F%2Fevil.example/", "%2F%2Fevil.example/",
    "/%09/evil.example/", "/%0A/evil.example/", "/%0D/evil.example/", "/%0D%0A/evil.example/",
    "%09//evil.example/", "/%09%09/evil.example/", "%20//evil.example/", "/%00/evil.example/",
    "/%7F/evil.example/", "/%5Cevil.example/", "/%5C/evil.example/", "%5C%5Cevil.example/",
    "/%5C%09/evil.example/", "/%09%5Cevil.example/", "https:evil.example", "https://evil.example/",
    "http:/evil.example", "http:%5C%5Cevil.example", "HTTPS://evil.example", "javascript:alert(1)",
    "%6A%61vascript:alert(1)", "/%E3%80%80/evil.example/", "/%C2%A0/evil.example/", "/%E2%80%8B/evil.example/",
    "/%EF%BC%8F%EF%BC%8Fevil.example/", "/%E2%88%95%E2%88%95evil.example", "/%ED%A0%80", "/%FF",
    "/%E2%80%A8/evil.example/", "/%252F%252Fevil.example/", "evil.example", "@evil.example",
]
#: local targets that must be kept as they are
LOCAL = ["/quotes/", "/quotes/?page=2&sort=-number", "/products/?q=jardín", "/profile/"]


def browser_destination(base: str, location: str) -> str:
    """Where a browser goes for this Location: it drops tabs and newlines, trims spaces and
    control characters at the ends, and reads backslashes as slashes."""
    cleaned = "".join(ch for ch in location if ch not in "\t\n\r").strip("".join(map(chr, range(0x21))))
    return urljoin(base + "/", cleaned.replace("\\", "/"))


def same_site(base: str, location: str) -> bool:
    destination = urlsplit(browser_destination(base, location))
    return (destination.scheme, destination.netloc) == tuple(urlsplit(base)[:2])


def sign_in_with_next(live_server, user, raw_next):
    return requests.post(f"{live_server}/login?next={raw_next}", allow_redirects=False, timeout=30,
                         data={"username": user.username, "password": TEST_PASSWORD})


def test_sign_in_never_sends_the_browser_to_another_site(live_server, make_user):
    user = make_user("sales")
    wrong = []
    for raw in OPEN_REDIRECTS:
        response = sign_in_with_next(live_server, user, raw)
        location = response.headers.get("Location", "")
        refused = response.status_code in (400, 422) and not location  # the request guard's answer to a NUL
        if not refused and (response.status_code != 302 or not same_site(live_server, location)):
            wrong.append(f"next={raw} -> {response.status_code} {location!r}")
    assert wrong == []
    for path in LOCAL:
        response = sign_in_with_next(live_server, user, quote(path, safe=""))
        assert (response.status_code, unquote(response.headers["Location"])) == (302, path)


@pytest.mark.slow
def test_no_page_redirects_to_another_site_whatever_next_says(app, client, make_user):
    """Every page and form of the core and the plugins, given a hostile ``next`` in the query and
    in the form: a redirect never leaves the site, and nothing fails."""
    user = make_user("admin")
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    base = "http://localhost"
    hostile = ["/\t/evil.example/", "/\n/evil.example/", "/\\evil.example/", "//evil.example/", "https://evil.example/"]
    wrong, checked = [], 0
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.endpoint in {"static", "auth.logout", "profile.sign_out_everywhere"}:
            continue
        url = _filled(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for target in hostile:
                form = {"next": target} if method != "GET" else None
                response = client.open(url, method=method, query_string={"next": target}, data=form)
                checked += 1
                location = response.headers.get("Location")
                if response.status_code >= 500 or (location is not None and not same_site(base, location)):
                    wrong.append(f"{method} {url} next={target!r} -> {response.status_code} {location!r}")
    assert checked > 100
    assert wrong == []


def _filled(rule) -> str:
    """The rule's URL with each parameter filled: 1, or the first choice of an ``any()``."""
    import re

    def value(match):
        converter = match.group(1).rpartition(":")[0]
        return re.findall(r"[\w-]+", converter[4:])[0] if converter.startswith("any(") else "1"
    return re.sub(r"<([^<>]+)>", value, rule.rule)
