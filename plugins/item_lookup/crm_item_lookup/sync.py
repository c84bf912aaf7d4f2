"""Keeping ``item_lookup_entries`` and ``item_lookup_counts`` in step with ``items``:
database triggers.

Triggers, not hooks or ORM events, because stock changes are conditional UPDATE
statements (``crm.services.stock``), bulk loads insert rows directly, and a
picker that misses either shows wrong stock or misses items. The triggers are
written for SQLite and for PostgreSQL from the same expressions
(:func:`entry_values`), which :func:`rebuild` also uses to fill the tables.

What they do, on both databases:

- an item inserted or changed: its entry is upserted (a bundle's ``in_stock``
  says whether every component has at least its quantity available);
- an item's ``on_hand``/``reserved`` changed: its entry's ``available`` and
  ``in_stock`` follow, and so do the ``in_stock`` of the bundles it is in;
- a bundle's components changed: the bundle's ``in_stock`` follows;
- an item deleted: its entry goes;
- an entry added, removed, or moved to another (kind, active, f1, f2, f3, in
  stock): ``item_lookup_counts`` follows (-1 on the old group, +1 on the new one),
  and on SQLite so does ``item_lookup_facet_counts`` (the same per facet position and value);
- on SQLite, an entry added, removed or with a new search text: the full-text index
  ``item_lookup_text`` (FTS5, trigram tokens, its content read from the entries) follows;
- whenever a count could change, ``item_lookup_state.generation`` goes up (in the
  writing transaction), so that cached counts are never reused.

On PostgreSQL the counts are not changed row by row: each +1 and -1 is appended to
``item_lookup_count_deltas``, and the commit folds them in, one sum per group. (A row changed
again and again in one transaction keeps every version until the commit, and each change walks
them: a bulk import adding 1 to the same few dozen rows once per item took time growing with
the square of its items.) The first change after a folding is marked ``opens``; only that row
queues the folding trigger, so a transaction folds once, after every change queued before it,
however many items it wrote.

On SQLite (one writer at a time) the triggers do all of it at once. On
PostgreSQL they are DEFERRABLE INITIALLY DEFERRED constraint triggers: all of it
happens at commit time, and whatever touches rows that several items share (the
counter, the counts, bundles' entries) first takes the counter row. Committing
writers therefore queue on that one row and take the shared rows after it, in
one order, and none of these rows is ever locked in the middle of a transaction:
they cannot take part in a deadlock with each other or with the stock ledger's
row locks. (A stock change of a product that crosses no threshold and is in no
bundle only touches its own entry, and takes no shared row.) The deferred
triggers read the item as it is at commit, not as the queued event saw it.

Every trigger and function is named ``item_lookup_*``. On PostgreSQL the
functions do nothing when the plugin's tables are gone (``crm plugins purge``);
SQLite cannot guard a trigger like that: see :func:`uninstall` and the README.
"""
from __future__ import annotations

from sqlalchemy import Connection, Engine, bindparam, text

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
                   "item_lookup_entries_delete", "item_lookup_entries_text")
#: SQLite's full-text index of the entries' search text (migration item_lookup_0003)
TEXT_TABLE = "item_lookup_text"
#: PostgreSQL's count changes waiting for the commit (migration item_lookup_0005)
DELTAS_TABLE = "item_lookup_count_deltas"
PG_TRIGGERS = (("item_lookup_items_change", "items"), ("item_lookup_items_stock", "items"),
               ("item_lookup_components_change", "bundle_components"),
               ("item_lookup_entries_count", "item_lookup_entries"),
               ("item_lookup_entries_count_change", "item_lookup_entries"),
               ("item_lookup_count_deltas_fold", "item_lookup_count_deltas"))
#: the trigger folding a transaction's count changes into the counts (migration item_lookup_0005)
FOLDING = "item_lookup_count_deltas_fold"
PG_FUNCTIONS = ("item_lookup_item_changed", "item_lookup_stock_changed", "item_lookup_components_changed",
                "item_lookup_bump_now", "item_lookup_count_entry", "item_lookup_fold_counts")
#: older names, dropped when the triggers are installed again
PG_OLD_TRIGGERS = (("item_lookup_items_sync", "items"), ("item_lookup_items_bump", "items"),
                   ("item_lookup_items_bump_stock", "items"), ("item_lookup_components_bump", "bundle_components"))
