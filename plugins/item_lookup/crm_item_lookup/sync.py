"""Keeping ``item_lookup_entries`` in step with ``items``: database triggers.

Triggers, not hooks or ORM events, because stock changes are conditional UPDATE
statements (``crm.services.stock``), bulk loads insert rows directly, and a
picker that misses either shows wrong stock or misses items. The triggers are
written for SQLite and for PostgreSQL from the same expressions
(:func:`entry_values`), which :func:`rebuild` also uses to fill the table.

What they do, on both databases:

- an item inserted or changed (not its stock): its entry is upserted;
- an item's ``on_hand``/``reserved`` changed: its entry's ``available`` and
  ``in_stock`` follow;
- an item deleted: its entry goes;
- an entry added, removed, or moved to another (kind, active, in stock, f1, f2, f3):
  ``item_lookup_counts`` follows (-1 on the old group, +1 on the new one);
- and whenever the facet counts could change (an item added, changed or
  removed; a product's stock crossing zero; stock of a bundle component; a
  bundle's components), ``item_lookup_state.generation`` goes up, so that
  cached counts are never reused. On SQLite (one writer at a time) the triggers
  bump it directly. On PostgreSQL DEFERRABLE INITIALLY DEFERRED constraint
  triggers bump it (once per transaction) and update ``item_lookup_counts`` at
  commit time, the counter row first: committing writers queue on that one row
  and take the count rows after it, so neither the counter nor the count rows
  can be part of a deadlock with the stock ledger's row locks.

Every trigger and function is named ``item_lookup_*``. On PostgreSQL the
functions do nothing when the plugin's tables are gone (``crm plugins purge``);
SQLite cannot guard a trigger like that: see :func:`uninstall` and the README.
"""
from __future__ import annotations

from sqlalchemy import bindparam, text

from crm_item_lookup.models import FACET_VALUE_LENGTH

COLUMNS = ("item_id", "kind_key", "active", "vendor_id", "in_stock", "available", "unit_price", "name_key", "sku",
           "f1", "f2", "f3", "search")
#: the item columns built-in facets may use
BUILTIN_FIELDS = ("category", "subcategory", "manufacturer", "usage_unit")
#: item columns whose change re-computes the entry (stock columns have their own trigger)
WATCHED = ("kind", "name", "sku", "description", "unit_price", "category", "subcategory", "manufacturer",
           "usage_unit", "vendor_id", "active", "is_bundle", "custom")

GROUP = ("kind_key", "active", "in_stock", "f1", "f2", "f3")
SQLITE_TRIGGERS = ("item_lookup_items_insert", "item_lookup_items_update", "item_lookup_items_stock",
                   "item_lookup_items_delete", "item_lookup_components_insert", "item_lookup_components_update",
                   "item_lookup_components_delete", "item_lookup_entries_insert", "item_lookup_entries_update",
                   "item_lookup_entries_delete")
PG_TRIGGERS = (("item_lookup_items_sync", "items"), ("item_lookup_items_stock", "items"),
               ("item_lookup_items_bump", "items"), ("item_lookup_items_bump_stock", "items"),
               ("item_lookup_components_bump", "bundle_components"),
               ("item_lookup_entries_count", "item_lookup_entries"),
               ("item_lookup_entries_count_change", "item_lookup_entries"))
PG_COUNT_TRIGGERS = ("item_lookup_entries_count", "item_lookup_entries_count_change")
PG_FUNCTIONS = ("item_lookup_sync_item", "item_lookup_sync_stock", "item_lookup_bump", "item_lookup_bump_stock",
                "item_lookup_bump_now", "item_lookup_count_entry")


def kind_expr(row: str) -> str:
    return (f"CASE WHEN {row}.kind = 'service' THEN 'service' WHEN {row}.is_bundle THEN 'bundle' "
            f"ELSE 'product' END")


def _stock_exprs(row: str) -> tuple[str, str]:
    plain_product = f"{row}.kind = 'product' AND NOT {row}.is_bundle"
    return (f"({plain_product} AND {row}.on_hand - {row}.reserved > 0)",
            f"CASE WHEN {plain_product} THEN {row}.on_hand - {row}.reserved END")


