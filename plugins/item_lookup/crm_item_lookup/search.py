"""The faceted item search: one result for products, bundles and services, with
exact facet counts where each facet's counts apply every filter except its own.

How it stays fast on 100,000+ items (figures in the README and ``bench/item_lookup.py``):

- It filters and sorts ``item_lookup_entries`` (narrow, indexed, kept in sync by
  triggers), then reads the page's items from ``items`` by id, with plain queries.
- Counts without vendor, letter or text come from the count tables kept by the triggers, in
  one statement: a UNION ALL of the total and one GROUP BY per facet, each under the other
  facets' selections. On SQLite a facet with no other selection to apply reads
  ``item_lookup_facet_counts`` (entries per kind, active, in stock and value of one facet: a few
  dozen rows); the others read ``item_lookup_counts`` (entries per kind, active, f1, f2, f3, in
  stock) narrowed by the selections. PostgreSQL reads ``item_lookup_counts`` once, with
  ``GROUPING SETS`` of the total and each facet.
- With a vendor or a letter the counts are one statement over the entries they narrow down to
  (the vendor's from its covering index): the total and one GROUP BY per facet.
- A text search matching up to ``SMALL_SET`` entries is read once and counted, sorted and paged
  in Python (its ordered ids are cached like counts); a larger one is grouped once into a *cube*
  (entries per kind, f1, f2, f3) that every facet's counts are summed from.
- Counts are cached per app, keyed by ``item_lookup_state.generation``, which the
  triggers raise in the writing transaction whenever a count could change: a cached
  count is never stale.
- Text: every word must occur in the lower-cased name, SKU or description, literally
  (``%``, ``_``, ``\\`` and quotes are plain characters). PostgreSQL answers it from a
  pg_trgm GIN index (``LIKE``, pattern escaped). SQLite reads the ids of the entries holding
  every word of three or more characters from its FTS5 trigram index ``item_lookup_text`` (each
  word a quoted phrase, case folded); a word of one or two characters is tested with ``instr()``
  on the entries the others left (on every entry when there are no others).
- The page's items are read with three prebuilt statements, as tuples.
- With a price book, the page's prices are read from the book's primary key (the items it lists
  take its price: the core's ``documents.default_price``); sorted by price, the page merges two
  reads each cut at the page's end: the book's entries by their list price, and the first
  entries by unit price less those the book lists. Without a price book nothing of this runs.
"""
from __future__ import annotations

