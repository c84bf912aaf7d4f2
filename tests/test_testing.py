"""What ``crm.testing``'s fixtures promise the tests that use them (the core's and the plugins')."""
from __future__ import annotations

import gc

import pytest
from sqlalchemy import event, text

from crm.db import db
from crm.testing import _close_connections


def test_a_connection_left_in_a_reference_cycle_is_returned_before_its_database_is_dropped(app):
    """A session a test leaves open inside a reference cycle keeps its connection checked out
    until the garbage collector runs, perhaps after the test's database is gone (its rollback then
    fails wherever the collector happened to run). The fixtures' teardown collects it first."""
    returned = []
    event.listen(db.engine(app).pool, "checkin", lambda *_args: returned.append(1))
    gc.disable()   # only the teardown may collect the cycle
    try:
        session = db.new_session(app)
        session.execute(text("SELECT 1"))
        cycle = {"session": session}
        cycle["itself"] = cycle
        del session, cycle
        assert returned == []
        _close_connections(app)
        assert returned == [1]
    finally:
        gc.enable()


@pytest.mark.postgres_only
def test_a_test_database_on_postgresql_commits_without_waiting_for_the_disk(app, module_app):
    for each in (app, module_app):
        with db.engine(each).connect() as connection:
            assert connection.execute(text("SHOW synchronous_commit")).scalar() == "off"