def _facet_expr(row: str, n: int, dialect: str) -> str:
    key = f"substr(c.f{n}, 8)"
    if dialect == "sqlite":
        custom = f"CAST(json_extract({row}.custom, '$.' || {key}) AS TEXT)"
    else:
        custom = f"({row}.custom ->> {key})"
    builtin = " ".join(f"WHEN '{name}' THEN {row}.{name}" for name in BUILTIN_FIELDS)
    return (f"NULLIF(substr(CASE c.f{n} {builtin} ELSE CASE WHEN c.f{n} LIKE 'custom.%' THEN {custom} END END, "
            f"1, {FACET_VALUE_LENGTH}), '')")


def entry_values(row: str, dialect: str) -> list[str]:
    """The SQL expression of every entry column, for the item row ``row`` (``NEW`` or an alias),
    with the kind's facet fields as ``c``."""
    in_stock, available = _stock_exprs(row)
    return [f"{row}.id", kind_expr(row), f"{row}.active", f"{row}.vendor_id", in_stock, available,
            f"{row}.unit_price", f"lower({row}.name)", f"{row}.sku",
            _facet_expr(row, 1, dialect), _facet_expr(row, 2, dialect), _facet_expr(row, 3, dialect),
            f"lower({row}.name || ' ' || COALESCE({row}.sku, '') || ' ' || COALESCE({row}.description, ''))"]


def upsert_sql(row: str, source: str, where: str, dialect: str) -> str:
    """INSERT ... SELECT ... ON CONFLICT DO UPDATE of the entries of ``source`` rows matching ``where``."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    return (f"INSERT INTO item_lookup_entries ({', '.join(COLUMNS)}) "
            f"SELECT {', '.join(entry_values(row, dialect))} FROM {source} "
            f"LEFT JOIN item_lookup_facet_fields c ON c.kind_key = {kind_expr(row)} "
            f"WHERE {where} ON CONFLICT (item_id) DO UPDATE SET {updates}")


def _count_sql(row: str, delta: int) -> str:
    """+1 (an upsert) or -1 on the count of the group of entry ``row`` (``NEW`` or ``OLD``)."""
    values = [f"{row}.kind_key", f"{row}.active", f"{row}.in_stock",
              f"COALESCE({row}.f1, '')", f"COALESCE({row}.f2, '')", f"COALESCE({row}.f3, '')"]
    if delta > 0:
        return (f"INSERT INTO item_lookup_counts ({', '.join(GROUP)}, n) VALUES ({', '.join(values)}, 1) "
                f"ON CONFLICT ({', '.join(GROUP)}) DO UPDATE SET n = item_lookup_counts.n + 1")
    where = " AND ".join(f"{column} = {value}" for column, value in zip(GROUP, values))
    return f"UPDATE item_lookup_counts SET n = n - 1 WHERE {where}"


def _group_changed(old: str = "OLD", new: str = "NEW") -> str:
    return " OR ".join(f"{old}.{c} IS DISTINCT FROM {new}.{c}" for c in GROUP)


# --- SQLite ------------------------------------------------------------------------------------------

def _sqlite_statements() -> list[str]:
    upsert = upsert_sql("NEW", "(SELECT 1) AS one", "1 = 1", "sqlite")
    bump = "UPDATE item_lookup_state SET generation = generation + 1 WHERE id = 1"
    in_stock, available = _stock_exprs("NEW")
    return [
        f"CREATE TRIGGER item_lookup_items_insert AFTER INSERT ON items BEGIN {upsert}; {bump}; END",
        f"CREATE TRIGGER item_lookup_items_update AFTER UPDATE OF {', '.join(WATCHED)} ON items "
        f"BEGIN {upsert}; {bump}; END",
        f"CREATE TRIGGER item_lookup_items_stock AFTER UPDATE OF on_hand, reserved ON items "
        f"WHEN OLD.on_hand IS NOT NEW.on_hand OR OLD.reserved IS NOT NEW.reserved BEGIN "
        f"UPDATE item_lookup_entries SET in_stock = {in_stock}, available = {available} WHERE item_id = NEW.id; "
        f"{bump} AND (((OLD.on_hand - OLD.reserved) > 0) <> ((NEW.on_hand - NEW.reserved) > 0) "
        f"OR EXISTS (SELECT 1 FROM bundle_components WHERE component_id = NEW.id)); END",
        f"CREATE TRIGGER item_lookup_items_delete AFTER DELETE ON items BEGIN "
        f"DELETE FROM item_lookup_entries WHERE item_id = OLD.id; {bump}; END",
        f"CREATE TRIGGER item_lookup_components_insert AFTER INSERT ON bundle_components BEGIN {bump}; END",
        f"CREATE TRIGGER item_lookup_components_update AFTER UPDATE ON bundle_components BEGIN {bump}; END",
        f"CREATE TRIGGER item_lookup_components_delete AFTER DELETE ON bundle_components BEGIN {bump}; END",
        f"CREATE TRIGGER item_lookup_entries_insert AFTER INSERT ON item_lookup_entries "
        f"BEGIN {_count_sql('NEW', 1)}; END",
        f"CREATE TRIGGER item_lookup_entries_update AFTER UPDATE OF {', '.join(GROUP)} ON item_lookup_entries "
        f"WHEN {_group_changed().replace('IS DISTINCT FROM', 'IS NOT')} "
        f"BEGIN {_count_sql('OLD', -1)}; {_count_sql('NEW', 1)}; END",
        f"CREATE TRIGGER item_lookup_entries_delete AFTER DELETE ON item_lookup_entries "
        f"BEGIN {_count_sql('OLD', -1)}; END",
    ]


# --- PostgreSQL --------------------------------------------------------------------------------------

def _pg_statements() -> list[str]:
    upsert = upsert_sql("NEW", "(SELECT 1) AS one", "true", "postgresql")
    in_stock, available = _stock_exprs("NEW")
    guard = "IF to_regclass('item_lookup_entries') IS NULL THEN RETURN NULL; END IF;"
    return [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        f"""CREATE OR REPLACE FUNCTION item_lookup_sync_item() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  {guard}
  IF TG_OP = 'DELETE' THEN
    DELETE FROM item_lookup_entries WHERE item_id = OLD.id;
    RETURN NULL;
  END IF;
  {upsert};
  RETURN NULL;