import functools
import heapq
import threading
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from cachetools import LRUCache
from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import (
    and_,
    bindparam,
    case,
    column,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import BindParameter, ColumnElement, UnaryExpression
from sqlalchemy.sql.selectable import ScalarSelect, Select

from crm.context import current_actor
from crm.errors import ValidationError
from crm.models import BundleComponent, Item, PriceBookEntry, StockBalance, Tax, Vendor, item_taxes
from crm.money import MONEY_MIN_PLACES, ZERO, decimal_text, whole_times
from crm.services import documents, stock
from crm.services.items import LOAD
from crm_item_lookup import settings as lookup_settings, sync
from crm_item_lookup.models import FACET_VALUE_LENGTH, Count, Entry, FacetCount, State

ALL_KINDS = ("bundle", "product", "service")
POSITIONS = (1, 2, 3)
SORTS = ("name", "sku", "unit_price", "available", "kind")
LETTERS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + ("#",)
MAX_PER_PAGE = 200
#: the most values listed per facet (the most frequent; counts stay exact)
MAX_FACET_VALUES = 200
#: a cube with more rows than this is not used: one query per facet instead
CUBE_LIMIT = 20_000
#: cubes kept per app
CACHE_SIZE = 64
MAX_TERMS = 8
#: a text search matching at most this many entries is counted and paged in Python from one read
SMALL_SET = 10_000
#: the shortest word SQLite's trigram index can find (shorter ones are only tested on the entries)
TRIGRAM = 3
#: SQLite's full-text index (a virtual table: no model), as far as a query needs it
TEXT_INDEX = table(sync.TEXT_TABLE, column("rowid"), column(sync.TEXT_TABLE))

#: the kinds of entry a request covers (:func:`kinds_for`)
Kinds = tuple[str, ...]
#: entries per kind and values of the facets: ``[(kind, (value of each facet), count)]``
Cube = list[tuple[str, tuple, int]]
#: the total, and each facet's counts per value
FacetCounts = tuple[int, dict[str, Counter[str]]]


@dataclass
class Query:
    """What the picker asks for; every field has the API's meaning (see ``api.SearchArgs``)."""

    kind: str | None = None
    q: str = ""
    facets: dict[int, list[str]] = field(default_factory=dict)   # position -> selected values (OR)
    vendor_id: int | None = None
    in_stock: bool = False
    include_inactive: bool = False
    bundles_only: bool = False
    letter: str | None = None
    sort: str = "name"
    page: int = 1
    per_page: int = 50
    with_facets: bool = True
    #: the price book whose prices the items are shown with (and sorted by, by price)
    price_book_id: int | None = None
    #: the kind of document the prices are for (a purchase order takes the purchase cost)
    doc_type: str = "quote"
    #: the stock location (a warehouse's) whose stock the in-stock filter, the availability shown
    #: and sorting by it follow; None: the totals
    location_id: int | None = None

    @property
    def stock_here(self) -> bool:
        """Whether the in-stock filter reads one location's balances (not the entries' own flag,
        nor the cached counts, which follow the totals)."""
        return self.in_stock and self.location_id is not None

    @property
    def by_book_price(self) -> bool:
        return self.price_book_id is not None and self.sort.lstrip("-") == "unit_price"


@dataclass
class FacetField:
    position: int
    field: str
    label: str
    kinds: tuple[str, ...]    # the kinds of the result whose entries carry this field at this position
    selected: list[str]


@dataclass
class Result:
    items: list[dict]          # ready for JSON (see page_rows)
    total: int | None
    page: int
    per_page: int
    facets: dict[str, dict[str, int]]
    fields: list[FacetField]
    settings: lookup_settings.Snapshot


# --- the request, resolved ---------------------------------------------------------------------------

def kinds_for(kind: str | None, bundles_only: bool) -> tuple[str, ...]:
    """The entry kinds a request covers: ``product`` includes bundles (a bundle is a product)."""
    if bundles_only:
        return ("bundle",) if kind in (None, "product", "bundle") else ()
    return {None: ALL_KINDS, "product": ("bundle", "product"), "bundle": ("bundle",),
            "service": ("service",)}[kind]


def facet_fields(query: Query, kinds: tuple[str, ...], snap: lookup_settings.Snapshot) -> list[FacetField]:
    """The facets of a request: the fields of its kind (without a kind, of the default kind),
    each with the kinds of the result that have that field at that position."""
    config = snap.facets
    primary = "bundle" if query.bundles_only else (query.kind or snap.default_kind)
    result = []
    for position in POSITIONS:
        name = config[primary][position - 1]
        if name is None:
            continue
        sharing = tuple(k for k in kinds if config[k][position - 1] == name)
        selected = [v[:FACET_VALUE_LENGTH] for v in query.facets.get(position, []) if v]
        result.append(FacetField(position, name, snap.label(name), sharing, selected))
    return result


def config_for(session: Session, stamp: int) -> lookup_settings.Snapshot:
    """The settings, read once per generation."""
    cache = cache_for_app()
    if cache is None:
        return lookup_settings.snapshot(session)
    snap = cache.settings.get(stamp)
    if snap is None:
        snap = lookup_settings.snapshot(session)
        cache.settings = {stamp: snap}
    return snap


# --- SQL -----------------------------------------------------------------------------------------

class _Columns:
    """The entry columns as the WHERE clause should use them. SQLite plans without statistics,
    so it is told which index not to use (``+column`` hides a term from the index chooser):
    with a text search the ids from the full-text index lead (or, with words too short for it,
    a scan of the narrow table), not an index of another filter whose every row would be looked
    up to test the text; with a vendor it uses the vendor index rather than walking every entry
    of the kind."""

    def __init__(self, hide: frozenset = frozenset()):
        self._table = Entry.__table__
        self._hide = hide

    def __getattr__(self, name: str) -> ColumnElement:
        column = self._table.c[name]
        if name in self._hide or "*" in self._hide:
            return literal_column(f"+{Entry.__tablename__}.{name}", type_=column.type)
        return column


def _hidden(session: Session, query: Query) -> frozenset:
    if session.get_bind().dialect.name != "sqlite":
        return frozenset()
    if query.q.strip():
        return frozenset({"*"})
    if query.vendor_id is not None:
        return frozenset({"kind_key", "active", "name_key", "f1", "f2", "f3"})
    return frozenset()


def _term_conditions(session: Session, q: str) -> list:
    terms = [t for t in q.split() if t][:MAX_TERMS]
    if not terms:
        return []
    c = Entry.__table__.c
    if session.get_bind().dialect.name == "sqlite":
        # the full-text index finds the entries holding each word of three or more characters as a
        # substring, case folded like PostgreSQL's lower() ("JARDÍN" finds "jardín"; SQLite's own
        # lower() folds A-Z only); a shorter word is tested with instr() on every entry
        search = literal_column(f"+{Entry.__tablename__}.search", type_=c.search.type)
        conditions = [func.instr(search, func.lower(term)) > 0 for term in terms if len(term) < TRIGRAM]
        indexed = [term for term in terms if len(term) >= TRIGRAM]
        if indexed:
            phrases = " ".join('"' + term.replace('"', '""') + '"' for term in indexed)
            matching = select(TEXT_INDEX.c.rowid).where(TEXT_INDEX.c[sync.TEXT_TABLE].op("MATCH")(phrases))
            conditions.insert(0, c.item_id.in_(matching))
        return conditions
    return [c.search.like(func.lower("%" + _escape_like(term) + "%"), escape="\\") for term in terms]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def base_conditions(session: Session, query: Query, kinds: tuple[str, ...]) -> list:
    """Every filter that is not a facet selection."""
    e = _Columns(_hidden(session, query))
    conditions: list[ColumnElement[bool]] = []
    if not kinds:
        return [false()]
    if set(kinds) != set(ALL_KINDS):
        conditions.append(e.kind_key.in_(kinds))
    if not query.include_inactive:
        conditions.append(e.active == true())
    if query.vendor_id is not None:
        conditions.append(e.vendor_id == query.vendor_id)
    if query.in_stock and query.location_id is not None:   # the location's balances (the core's)
        here = e.item_id.in_(stock.in_stock_at(query.location_id))
        conditions.append(or_(here, e.kind_key == "service") if "service" in kinds else here)
    elif query.in_stock:  # products: available > 0; bundles: every component available (kept by triggers)
        if "service" in kinds:
            conditions.append(or_(e.in_stock == true(), e.kind_key == "service"))  # a service never runs out
        else:
            conditions.append(e.in_stock == true())
    if query.letter:
        name = e.name_key
        if query.letter == "#":
            conditions.append(not_(and_(name >= "a", name < "{")))
        else:
            low = query.letter.lower()
            conditions.append(and_(name >= low, name < chr(ord(low) + 1)))
    conditions.extend(_term_conditions(session, query.q))
    return conditions


def selection_condition(facet: FacetField, kinds: Kinds,
                        columns: _Columns | _Unindexed | None = None) -> ColumnElement[bool]:
    e = columns if columns is not None else Entry.__table__.c
    condition = getattr(e, f"f{facet.position}").in_(facet.selected)
    if set(facet.kinds) != set(kinds):
        condition = and_(e.kind_key.in_(facet.kinds), condition)
    return condition


#: a product's stock balance at the location asked (outer-joined when sorting by what is available there)
HERE = StockBalance.__table__.alias("here")


def _available_column(location_id: int | None) -> ColumnElement:
    """What ``sort=available`` sorts by: the entry's (the totals; NULL for bundles and services), or
    with a location, what is available there (outer-joined :data:`HERE`: 0 where a product has no
    balance; NULL for bundles and services, as without one)."""
    c = Entry.__table__.c
    if location_id is None:
        return c.available
    return case((c.kind_key == "product", func.coalesce(HERE.c.on_hand - HERE.c.reserved, 0)), else_=None)


def _with_here(stmt: Select, sort: str, location_id: int | None) -> Select:
    """``stmt`` over the entries, outer-joined to their balance at ``location_id`` when sorted by
    what is available there."""
    if location_id is None or sort.lstrip("-") != "available":
        return stmt
    c = Entry.__table__.c
    return stmt.select_from(Entry.__table__.outerjoin(
        HERE, and_(HERE.c.product_id == c.item_id, HERE.c.location_id == location_id)))


def _order(sort: str, location_id: int | None = None) -> list:
    c = Entry.__table__.c
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    column = {"name": c.name_key, "sku": c.sku, "unit_price": c.unit_price, "available": _available_column(location_id),
              "kind": c.kind_key}[name]
    first = column.desc() if descending else column.asc()
    if name in ("sku", "available"):
        first = first.nulls_last()
    then = [c.name_key.desc() if descending else c.name_key.asc()] if name not in ("name",) else []
    return [first, *then, c.item_id.desc() if descending else c.item_id.asc()]


# --- counting ------------------------------------------------------------------------------------

class CubeCache:
    """Cubes of one app, least recently used dropped first (cachetools' ``LRUCache``, which is
    not thread-safe on its own: a lock guards it); counts its hits and misses."""

    def __init__(self, size: int = CACHE_SIZE):
        self.settings: dict = {}   # generation -> settings snapshot
        self._data: LRUCache = LRUCache(maxsize=size)
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self.hits += 1
            else:
                self.misses += 1
            return value

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._data[key] = value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.settings = {}


def cache_for_app() -> CubeCache | None:
    if not has_app_context() or current_app.config.get("ITEM_LOOKUP_CACHE") is False:
        return None
    return current_app.extensions.setdefault("item_lookup.cubes", CubeCache())


def generation(session: Session) -> int:
    return session.scalar(select(State.generation).where(State.id == 1)) or 0


def _cube(session: Session, conditions: list, positions: tuple[int, ...], *, narrowed: bool = False) -> Cube | None:
    """[(kind, (f_p for p in positions), count)], or None when it would have more than CUBE_LIMIT rows.
    ``narrowed``: the conditions select few entries through an index (vendor, letter, text); on
    SQLite the grouping is then hidden from the index chooser, which would otherwise walk the
    facets index for its order."""
    c = Entry.__table__.c
    values = [c[f"f{p}"] for p in positions]
    hide = narrowed and session.get_bind().dialect.name == "sqlite"
    group = [c.kind_key, c.active, *[c[f"f{p}"] for p in range(1, (max(positions) if positions else 0) + 1)]]
    if hide:
        group = [literal_column(f"+{Entry.__tablename__}.{col.name}") for col in group]
    # otherwise grouped like the facets index is ordered, so that the database needs no sort
    stmt = (select(c.kind_key, *values, func.count()).where(*conditions).group_by(*group)
            .limit(CUBE_LIMIT + 1))
    rows = session.execute(stmt).all()
    if len(rows) > CUBE_LIMIT:
        return None
    return [(row[0], tuple(row[1:-1]), row[-1]) for row in rows]


def _cube_key(query: Query, kinds: Kinds, facets: list[FacetField]) -> tuple:
    return (kinds, query.include_inactive, query.vendor_id, query.in_stock, query.location_id, query.letter,
            " ".join(query.q.split()[:MAX_TERMS]),
            tuple((f.position, f.field, f.kinds) for f in facets))


def count_from_cube(cube: Cube, facets: list[FacetField]) -> FacetCounts:
    """The total under every selection, and each facet's counts under the others' selections."""
    total = 0
    counts: dict[str, Counter[str]] = {f.field: Counter() for f in facets}
    selections = [set(f.selected) for f in facets]
    shares = [set(f.kinds) for f in facets]
    for kind, values, n in cube:
        own = [v if kind in shares[i] else None for i, v in enumerate(values)]
        matches = [not selections[i] or own[i] in selections[i] for i in range(len(facets))]
        misses = matches.count(False)
        if misses == 0:
            total += n
        if misses > 1:
            continue
        for i, facet in enumerate(facets):
            value = own[i]
            if value is not None and (misses == 0 or not matches[i]):
                counts[facet.field][value] += n
    return total, counts


def _count_per_facet(session: Session, conditions: list, facets: list[FacetField], kinds: Kinds) -> FacetCounts:
    """The slow path, for facets with very many values: one COUNT and one GROUP BY per facet."""
    selected = {f.position: selection_condition(f, kinds) for f in facets if f.selected}
    total = session.scalar(select(func.count()).select_from(Entry).where(*conditions, *selected.values())) or 0
    counts: dict[str, Counter[str]] = {}
    c = Entry.__table__.c
    for facet in facets:
        column = c[f"f{facet.position}"]
        others = [cond for pos, cond in selected.items() if pos != facet.position]
        stmt = (select(column, func.count()).where(*conditions, *others, column.is_not(None),
                                                   c.kind_key.in_(facet.kinds))
                .group_by(column).order_by(func.count().desc(), column).limit(MAX_FACET_VALUES))
        counts[facet.field] = Counter(dict(session.execute(stmt).all()))
    return total, counts


def _listed(counts: Counter[str], selected: list[str]) -> dict[str, int]:
    """The values with matches (the most frequent if there are very many; selected ones kept),
    in alphabetical order."""
    kept = dict(counts.most_common(MAX_FACET_VALUES)) if len(counts) > MAX_FACET_VALUES else dict(counts)
    for value in selected:
        if counts.get(value):
            kept[value] = counts[value]
    return {value: kept[value] for value in sorted(kept, key=lambda v: (v.casefold(), v)) if kept[value] > 0}


def _listed_facets(found: dict[str, Counter[str]], facets: list[FacetField]) -> dict[str, dict[str, int]]:
    return {f.field: _listed(found[f.field], f.selected) for f in facets}


def _from_counts(query: Query) -> bool:
    return query.vendor_id is None and not query.letter and not query.q.strip() and not query.stock_here


def _selection_key(facets: list[FacetField]) -> tuple:
    return tuple((f.position, tuple(sorted(f.selected))) for f in facets)


def _from_count_table(session: Session, query: Query, kinds: Kinds, facets: list[FacetField]) -> FacetCounts:
    """(total, {field: Counter}) from the count tables, in one statement: a UNION ALL of the total
    and one GROUP BY per facet, each under the other facets' selections. On SQLite a part without
    any selection to apply reads ``item_lookup_facet_counts`` (a few dozen rows per kind); the
    others read ``item_lookup_counts`` (a few thousand rows, narrowed by the selections).
    PostgreSQL (no ``item_lookup_facet_counts`` there) reads ``item_lookup_counts`` once: see
    :func:`_grouping_sets`."""
    def base(t: ReadOnlyColumnCollection) -> list[ColumnElement[bool]]:
        conditions = [t.kind_key.in_(kinds), t.n > 0]
        if not query.include_inactive:
            conditions.append(t.active == true())
        if query.in_stock:
            conditions.append(or_(t.in_stock == true(), t.kind_key == "service") if "service" in kinds
                              else t.in_stock == true())
        return conditions

    t, m = Count.__table__.c, FacetCount.__table__.c
    if session.get_bind().dialect.name != "sqlite":   # per-value counts are kept on SQLite only (sync)
        return _grouping_sets(session, query, kinds, facets, base(t))
    chosen = _selections(t, facets, kinds)
    if chosen:
        parts = [select(literal(0).label("facet"), literal("").label("value"), func.sum(t.n).label("n"))
                 .where(*base(t), *chosen.values())]
    else:  # every entry has one row (maybe '') at position 1
        parts = [select(literal(0).label("facet"), literal("").label("value"), func.sum(m.n).label("n"))
                 .where(*base(m), m.position == 1)]
    for index, f in enumerate(facets, 1):
        others = [c for p, c in chosen.items() if p != f.position]
        if others:
            column = t[f"f{f.position}"]
            parts.append(select(literal(index), column, func.sum(t.n))
                         .where(*base(t), *others, column != "", t.kind_key.in_(f.kinds)).group_by(column))
        else:
            parts.append(select(literal(index), m.value, func.sum(m.n))
                         .where(*base(m), m.position == f.position, m.value != "", m.kind_key.in_(f.kinds))
                         .group_by(m.value))
    return _read_parts(session, parts, facets)


def _no_counts(facets: list[FacetField]) -> dict[str, Counter[str]]:
    return {f.field: Counter() for f in facets}


def _read_parts(session: Session, parts: list, facets: list[FacetField]) -> FacetCounts:
    """(total, {field: Counter}) from the UNION ALL of ``parts``: rows (0, '', total) and
    (facet's index from 1, value, count)."""
    total, found = 0, _no_counts(facets)
    for facet, value, n in session.execute(union_all(*parts)):
        if facet == 0:
            total = int(n or 0)
        else:
            found[facets[facet - 1].field][value] += int(n)
    return total, found


def _selections(t: ReadOnlyColumnCollection, facets: list[FacetField], kinds: Kinds) -> dict[int, ColumnElement[bool]]:
    """{facet position: its selection's condition on the counts table ``t``}, a facet that only
    some of the kinds have applying to those kinds only."""
    chosen: dict[int, ColumnElement[bool]] = {}
    for f in facets:
        if f.selected:
            condition = t[f"f{f.position}"].in_(f.selected)
            chosen[f.position] = (and_(t.kind_key.in_(f.kinds), condition) if set(f.kinds) != set(kinds)
                                  else condition)
    return chosen


def _grouping_sets(session: Session, query: Query, kinds: Kinds, facets: list[FacetField], base: list) -> FacetCounts:
    """PostgreSQL: the same counts from ``item_lookup_counts`` in one pass, ``GROUPING SETS`` of
    the total and each facet, each with its own ``FILTER`` (the other facets' selections)."""
    t = Count.__table__.c
    chosen = _selections(t, facets, kinds)
    columns = [t[f"f{f.position}"] for f in facets]
    sums = [func.sum(t.n).filter(and_(true(), *chosen.values()))]
    for f in facets:
        column = t[f"f{f.position}"]
        others = [c for p, c in chosen.items() if p != f.position]
        sums.append(func.sum(t.n).filter(and_(column != "", t.kind_key.in_(f.kinds), *others)))
    sets = func.grouping_sets(literal_column("()"), *columns)
    stmt = (select(*[func.grouping(c) for c in columns], *columns, *sums).where(*base).group_by(sets))
    total, found = 0, _no_counts(facets)
    k = len(facets)
    for row in session.execute(stmt):
        grouped = [i for i in range(k) if row[i] == 0]   # GROUPING() is 0 for the set's own column
        if not grouped:
            total = int(row[2 * k] or 0)
        else:
            i = grouped[0]
            n = row[2 * k + 1 + i]
            if n:
                found[facets[i].field][row[k + i]] += int(n)
    return total, found


def _from_entries(session: Session, query: Query, kinds: Kinds, facets: list[FacetField],
                  conditions: list) -> FacetCounts:
    """(total, {field: Counter}) straight from the entries a vendor or a letter narrows down to, in
    one statement: the total and one GROUP BY per facet under the other facets' selections (each
    the facet's most frequent values and its selected ones). On SQLite the grouping is hidden from
    the index chooser, which would otherwise walk the facets index for its order."""
    c = Entry.__table__.c
    hide = session.get_bind().dialect.name == "sqlite"
    e = _Columns(_hidden(session, query))
    chosen = {f.position: selection_condition(f, kinds, e) for f in facets if f.selected}
    parts = [select(literal(0).label("facet"), literal("").label("value"), func.count().label("n"))
             .where(*conditions, *chosen.values())]
    for index, f in enumerate(facets, 1):
        column = c[f"f{f.position}"]
        others = [cond for p, cond in chosen.items() if p != f.position]
        group = literal_column(f"+{Entry.__tablename__}.{column.name}") if hide else column
        first = [case((column.in_(f.selected), 0), else_=1)] if f.selected else []
        own_kind = [e.kind_key.in_(f.kinds)] if set(f.kinds) != set(kinds) else []
        counted = (select(literal(index).label("facet"), column.label("value"), func.count().label("n"))
                   .where(*conditions, *others, column.is_not(None), *own_kind)
                   .group_by(group).order_by(*first, func.count().desc(), column)
                   .limit(MAX_FACET_VALUES + len(f.selected)).subquery())
        parts.append(select(counted.c.facet, counted.c.value, counted.c.n))
    return _read_parts(session, parts, facets)


def counts(session: Session, query: Query, kinds: Kinds, facets: list[FacetField], conditions: list,
           stamp: int) -> tuple[int, dict[str, dict[str, int]]]:
    """(total, {field: {value: count}}) for the request; ``stamp``: the generation read before.
    In stock at a location: never cached (a location's stock changes without raising it)."""
    cache = cache_for_app() if not query.stock_here else None
    if kinds and (_from_counts(query) or not query.q.strip()):
        key: tuple = (stamp, "table" if _from_counts(query) else "entries", _cube_key(query, kinds, facets),
               _selection_key(facets))
        answer = cache.get(key) if cache is not None else None
        if answer is None:
            answer = (_from_count_table(session, query, kinds, facets) if _from_counts(query)
                      else _from_entries(session, query, kinds, facets, conditions))
            if cache is not None:
                cache.put(key, answer)
        total, found = answer
        return total, _listed_facets(found, facets)
    key = (stamp, "cube", _cube_key(query, kinds, facets))
    cube = cache.get(key) if cache is not None else None
    if cube is None:
        cube = _cube(session, conditions, tuple(f.position for f in facets), narrowed=True)
        if cube is None:
            total, found = _count_per_facet(session, conditions, facets, kinds)
            return total, _listed_facets(found, facets)
        if cache is not None:
            cache.put(key, cube)
    total, found = count_from_cube(cube, facets)
    return total, _listed_facets(found, facets)


# --- the search ----------------------------------------------------------------------------------

def search(session: Session, query: Query) -> Result:
    """One page of items matching ``query``, with the total and the facet counts; refuses an
    unknown or inactive price book (``price_book_id``)."""
    if query.price_book_id is not None:
        documents.usable_price_book(session, query.price_book_id)
    if query.location_id is not None:
        check_location(session, query.location_id)
    stamp = generation(session)  # read before anything is counted: cached counts are never older
    snap = config_for(session, stamp)
    kinds = kinds_for(query.kind, query.bundles_only)
    facets = facet_fields(query, kinds, snap)
    conditions = base_conditions(session, query, kinds)
    selections = [selection_condition(f, kinds, _Columns(_hidden(session, query))) for f in facets if f.selected]
    total, facet_counts, page_ids = None, {}, None
    if query.q.strip() and kinds:
        # a text search's matches in order, with its counts, are cached like counts (every change
        # of what they depend on raises the generation), except sorted by available or by a price
        # book's prices: the stock and the price books change without raising it
        cache = (cache_for_app() if query.sort.lstrip("-") != "available" and not query.by_book_price
                 and not query.stock_here else None)
        key = (stamp, "text", _cube_key(query, kinds, facets), _selection_key(facets), query.sort)
        found = cache.get(key) if cache is not None else None
        if found is None:
            found = _few_matches(session, query, kinds, facets, conditions)
            if found is not None and cache is not None:
                cache.put(key, found)
        if found is not None:
            total, facet_counts, ordered = found
            start = (query.page - 1) * query.per_page
            page_ids = list(ordered[start:start + query.per_page])
            if not query.with_facets:
                total, facet_counts = None, {}
    if page_ids is None:
        if query.with_facets:
            total, facet_counts = counts(session, query, kinds, facets, conditions, stamp)
        page_ids = page(session, conditions + selections, query.sort, query.per_page,
                        (query.page - 1) * query.per_page, price_book_id=query.price_book_id,
                        location_id=query.location_id)
    return Result(items=page_rows(session, page_ids, facets, snap, doc_type=query.doc_type,
                                  price_book_id=query.price_book_id, location_id=query.location_id),
                  total=total, page=query.page,
                  per_page=query.per_page, facets=facet_counts, fields=facets, settings=snap)


def _few_matches(session: Session, query: Query, kinds: Kinds, facets: list[FacetField],
                 conditions: list) -> tuple[int, dict[str, dict[str, int]], tuple[int, ...]] | None:
    """A text search read once: (total, facets, every matching id in order), or None when it matches
    more than SMALL_SET entries (then the SQL path counts and pages)."""
    c = Entry.__table__.c
    sort_column: ColumnElement = {"name": c.name_key, "sku": c.sku, "unit_price": c.unit_price,
                                  "available": _available_column(query.location_id),
                                  "kind": c.kind_key}[query.sort.lstrip("-")]
    if query.price_book_id is not None and query.by_book_price:
        sort_column = func.coalesce(_book_price(query.price_book_id), c.unit_price)
    stmt = _with_here(select(c.item_id, c.kind_key, c.name_key, sort_column, c.f1, c.f2, c.f3)
                      .where(*conditions, *_relevant(session, facets, kinds)).limit(SMALL_SET + 1),
                      query.sort, query.location_id)
    rows = session.execute(stmt).all()
    if len(rows) > SMALL_SET:
        return None
    shares = [set(f.kinds) for f in facets]
    selections = [set(f.selected) for f in facets]
    if not any(selections):  # every row is in the result and counts in every facet its kind has
        total = len(rows)
        found = {f.field: Counter(row[3 + f.position] for row in rows
                                  if row[3 + f.position] is not None and row[1] in shares[i])
                 for i, f in enumerate(facets)}
        kept = [(row[3], row[2], row[0]) for row in rows]
    else:
        cube: Counter = Counter()
        kept = []
        for item_id, kind, name_key, sort_value, *values in rows:
            own = tuple(values[f.position - 1] for f in facets)
            cube[(kind, own)] += 1
            if all(not selections[i] or (kind in shares[i] and own[i] in selections[i])
                   for i in range(len(facets))):
                kept.append((sort_value, name_key, item_id))
        total, found = count_from_cube([(k, v, n) for (k, v), n in cube.items()], facets)
    listed = _listed_facets(found, facets)
    return total, listed, tuple(item_id for _, _, item_id in _sorted(kept, query.sort))


class _Unindexed:
    """Entry columns the PostgreSQL planner cannot match to an index (``COALESCE(column, '')``: the
    same test, as a selected value is never empty): a text search narrows through the trigram
    index and tests the facet selections on those rows only, rather than AND-ing bitmaps of the
    facets index (walking every entry of the kind when a selection is not on its first column)."""

    def __getattr__(self, name: str) -> ColumnElement:
        return func.coalesce(Entry.__table__.c[name], "")


def _relevant(session: Session, facets: list[FacetField], kinds: Kinds) -> list:
    """Only entries that miss at most one facet selection count anywhere (a facet's counts apply
    every other selection): with two or three selections, that leaves the others out early."""
    columns = _Unindexed() if session.get_bind().dialect.name == "postgresql" else _Columns(frozenset({"*"}))
    chosen = [selection_condition(f, kinds, columns) for f in facets if f.selected]
    if len(chosen) < 2:
        return []
    return [or_(*[and_(*[c for j, c in enumerate(chosen) if j != i]) for i in range(len(chosen))])]


def _sorted(rows: list[tuple], sort: str) -> list[tuple]:
    """(value, name_key, item_id) rows in the order of :func:`_order` (empty values last)."""
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "name":
        return sorted(rows, key=lambda r: (r[1], r[2]), reverse=descending)
    present = sorted((r for r in rows if r[0] is not None), key=lambda r: (r[0], r[1], r[2]), reverse=descending)
    missing = sorted((r for r in rows if r[0] is None), key=lambda r: (r[1], r[2]), reverse=descending)
    return present + missing


def page(session: Session, conditions: list, sort: str, limit: int, offset: int = 0, *,
         price_book_id: int | None = None, location_id: int | None = None) -> list[int]:
    """The ids of one page; sorted by price with a price book, by the price shown (see
    :func:`_page_by_book_price`); sorted by available with a location, by what is available there."""
    if price_book_id is not None and sort.lstrip("-") == "unit_price":
        return _page_by_book_price(session, conditions, sort, limit, offset, price_book_id)
    c = Entry.__table__.c
    stmt = _with_here(select(c.item_id).where(*conditions), sort, location_id)
    stmt = stmt.order_by(*_order(sort, location_id)).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def _book_price(price_book_id: int) -> ScalarSelect:
    """The entry's list price in the price book (NULL when the book does not list it): one probe of
    the book's primary key."""
    p, c = PriceBookEntry.__table__.c, Entry.__table__.c
    return (select(p.list_price).where(p.price_book_id == price_book_id, p.item_id == c.item_id)
            .scalar_subquery())


def _page_by_book_price(session: Session, conditions: list, sort: str, limit: int, offset: int,
                        price_book_id: int) -> list[int]:
    """A page sorted by the price shown with a price book: the book's list price for the items it
    lists, the unit price for the others. Rather than sorting every entry by a computed price, two
    reads, each ordered and cut at the page's end, are merged: the entries the book lists (read
    from the book's primary key), and the others: the first entries by unit price, as the search
    reads them without a book, less those the book lists (probed in its primary key; read further
    in the rare case the book holds too many of them)."""
    c, p = Entry.__table__.c, PriceBookEntry.__table__.c
    descending = sort.startswith("-")

    def ordered(price: ColumnElement) -> list[UnaryExpression]:
        return [key.desc() if descending else key.asc() for key in (price, c.name_key, c.item_id)]

    end = offset + limit
    listed = (select(p.list_price, c.name_key, c.item_id).select_from(PriceBookEntry.__table__)
              .join(Entry.__table__, and_(p.price_book_id == price_book_id, p.item_id == c.item_id))
              .where(*conditions).order_by(*ordered(p.list_price)).limit(end))
    others: list[tuple] = []
    want = 2 * end
    while True:
        first = session.execute(select(c.unit_price, c.name_key, c.item_id).where(*conditions)
                                .order_by(*ordered(c.unit_price)).limit(want)).all()
        in_book = documents.price_book_prices(session, price_book_id, [row[2] for row in first])
        others = [tuple(row) for row in first if row[2] not in in_book]
        if len(others) >= end or len(first) < want:
            break
        want *= 4
    rows = heapq.merge([tuple(row) for row in session.execute(listed)], others[:end], reverse=descending)
    return [item_id for _, _, item_id in list(rows)[offset:end]]


def load_items(session: Session, ids: list[int]) -> list[Item]:
    if not ids:
        return []
    found = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(ids)).options(*LOAD))}
    return [found[i] for i in ids if i in found]