PG_OLD_FUNCTIONS = ("item_lookup_sync_item", "item_lookup_sync_stock", "item_lookup_bump", "item_lookup_bump_stock")


def kind_expr(row: str) -> str:
    return (f"CASE WHEN {row}.kind = 'service' THEN 'service' WHEN {row}.is_bundle THEN 'bundle' "
            f"ELSE 'product' END")


def bundle_in_stock(bundle_id: str) -> str:
    """The bundle has components and every one has at least its quantity available."""
    return (f"(EXISTS (SELECT 1 FROM bundle_components b WHERE b.bundle_id = {bundle_id}) AND NOT EXISTS "
            f"(SELECT 1 FROM bundle_components b JOIN items c ON c.id = b.component_id "
            f"WHERE b.bundle_id = {bundle_id} AND c.on_hand - c.reserved < b.quantity))")


def _stock_exprs(row: str) -> tuple[str, str]:
    """(in_stock, available) of item ``row``."""
    plain_product = f"{row}.kind = 'product' AND NOT {row}.is_bundle"
    in_stock = (f"CASE WHEN {plain_product} THEN {row}.on_hand - {row}.reserved > 0 "
                f"WHEN {row}.kind = 'product' THEN {bundle_in_stock(row + '.id')} ELSE false END")
    return in_stock, f"CASE WHEN {plain_product} THEN {row}.on_hand - {row}.reserved END"


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


def stock_sql(item_id: str) -> str:
    """Refresh ``in_stock`` and ``available`` of the entry of item ``item_id`` from ``items``."""
    in_stock, available = _stock_exprs("i")
    return (f"UPDATE item_lookup_entries SET in_stock = (SELECT {in_stock} FROM items i WHERE i.id = {item_id}), "
            f"available = (SELECT {available} FROM items i WHERE i.id = {item_id}) WHERE item_id = {item_id}")


def bundles_sql(where: str) -> str:
    """Refresh ``in_stock`` of the bundles' entries matching ``where`` (over ``item_lookup_entries``)."""
    return (f"UPDATE item_lookup_entries SET in_stock = {bundle_in_stock('item_lookup_entries.item_id')} "
            f"WHERE kind_key = 'bundle' AND {where}")


def _count_sql(row: str, delta: int) -> str:
    """+1 (an upsert) or -1 on the count of the group of entry ``row`` (``NEW`` or ``OLD``)."""
    values = [f"{row}.kind_key", f"{row}.active", f"{row}.in_stock",
              f"COALESCE({row}.f1, '')", f"COALESCE({row}.f2, '')", f"COALESCE({row}.f3, '')"]
    if delta > 0:
        return (f"INSERT INTO item_lookup_counts ({', '.join(GROUP)}, n) VALUES ({', '.join(values)}, 1) "
                f"ON CONFLICT ({', '.join(GROUP)}) DO UPDATE SET n = item_lookup_counts.n + 1")
    where = " AND ".join(f"{column} = {value}" for column, value in zip(GROUP, values))
    return f"UPDATE item_lookup_counts SET n = n - 1 WHERE {where}"


FACET_GROUP = ("kind_key", "active", "position", "value", "in_stock")


def _facet_count_sql(row: str, delta: int) -> list[str]:
    """+1 or -1 on the facet counts of entry ``row`` at each of the three positions."""
    statements = []
    for position in (1, 2, 3):
        values = [f"{row}.kind_key", f"{row}.active", str(position), f"COALESCE({row}.f{position}, '')",
                  f"{row}.in_stock"]
        if delta > 0:
            statements.append(
                f"INSERT INTO item_lookup_facet_counts ({', '.join(FACET_GROUP)}, n) VALUES ({', '.join(values)}, 1) "
                f"ON CONFLICT ({', '.join(FACET_GROUP)}) DO UPDATE SET n = item_lookup_facet_counts.n + 1")
        else:
            where = " AND ".join(f"{column} = {value}" for column, value in zip(FACET_GROUP, values))
            statements.append(f"UPDATE item_lookup_facet_counts SET n = n - 1 WHERE {where}")
    return statements


def _counts_sql(row: str, delta: int, facet_counts: bool) -> str:
    """The statements keeping both count tables (``facet_counts``: when that table exists)."""
    return "; ".join([_count_sql(row, delta)] + (_facet_count_sql(row, delta) if facet_counts else []))


