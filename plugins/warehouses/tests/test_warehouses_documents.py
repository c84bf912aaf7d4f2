"""The warehouse of orders and invoices and the warehouse a user works in."""
from __future__ import annotations

from warehouses_helpers import add_warehouse, choose, purchase_order, sales_order, signed_in


def test_a_user_works_in_a_warehouse_and_their_new_documents_get_it(api, api_as, catalog):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    assert api.get("/warehouses/default").json() == {"warehouse_id": None, "warehouse": None}
    before = sales_order(api, c, [{"item_id": c.widget, "quantity": "1"}])
    assert before["warehouses_warehouse_id"] is None and before["warehouses_warehouse_code"] is None

    answer = api.put("/warehouses/default", json={"warehouse_id": bcn["id"]})
    assert answer.status_code == 200 and answer.json()["warehouse"]["code"] == "BCN"
    order = sales_order(api, c, [{"item_id": c.consulting, "quantity": "1"}])
    assert (order["warehouses_warehouse_id"], order["warehouses_warehouse_code"]) == (bcn["id"], "BCN")
    po = purchase_order(api, c, [{"item_id": c.widget, "quantity": "1"}], status="Created")
    assert po["warehouses_warehouse_code"] == "BCN"
    # the invoice of the order gets the order's warehouse, whatever the user's default is then
    choose(api, order["id"], mad["id"])
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    invoice = api.post(f"/sales-orders/{order['id']}/invoices").json()
    assert api.get(f"/invoices/{invoice['id']}").json()["warehouses_warehouse_code"] == "MAD"

    # another user works elsewhere: their documents follow their choice, a converted one its source
    buyer = api_as("purchasing")
    assert buyer.put("/warehouses/default", json={"warehouse_id": mad["id"]}).status_code == 200
    assert buyer.get("/warehouses/default").json()["warehouse_id"] == mad["id"]
    assert api.get("/warehouses/default").json()["warehouse_id"] == bcn["id"]
    theirs = buyer.post("/purchase-orders", json={"vendor_id": c.vendor, "lines": [{"item_id": c.gadget, "quantity": "2"}]})
    assert theirs.json()["warehouses_warehouse_code"] == "MAD"
    listed = {d["id"]: d["warehouses_warehouse_code"] for d in api.get("/purchase-orders").json()["items"]}
    assert listed == {po["id"]: "BCN", theirs.json()["id"]: "MAD"}

    assert api.put("/warehouses/default", json={"warehouse_id": None}).json()["warehouse_id"] is None
    assert sales_order(api, c, [{"item_id": c.widget, "quantity": "1"}])["warehouses_warehouse_id"] is None