@functools.cache
def _page_statements() -> tuple[Select, Select, Select]:
    """The three statements of :func:`page_rows`, built once (with expanding id lists): their cache
    keys are computed once, not per request."""
    i, vendor, bc = Item.__table__.c, Vendor.__table__.c, BundleComponent.__table__.c
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    items = (select(i.id, i.kind, i.is_bundle, i.name, i.sku, i.unit_price, i.purchase_cost, i.usage_unit,
                    i.category, i.subcategory, i.manufacturer, i.vendor_id, i.active, i.on_hand, i.reserved,
                    i.custom, vendor.name)
             .select_from(Item.__table__.outerjoin(Vendor.__table__, vendor.id == i.vendor_id)).where(i.id.in_(ids)))
    taxes = (select(item_taxes.c.item_id, Tax.id, Tax.name, Tax.rate).join(Tax, Tax.id == item_taxes.c.tax_id)
             .where(item_taxes.c.item_id.in_(ids), Tax.active.is_(True)).order_by(item_taxes.c.item_id, Tax.id))
    component = Item.__table__.alias("component")
    bundles = (select(bc.bundle_id, bc.quantity, component.c.on_hand, component.c.reserved)
               .join(component, component.c.id == bc.component_id).where(bc.bundle_id.in_(ids)))
    return items, taxes, bundles


