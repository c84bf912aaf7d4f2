"""How the databases store data, for every table and column of the core and of every plugin
(discovered from the migrated database and from the models' metadata, not listed by hand):

* an id the database generated is never given again, even after the newest row is deleted
  (SQLite's plain INTEGER PRIMARY KEY took the largest id + 1, so a new record took a deleted
  one's id and whatever remembered that id confused them);
* money, quantities and rates are stored exactly (SQLite kept NUMERIC values as floats:
  123333332223337.65 came back as ...337.6562), and SQL sums and comparisons on them are exact;
* upgrading an SQLite database made before keeps every row, value, index and trigger.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from decimal import Decimal

import pytest
from sqlalchemy import Float, Numeric, func, insert, select, text
from sqlalchemy.orm import Session

from crm import create_app, migrate
from crm.db import Model, db, virtual_tables
from crm.models import Item
from crm.models.base import ExactNumeric
from crm.testing import is_postgres

#: tables of the plugins that must be among those checked (the checks are not vacuous)
SOME_PLUGIN_TABLES = {"payments_payments", "accounting_sync_links", "item_lookup_entries", "hello_greetings"}


# --- helpers ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def _without_foreign_keys(app):
    """A connection in a transaction (rolled back) where foreign keys are not enforced, so that a
    row can be inserted into any table without building its parents first."""
    with db.engine(app).connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin() as transaction:
                if not sqlite:
                    connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
                yield connection
                transaction.rollback()
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


_serial = itertools.count(1)


def _row(table, **given) -> dict:
    """A value for every NOT NULL column of ``table`` that has no default (texts unique)."""
    row = {}
    for column in table.columns:
        if column.name in given or column.nullable or column.default is not None \
                or column.server_default is not None or column is table.autoincrement_column:
            continue
        row[column.name] = _value(column)
    return {**row, **given}


def _value(column):
    if isinstance(column.type, ExactNumeric):
        return Decimal(1)
    kind = column.type.python_type
    if kind is str:
        return f"s{next(_serial)}"[:getattr(column.type, "length", None) or 20]
    if kind is bool:
        return False
    if kind is int:
        return 1
    if kind is dt.datetime:
        return dt.datetime.now(dt.timezone.utc)
    if kind is dt.date:
        return dt.date.today()
    if kind in (dict, list):
        return kind()
    if kind is bytes:
        return b"%PDF-1.7"
    raise AssertionError(f"no test value for {column} ({column.type!r})")


def _decimal_columns() -> list:
    return [column for table in Model.metadata.sorted_tables for column in table.columns
            if issubclass(column.type._type_affinity, (Numeric, Float))]


def _widest(column_type: ExactNumeric) -> Decimal:
    """A value using every digit of the column: 12345678901234.5678 for NUMERIC(18, 4)."""
    digits = ("1234567890" * 4)[:column_type.precision]
    return Decimal(f"{digits[:-column_type.scale]}.{digits[-column_type.scale:]}")


def _sqlite_key_tables(connection) -> dict[str, str]:
    """SQLite: {table: CREATE TABLE sql} of the tables whose key is a single INTEGER primary key
    that is not a foreign key (an alias of the rowid, which SQLite generates), virtual and
    shadow tables (full-text indexes) left out."""
    skip = virtual_tables(connection)
    found = {}
    for name, sql in connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        if name in skip or "WITHOUT ROWID" in sql.upper():
            continue
        key = [(row[1], row[2]) for row in connection.exec_driver_sql(f'PRAGMA table_info("{name}")') if row[5]]
        referring = {row[3] for row in connection.exec_driver_sql(f'PRAGMA foreign_key_list("{name}")')}
        if len(key) == 1 and key[0][1].upper() == "INTEGER" and key[0][0] not in referring:
            found[name] = sql
    return found


# --- ids ---------------------------------------------------------------------------------------------

def test_every_key_the_database_generates_never_repeats(app):
    """SQLite: every table keyed by its rowid is AUTOINCREMENT (from sqlite_master: the migrated
    database, whatever the models say). PostgreSQL: every generated key has a sequence."""
    with db.engine(app).connect() as connection:
        if connection.dialect.name == "sqlite":
            tables = _sqlite_key_tables(connection)
            plain = sorted(name for name, sql in tables.items() if "AUTOINCREMENT" not in sql.upper())
        else:
            tables = {t.name: t for t in Model.metadata.sorted_tables if t.autoincrement_column is not None}
            plain = sorted(name for name, table in tables.items() if connection.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": name, "c": table.autoincrement_column.name}).scalar() is None)
    assert SOME_PLUGIN_TABLES & set(tables) == SOME_PLUGIN_TABLES - ({"item_lookup_entries"} if is_postgres() else set())
    assert plain == [], f"these tables would give a deleted row's id again: {plain}"


def test_the_id_of_a_deleted_newest_row_is_never_given_again(app):
    """In every table whose key the database generates (from the metadata, plugins included):
    insert a row, delete it (the newest), insert another: it gets a new id."""
    tables = [t for t in Model.metadata.sorted_tables if t.autoincrement_column is not None]
    assert SOME_PLUGIN_TABLES - {"item_lookup_entries"} <= {t.name for t in tables}
    reused = []
    with _without_foreign_keys(app) as connection:
        for table in tables:
            key = table.autoincrement_column
            first = connection.execute(insert(table).values(_row(table)).returning(key)).scalar_one()
            connection.execute(table.delete().where(key == first))
            second = connection.execute(insert(table).values(_row(table)).returning(key)).scalar_one()
            if second <= first:
                reused.append(f"{table.name}: {first} then {second}")
    assert reused == []


# --- exact amounts -------------------------------------------------------------------------------------

def test_every_decimal_column_is_exact_numeric_stored_without_float_affinity(app):
    columns = _decimal_columns()
    assert {"items", "payments_payments", "item_lookup_entries"} <= {c.table.name for c in columns}
    assert [str(c) for c in columns if not isinstance(c.type, ExactNumeric)] == [], \
        "use crm.models.base.Money, Quantity or Rate (ExactNumeric) for every amount"
    with db.engine(app).connect() as connection:
        if connection.dialect.name == "sqlite":
            declared = {(c.table.name, c.name): next(
                row[2] for row in connection.exec_driver_sql(f'PRAGMA table_info("{c.table.name}")')
                if row[1] == c.name) for c in columns}
            # SQLite's affinity rules: a declared type containing "INT" has INTEGER affinity
            not_integer = {key: kind for key, kind in declared.items() if "INT" not in kind.upper()}
            assert not_integer == {}
        else:
            found = dict(((t, c), (p, s)) for t, c, p, s in connection.execute(text(
                "SELECT table_name, column_name, numeric_precision, numeric_scale FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type = 'numeric'")))
            assert {(c.table.name, c.name): found.get((c.table.name, c.name)) for c in columns} == \
                {(c.table.name, c.name): (c.type.precision, c.type.scale) for c in columns}


def test_every_decimal_column_keeps_all_its_digits(app):
    """Each table with amounts gets a row whose every amount uses all the column's digits
    (12345678901234.5678 for money); read back on a new connection, they are identical, and
    SQLite holds them as integers."""
    by_table: dict = {}
    for column in _decimal_columns():
        by_table.setdefault(column.table, []).append(column)
    wrong, stored_as = [], set()
    with _without_foreign_keys(app) as connection:
        for table, columns in by_table.items():
            wanted = {c.name: _widest(c.type) for c in columns}
            connection.execute(insert(table).values(_row(table, **wanted)))
            where = [c == wanted[c.name] for c in columns]
            found = connection.execute(select(*columns).where(*where)).one_or_none()
            if found is None or dict(found._mapping) != wanted:
                wrong.append(f"{table.name}: wrote {wanted}, read {found}")
            if connection.dialect.name == "sqlite":
                stored_as |= set(connection.execute(select(*[func.typeof(c) for c in columns]).where(*where)).one())
    assert wrong == []
    assert stored_as <= {"integer"}


def test_amounts_of_18_digits_round_trip_through_the_orm(app):
    price, cost, stock = Decimal("12345678901234.5678"), Decimal("99999999999999.9999"), Decimal("123456789012345.678")
    with Session(db.engine(app)) as s:
        item = Item(kind="product", name="Exact", unit_price=price, purchase_cost=cost, on_hand=stock,
                    reserved=-stock)
        s.add(item)
        s.commit()
        item_id = item.id
    with Session(db.engine(app)) as s:
        item = s.get(Item, item_id)
        assert (item.unit_price, item.purchase_cost, item.on_hand, item.reserved) == (price, cost, stock, -stock)


def test_sql_sums_and_comparisons_of_amounts_are_exact(app):
    """Sums, differences and comparisons done by the database, at the edge of what floats hold."""
    prices = [Decimal("12345678901234.5678"), Decimal("0.0001"), Decimal("-0.0003")]
    with Session(db.engine(app)) as s:
        s.add_all(Item(kind="product", name=f"Sum {n}", unit_price=p, on_hand=Decimal("0.001") * n)
                  for n, p in enumerate(prices))
        s.commit()
        mine = Item.name.like("Sum %")
        assert s.scalar(select(func.sum(Item.unit_price)).where(mine)) == Decimal("12345678901234.5676")
        assert s.scalar(select(func.sum(Item.unit_price - Item.purchase_cost * 2)).where(mine)) == sum(prices)
        assert s.scalars(select(Item.name).where(mine, Item.unit_price > Decimal("12345678901234.5677"))).all() == \
            ["Sum 0"]
        assert s.scalars(select(Item.name).where(mine, Item.on_hand >= Decimal("0.002"))).all() == ["Sum 2"]
        assert s.scalar(select(func.max(Item.unit_price * -1)).where(mine)) == Decimal("0.0003")
        assert s.scalar(select(Item.unit_price * Item.on_hand).where(Item.name == "Sum 2")) == Decimal("-0.0000006")


def test_sql_arithmetic_that_would_mix_scales_is_refused_on_both_databases():
    for build in (lambda: Item.unit_price + Item.on_hand, lambda: Item.unit_price > Item.reserved,
                  lambda: Item.unit_price / 2, lambda: Item.unit_price * Decimal("1.5")):
        with pytest.raises(TypeError):
            build()


def test_amounts_round_trip_through_the_api(api):
    """The largest prices the API takes, with 4 decimals (floats read 999999999999.9876 back
    as ...9875)."""
    price = "999999999999.9876"
    created = api.post("/products", json={"name": "Exact", "unit_price": price, "purchase_cost": "0.0001"})
    assert created.status_code == 201, created.text
    read = api.get(f"/products/{created.json()['id']}").json()
    assert (read["unit_price"], read["purchase_cost"]) == (price, "0.0001")
    listed = api.get("/products", params={"sort": "-unit_price"}).json()
    assert listed["items"][0]["unit_price"] == price


# --- upgrading an older SQLite database ----------------------------------------------------------------

#: the revisions before each history's rebuild migration
BEFORE = {"hello": "hello_0001", "accounting_sync": "accounting_sync_0002", "item_lookup": "item_lookup_0003",
          "payments": "payments_0002", "core": "core_0005"}


@pytest.mark.slow
@pytest.mark.skipif(is_postgres(), reason="the rebuild migrations change nothing on PostgreSQL")
def test_upgrading_an_older_sqlite_database_keeps_every_row_exactly(tmp_path, crm_extra_plugins):
    """Data written at head, the database taken back to before the rebuild migrations (amounts
    as floats, no AUTOINCREMENT, as SQLite databases were), then upgraded: every amount is exact
    again, every key AUTOINCREMENT, the triggers and indexes are there and work, and the id of a
    vendor deleted before the upgrade is not given to the next one."""
    from crm.services import items, vendors
    from crm_item_lookup import search

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}", "SECRET_KEY": "x",
                      "EXTRA_PLUGINS": crm_extra_plugins})
    migrate.upgrade_all(app)
    prices = {"Tornillo 7": Decimal("7.455"), "Tornillo 19": Decimal("19.99"), "Taladro": Decimal("1234567.8912")}
    with app.app_context(), db.transaction() as s:
        made = {name: items.create_item(s, "product", {"name": name, "unit_price": price}).id
                for name, price in prices.items()}
        s.get(Item, made["Taladro"]).on_hand = Decimal("2.5")
        vendors.create_vendor(s, {"name": "Primero"})
        newest = vendors.create_vendor(s, {"name": "Último"})
        s.flush()
        vendors.delete_vendor(s, newest)
        deleted_vendor = newest.id

    def objects(connection):
        return {(kind, name): sql for kind, name, sql in connection.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL")}

    with db.engine(app).connect() as connection:
        before = objects(connection)
    for target, revision in BEFORE.items():
        migrate.downgrade(app, target, revision)
    with db.engine(app).connect() as connection:
        assert connection.exec_driver_sql("SELECT typeof(unit_price) FROM items WHERE unit_price <> 19.99 "
                                          "AND name = 'Tornillo 7'").scalar() == "real"
        assert "AUTOINCREMENT" not in connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'vendors'").scalar()

    migrate.upgrade_all(app)
    with db.engine(app).connect() as connection:
        assert objects(connection) == before
        assert [name for name, sql in _sqlite_key_tables(connection).items() if "AUTOINCREMENT" not in sql] == []
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    assert {target: migrate.schema_differences(app, target) for target in BEFORE} == dict.fromkeys(BEFORE, [])
    with app.app_context(), db.transaction() as s:
        assert {i.name: i.unit_price for i in s.scalars(select(Item))} == prices
        assert s.get(Item, made["Taladro"]).on_hand == Decimal("2.5")
        assert vendors.create_vendor(s, {"name": "Nuevo"}).id > deleted_vendor
        s.get(Item, made["Tornillo 19"]).unit_price = Decimal("21.5")   # the item lookup's triggers follow
        s.flush()
        found = search.search(s, search.Query(q="tornillo", sort="unit_price"))
        assert [(row["name"], row["unit_price"]) for row in found.items] == [("Tornillo 7", "7.455"),
                                                                             ("Tornillo 19", "21.50")]
    db.engine(app).dispose()
