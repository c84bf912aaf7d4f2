"""The Tryton connection's URL: the connector talks XML-RPC to ``/<database>/rpc/`` (trytond answers
``/<database>/`` with 405 Method Not Allowed); the settings' help says so, and a URL given without
its ``rpc/`` gets it."""
from __future__ import annotations

import requests


def test_the_url_the_help_gives_is_the_one_tryton_answers(app, tryton_server, make_user):
    from crm_accounting_sync.tryton import TrytonConnector
    from crm_accounting_sync.tryton_settings import SETTINGS_FIELDS
    [url_field] = [f for f in SETTINGS_FIELDS if f.name == "url"]
    assert str(url_field.help).endswith("/<database>/rpc/")
    database = tryton_server.url.rstrip("/").rsplit("/", 1)[0]            # http://127.0.0.1:port/<database>
    assert requests.post(database + "/", timeout=10).status_code == 405  # what the old help gave
    from accsync_tryton_server import ADMIN_PASSWORD
    for url in (tryton_server.url, database + "/", database):
        connector = TrytonConnector({"url": url, "username": "admin"}, {"password": ADMIN_PASSWORD})
        try:
            assert connector.check()["ok"], url
        finally:
            connector.close()