END $body$""",
        f"""CREATE OR REPLACE FUNCTION item_lookup_sync_stock() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  {guard}
  UPDATE item_lookup_entries SET in_stock = {in_stock}, available = {available} WHERE item_id = NEW.id;
  RETURN NULL;
END $body$""",
        """CREATE OR REPLACE FUNCTION item_lookup_bump_now() RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
  IF to_regclass('item_lookup_state') IS NULL THEN RETURN; END IF;
  IF current_setting('item_lookup.bumped_in', true) IS NOT DISTINCT FROM pg_current_xact_id()::text THEN
    RETURN;  -- once per transaction is enough
  END IF;
  PERFORM set_config('item_lookup.bumped_in', pg_current_xact_id()::text, true);
  UPDATE item_lookup_state SET generation = generation + 1 WHERE id = 1;
END $body$""",
        """CREATE OR REPLACE FUNCTION item_lookup_bump() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  PERFORM item_lookup_bump_now();
  RETURN NULL;
END $body$""",
        """CREATE OR REPLACE FUNCTION item_lookup_bump_stock() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  IF ((OLD.on_hand - OLD.reserved) > 0) IS DISTINCT FROM ((NEW.on_hand - NEW.reserved) > 0)
     OR EXISTS (SELECT 1 FROM bundle_components WHERE component_id = NEW.id) THEN
    PERFORM item_lookup_bump_now();
  END IF;
  RETURN NULL;
END $body$""",
        f"""CREATE OR REPLACE FUNCTION item_lookup_count_entry() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  IF to_regclass('item_lookup_counts') IS NULL THEN RETURN NULL; END IF;
  PERFORM item_lookup_bump_now();  -- the counter row first: committing writers queue there, in one order
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_count_sql('OLD', -1)};
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    {_count_sql('NEW', 1)};
  END IF;
  RETURN NULL;
