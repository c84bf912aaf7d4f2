"""Fixtures of the payments plugin's tests (the rest come from ``crm.testing`` and the
repository's ``conftest.py``: ``app``, ``api``, ``api_as``, ``session``, ``catalog``, ...).
Helpers live in ``payments_helpers.py``."""
from __future__ import annotations

import pytest

from payments_helpers import create_invoice, signed_in


@pytest.fixture
def make_invoice(app, catalog):
    """``make_invoice(total="100.00", status="Approved")`` -> invoice id."""
    def make(**kwargs):
        return create_invoice(app, catalog, **kwargs)
    return make


@pytest.fixture
def other_account(session):
    from crm.models import Account
    account = Account(name="Otra Empresa S.A.")
    session.add(account)
    session.commit()
    return account.id


@pytest.fixture
def web_as(app, make_user):
    """``web_as("sales")`` -> a Flask test client signed in with a new user of that role."""
    def make(role="admin", **kwargs):
        client = app.test_client()
        return signed_in(client, make_user(role, **kwargs))
    return make
