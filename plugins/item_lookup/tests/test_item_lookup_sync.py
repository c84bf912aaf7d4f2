"""The lookup's copy of the items follows every write (triggers), cached counts are never
stale, and the migration, the reindex command and the schema agree."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, text, update

from crm import migrate
from crm.db import db
from crm.models import Item
from crm.testing import is_postgres
from crm_item_lookup import sync
from crm_item_lookup.models import Entry, State, count_deltas
from item_lookup_helpers import names


def _generation(app) -> int:
    with app.app_context():
        s = db.new_session(app)
        try:
            return s.scalar(select(State.generation))
        finally:
            s.close()


def test_items_created_changed_deactivated_and_deleted_through_the_api(shop, rest, find):
    created = rest.post("/products", json={"name": "Omega grinder", "unit_price": "99.00", "category": "Tools",
                                           "subcategory": "Power", "manufacturer": "Hilti"})
    assert created.status_code == 201, created.get_data(as_text=True)
    omega = created.get_json()["id"]
    body = find(kind="product", f1="Tools")
    assert "Omega grinder" in names(body) and body["facets"]["manufacturer"]["Hilti"] == 1

    assert rest.patch(f"/products/{omega}", json={"category": "Garden", "name": "Omega mower"}).status_code == 200
    assert "Omega mower" in names(find(kind="product", f1="Garden"))
    assert find(kind="product")["facets"]["category"]["Garden"] == 1
    assert find(q="grinder")["total"] == 0 and find(q="mower")["total"] == 1

    assert rest.patch(f"/products/{omega}", json={"active": False}).status_code == 200
    assert find(q="mower")["total"] == 0
    assert find(q="mower", include_inactive="true")["total"] == 1

    assert rest.delete(f"/products/{omega}").status_code == 204
    assert find(q="mower", include_inactive="true")["total"] == 0


def test_stock_changes_move_items_in_and_out_of_stock(shop, rest, find, app):
    in_stock = sorted(names(find(kind="product", in_stock="true")))
    assert "Beta drill" not in in_stock and "Saw kit" not in in_stock
    before = _generation(app)
    response = rest.post("/stock/adjustments", json={"product_id": shop.ids["Beta drill"], "quantity": "4",
                                                     "reason": "found"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert _generation(app) > before                      # 0 -> 4 crosses zero: counts invalidated
    body = find(kind="product", in_stock="true")
    assert "Beta drill" in names(body) and body["facets"]["manufacturer"]["Makita"] == 1
    # the saw kit needs a Gamma saw, all of whose stock is reserved
    rest.post("/stock/adjustments", json={"product_id": shop.ids["Gamma saw"], "quantity": "1", "reason": "found"})
    assert "Saw kit" in names(find(kind="product", in_stock="true"))
    beta = next(i for i in find(q="beta")["items"])
    assert beta["available"] == "4"


def test_a_bundle_follows_its_components(shop, rest, find, app):
    saw_kit = shop.ids["Saw kit"]
    assert "Saw kit" not in names(find(kind="bundle", in_stock="true"))      # needs a Gamma saw: none free
    changed = rest.patch(f"/products/{saw_kit}", json={"components": [
        {"product_id": shop.ids["Delta hammer"], "quantity": "2"}]})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    body = find(kind="bundle", in_stock="true")
    assert names(body) == ["Drill kit", "Saw kit"] and body["facets"]["subcategory"] == {"Hand": 1, "Power": 1}
    assert next(i for i in body["items"] if i["name"] == "Saw kit")["available"] == "5"   # 10 // 2
    rest.post("/stock/adjustments", json={"product_id": shop.ids["Delta hammer"], "counted_quantity": "1",
                                          "reason": "count_correction"})
    assert names(find(kind="bundle", in_stock="true")) == ["Drill kit"]    # the saw kit needs two now
    _counts_agree(app)


def test_a_stock_change_that_changes_no_count_keeps_the_cache(shop, rest, find, app):
    find(kind="product", in_stock="true")
    before = _generation(app)
    rest.post("/stock/adjustments", json={"product_id": shop.ids["Epsilon bulb"], "quantity": "-10",
                                          "reason": "damaged"})
    assert _generation(app) == before                     # 100 -> 90, not a bundle component
    assert next(i for i in find(q="epsilon")["items"])["available"] == "90"   # rows are always fresh


def test_identical_counts_come_from_the_cache(shop, find, app):
    find(kind="product", f1="Tools")
    cache = app.extensions["item_lookup.cubes"]
    hits = cache.hits
    find(kind="product", f1="Tools", page=2)              # same filters, another page or order
    find(kind="product", f1="Tools", sort="-unit_price")
    assert cache.hits == hits + 2
    find(kind="product", in_stock="true")                 # another filter: counted again
    assert cache.hits == hits + 2
    find(kind="product", vendor_id=shop.norte)            # counted from the vendor's entries
    find(kind="product", vendor_id=shop.norte, sort="sku")
    assert cache.hits == hits + 3
    find(kind="product", vendor_id=shop.norte, f1="Tools", f3="Bosch")   # other selections: counted again
    assert cache.hits == hits + 3
    find(q="drill")                                       # a text search's matches, in order...
    find(q="drill", per_page=1, page=2)                   # ...serve its other pages
    assert cache.hits == hits + 4
    find(q="drill", sort="available")                     # not by available: the stock moves freely
    find(q="drill", sort="available")
    assert cache.hits == hits + 4


def test_the_count_cache_drops_the_least_recently_used_counts_first():
    from crm_item_lookup.search import CubeCache
    cache = CubeCache(size=2)
    cache.put("tools", 1)
    cache.put("lamps", 2)
    assert cache.get("tools") == 1                        # used: now the most recent
    cache.put("drills", 3)                                # one too many: "lamps" goes
    assert (cache.get("lamps"), cache.get("tools"), cache.get("drills")) == (None, 1, 3)
    assert (cache.hits, cache.misses) == (3, 1)
    cache.clear()
    assert cache.get("tools") is None


def test_a_cached_text_search_follows_the_catalogue(shop, rest, find):
    assert find(q="zzz")["total"] == 0
    rest.patch(f"/products/{shop.ids['Beta drill']}", json={"name": "Beta zzz drill"})
    body = find(q="zzz")
    assert body["total"] == 1 and names(body) == ["Beta zzz drill"]
    before = [i["name"] for i in find(q="drill", sort="unit_price")["items"]]
    rest.patch(f"/products/{shop.ids['Alpha drill']}", json={"unit_price": "999"})
    after = [i["name"] for i in find(q="drill", sort="unit_price")["items"]]
    assert after[-1] == "Alpha drill" and before != after


def test_a_reservation_of_the_last_units_is_seen_at_once(shop, rest, find, app):
    order = rest.post("/sales-orders", json={"account_id": _account(app), "lines": [
        {"item_id": shop.ids["Alpha drill"], "quantity": "5"}]}).get_json()
    assert "Alpha drill" in names(find(kind="product", in_stock="true"))
    assert rest.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    body = find(kind="product", in_stock="true")
    assert "Alpha drill" not in names(body) and "Drill kit" not in names(body)  # its component is gone too


def _account(app) -> int:
    from crm.models import Account
    with app.app_context():
        s = db.new_session(app)
        account = Account(name="Cliente")
        s.add(account)
        s.commit()
        account_id = account.id
        s.close()
        return account_id


def test_bulk_inserts_and_raw_updates_are_followed(app, find):
    with app.app_context():
        s = db.new_session(app)
        s.execute(insert(Item), [{"kind": "product", "name": f"Bulk {n}", "sku": f"BULK-{n}", "unit_price": Decimal(1),
                                  "purchase_cost": Decimal(0), "category": "Bulk", "subcategory": "",
                                  "manufacturer": "",
                                  "active": True, "on_hand": Decimal(n % 2), "reserved": Decimal(0),
                                  "qty_per_unit": Decimal(1), "reorder_level": Decimal(0), "usage_unit": "",
                                  "description": "", "is_bundle": False, "custom": {}, "version": 1}
                                 for n in range(10)])
        s.commit()
        s.execute(text("UPDATE items SET manufacturer = 'Raw' WHERE sku = 'BULK-3'"))
        s.commit()
        assert s.scalar(select(func.count()).select_from(Entry)) == 10
        s.close()
    body = find(kind="product", f1="Bulk")
    assert body["total"] == 10 and body["facets"]["manufacturer"] == {"Raw": 1}
    assert find(kind="product", f1="Bulk", in_stock="true")["total"] == 5


def test_reindex_repairs_the_copy(shop, app, runner, find):
    with app.app_context():
        s = db.new_session(app)
        s.execute(Entry.__table__.delete())
        s.commit()
        s.close()
    assert find()["total"] == 0
    result = runner.invoke(["item-lookup", "reindex"])
    assert result.exit_code == 0, result.output
    assert find()["total"] == 11


def test_reindex_repairs_the_text_index(shop, app, runner, find):
    if is_postgres():
        pytest.skip("SQLite keeps a full-text index; PostgreSQL searches the entries' trigram index")
    with app.app_context():
        s = db.new_session(app)
        s.execute(text("INSERT INTO item_lookup_text (item_lookup_text) VALUES ('delete-all')"))
        s.commit()
        s.close()
    assert find(q="drill")["total"] == 0
    assert runner.invoke(["item-lookup", "reindex"]).exit_code == 0
    assert sorted(names(find(q="drill"))) == ["Alpha drill", "Beta drill", "Drill kit"]


def test_sqlite_text_search_reads_the_full_text_index_not_every_entry(shop, app):
    if is_postgres():
        pytest.skip("SQLite's query plan")
    from crm_item_lookup import search
    with app.app_context():
        s = db.new_session(app)
        query = search.Query(q="drill saw")
        statement = select(Entry.item_id).where(*search.base_conditions(s, query, search.ALL_KINDS))
        compiled = statement.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        plan = " / ".join(row[-1] for row in s.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        s.close()
    assert "item_lookup_text VIRTUAL TABLE" in plan and "INTEGER PRIMARY KEY" in plan, plan
    assert "SCAN item_lookup_entries" not in plan, plan


def test_models_and_migration_agree_and_round_trip(shop, app, find):
    assert migrate.schema_differences(app, "item_lookup") == []
    assert migrate.schema_differences(app, "core") == []
    migrate.downgrade(app, "item_lookup", "base")
    with app.app_context():
        s = db.new_session(app)
        s.execute(update(Item).where(Item.id == shop.ids["Beta drill"]).values(name="Beta drill XL"))
        s.commit()   # the triggers are gone with the tables: items still change
        s.close()
    migrate.upgrade(app, "item_lookup")
    assert migrate.schema_differences(app, "item_lookup") == []
    assert find()["total"] == 11 and find(q="xl")["total"] == 1   # filled from the items again


@pytest.mark.postgres_only
def test_postgres_counter_never_deadlocks_with_row_locks(shop, app):
    """Two transactions lock two products in opposite order, both crossing zero: the counter is
    raised at commit time, so the only wait is the ordinary row lock and both commit."""
    assert is_postgres()
    a, b = shop.ids["Beta drill"], shop.ids["Zeta cable"]     # both at 0 on hand
    barrier = threading.Barrier(2, timeout=20)
    errors = []

    def work(first, second):
        with app.app_context():
            s = db.new_session(app)
            try:
                s.execute(update(Item).where(Item.id == first).values(on_hand=Item.on_hand + 1))
                barrier.wait()
                if first == a:
                    s.execute(update(Item).where(Item.id == second).values(on_hand=Item.on_hand + 1))
                s.commit()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
                s.rollback()
            finally:
                s.close()

    before = _generation(app)
    threads = [threading.Thread(target=work, args=(a, b)), threading.Thread(target=work, args=(b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert _generation(app) == before + 2


def _counts_agree(app) -> None:
    from crm_item_lookup.models import Count, FacetCount
    with app.app_context():
        s = db.new_session(app)
        kept = {tuple(r[:-1]): r[-1] for r in s.execute(
            select(Count.kind_key, Count.active, Count.in_stock, Count.f1, Count.f2, Count.f3, Count.n)
            .where(Count.n != 0))}
        e = Entry.__table__.c
        groups = [e.kind_key, e.active, e.in_stock, func.coalesce(e.f1, ""), func.coalesce(e.f2, ""),
                  func.coalesce(e.f3, "")]
        actual = {tuple(r[:-1]): r[-1] for r in s.execute(select(*groups, func.count()).group_by(*groups))}
        m = FacetCount.__table__.c
        kept_per_facet = {tuple(r[:-1]): r[-1] for r in s.execute(
            select(m.kind_key, m.active, m.in_stock, m.position, m.value, m.n).where(m.n != 0))}
        per_facet = {}
        for position in (1, 2, 3):
            value = func.coalesce(e[f"f{position}"], "")
            per_facet.update({(r[0], r[1], r[2], position, r[3]): r[4] for r in s.execute(
                select(e.kind_key, e.active, e.in_stock, value, func.count())
                .group_by(e.kind_key, e.active, e.in_stock, value))})
        waiting = list(s.execute(select(count_deltas)))
        s.close()
    assert kept == actual
    assert kept_per_facet == ({} if is_postgres() else per_facet)   # kept on SQLite only
    assert waiting == []   # every transaction folded its count changes at its commit


def test_the_kept_counts_always_equal_the_entries(shop, rest, app, find):
    _counts_agree(app)
    rest.post("/stock/adjustments", json={"product_id": shop.ids["Beta drill"], "quantity": "4", "reason": "found"})
    rest.patch(f"/products/{shop.ids['Alpha drill']}", json={"category": "Garden", "active": False})
    created = rest.post("/products", json={"name": "New saw", "unit_price": "9", "category": "Tools"}).get_json()
    rest.delete(f"/products/{created['id']}")
    rest.put("/item-lookup/settings", json={"facets": {"product": ["custom.color", "manufacturer"]}})
    _counts_agree(app)
    with app.app_context():
        s = db.new_session(app)
        s.execute(update(Item).values(on_hand=Item.on_hand + 1))   # every product at once
        s.commit()
        s.close()
    _counts_agree(app)
    assert find(kind="product", in_stock="true")["total"] == 8   # all but Old drill (inactive)


def test_counts_follow_changes_run_early_and_savepoints_rolled_back(shop, app):
    """Changes counted before the commit (as a reindex runs them), in savepoints kept and rolled
    back, and after: the counts are those of the entries the commit leaves."""
    with app.app_context():
        s = db.new_session(app)
        s.execute(update(Item).where(Item.id == shop.ids["Beta drill"]).values(on_hand=Item.on_hand + 5))
        sync.flush_deferred(s.connection())
        s.execute(update(Item).where(Item.id == shop.ids["Beta drill"]).values(category="Garden"))
        with s.begin_nested():
            s.execute(update(Item).where(Item.id == shop.ids["Zeta cable"]).values(active=False))
            sync.flush_deferred(s.connection())
        nested = s.begin_nested()
        s.execute(update(Item).where(Item.id == shop.ids["Alpha drill"]).values(active=False, category="Gone"))
        sync.flush_deferred(s.connection())
        nested.rollback()
        s.execute(Item.__table__.delete().where(Item.id == shop.ids["Old drill"]))
        s.commit()
        s.close()
    _counts_agree(app)


@pytest.mark.postgres_only
def test_a_bulk_write_changes_each_count_once_not_once_per_item(app):
    """PostgreSQL keeps every version of a row changed in a transaction until its commit, and each
    change walks them: a bulk write adding to a count once per item would take time growing with
    the square of its items. 900 items created, moved to other categories, then deleted, each in
    one transaction: the count rows are written a few times per group, not once per item."""
    rows = [{"kind": "product", "name": f"Bulk {n}", "sku": f"BULK-{n}", "unit_price": Decimal(1),
             "purchase_cost": Decimal(0), "category": f"Family {n % 3}", "subcategory": "", "manufacturer": "",
             "active": True, "on_hand": Decimal(n % 2), "reserved": Decimal(0), "qty_per_unit": Decimal(1),
             "reorder_level": Decimal(0), "usage_unit": "", "description": "", "is_bundle": False, "custom": {},
             "version": 1} for n in range(900)]
    bulk = Item.__table__.c.sku.like("BULK-%")
    writes = [lambda s: s.execute(insert(Item), rows),
              lambda s: s.execute(update(Item).where(bulk).values(category=func.concat("Moved ", Item.id % 4))),
              lambda s: s.execute(Item.__table__.delete().where(bulk))]
    for write in writes:
        with app.app_context():
            s = db.new_session(app)
            write(s)
            sync.flush_deferred(s.connection())
            counts_written = s.scalar(text("SELECT n_tup_ins + n_tup_upd FROM pg_stat_xact_user_tables "
                                           "WHERE relname = 'item_lookup_counts'"))
            s.commit()
            s.close()
        assert counts_written < 50   # a few dozen groups at most; once per item: 900 (1,800 moved)
        _counts_agree(app)


def test_items_stay_writable_after_the_plugin_is_purged(shop, app, runner):
    result = runner.invoke(["plugins", "purge", "item_lookup", "--confirm", "item_lookup"])
    assert result.exit_code == 0, result.output
    assert "item_lookup_entries" in result.output
    from sqlalchemy import inspect
    tables = set(inspect(db.engine(app)).get_table_names())
    assert {"items", "vendors", "bundle_components"} <= tables            # only the plugin's tables went
    assert not {t for t in tables if t.startswith("item_lookup_")}
    with app.app_context():
        s = db.new_session(app)
        s.execute(update(Item).values(on_hand=Item.on_hand + 1, name=Item.name + " 2"))
        s.add(Item(kind="product", name="After the purge", unit_price=Decimal("1"), custom={}))
        s.commit()
        assert s.scalar(select(func.count()).select_from(Item)) == 14
        s.close()
