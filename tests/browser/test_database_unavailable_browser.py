"""The database unreachable, seen in a real browser: every page answers "Service unavailable"
with a clear message in the browser's language, styled within the Content-Security-Policy
(a refused style or a script error fails the test), never a server error page."""
from __future__ import annotations

import os
import threading

import pytest
from playwright.sync_api import expect

from crm import create_app
from crm.db import db
from crm.testing import is_postgres

#: a PostgreSQL port nobody listens on, or an SQLite file in a missing folder (as the test database)
UNREACHABLE = ("postgresql://postgres@127.0.0.1:1/crm" if is_postgres()
               else f"sqlite:////nonexistent-folder-{os.getpid()}/crm.db")


@pytest.fixture(scope="module")
def unreachable_server(crm_extra_plugins):
    """The CRM with every plugin, served over HTTP while its database cannot be reached."""
    from werkzeug.serving import make_server
    app = create_app({"TESTING": True, "DATABASE_URL": UNREACHABLE, "SECRET_KEY": "test",
                      "EXTRA_PLUGINS": crm_extra_plugins})
    app.config["PROPAGATE_EXCEPTIONS"] = False
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    db.engine(app).dispose()


@pytest.mark.parametrize("locale, title, message", [
    ("en-GB", "Service unavailable", "The database cannot be reached"),
    ("es-ES", "Servicio no disponible", "No se puede acceder a la base de datos"),
])
def test_every_page_says_the_service_is_unavailable(new_page, unreachable_server, locale, title, message):
    page = new_page(locale=locale)
    for path in ("/", "/login", "/invoices/1", "/payments/summary", "/reports/invoice-aging"):
        response = page.goto(unreachable_server + path)
        assert response is not None and response.status == 503, (path, response and response.status)
        expect(page).to_have_title(title)
        expect(page.locator("h1")).to_have_text(title)
        expect(page.get_by_role("alert")).to_contain_text(message)
        expect(page.locator(".request-id")).to_be_visible()