class _Priced(NamedTuple):
    """What the core's ``documents.default_price`` reads of an item."""

    id: int
    unit_price: Decimal
    purchase_cost: Decimal


def page_rows(session: Session, ids: list[int], facets: list[FacetField], snap: lookup_settings.Snapshot, *,
              doc_type: str = "quote", price_book_id: int | None = None,
              location_id: int | None = None) -> list[dict]:
    """The page's items as JSON-ready dicts (money and quantities as decimal strings), read with
    three plain queries (rows as tuples): items with their vendor's name, their active taxes,
    bundles' components; with a price book, a fourth: the book's prices of the page's items.
    ``price`` is what a new line of the item on a ``doc_type`` takes (the core's rule).
    With a location, ``available`` is what is available there (the core's
    ``stock.available(..., location_id=)``)."""
    if not ids:
        return []
    items_sql, taxes_sql, bundles_sql = _page_statements()
    items = {row[0]: row for row in session.execute(items_sql, {"ids": ids}).all()}
    book = documents.price_book_prices(session, price_book_id, ids)
    taxes: dict[int, list] = {}
    rates: dict = {}
    for item_id, tax_id, name, rate in session.execute(taxes_sql, {"ids": ids}).all():
        if rate not in rates:
            rates[rate] = decimal_text(rate)
        taxes.setdefault(item_id, []).append({"id": tax_id, "name": name, "rate": rates[rate]})
    bundle_ids = [row[0] for row in items.values() if row[1] == "product" and row[2]]
    bundles: dict[int, Decimal] = {}
    if bundle_ids:
        for bundle_id, per_bundle, on_hand, reserved in session.execute(bundles_sql, {"ids": bundle_ids}).all():
            whole = whole_times(on_hand - reserved, per_bundle)
            bundles[bundle_id] = min(bundles.get(bundle_id, whole), whole)
    here: dict[int, Decimal] = {}
    if location_id is not None:
        here = stock.available(session, [row[0] for row in items.values() if row[1] == "product"],
                               location_id=location_id)
    picture_key = _picture_key(snap)
    wanted = [(f.field, f.field[len(lookup_settings.CUSTOM_PREFIX):] if f.field.startswith(
        lookup_settings.CUSTOM_PREFIX) else None, BUILTIN_COLUMNS.get(f.field)) for f in facets]
    result = []
    for item_id in ids:
        row = items.get(item_id)
        if row is None:
            continue
        (_, item_kind, is_bundle, name, sku, unit_price, purchase_cost, usage_unit, category, subcategory,
         manufacturer, vendor_id, active, on_hand, reserved, custom, vendor_name) = row
        kind = "service" if item_kind == "service" else ("bundle" if is_bundle else "product")
        if location_id is not None and kind != "service":
            available = decimal_text(here.get(item_id, ZERO))
        elif kind == "product":
            available = decimal_text(on_hand - reserved)
        elif kind == "bundle":
            available = decimal_text(bundles.get(item_id, ZERO))
        else:
            available = None
        custom = custom or {}
        fields = {}
        for field_name, custom_key, builtin in wanted:
            if custom_key is not None:
                value = custom.get(custom_key)
                fields[field_name] = None if value is None else str(value)
            else:
                fields[field_name] = (row[builtin] if builtin is not None else None) or None
        own_taxes = taxes.get(item_id, [])
        price = documents.default_price(doc_type, _Priced(item_id, unit_price, purchase_cost), book)
        result.append({
            "id": item_id, "kind": kind, "name": name, "sku": sku,
            "unit_price": decimal_text(unit_price, MONEY_MIN_PLACES),
            "purchase_cost": decimal_text(purchase_cost, MONEY_MIN_PLACES), "price": decimal_text(price, MONEY_MIN_PLACES),
            "list_price": decimal_text(book[item_id], MONEY_MIN_PLACES) if item_id in book else None,
            "usage_unit": usage_unit, "category": category, "subcategory": subcategory,
            "manufacturer": manufacturer, "fields": fields, "vendor_id": vendor_id, "vendor_name": vendor_name,
            "available": available, "active": active, "tax_ids": [t["id"] for t in own_taxes], "taxes": own_taxes,
            "picture": _picture(custom, picture_key),
        })
    return result


