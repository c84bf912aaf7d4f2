"""Fixtures of the IDCA plugin's tests (the rest come from ``crm.testing`` and the repository's
``conftest.py``: ``app``, ``api``, ``api_as``, ``session``, ``catalog``, ``live_server``, ...)."""
from __future__ import annotations

import pytest

from idca_helpers import MARGIN_COLUMNS, MARGIN_TOTALS, order_body, pdf_text


@pytest.fixture
def put_layout(api):
    """``put_layout("sales-orders", columns=[...], totals=[...])`` -> the saved layout (asserts 200)."""
    def put(path, columns=(), totals=(), expect=200, **extra):
        response = api.put(f"/idca/layouts/{path}", json={"columns": list(columns), "totals": list(totals), **extra})
        assert response.status_code == expect, response.text
        return response.json()
    return put


@pytest.fixture
def margin_layout(put_layout):
    return put_layout("sales-orders", MARGIN_COLUMNS, MARGIN_TOTALS)


@pytest.fixture
def order_body_of():
    return order_body


@pytest.fixture
def read_pdf():
    return pdf_text
