"""What ``crm.testing``'s fixtures promise the tests that use them (the core's and the plugins')."""
from __future__ import annotations

import gc

import pytest
from sqlalchemy import create_engine, event, text

from crm.db import db
from crm.testing import _close_connections, database_copy, seeded_template


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


def test_a_seeded_template_gives_each_test_its_own_copy_of_the_seeded_records(crm_template_database, tmp_path):
    def seed(api):
        created = api.post("/accounts", json={"name": "Ferretería López"})
        assert created.status_code == 201, created.text
        return {"account": created.json()["id"]}

    def names(url) -> list[str]:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                return list(connection.execute(text("SELECT name FROM accounts ORDER BY id")).scalars())
        finally:
            engine.dispose()

    with seeded_template(crm_template_database, tmp_path / "seeded", seed) as template:
        assert template.seeded["account"] > 0
        with database_copy(template, tmp_path / "first") as first, \
                database_copy(template, tmp_path / "second") as second:
            assert names(first) == names(second) == ["Ferretería López"]
            engine = create_engine(first)
            with engine.begin() as connection:
                connection.execute(text("UPDATE accounts SET name = 'Changed'"))
            engine.dispose()
            assert (names(first), names(second)) == (["Changed"], ["Ferretería López"])
    assert names(crm_template_database.url) == []
