"""Fixtures of the accounting sync's tests (helpers in ``accsync_helpers``)."""
from __future__ import annotations

import pytest

from accsync_helpers import qbo_settings  # noqa: F401  (tests import it from here too)
from crm.testing import registered_plugin


def pytest_collection_modifyitems(items):
    """Tests on the real Tryton server are marked ``tryton`` (left out by ``make check``)."""
    for item in items:
        if "tryton_server" in getattr(item, "fixturenames", ()):
            item.add_marker("tryton")


@pytest.fixture(autouse=True)
def _worker_runs_tasks_at_once(app):
    """Background runs execute when queued (huey's immediate mode), in the queuing thread."""
    app.config["QUEUE_IMMEDIATE"] = True


@pytest.fixture
def mem(app):
    """The in-memory accounting system, its connector registered on ``app``; a connection "mem"."""
    from accsync_helpers import connect
    from crm_accounting_sync.testing.memory import STORES, MemoryPlugin, store
    STORES.clear()
    with registered_plugin(app, MemoryPlugin(), "memory_connector"):
        connect(app, "mem", "memory")
        yield store("default")
    STORES.clear()


@pytest.fixture
def qbo(app):
    """The QuickBooks fake served on 127.0.0.1, and a connection "qbo" to it (as after the OAuth consent)."""
    from accsync_helpers import connect
    from accsync_qbo_fake import QBOFake
    fake = QBOFake().start()
    connect(app, "qbo", "quickbooks", settings=qbo_settings(fake),
            secrets={"client_secret": fake.client_secret, "refresh_token": fake.issue_refresh_token(),
                     "webhook_verifier_token": fake.verifier_token})
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def tryton_server(tmp_path_factory):
    """A real trytond (party, product, sale, purchase, account_invoice) on 127.0.0.1, for the session."""
    pytest.importorskip("trytond", reason="Tryton is an optional extra: pip install -e 'plugins/accounting_sync[tryton]'")
    pytest.importorskip("proteus", reason="Tryton is an optional extra: pip install -e 'plugins/accounting_sync[tryton]'")
    from accsync_tryton_server import TrytonServer, prepare
    folder = tmp_path_factory.mktemp("tryton")
    prepare(folder)
    server = TrytonServer(folder).start()
    yield server
    server.stop()


@pytest.fixture
def tryton(app, tryton_server):
    """A connection "tryton" to the server, scoped to categories of its own (the server is shared)."""
    import uuid

    from accsync_helpers import connect
    from accsync_tryton_server import ADMIN_PASSWORD
    from crm_accounting_sync.tryton import TrytonConnector
    tag = uuid.uuid4().hex[:8]
    settings = {"url": tryton_server.url, "username": "admin", "customer_category": f"Customer {tag}",
                "supplier_category": f"Supplier {tag}", "account_category": f"CRM {tag}",
                "entities": {"payments": {"direction": "from_remote"}}}
    connector = TrytonConnector(settings, {"password": ADMIN_PASSWORD})
    for name in (settings["customer_category"], settings["supplier_category"]):
        connector.rpc("party.category", "create", [{"name": name}])
    crm = connector.rpc("product.category", "search_read", [("name", "=", "CRM")], 0, 1, None,
                        ["account_revenue", "account_expense"])[0]
    connector.rpc("product.category", "create", [{"name": settings["account_category"], "accounting": True,
                                                  "account_revenue": crm["account_revenue"],
                                                  "account_expense": crm["account_expense"],
                                                  "customer_taxes": [("add", [connector._id_of("account.tax",
                                                                                               "IVA 21%")])]}])
    connect(app, "tryton", "tryton", settings=settings, secrets={"password": ADMIN_PASSWORD})
    yield connector
    # the server is shared by the session's tests: codes of active products are unique in Tryton,
    # so this test's products go inactive (the next test pushes the same catalogue)
    from crm.accounting_connectors import SyncError
    try:
        products = connector.rpc("product.product", "search",
                                 [("template.account_category.name", "=", settings["account_category"])], 0, None,
                                 None)
        if products:
            connector.rpc("product.product", "write", products, {"active": False}, _skip_warnings=True)
    except SyncError:  # pragma: no cover  (best effort)
        pass
    connector.close()
