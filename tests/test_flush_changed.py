"""Many changed records written together (``crm.services.records.flush_changed``, which an
import's batches and their undo use): stored exactly as the ORM's own flush stores one record
(columns, version, time of change, audit entries, links), and refused the same way."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.db import db
from crm.errors import Conflict
from crm.models import AuditEntry, Item
from crm.services import items, records

SAME = {"id", "name", "sku", "created_at", "updated_at", "version"}


def _products(api, count: int, **fields) -> list[int]:
    return [api.post("/products", json={"name": f"P{n}", "sku": f"P-{n}", "unit_price": "10", **fields}).json()["id"]
            for n in range(count)]


def _changes(session, item_id: int) -> list[dict]:
    return list(session.scalars(select(AuditEntry.changes).where(AuditEntry.entity == "items",
                                                                 AuditEntry.entity_id == str(item_id),
                                                                 AuditEntry.action == "update")))


def test_records_written_together_are_stored_as_one_flush_stores_each(app, api, session):
    tax = api.post("/taxes", json={"name": "IVA", "rate": "21", "applies_to": "items"}).json()["id"]
    vendor = api.post("/vendors", json={"name": "Norte"}).json()["id"]
    alone, together, other_columns, untouched = _products(api, 4)
    stamps = select(Item.id, Item.updated_at)
    before = {i: at for i, at in session.execute(stamps)}
    session.rollback()
    change = {"unit_price": Decimal("12.50"), "purchase_cost": Decimal("3.25"), "category": "New", "active": False,
              "vendor_id": vendor, "tax_ids": [tax], "reorder_level": Decimal("4"), "description": "changed"}
    with app.app_context(), db.transaction() as s:
        loaded = {item.id: item for item in s.scalars(select(Item).options(*items.LOAD))}
        items.update_item(s, loaded[alone], dict(change))           # the ORM's flush, one record
        items.change_item(s, loaded[together], dict(change))
        items.change_item(s, loaded[other_columns], {"name": "Renamed", "unit_price": Decimal("11")})
        items.change_item(s, loaded[untouched], {"name": "P3", "unit_price": Decimal("10")})   # the same values
        items.flush_changed_items(s, [loaded[together], loaded[other_columns], loaded[untouched]])
        written = [loaded[together], loaded[other_columns], loaded[untouched]]
        assert [item.updated_at for item in written] == \
            list(s.scalars(select(Item.updated_at).where(Item.id.in_([together, other_columns, untouched]))
                           .order_by(Item.id))), "the objects hold what was stored"
        assert loaded[together].version == 2 and loaded[untouched].version == 1

    by_flush, by_batch = api.get(f"/products/{alone}").json(), api.get(f"/products/{together}").json()
    renamed, same = api.get(f"/products/{other_columns}").json(), api.get(f"/products/{untouched}").json()
    assert {k: v for k, v in by_batch.items() if k not in SAME} == {k: v for k, v in by_flush.items() if k not in SAME}
    assert by_batch["tax_ids"] == [tax] and by_batch["vendor_id"] == vendor and by_batch["unit_price"] == "12.50"
    assert by_batch["version"] == by_flush["version"] == 2
    after = {i: at for i, at in session.execute(stamps)}
    assert after[together] > before[together] and after[other_columns] > before[other_columns]
    assert after[untouched] == before[untouched]
    assert _changes(session, together) == _changes(session, alone) != []
    assert (renamed["name"], renamed["unit_price"], renamed["version"]) == ("Renamed", "11.00", 2)
    assert _changes(session, other_columns) == [{"name": ["P2", "Renamed"], "unit_price": ["10.0000", "11"]}]
    assert same["version"] == 1 and _changes(session, untouched) == []
    session.rollback()   # SQLite: the app writes next
    # the version the batch stored is the one the next change must send
    assert api.patch(f"/products/{together}", json={"name": "Next", "version": 2}).status_code == 200
    assert api.patch(f"/products/{other_columns}", json={"name": "Stale", "version": 1}).status_code == 409


def test_a_record_changed_meanwhile_refuses_the_whole_write(app, api, session):
    first, second = _products(api, 2)
    with app.app_context(), pytest.raises(Conflict) as refused, db.transaction() as s:
        loaded = list(s.scalars(select(Item).where(Item.id.in_([first, second])).order_by(Item.id)))
        for item in loaded:
            items.change_item(s, item, {"unit_price": Decimal("99")})
        table = Item.__table__
        s.connection().execute(table.update().where(table.c.id == second).values(version=table.c.version + 1))
        items.flush_changed_items(s, loaded)
    assert refused.value.code == "stale_version"
    assert [api.get(f"/products/{i}").json()["unit_price"] for i in (first, second)] == ["10.00", "10.00"]
    assert _changes(session, first) == []


def test_a_value_taken_meanwhile_is_refused_naming_the_field(app, api):
    first, second = _products(api, 2)
    with app.app_context(), pytest.raises(Conflict) as refused, db.transaction() as s:
        item = s.get(Item, second)
        item.sku = "P-0"   # past the service's own check, as a concurrent change would get it
        records.flush_changed(s, [item], items.UNIQUE)
    assert refused.value.fields == {"sku": ["already exists"]}
    assert api.get(f"/products/{second}").json()["sku"] == "P-1"


@pytest.mark.parametrize("count", [3, records.COPY_FROM])
def test_rows_inserted_together_are_refused_as_sqlalchemy_refuses_a_statement(app, api, count):
    """A few rows go in with an INSERT, many with COPY on PostgreSQL: either way a value taken is
    SQLAlchemy's IntegrityError, which the services turn into a 409 naming the field."""
    api.post("/products", json={"name": "Taken", "sku": "TAKEN", "unit_price": "1"})
    rows = [{"kind": "product", "name": f"N{n}", "sku": "TAKEN" if n == count - 1 else f"N-{n}", "unit_price": 1,
             "is_bundle": False, "custom": {}} for n in range(count)]
    with app.app_context(), pytest.raises(IntegrityError) as refused, db.transaction() as s:
        records.insert_rows(s, Item.__table__, rows)
    assert "sku" in str(refused.value.orig)
    assert api.get("/products?per_page=200").json()["total"] == 1