def _deltas_sql(*changes: tuple[str, int]) -> str:
    """Append the changes (entry ``row``, +1 or -1) on the counts of the entries' groups to the changes
    to fold (PostgreSQL), in one statement: a folding fired at its end (in immediate mode) sees them
    all. The first row ``opens`` when plpgsql's variable ``opens`` says so."""
    rows = []
    for n, (row, delta) in enumerate(changes):
        values = [f"{row}.kind_key", f"{row}.active", f"{row}.in_stock",
                  f"COALESCE({row}.f1, '')", f"COALESCE({row}.f2, '')", f"COALESCE({row}.f3, '')"]
        rows.append(f"({', '.join(values)}, {delta}, {'opens' if n == 0 else 'false'})")
    return f"INSERT INTO {DELTAS_TABLE} ({', '.join(GROUP)}, n, opens) VALUES {', '.join(rows)}"


def _text_sql(row: str, delta: int) -> str:
    """Add entry ``row`` to the full-text index, or (-1) take it out (an external-content FTS5
    table is told the old text to remove)."""
    if delta > 0:
        return f"INSERT INTO {TEXT_TABLE} (rowid, search) VALUES ({row}.item_id, {row}.search)"
    return (f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}, rowid, search) "
            f"VALUES ('delete', {row}.item_id, {row}.search)")


def _group_changed(old: str = "OLD", new: str = "NEW") -> str:
    return " OR ".join(f"{old}.{c} IS DISTINCT FROM {new}.{c}" for c in GROUP)


# --- SQLite ------------------------------------------------------------------------------------------

def _sqlite_statements(facet_counts: bool = True, text_index: bool = True) -> list[str]:
    upsert = upsert_sql("NEW", "(SELECT 1) AS one", "1 = 1", "sqlite")
    bump = "UPDATE item_lookup_state SET generation = generation + 1 WHERE id = 1"
    in_stock, available = _stock_exprs("NEW")
    in_bundles = "item_id IN (SELECT bundle_id FROM bundle_components WHERE component_id = NEW.id)"
    text_in = f"{_text_sql('NEW', 1)}; " if text_index else ""
    text_out = f"{_text_sql('OLD', -1)}; " if text_index else ""
    return [
        f"CREATE TRIGGER item_lookup_items_insert AFTER INSERT ON items BEGIN {upsert}; {bump}; END",
        f"CREATE TRIGGER item_lookup_items_update AFTER UPDATE OF {', '.join(WATCHED)} ON items "
        f"BEGIN {upsert}; {bump}; END",
        f"CREATE TRIGGER item_lookup_items_stock AFTER UPDATE OF on_hand, reserved ON items "
        f"WHEN OLD.on_hand IS NOT NEW.on_hand OR OLD.reserved IS NOT NEW.reserved BEGIN "
        f"UPDATE item_lookup_entries SET in_stock = {in_stock}, available = {available} WHERE item_id = NEW.id; "
        f"{bundles_sql(in_bundles)}; "
        f"{bump} AND (((OLD.on_hand - OLD.reserved) > 0) <> ((NEW.on_hand - NEW.reserved) > 0) "
        f"OR EXISTS (SELECT 1 FROM bundle_components WHERE component_id = NEW.id)); END",
        f"CREATE TRIGGER item_lookup_items_delete AFTER DELETE ON items BEGIN "
        f"DELETE FROM item_lookup_entries WHERE item_id = OLD.id; {bump}; END",
        f"CREATE TRIGGER item_lookup_components_insert AFTER INSERT ON bundle_components BEGIN "
        f"{bundles_sql('item_id = NEW.bundle_id')}; {bump}; END",
        f"CREATE TRIGGER item_lookup_components_update AFTER UPDATE ON bundle_components BEGIN "
        f"{bundles_sql('item_id IN (OLD.bundle_id, NEW.bundle_id)')}; {bump}; END",
        f"CREATE TRIGGER item_lookup_components_delete AFTER DELETE ON bundle_components BEGIN "
        f"{bundles_sql('item_id = OLD.bundle_id')}; {bump}; END",
        f"CREATE TRIGGER item_lookup_entries_insert AFTER INSERT ON item_lookup_entries "
        f"BEGIN {_counts_sql('NEW', 1, facet_counts)}; {text_in}END",
        f"CREATE TRIGGER item_lookup_entries_update AFTER UPDATE OF {', '.join(GROUP)} ON item_lookup_entries "
        f"WHEN {_group_changed().replace('IS DISTINCT FROM', 'IS NOT')} "
        f"BEGIN {_counts_sql('OLD', -1, facet_counts)}; {_counts_sql('NEW', 1, facet_counts)}; END",
        f"CREATE TRIGGER item_lookup_entries_delete AFTER DELETE ON item_lookup_entries "
        f"BEGIN {_counts_sql('OLD', -1, facet_counts)}; {text_out}END",
    ] + ([f"CREATE TRIGGER item_lookup_entries_text AFTER UPDATE OF search ON item_lookup_entries "
          f"WHEN OLD.search IS NOT NEW.search BEGIN {_text_sql('OLD', -1)}; {_text_sql('NEW', 1)}; END"]
         if text_index else [])


