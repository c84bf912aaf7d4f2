"""Helpers of the warehouses plugin's tests."""
from __future__ import annotations

from crm.testing import TEST_PASSWORD


def signed_in(client, user):
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code in (302, 303), response.status_code
    return client


def add_warehouse(api, code, name=None, **extra):
    response = api.post("/warehouses", json={"code": code, "name": name or f"Warehouse {code}", **extra})
    assert response.status_code == 201, response.text
    return response.json()


def purchase_order(api, c, lines, status="Approved"):
    po = api.post("/purchase-orders", json={"vendor_id": c.vendor, "lines": lines})
    assert po.status_code == 201, po.text
    if status == "Created":
        return po.json()
    approved = api.patch(f"/purchase-orders/{po.json()['id']}", json={"status": status})
    assert approved.status_code == 200, approved.text
    return approved.json()


def sales_order(api, c, lines):
    made = api.post("/sales-orders", json={"account_id": c.account, "lines": lines})
    assert made.status_code == 201, made.text
    return made.json()


def choose(api, document_id, warehouse_id):
    """Choose a document's warehouse through the API; the answer."""
    return api.put(f"/warehouses/documents/{document_id}", json={"warehouse_id": warehouse_id})


def set_default(look, user_id, warehouse_id):
    """Make ``warehouse_id`` the warehouse a user works in (committed)."""
    from crm_warehouses import services
    look(lambda s: services.set_user_default(s, user_id, warehouse_id))