def test_choosing_a_documents_warehouse(api, api_as, catalog):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    closed = add_warehouse(api, "OLD", active=False)
    order = sales_order(api, c, [{"item_id": c.widget, "quantity": "1"}])
    answer = choose(api, order["id"], mad["id"])
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"warehouse": None} == {"document_id": order["id"], "warehouse_id": mad["id"],
                                                     "warehouse": None, "locked": False}
    assert api.get(f"/sales-orders/{order['id']}").json()["warehouses_warehouse_code"] == "MAD"

    for body, field in [({"warehouse_id": closed["id"]}, "warehouse_id"), ({"warehouse_id": 999}, "warehouse_id"),
                        ({"warehouse_id": "MAD"}, "warehouse_id"), ({}, "warehouse_id")]:
        refused = api.put(f"/warehouses/documents/{order['id']}", json=body)
        assert refused.status_code == 422 and field in refused.json()["error"]["fields"], (body, refused.text)
    assert api.get(f"/warehouses/documents/{order['id']}").json()["warehouse_id"] == mad["id"]

    # who may: those who may change the document; a quote has no warehouse
    assert choose(api_as("sales"), order["id"], bcn["id"]).status_code == 200
    assert choose(api_as("purchasing"), order["id"], mad["id"]).status_code == 403
    assert choose(api_as("warehouse"), order["id"], mad["id"]).status_code == 403
    assert api.get(f"/warehouses/documents/{order['id']}").json()["warehouse"]["code"] == "BCN"
    quote = api.post("/quotes", json={"account_id": c.account, "lines": [{"item_id": c.widget, "quantity": "1"}]})
    assert choose(api, quote.json()["id"], mad["id"]).status_code == 404
    assert choose(api, 99999, mad["id"]).status_code == 404

    # a warehouse named by a document cannot be deleted; one no document names can
    refused = api.delete(f"/warehouses/{bcn['id']}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "warehouse_in_use"
    assert api.delete(f"/warehouses/{mad['id']}").status_code == 204
    assert choose(api, order["id"], None).json()["warehouse_id"] is None
    assert api.delete(f"/warehouses/{bcn['id']}").status_code == 204


def test_the_document_page_shows_and_changes_the_warehouse(app, api, make_user, catalog):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD", "Madrid"), add_warehouse(api, "BCN", "Barcelona")
    order = sales_order(api, c, [{"item_id": c.widget, "quantity": "1"}])
    choose(api, order["id"], mad["id"])
    client = signed_in(app.test_client(), make_user("sales", language="es"))
    html = client.get(f"/sales-orders/{order['id']}").get_data(as_text=True)
    assert "<strong>MAD</strong> Madrid" in html and "Cambiar almacén" in html
    response = client.post(f"/warehouses/documents/{order['id']}", data={"warehouse_id": str(bcn["id"])})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/sales-orders/{order['id']}")
    assert api.get(f"/warehouses/documents/{order['id']}").json()["warehouse_id"] == bcn["id"]
    assert "<strong>BCN</strong> Barcelona" in client.get(f"/sales-orders/{order['id']}").get_data(as_text=True)

    # a role that may not change the order sees the warehouse without the form
    reader = signed_in(app.test_client(), make_user("warehouse"))
    html = reader.get(f"/sales-orders/{order['id']}").get_data(as_text=True)
    assert "<strong>BCN</strong> Barcelona" in html and "Change warehouse" not in html
    assert reader.post(f"/warehouses/documents/{order['id']}", data={"warehouse_id": str(mad["id"])}).status_code == 403


def test_the_warehouses_page_chooses_where_i_work(app, api, make_user):
    mad = add_warehouse(api, "MAD", "Madrid")
    add_warehouse(api, "OLD", "Closed", active=False)
    user = make_user("purchasing")
    client = signed_in(app.test_client(), user)
    page = client.get("/warehouses/").get_data(as_text=True)
    assert f'<option value="{mad["id"]}" >MAD · Madrid</option>' in page and "OLD · Closed" not in page
    assert client.post("/warehouses/default", data={"warehouse_id": str(mad["id"])}).status_code == 302
    assert f'<option value="{mad["id"]}" selected>MAD' in client.get("/warehouses/").get_data(as_text=True)


def test_the_warehouse_stays_once_the_document_moved_stock(api, catalog):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD"), add_warehouse(api, "BCN")
    po = purchase_order(api, c, [{"item_id": c.widget, "quantity": "4"}])
    assert choose(api, po["id"], mad["id"]).json()["locked"] is False
    line = po["lines"][0]["id"]
    assert api.post(f"/purchase-orders/{po['id']}/receipts",
                    json={"lines": [{"line_id": line, "quantity": "1"}]}).status_code == 200
    refused = choose(api, po["id"], bcn["id"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "warehouse_locked"
    assert "warehouse_id" in refused.json()["error"]["fields"]
    assert api.get(f"/warehouses/documents/{po['id']}").json() | {"warehouse": None} == {
        "document_id": po["id"], "warehouse_id": mad["id"], "warehouse": None, "locked": True}
    assert choose(api, po["id"], mad["id"]).status_code == 200   # choosing the same one again changes nothing


def test_a_transaction_reads_a_documents_warehouse_once(app, api, catalog):
    """``document_warehouse`` reads a document's warehouse (or that it has none) once per
    transaction: an approval asks where to reserve, then its answer shows the warehouse. What
    the transaction sets is known to it; the next transaction, or a rollback, reads again."""
    from sqlalchemy import event

    from crm.db import db
    from crm.models import Document
    from crm_warehouses import services

    mad = add_warehouse(api, "MAD")
    order = sales_order(api, catalog, [{"item_id": catalog.widget, "quantity": "1"}])
    api.post("/stock/adjustments", json={"product_id": catalog.widget, "quantity": "5", "reason": "found"})
    reads: list[str] = []
    event.listen(db.engine(app), "before_cursor_execute",
                 lambda _c, _cur, sql, *_a: reads.append(sql) if "FROM warehouses_documents" in sql else None)
    session = db.new_session(app)
    try:
        document = session.get(Document, order["id"])
        assert services.document_warehouse(session, document.id) is None
        session.flush()
        assert services.document_warehouse(session, document.id) is None
        assert len(reads) == 1
        session.commit()
        assert services.document_warehouse(session, document.id) is None
        assert len(reads) == 2                                   # the next transaction reads again
        assert services.set_document_warehouse(session, document, mad["id"]).code == "MAD"
        assert services.document_warehouse(session, document.id).code == "MAD"
        session.rollback()
        assert services.document_warehouse(session, document.id) is None
        assert len(reads) == 4                                   # the choice read its row; read again
    finally:
        session.close()
    reads.clear()
    approved = api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"})
    assert approved.status_code == 200 and approved.json()["warehouses_warehouse_code"] is None
    assert len(reads) == 1                                       # where to reserve; the answer knew