# --- PostgreSQL --------------------------------------------------------------------------------------

def _pg_counting(facet_counts: bool, deltas: bool) -> list[str]:
    """The function counting an entry added, removed or moved to another group, and (``deltas``)
    the one folding the changes at the commit."""
    if not deltas:   # before migration item_lookup_0005: each change goes straight to the counts
        return [f"""CREATE OR REPLACE FUNCTION item_lookup_count_entry() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  IF to_regclass('item_lookup_counts') IS NULL THEN RETURN NULL; END IF;
  PERFORM item_lookup_bump_now();  -- the counter row first
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_counts_sql('OLD', -1, facet_counts)};
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    {_counts_sql('NEW', 1, facet_counts)};
  END IF;
  RETURN NULL;
END $body$"""]
    columns = ", ".join(GROUP)
    return [
        f"""CREATE OR REPLACE FUNCTION item_lookup_count_entry() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
  opens boolean;
BEGIN
  IF to_regclass('{DELTAS_TABLE}') IS NULL THEN RETURN NULL; END IF;
  PERFORM item_lookup_bump_now();  -- the counter row first
  opens := current_setting('item_lookup.folding_queued', true) IS DISTINCT FROM pg_current_xact_id()::text;
  IF opens THEN
    PERFORM set_config('item_lookup.folding_queued', pg_current_xact_id()::text, true);
  END IF;
  IF TG_OP = 'UPDATE' THEN
    {_deltas_sql(('OLD', -1), ('NEW', 1))};
  ELSIF TG_OP = 'DELETE' THEN
    {_deltas_sql(('OLD', -1))};
  ELSE
    {_deltas_sql(('NEW', 1))};
  END IF;
  RETURN NULL;
END $body$""",
        f"""CREATE OR REPLACE FUNCTION item_lookup_fold_counts() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  IF to_regclass('item_lookup_counts') IS NULL THEN RETURN NULL; END IF;
  PERFORM set_config('item_lookup.folding_queued', '', true);  -- a later change queues another folding
  WITH folded AS (DELETE FROM {DELTAS_TABLE} RETURNING {columns}, n)
  INSERT INTO item_lookup_counts ({columns}, n)
  SELECT {columns}, sum(n) FROM folded GROUP BY {columns} HAVING sum(n) <> 0
  ON CONFLICT ({columns}) DO UPDATE SET n = item_lookup_counts.n + excluded.n;
  RETURN NULL;
END $body$""",
        f"CREATE CONSTRAINT TRIGGER {FOLDING} AFTER INSERT ON {DELTAS_TABLE} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.opens) EXECUTE FUNCTION item_lookup_fold_counts()",
    ]


