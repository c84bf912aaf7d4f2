"""Fixtures of the accounting sync's tests (helpers in ``accsync_helpers``)."""
from __future__ import annotations

import pytest

from crm.testing import registered_plugin


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
    from crm_accounting_sync.testing.qbo_fake import QBOFake
    fake = QBOFake().start()
    connect(app, "qbo", "quickbooks", settings=qbo_settings(fake),
            secrets={"client_secret": fake.client_secret, "refresh_token": fake.issue_refresh_token(),
                     "webhook_verifier_token": fake.verifier_token})
    yield fake
    fake.stop()


def qbo_settings(fake) -> dict:
    return {"realm_id": fake.realm, "client_id": fake.client_id, "environment": fake.discovery_url,
            "api_base_url": fake.api_url, "minorversion": 75, "timeout_seconds": 2,
            "value_maps": {"tax_codes": {"IVA 21%": "21", "IVA 10%": "10", "IVA 4%": "4"}}}