END $body$""",
        f"CREATE TRIGGER item_lookup_items_sync AFTER INSERT OR DELETE OR UPDATE OF {', '.join(WATCHED)} ON items "
        "FOR EACH ROW EXECUTE FUNCTION item_lookup_sync_item()",
        "CREATE TRIGGER item_lookup_items_stock AFTER UPDATE OF on_hand, reserved ON items FOR EACH ROW "
        "WHEN (OLD.on_hand IS DISTINCT FROM NEW.on_hand OR OLD.reserved IS DISTINCT FROM NEW.reserved) "
        "EXECUTE FUNCTION item_lookup_sync_stock()",
        f"CREATE CONSTRAINT TRIGGER item_lookup_items_bump AFTER INSERT OR DELETE OR UPDATE OF {', '.join(WATCHED)} "
        "ON items DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION item_lookup_bump()",
        "CREATE CONSTRAINT TRIGGER item_lookup_items_bump_stock AFTER UPDATE OF on_hand, reserved ON items "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        "WHEN (OLD.on_hand IS DISTINCT FROM NEW.on_hand OR OLD.reserved IS DISTINCT FROM NEW.reserved) "
        "EXECUTE FUNCTION item_lookup_bump_stock()",
        "CREATE CONSTRAINT TRIGGER item_lookup_components_bump AFTER INSERT OR UPDATE OR DELETE ON bundle_components "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION item_lookup_bump()",
        "CREATE CONSTRAINT TRIGGER item_lookup_entries_count AFTER INSERT OR DELETE ON item_lookup_entries "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION item_lookup_count_entry()",
        f"CREATE CONSTRAINT TRIGGER item_lookup_entries_count_change AFTER UPDATE OF {', '.join(GROUP)} "
        f"ON item_lookup_entries DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({_group_changed()}) "
        "EXECUTE FUNCTION item_lookup_count_entry()",
    ]


# --- installing, removing, rebuilding ---------------------------------------------------------------

def _dialect(connection) -> str:
    return connection.dialect.name


def install(connection) -> None:
    """Create the triggers (replacing any there are)."""
    uninstall(connection)
    statements = _sqlite_statements() if _dialect(connection) == "sqlite" else _pg_statements()
    for statement in statements:
        connection.execute(text(statement))


def uninstall(connection) -> None:
    """Drop the triggers and functions (the tables stay)."""
    if _dialect(connection) == "sqlite":
        for name in SQLITE_TRIGGERS:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        return
    for name, table in PG_TRIGGERS:
        if table.startswith("item_lookup_") and not _exists(connection, table):
            continue
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
    for name in PG_FUNCTIONS:
        connection.execute(text(f"DROP FUNCTION IF EXISTS {name}() CASCADE"))


def _exists(connection, table: str) -> bool:
    return connection.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}).scalar()


def bump(connection) -> None:
    connection.execute(text("UPDATE item_lookup_state SET generation = generation + 1 WHERE id = 1"))


def rebuild(connection, kind_key: str | None = None) -> None:
    """Recompute the entries (all, or those of one kind) from ``items``, drop orphans, count
    them again, and invalidate cached counts. Used by the migration, after a facet field
    changes, and by ``crm item-lookup reindex``."""
    dialect = _dialect(connection)
    where = "1 = 1" if kind_key is None else f"{kind_expr('i')} = :kind"
    connection.execute(text(upsert_sql("i", "items AS i", where, dialect)), {"kind": kind_key} if kind_key else {})
    if kind_key is None:
        connection.execute(text("DELETE FROM item_lookup_entries WHERE item_id NOT IN (SELECT id FROM items)"))
    recount(connection)
    bump(connection)


def compact(engine) -> None:
    """PostgreSQL: VACUUM the lookup's tables (after a bulk import the counts table holds a dead
    row version per imported item until then; SQLite updates in place)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE item_lookup_counts, item_lookup_entries"))


def recount(connection) -> None:
    """Count the entries per group from scratch (the triggers keep the counts from then on)."""
    deferred = _dialect(connection) == "postgresql" and connection.execute(
        text("SELECT count(*) FROM pg_trigger WHERE tgname IN :names").bindparams(
            bindparam("names", expanding=True)), {"names": list(PG_COUNT_TRIGGERS)}).scalar() == len(PG_COUNT_TRIGGERS)
    if deferred:  # apply the changes already queued first, or they would count twice
        connection.execute(text(f"SET CONSTRAINTS {', '.join(PG_COUNT_TRIGGERS)} IMMEDIATE"))
    connection.execute(text("DELETE FROM item_lookup_counts"))
    columns = ", ".join(GROUP)
    connection.execute(text(
        f"INSERT INTO item_lookup_counts ({columns}, n) SELECT kind_key, active, in_stock, COALESCE(f1, ''), "
        f"COALESCE(f2, ''), COALESCE(f3, ''), count(*) FROM item_lookup_entries "
        f"GROUP BY kind_key, active, in_stock, COALESCE(f1, ''), COALESCE(f2, ''), COALESCE(f3, '')"))
    if deferred:
        connection.execute(text(f"SET CONSTRAINTS {', '.join(PG_COUNT_TRIGGERS)} DEFERRED"))