def _pg_statements(facet_counts: bool = True, deltas: bool = True) -> list[str]:
    upsert = upsert_sql("i", "items AS i", "i.id = NEW.id", "postgresql")
    guard = "IF to_regclass('item_lookup_entries') IS NULL THEN RETURN NULL; END IF;"
    deferred = "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
    stock_changed = "(OLD.on_hand IS DISTINCT FROM NEW.on_hand OR OLD.reserved IS DISTINCT FROM NEW.reserved)"
    return [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        """CREATE OR REPLACE FUNCTION item_lookup_bump_now() RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
  IF to_regclass('item_lookup_state') IS NULL THEN RETURN; END IF;
  IF current_setting('item_lookup.bumped_in', true) IS NOT DISTINCT FROM pg_current_xact_id()::text THEN
    RETURN;  -- once per transaction is enough (the row stays locked until the commit)
  END IF;
  PERFORM set_config('item_lookup.bumped_in', pg_current_xact_id()::text, true);
  UPDATE item_lookup_state SET generation = generation + 1 WHERE id = 1;
END $body$""",
        f"""CREATE OR REPLACE FUNCTION item_lookup_item_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  {guard}
  PERFORM item_lookup_bump_now();  -- the counter row first
  IF TG_OP = 'DELETE' THEN
    DELETE FROM item_lookup_entries WHERE item_id = OLD.id;
  ELSE
    {upsert};  -- the item as it is now, at commit
  END IF;
  RETURN NULL;
END $body$""",
        f"""CREATE OR REPLACE FUNCTION item_lookup_stock_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
  in_bundles boolean;
BEGIN
  {guard}
  in_bundles := EXISTS (SELECT 1 FROM bundle_components WHERE component_id = NEW.id);
  IF in_bundles OR ((OLD.on_hand - OLD.reserved) > 0) IS DISTINCT FROM ((NEW.on_hand - NEW.reserved) > 0) THEN
    PERFORM item_lookup_bump_now();  -- the counter row first
  END IF;
  {stock_sql('NEW.id')};
  IF in_bundles THEN
    {bundles_sql('item_id IN (SELECT bundle_id FROM bundle_components WHERE component_id = NEW.id)')};
  END IF;
  RETURN NULL;
END $body$""",
        f"""CREATE OR REPLACE FUNCTION item_lookup_components_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  {guard}
  PERFORM item_lookup_bump_now();  -- the counter row first
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {bundles_sql('item_id = OLD.bundle_id')};
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    {bundles_sql('item_id = NEW.bundle_id')};
  END IF;
  RETURN NULL;
END $body$""",
        *_pg_counting(facet_counts, deltas),
        f"CREATE CONSTRAINT TRIGGER item_lookup_items_change AFTER INSERT OR DELETE OR UPDATE OF {', '.join(WATCHED)} "
        f"ON items {deferred} EXECUTE FUNCTION item_lookup_item_changed()",
        f"CREATE CONSTRAINT TRIGGER item_lookup_items_stock AFTER UPDATE OF on_hand, reserved ON items {deferred} "
        f"WHEN {stock_changed} EXECUTE FUNCTION item_lookup_stock_changed()",
        f"CREATE CONSTRAINT TRIGGER item_lookup_components_change AFTER INSERT OR UPDATE OR DELETE "
        f"ON bundle_components {deferred} EXECUTE FUNCTION item_lookup_components_changed()",
        f"CREATE CONSTRAINT TRIGGER item_lookup_entries_count AFTER INSERT OR DELETE ON item_lookup_entries "
        f"{deferred} EXECUTE FUNCTION item_lookup_count_entry()",
        f"CREATE CONSTRAINT TRIGGER item_lookup_entries_count_change AFTER UPDATE OF {', '.join(GROUP)} "
        f"ON item_lookup_entries {deferred} WHEN ({_group_changed()}) EXECUTE FUNCTION item_lookup_count_entry()",
    ]


# --- installing, removing, rebuilding ---------------------------------------------------------------

def _dialect(connection: Connection) -> str:
    return connection.dialect.name


def install(connection: Connection) -> None:
    """Create the triggers (replacing any there are). On SQLite they keep ``item_lookup_facet_counts``
    (from migration item_lookup_0002 on: see :func:`facet_counts_kept`) and the full-text index
    (from item_lookup_0003 on) too; on PostgreSQL, from item_lookup_0005 on, they fold the count
    changes at the commit."""
    uninstall(connection)
    facet_counts = facet_counts_kept(connection)
    statements = (_sqlite_statements(facet_counts, text_index_kept(connection)) if _dialect(connection) == "sqlite"
                  else _pg_statements(facet_counts, _has_table(connection, DELTAS_TABLE)))
    for statement in statements:
        connection.execute(text(statement))


def uninstall(connection: Connection) -> None:
    """Drop the triggers and functions (the tables stay)."""
    if _dialect(connection) == "sqlite":
        for name in SQLITE_TRIGGERS:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        return
    for name, table in PG_TRIGGERS + PG_OLD_TRIGGERS:
        if table.startswith("item_lookup_") and not _exists(connection, table):
            continue
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
    for name in PG_FUNCTIONS + PG_OLD_FUNCTIONS:
        connection.execute(text(f"DROP FUNCTION IF EXISTS {name}() CASCADE"))


def _exists(connection: Connection, table: str) -> bool:
    return bool(connection.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}).scalar())


