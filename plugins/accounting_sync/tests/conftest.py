"""Fixtures of the accounting sync's tests (helpers in ``accsync_helpers``)."""
from __future__ import annotations

import pytest

from crm.testing import registered_plugin


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
