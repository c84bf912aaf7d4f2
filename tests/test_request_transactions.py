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