def facet_counts_kept(connection: Connection) -> bool:
    """Whether the triggers keep ``item_lookup_facet_counts``: on SQLite, once the table exists.
    Not on PostgreSQL, which groups ``item_lookup_counts`` instead (the per-value counts were kept
    there by row triggers before the count changes were folded at the commit, and a bulk import's
    commit took time growing with the square of its items: see the module's docstring)."""
    return _dialect(connection) == "sqlite" and _has_table(connection, "item_lookup_facet_counts")


def text_index_kept(connection: Connection) -> bool:
    """Whether the entries have SQLite's full-text index (PostgreSQL has a trigram index instead)."""
    return _dialect(connection) == "sqlite" and _has_table(connection, TEXT_TABLE)


def _has_table(connection: Connection, table: str) -> bool:
    if _dialect(connection) == "sqlite":
        return connection.execute(text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :t"),
                                  {"t": table}).scalar_one() > 0
    return bool(_exists(connection, table))


def bump(connection: Connection) -> None:
    connection.execute(text("UPDATE item_lookup_state SET generation = generation + 1 WHERE id = 1"))


def rebuild(connection: Connection, kind_key: str | None = None) -> None:
    """Recompute the entries (all, or those of one kind) from ``items``, drop orphans, count
    them again, and invalidate cached counts. Used by the migration, after a facet field
    changes, and by ``crm item-lookup reindex``."""
    dialect = _dialect(connection)
    flush_deferred(connection)
    where = "1 = 1" if kind_key is None else f"{kind_expr('i')} = :kind"
    connection.execute(text(upsert_sql("i", "items AS i", where, dialect)), {"kind": kind_key} if kind_key else {})
    if kind_key is None:
        connection.execute(text("DELETE FROM item_lookup_entries WHERE item_id NOT IN (SELECT id FROM items)"))
        if text_index_kept(connection):   # built again from the entries, whatever it held
            connection.execute(text(f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}) VALUES ('rebuild')"))
    recount(connection)
    bump(connection)


def flush_deferred(connection: Connection) -> None:
    """PostgreSQL: run the lookup's triggers queued by this transaction now (not at commit)."""
    if _dialect(connection) != "postgresql":
        return
    names = [name for name, _table in PG_TRIGGERS]
    present = sorted(connection.execute(
        text("SELECT DISTINCT tgname FROM pg_trigger WHERE tgname IN :names").bindparams(
            bindparam("names", expanding=True)), {"names": names}).scalars())
    # the folding last, once: made immediate with the others, it would fold after each change
    for step in ([name for name in present if name != FOLDING], [name for name in present if name == FOLDING]):
        if step:
            connection.execute(text(f"SET CONSTRAINTS {', '.join(step)} IMMEDIATE"))
    if present:
        connection.execute(text(f"SET CONSTRAINTS {', '.join(present)} DEFERRED"))


def compact(engine: Engine) -> None:
    """PostgreSQL: VACUUM the lookup's tables (after a bulk import the table of count changes holds
    a dead row per imported item until then; SQLite updates in place)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        tables = ["item_lookup_counts", "item_lookup_entries"] + ([DELTAS_TABLE] if _exists(connection, DELTAS_TABLE)
                                                                   else [])
        connection.execute(text(f"VACUUM ANALYZE {', '.join(tables)}"))


def recount(connection: Connection) -> None:
    """Count the entries per group (and per facet value) from scratch (the triggers keep the counts
    from then on)."""
    flush_deferred(connection)  # changes already queued would otherwise count twice
    connection.execute(text("DELETE FROM item_lookup_counts"))
    columns = ", ".join(GROUP)
    connection.execute(text(
        f"INSERT INTO item_lookup_counts ({columns}, n) SELECT kind_key, active, in_stock, COALESCE(f1, ''), "
        f"COALESCE(f2, ''), COALESCE(f3, ''), count(*) FROM item_lookup_entries "
        f"GROUP BY kind_key, active, in_stock, COALESCE(f1, ''), COALESCE(f2, ''), COALESCE(f3, '')"))
    if facet_counts_kept(connection):
        connection.execute(text("DELETE FROM item_lookup_facet_counts"))
        for position in (1, 2, 3):
            connection.execute(text(
                f"INSERT INTO item_lookup_facet_counts ({', '.join(FACET_GROUP)}, n) "
                f"SELECT kind_key, active, {position}, COALESCE(f{position}, ''), in_stock, count(*) "
                f"FROM item_lookup_entries GROUP BY kind_key, active, COALESCE(f{position}, ''), in_stock"))
    flush_deferred(connection)