#: the position of each built-in facet field in a row of page_rows' items statement
BUILTIN_COLUMNS = {"usage_unit": 7, "category": 8, "subcategory": 9, "manufacturer": 10}


def _picture_key(snap: lookup_settings.Snapshot) -> str | None:
    key = snap.values.get("picture_field")
    if not snap.values.get("show_picture") or not key:
        return None
    return key[len(lookup_settings.CUSTOM_PREFIX):]


def _picture(custom: dict, key: str | None) -> str | None:
    """The picture's URL, if it is one a page may show (http(s) or a path on this site)."""
    url = custom.get(key) if key else None
    if isinstance(url, str) and url.startswith(("https://", "http://", "/")) and not url.startswith("//"):
        return url
    return None


def check_location(session: Session, location_id: int) -> None:
    """``location_id`` must be one of the locations offered to the one acting
    (``crm.services.stock.location_choices``); 422 naming ``location_id`` otherwise."""
    if location_id not in dict(stock.location_choices(session, current_actor())):
        raise ValidationError.for_field("location_id", _("unknown warehouse %(id)s", id=location_id))


def quick_search(session: Session, q: str, kind: str | None, limit: int) -> list[Item]:
    """The line editor's item search (``crm_search_items``): active items whose name, SKU or
    description contains every word of ``q``, by name."""
    if kind not in (None, "product", "service", "bundle"):
        kind = None
    query = Query(kind=kind, q=q or "", per_page=limit, with_facets=False)
    kinds = kinds_for(kind, False)
    ids = page(session, base_conditions(session, query, kinds), "name", limit)
    return load_items(session, ids)
