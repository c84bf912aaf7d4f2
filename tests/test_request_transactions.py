"""How a request's transaction ends when the request does not commit it: whatever it wrote, in
the session or on the server, is rolled back on every backend, however the request ended; on
PostgreSQL a request that only read ends with a commit instead, so that its connection keeps
the statements psycopg prepared for the requests after it (``crm.db.end_read_only``)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from crm.db import db
from crm.models import Account


def _written(session) -> None:
    session.add(Account(name="Left unsaved"))
    session.flush()


def _pending(session) -> None:
    session.add(Account(name="Left unsaved"))


def _sql(session) -> None:
    session.execute(text("INSERT INTO accounts (name, email, phone, website, tax_id, billing_address, "
                         "shipping_address, description, active, custom, version) VALUES ('Left unsaved', '', '', "
                         "'', '', '{}', '{}', '', true, '{}', 1)"))


def _changed(session) -> None:
    account = session.scalars(select(Account).where(Account.name == "Kept as it was")).one()
    account.name = "Left unsaved"


def _changed_and_flushed(session) -> None:
    _changed(session)
    session.flush()


WRITES = {"flushed": _written, "added, not flushed": _pending, "raw SQL": _sql, "changed, not flushed": _changed,
          "changed and flushed": _changed_and_flushed}


@pytest.fixture
def probe(app, session):
    """The app with a page that writes as ``?how=`` says, then answers 200 (``?fail=1``: raises)
    without committing; and a page that reads."""
    session.add(Account(name="Kept as it was"))
    session.commit()

    def write():
        from flask import request
        WRITES[request.args["how"]](db.session)
        if request.args.get("fail"):
            raise RuntimeError("the request failed after writing")
        return "written, not committed"

    def read():
        count = db.session.scalar(select(func.count()).select_from(Account))
        prepared = db.session.scalar(text("SELECT count(*) FROM pg_prepared_statements")) \
            if db.session.get_bind().dialect.name == "postgresql" else 0
        return {"accounts": count, "prepared": prepared}

    app.add_url_rule("/probe/write", "probe_write", write)
    app.add_url_rule("/probe/read", "probe_read", read)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.mark.parametrize("fail", [False, True], ids=["answered", "failed"])
@pytest.mark.parametrize("how", sorted(WRITES))
def test_what_a_request_wrote_without_committing_is_rolled_back(probe, session, how, fail):
    client = probe.test_client()
    response = client.get("/probe/write", query_string={"how": how, **({"fail": "1"} if fail else {})})
    assert response.status_code == (500 if fail else 200)
    session.expire_all()
    names = set(session.scalars(select(Account.name)))
    session.rollback()                                      # SQLite: let the app have the database
    assert names == {"Kept as it was"}
    assert client.get("/probe/read").status_code == 200    # the connection went back to the pool clean


@pytest.mark.postgres_only
def test_a_request_that_only_read_leaves_its_statements_prepared_for_the_next(probe):
    client = probe.test_client()
    answers = [client.get("/probe/read").get_json() for _ in range(8)]
    assert answers[0]["accounts"] == 1
    # psycopg prepares a statement the fifth time a connection runs it, and forgets every one at a
    # rollback: a read-only request that ended with one would leave none
    assert answers[-1]["prepared"] > 0


def _writes(api, catalog, *, plugins: bool = False) -> list:
    """Writes of every kind of record, by name, each a function of what the ones before answered
    (by name); with ``plugins``, theirs too."""
    c = catalog
    line = {"item_id": c.widget, "quantity": "1"}
    return [
        ("product", lambda _: api.post("/products", json={"name": "Drill", "unit_price": "10.00"})),
        ("change it", lambda made: api.patch(f"/products/{made['product']['id']}", json={"unit_price": "11.00"})),
        ("create an account", lambda _: api.post("/accounts", json={"name": "Nueva S.L."})),
        ("quote", lambda _: api.post("/quotes", json={"account_id": c.account, "lines": [line]})),
        ("adjust stock", lambda _: api.post("/stock/adjustments", json={
            "product_id": c.widget, "quantity": "10", "reason": "found"})),
        ("sales order", lambda _: api.post("/sales-orders", json={"account_id": c.account, "lines": [line]})),
        ("approve it", lambda made: api.patch(f"/sales-orders/{made['sales order']['id']}", json={"status": "Approved"})),
        ("invoice", lambda made: api.post(f"/sales-orders/{made['sales order']['id']}/invoices")),
        ("purchase order", lambda _: api.post("/purchase-orders", json={"vendor_id": c.vendor, "lines": [line]})),
        *([("add lines", lambda made: api.post(f"/purchase-orders/{made['purchase order']['id']}/lines", json={
            "items": [{"item_id": c.gadget, "quantity": "2"}]}))] if plugins else []),
        ("approve the purchase order", lambda made: api.patch(f"/purchase-orders/{made['purchase order']['id']}", json={"status": "Approved"})),
        ("receive it", lambda made: api.post(f"/purchase-orders/{made['purchase order']['id']}/receipts")),
        ("ship the sales order", lambda made: api.post(f"/sales-orders/{made['sales order']['id']}/shipments")),
        ("approve the invoice", lambda made: api.patch(f"/invoices/{made['invoice']['id']}", json={"status": "Approved"})),
        *([("pay the invoice", lambda made: api.post(f"/invoices/{made['invoice']['id']}/payments", json={
            "amount": "5.00", "date": "2027-01-15", "method": "cash"}))] if plugins else []),
        ("accept the quote", lambda made: api.patch(f"/quotes/{made['quote']['id']}", json={"status": "Accepted"})),
        ("its sales order", lambda made: api.post(f"/quotes/{made['quote']['id']}/sales-order")),
        ("order its products", lambda made: api.post(f"/sales-orders/{made['its sales order']['id']}/purchase-order",
                                                     json={"vendor_id": c.vendor})),
        ("change an invoice", lambda made: api.patch(f"/invoices/{made['invoice']['id']}", json={"subject": "Renamed"})),
        ("create a contact", lambda _: api.post("/contacts", json={"last_name": "Pérez", "account_id": c.account})),
        ("create a vendor", lambda _: api.post("/vendors", json={"name": "Otro Proveedor"})),
        ("create a service", lambda _: api.post("/services", json={"name": "Repair", "unit_price": "30.00"})),
        ("create a bundle", lambda _: api.post("/products", json={"name": "Pair", "unit_price": "30.00", "components": [
            {"product_id": c.widget, "quantity": "2"}]})),
    ]


#: a document's path by its number's prefix
PATHS = {"QUO": "quotes", "SO": "sales-orders", "PO": "purchase-orders", "INV": "invoices"}


def _late_reads(app, api, writes) -> dict[str, list[str]]:
    """The statements each write sent after its commit, for those that sent any; and, for each
    write answered with a document, the same document read back must be the answer."""
    from sqlalchemy import event

    log: list[str] = []
    engine = db.engine(app)
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_a: log.append(statement))
    event.listen(engine, "commit", lambda _c: log.append("COMMIT"))
    made, late = {}, {}
    for label, write in writes:
        log.clear()
        answer = write(made)
        assert answer.status_code in (200, 201), (label, answer.text)
        made[label] = answer.json()
        assert "COMMIT" in log, label
        after = [" ".join(statement.split())[:90] for statement in log[log.index("COMMIT") + 1:]]
        if after:
            late[label] = after
        number = made[label].get("number")
        if number:
            assert api.get(f"/{PATHS[number.split('-')[0]]}/{made[label]['id']}").json() == made[label], label
    return late


@pytest.mark.crm_plugins()
def test_a_write_answers_from_what_its_transaction_read(app, api, catalog):
    """The answer to a write is built from what its transaction read: it begins no transaction
    after the commit (on SQLite one more ``BEGIN IMMEDIATE``, the writers' lock; on PostgreSQL a
    statement more, to tell whether it wrote, and its commit)."""
    late = _late_reads(app, api, _writes(api, catalog))
    assert late == {}, "\n".join(f"{k}: {v}" for k, v in late.items())


@pytest.mark.crm_plugins("payments", "warehouses", "idca", "accounting_sync", "item_lookup")
def test_with_every_plugin_a_write_answers_from_what_its_transaction_read(app, api, catalog):
    """The same with every plugin loaded, and their writes: what each plugin adds to the answer
    was read in the transaction too."""
    late = _late_reads(app, api, _writes(api, catalog, plugins=True))
    assert late == {}, "\n".join(f"{k}: {v}" for k, v in late.items())


@pytest.mark.crm_plugins("payments", "warehouses", "idca", "accounting_sync", "item_lookup")
def test_requests_load_and_dump_with_schemas_made_once(api, catalog, monkeypatch):
    """Every write above, and reads of lists and records, once more: no request makes a schema.
    Making one copies and binds each of its fields (``crm.api.schemas.shared``), as costly as a
    small request's own work."""
    import marshmallow

    def run() -> None:
        made: dict = {}
        for label, write in _writes(api, catalog, plugins=True):
            answer = write(made)
            assert answer.status_code in (200, 201), (label, answer.text)
            made[label] = answer.json()
        for path in ("/products?q=widget&per_page=5", "/sales-orders?status=Approved", "/accounts",
                     f"/sales-orders/{made['sales order']['id']}", f"/invoices/{made['invoice']['id']}/payments"):
            assert api.get(path).status_code == 200, path

    run()
    schemas_made: list[str] = []
    first_init = marshmallow.Schema.__init__

    def counted_init(self, *args, **kwargs):
        schemas_made.append(type(self).__name__)
        first_init(self, *args, **kwargs)
    monkeypatch.setattr(marshmallow.Schema, "__init__", counted_init)
    run()
    assert schemas_made == []
