"""The global search: products, services, accounts, contacts, vendors and documents found by any
part of their name, number, SKU, e-mail or phone (documents also by their customer's or vendor's
name), grouped by kind, a few of each.

How a query is read (:func:`words_of`): control characters dropped, split on white space, at most
:data:`MAX_WORDS` words of at most :data:`MAX_WORD` characters; a record matches when **every**
word occurs, case-insensitively, in one of its searched fields (``ana lópez`` finds the contact
Ana López, ``600111222`` the phone ``+34 600 111 222``: phones are also indexed without spaces,
dashes, dots and brackets). At least one word must have :data:`TRIGRAM` characters or more: the
indexes hold trigrams, and a query of only shorter words finds nothing (the page says so).
A document also matches when every word is in the name of its customer (a purchase order: its
vendor), one of the :data:`PARTIES` newest such: ``acme`` lists Acme's quotes, orders and invoices.

The indexes (migration ``core_0012``):

* SQLite: FTS5 tables with the trigram tokenizer (``fts_items``, ``fts_accounts``, ...), kept by
  triggers; the words of three characters or more are matched there as quoted phrases (a phrase of
  trigrams is a substring), the shorter ones with ``instr()`` on the rows the others left.
* PostgreSQL: GIN trigram indexes on ``lower(<fields joined by spaces>)`` (:data:`PG_TEXT`), and on
  ``lower(name)`` / ``lower(sku)`` of items; a word is ``LIKE '%word%'`` (wildcards escaped), a
  short one ``strpos()``, which no index is asked for.

Within a kind, the records whose name (number for documents, SKU too for items) is the query
come first, then the newest: SQLite walks the full-text index backwards from the newest match and
stops after a few; PostgreSQL filters the kind's newest rows (:data:`WINDOW`) and asks its trigram
indexes only for what they lack (:func:`_pg_matches`; the item kinds together, and the document
types together: :func:`_pg_matches_among`). So a common word costs no more than a rare one.

Plugins add kinds of their own with the hook ``crm_search_kinds()`` (:class:`SearchKind`).
Which kinds a user may see is the caller's business (the web layer asks ``crm.permissions``).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import column, literal_column, select, table, text as sql_text
from sqlalchemy.orm import Session

from crm.labels import status_label
from crm.models import Item
from crm.services import hooks

MAX_WORDS = 8
MAX_WORD = 60
#: the shortest word the trigram indexes can find
TRIGRAM = 3
#: hits per kind in the suggestions, and on the results page (one kind alone: ``KIND_LIMIT``)
SUGGEST_LIMIT = 5
PAGE_LIMIT = 20
KIND_LIMIT = 100


def _compact(column_sql: str) -> str:
    return (f"replace(replace(replace(replace(replace({column_sql}, ' ', ''), '-', ''), '.', ''), '(', ''), "
            f"')', '')")


#: the text searched per table, as the PostgreSQL indexes of migration core_0012 hold it
#: (keep both identical: the planner uses an expression index only for the same expression)
PG_TEXT = {
    "accounts": "{t}name || ' ' || {t}email || ' ' || {t}phone || ' ' || " + _compact("{t}phone") + " || ' ' || {t}tax_id",
    "contacts": ("{t}first_name || ' ' || {t}last_name || ' ' || {t}email || ' ' || {t}phone || ' ' || "
                 + _compact("{t}phone")),
    "vendors": "{t}name || ' ' || {t}email || ' ' || {t}phone || ' ' || " + _compact("{t}phone"),
    "documents": "{t}number || ' ' || {t}subject || ' ' || {t}customer_reference",
    "items": "{t}name || ' ' || COALESCE({t}sku, '')",
}
#: SQLite: the full-text table of each searched table, and the columns the global search reads
#: (``fts_items`` also holds the description, which the API's ``?q=`` of items searches)
FTS_TABLES = {"items": "fts_items", "accounts": "fts_accounts", "contacts": "fts_contacts",
              "vendors": "fts_vendors", "documents": "fts_documents"}
FTS_SEARCHED = {"items": "{name sku}"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# --- what a kind is, what a hit is ------------------------------------------------------------------

@dataclass
class SearchHit:
    """One record found: ``title`` (its name or number), ``detail`` (a line under it), ``url`` of
    its page (the core's kinds leave it to the web layer, which knows the endpoints)."""

    kind: str
    id: int
    title: str
    detail: str = ""
    url: str | None = None
    inactive: bool = False
    #: for the web layer: products that are bundles have their own pages
    variant: str | None = None


#: ``find(session, words, limit)`` of a :class:`SearchKind`
Finder = Callable[[Session, list[str], int], list[SearchHit]]


@dataclass
class SearchKind:
    """A kind of record the global search finds. ``find(session, words, limit)`` returns at most
    ``limit`` :class:`SearchHit` matching every word (see :func:`words_of`; every word is
    lower-cased); ``resource`` is the ``crm.permissions`` resource (a name or a ``Resource``) a
    role must read to see the kind; ``order`` places the group (core: products 10, services 20,
    accounts 30, contacts 40, vendors 50, quotes 60, sales orders 70, purchase orders 80,
    invoices 90)."""

    key: str
    label: str
    resource: object
    find: Finder
    order: int = 500


@dataclass
class SearchGroup:
    kind: SearchKind
    hits: list[SearchHit]
    more: bool = False


@dataclass
class SearchResult:
    q: str
    words: list[str]
    groups: list[SearchGroup] = field(default_factory=list)

    @property
    def too_short(self) -> bool:
        """The query has words, but none long enough to be looked up."""
        return bool(self.words) and not searchable(self.words)

    @property
    def total(self) -> int:
        return sum(len(group.hits) for group in self.groups)


def words_of(q: str | None) -> list[str]:
    """The words of a query, lower-cased, without control characters, at most :data:`MAX_WORDS`
    of at most :data:`MAX_WORD` characters, each once."""
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", q or ""))
    words: list[str] = []
    for word in text.lower().split():
        word = word[:MAX_WORD]
        if word not in words:
            words.append(word)
        if len(words) == MAX_WORDS:
            break
    return words


def searchable(words: Sequence[str]) -> bool:
    return any(len(word) >= TRIGRAM for word in words)


# --- matching ----------------------------------------------------------------------------------------

def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _text_of(table_name: str) -> str:
    return "lower(" + PG_TEXT[table_name].format(t="t.") + ")"


def _matches(session: Session, table_name: str, columns: str, words: Sequence[str], limit: int, *,
             indexed: Sequence[str] = (), joins: str = "", equal: dict[str, str] | None = None,
             among: Sequence[str] = (), unindexed_equal: bool = False) -> tuple[list, list]:
    """The rows (``columns`` of the table, aliased ``t``, and of ``joins``) that a search shows:
    ``(exact, newest)``, those whose one of the ``indexed`` columns is the query (see
    :func:`_exact`, at most five) and the newest ``limit`` holding every word, newest first.
    ``equal``: column -> value the rows must have; ``among``: the values of that column the
    search reads together (an item's kinds, the document types). SQLite: two statements, the
    newest read by walking its full-text table backwards from the newest match. PostgreSQL:
    :func:`_pg_matches`, or with ``equal`` :func:`_pg_matches_among` (every value of ``among``
    at once)."""
    equal = equal or {}
    params: dict = {"limit": limit}
    if _dialect(session) != "sqlite":
        exact_sql = _exact_condition(words, indexed, params) if indexed else None
        conditions = _pg_conditions(table_name, words, params)
        if equal:
            ((name, value),) = equal.items()
            memo = session.info.setdefault(MEMO, {})
            key = (table_name, columns, joins, name, tuple(among or [value]), tuple(words), limit)
            if key not in memo:
                memo[key] = _pg_matches_among(session, table_name, columns, conditions, params, exact=exact_sql,
                                              joins=joins, name=name, values=among or [value])
            return memo[key].get(value, ([], []))
        found = _pg_matches(session, table_name, columns, conditions, params, exact=exact_sql, joins=joins)
        return [row[:-1] for row in found if row[-1] == 0], [row[:-1] for row in found if row[-1] == 1]
    exact = _exact(session, table_name, columns, words, indexed, joins=joins, equal=equal,
                   unindexed_equal=unindexed_equal) if indexed else []
    params.update({f"e_{name}": value for name, value in equal.items()})
    fts = FTS_TABLES[table_name]
    prefix = FTS_SEARCHED.get(table_name)
    params["match"] = " ".join((f"{prefix} : " if prefix else "") + _phrase(w) for w in words if len(w) >= TRIGRAM)
    conditions = [f"{fts} MATCH :match", *(f"t.{name} = :e_{name}" for name in equal),
                  *_short_words(table_name, words, params, "instr")]
    sql = (f"SELECT {columns} FROM {fts} CROSS JOIN {table_name} AS t ON t.id = {fts}.rowid {joins} "
           f"WHERE {' AND '.join(conditions)} ORDER BY {fts}.rowid DESC LIMIT :limit")
    return exact, list(session.execute(sql_text(sql), params))


#: PostgreSQL: how many of a kind's newest rows are read, per hit asked for, before its trigram
#: indexes are asked for the older ones (the suggestions ask for 6 a kind: 150 rows; a word one
#: row in 25 holds is found among them)
WINDOW = 25


def _pg_matches(session: Session, table_name: str, columns: str, conditions: Sequence[str], params: dict, *,
                exact: str | None = None, joins: str = "") -> list:
    """PostgreSQL, in one statement: the rows meeting the ``exact`` condition (at most five),
    then the newest ``params["limit"]`` meeting every one of ``conditions``; each row ends with 0
    (exact) or 1.

    The newest are read in two parts: the newest rows (:data:`WINDOW` a hit), walked backwards
    by their index and filtered, then, only when those hold too few, the older rows' matches from
    the trigram indexes (PostgreSQL stops at the ``LIMIT`` and never runs the second part when the
    first fills it). A word thousands of rows hold is found among the newest at once, where
    reading all its matches from the trigram indexes to keep the newest costs thousands of row
    reads; a rare one costs the window's walk more than the indexes alone."""
    where = " AND ".join(conditions)
    newest = f"SELECT t.id FROM {table_name} AS t ORDER BY t.id DESC LIMIT :window"
    window = f"SELECT t.* FROM {table_name} AS t ORDER BY t.id DESC LIMIT :window"
    parts = [f"SELECT * FROM ((SELECT t.*, 1 AS found_as FROM ({window}) AS t WHERE {where} "
             f"ORDER BY t.id DESC LIMIT :limit) "
             f"UNION ALL (SELECT t.*, 1 AS found_as FROM {table_name} AS t WHERE {where} "
             f"AND t.id + 0 < (SELECT min(w.id) FROM ({newest}) AS w) ORDER BY t.id + 0 DESC LIMIT :limit)) AS n "
             f"LIMIT :limit"]
    if exact:
        parts.insert(0, f"SELECT t.*, 0 AS found_as FROM {table_name} AS t WHERE {exact} LIMIT 5")
    found = " UNION ALL ".join(f"({part})" for part in parts)
    sql = f"SELECT {columns}, t.found_as FROM ({found}) AS t {joins} ORDER BY t.found_as, t.id DESC"
    return list(session.execute(sql_text(sql), {**params, "window": WINDOW * params["limit"]}))


def _pg_matches_among(session: Session, table_name: str, columns: str, conditions: Sequence[str], params: dict, *,
                      exact: str | None, joins: str, name: str, values: Sequence[str]) -> dict:
    """:func:`_pg_matches` for each of ``values`` of the column ``name`` (an item's kinds, the
    document types), in at most two statements instead of one per value: value ->
    ``(exact, newest)``. The first reads each value's exact matches and the matches among its
    newest rows (:data:`WINDOW` a hit); the second, only for the values those left short, their newest
    matches from the trigram indexes. When no value's window was full, the word is rare enough for
    one pass over all its matches to serve them all; when one was, the word is common there, and
    one pass would read every one of those matches: each short value is then read apart, which
    PostgreSQL answers by crossing the trigram indexes with the index of ``name`` (a prefix every
    invoice number holds costs little for the other document types)."""
    where = " AND ".join(conditions)
    params = {**params, "window": WINDOW * params["limit"], **{f"v{n}": value for n, value in enumerate(values)}}
    parts = []
    for n in range(len(values)):
        if exact:
            parts.append(f"SELECT t.*, 0 AS found_as FROM {table_name} AS t WHERE t.{name} = :v{n} AND ({exact}) "
                         f"LIMIT 5")
        # the value as a range, and the order by both columns: PostgreSQL walks the index on
        # (name, id) backwards, reading the window's rows and no others, where for "= value" it may
        # walk the primary key and skip the rows of other values (every one, when those are newest)
        window = (f"SELECT t.* FROM {table_name} AS t WHERE t.{name} >= :v{n} AND t.{name} <= :v{n} "
                  f"ORDER BY t.{name} DESC, t.id DESC LIMIT :window")
        parts.append(f"SELECT * FROM (SELECT t.*, 1 AS found_as FROM ({window}) AS t WHERE {where} "
                     f"ORDER BY t.id DESC LIMIT :limit) AS w{n}")
    found = " UNION ALL ".join(f"({part})" for part in parts)
    sql = f"SELECT {columns}, t.{name}, t.found_as FROM ({found}) AS t {joins} ORDER BY t.found_as, t.id DESC"
    answer: dict = {value: ([], []) for value in values}
    for row in session.execute(sql_text(sql), params):
        answer[row[-2]][row[-1]].append(tuple(row)[:-2])
    short = [n for n, value in enumerate(values) if len(answer[value][1]) < params["limit"]]
    if not short:
        return answer
    listed = ", ".join(f":v{n}" for n in short)
    if len(short) == len(values):  # a word no value's window is full of: one pass over its matches
        older = _newest_by(session, table_name, columns, joins, f"{where} AND t.{name} IN ({listed})", name, params)
    else:  # common among some: read each other value apart, its index crossed with the trigram indexes
        found = " UNION ALL ".join(f"(SELECT t.* FROM {table_name} AS t WHERE t.{name} = :v{n} AND {where} "
                                   f"ORDER BY t.id + 0 DESC LIMIT :limit)" for n in short)
        older = {}
        for row in session.execute(sql_text(f"SELECT {columns}, t.{name} FROM ({found}) AS t {joins}"), params):
            older.setdefault(row[-1], []).append(tuple(row)[:-1])
    for n in short:  # every match of the value, the window's included
        answer[values[n]] = (answer[values[n]][0], sorted(older.get(values[n], []), key=lambda row: -row[0]))
    return answer


def _short_words(table_name: str, words: Sequence[str], params: dict, function: str) -> list[str]:
    """The words too short for the trigram indexes, looked for in the rows the others left."""
    conditions = []
    for n, word in enumerate(w for w in words if len(w) < TRIGRAM):
        params[f"s{n}"] = word
        conditions.append(f"{function}({_text_of(table_name)}, lower(:s{n})) > 0")
    return conditions


def _pg_conditions(table_name: str, words: Sequence[str], params: dict) -> list[str]:
    """PostgreSQL: every word in the row, as ``LIKE`` patterns its trigram indexes serve."""
    conditions = []
    for n, word in enumerate(w for w in words if len(w) >= TRIGRAM):
        params[f"w{n}"] = "%" + _escape_like(word) + "%"
        if table_name == "items":  # the per-column trigram indexes of migration core_0003
            conditions.append(f"(lower(t.name) LIKE lower(:w{n}) ESCAPE '\\' "
                              f"OR lower(t.sku) LIKE lower(:w{n}) ESCAPE '\\')")
        else:
            conditions.append(f"{_text_of(table_name)} LIKE lower(:w{n}) ESCAPE '\\'")
    return conditions + _short_words(table_name, words, params, "strpos")


#: ``session.info`` key of what one search read once for several kinds
MEMO = "crm.search.memo"


def _newest_by(session: Session, table_name: str, columns: str, joins: str, where: str, name: str,
               params: dict) -> dict:
    """The newest ``params["limit"]`` rows matching ``where`` for each value of the column
    ``name``, numbered in one pass: value -> rows (``columns``), newest first."""
    sql = (f"SELECT {columns}, t.{name} FROM (SELECT t.*, row_number() OVER (PARTITION BY t.{name} "
           f"ORDER BY t.id DESC) AS n FROM {table_name} AS t WHERE {where}) AS t {joins} "
           f"WHERE t.n <= :limit ORDER BY t.id DESC")
    found: dict = {}
    for row in session.execute(sql_text(sql), params):
        found.setdefault(row[-1], []).append(tuple(row)[:-1])
    return found


def _exact_condition(words: Sequence[str], indexed: Sequence[str], params: dict) -> str:
    """One of the ``indexed`` columns is the query in one of its usual cases (``so-0042`` finds
    ``SO-0042``, ``widget`` the product ``Widget``): their indexes answer it."""
    q = " ".join(words)
    candidates = sorted({q, q.upper(), q.capitalize(), q.title()})
    params.update({f"c{n}": c for n, c in enumerate(candidates)})
    listed = ", ".join(f":c{n}" for n in range(len(candidates)))
    return " OR ".join(f"t.{column} IN ({listed})" for column in indexed)


def _exact(session: Session, table_name: str, columns: str, words: Sequence[str], indexed: Sequence[str], *,
           joins: str = "", equal: dict[str, str], unindexed_equal: bool = False) -> list:
    """SQLite: at most five rows meeting :func:`_exact_condition`, newest first. ``unindexed_equal``: the
    ``equal`` columns are written ``+t.column``, so that it never walks an index of those (an
    item's kind) instead."""
    params = {f"e_{name}": value for name, value in equal.items()}
    plus = "+" if unindexed_equal else ""
    conditions = [f"{plus}t.{name} = :e_{name}" for name in equal] + [f"({_exact_condition(words, indexed, params)})"]
    sql = f"SELECT {columns} FROM {table_name} AS t {joins} WHERE {' AND '.join(conditions)} LIMIT 5"
    return sorted(session.execute(sql_text(sql), params), key=lambda row: row[0], reverse=True)


#: the documents of at most this many customers or vendors (the newest) whose name holds the query
PARTIES = 20


def _named(session: Session, table_name: str, words: Sequence[str], limit: int) -> list[int]:
    """The ids of the newest ``limit`` accounts or vendors whose **name** holds every word
    (``zephyrine`` is in the name of Zephyrine Logistics; ``b876``, in its tax id, is not): on
    SQLite the ``name`` column of their full-text table, on PostgreSQL the trigram index on
    ``lower(name)`` (migration core_0019)."""
    params: dict = {"limit": limit}
    conditions = []
    for n, word in enumerate(w for w in words if len(w) < TRIGRAM):
        params[f"n{n}"] = word
        conditions.append(f"{'instr' if _dialect(session) == 'sqlite' else 'strpos'}(lower(t.name), :n{n}) > 0")
    if _dialect(session) != "sqlite":  # the trigram indexes on lower(name) of migration core_0019
        for n, word in enumerate(w for w in words if len(w) >= TRIGRAM):
            params[f"w{n}"] = "%" + _escape_like(word) + "%"
            conditions.append(f"lower(t.name) LIKE lower(:w{n}) ESCAPE '\\'")
        return [id_ for id_, _found_as in _pg_matches(session, table_name, "t.id", conditions, params)]
    fts = FTS_TABLES[table_name]
    params["match"] = " ".join("{name} : " + _phrase(w) for w in words if len(w) >= TRIGRAM)
    sql = (f"SELECT t.id FROM {fts} CROSS JOIN {table_name} AS t ON t.id = {fts}.rowid "
           f"WHERE {' AND '.join([f'{fts} MATCH :match', *conditions])} ORDER BY {fts}.rowid DESC LIMIT :limit")
    return list(session.scalars(sql_text(sql), params))


def _of_parties(session: Session, columns: str, joins: str, words: Sequence[str], doc_type: str,
                limit: int) -> list:
    """The newest documents of ``doc_type`` whose customer (a purchase order: vendor) is one of
    the :data:`PARTIES` newest whose name holds every word: ``acme`` finds Acme's orders. Read
    once per search for every document type (``session.info``): one pass over those parties'
    documents, through the index of their party column, numbers the newest of each type."""
    party, table_name = ("vendor_id", "vendors") if doc_type == "purchase_order" else ("account_id", "accounts")
    memo = session.info.setdefault(MEMO, {})
    key = ("parties", party, columns, joins, tuple(words), limit)
    if key not in memo:
        ids = _named(session, table_name, words, PARTIES)
        params = {"limit": limit, **{f"p{n}": id_ for n, id_ in enumerate(ids)}}
        listed = ", ".join(f":p{n}" for n in range(len(ids)))
        memo[key] = _newest_by(session, "documents", columns, joins, f"t.{party} IN ({listed})", "doc_type",
                               params) if ids else {}
    return memo[key].get(doc_type, [])


def _newest_first(*found: list) -> list:
    """Rows of several lists (each newest first, their id first), each once, newest first."""
    rows = {row[0]: row for rows_ in found for row in rows_}
    return [rows[id_] for id_ in sorted(rows, reverse=True)]


def _best_first(exact: list, newest: list, limit: int) -> list:
    seen, rows = set(), []
    for row in [*exact, *newest]:
        if row[0] not in seen:
            seen.add(row[0])
            rows.append(row)
    return rows[:limit]


def items_matching(session: Session, q: str | None) -> Any:
    """SQLite: the condition "``q`` (stripped, as one piece of text) is in the name, SKU or
    description" of an item, answered from ``fts_items`` — the API's ``?q=`` of products and
    services. None where the index cannot answer it (PostgreSQL, whose trigram indexes serve
    the plain ``LIKE``; a ``q`` shorter than three characters or holding a control character),
    and the caller searches as before."""
    text = (q or "").strip()
    if _dialect(session) != "sqlite" or len(text) < TRIGRAM or _CONTROL.search(text):
        return None
    fts = table(FTS_TABLES["items"], column("rowid"))
    found = select(fts.c.rowid).where(literal_column(FTS_TABLES["items"]).op("MATCH")(_phrase(text)))
    return Item.id.in_(found)


# --- the core's kinds ---------------------------------------------------------------------------------

def _details(*parts: str | None) -> str:
    return " · ".join(part for part in parts if part)


#: the item kinds and document types the core's kinds search, read together on PostgreSQL
ITEM_KINDS = ("product", "service")
DOC_TYPES = ("quote", "sales_order", "purchase_order", "invoice")


def _find_items(kind: str) -> Finder:
    def find(session: Session, words: list[str], limit: int) -> list[SearchHit]:
        columns = "t.id, t.name, t.sku, t.category, t.active, t.is_bundle"
        equal = {"kind": kind}
        rows = _best_first(*_matches(session, "items", columns, words, limit, indexed=("sku", "name"), equal=equal,
                                     among=ITEM_KINDS, unindexed_equal=True), limit)
        return [SearchHit(kind, id_, name, _details(sku, category), inactive=not active,
                          variant="bundle" if is_bundle else None)
                for id_, name, sku, category, active, is_bundle in rows]
    return find


def _find_parties(kind: str, table_name: str) -> Finder:
    def find(session: Session, words: list[str], limit: int) -> list[SearchHit]:
        columns = "t.id, t.name, t.email, t.phone, t.active"
        rows = _best_first(*_matches(session, table_name, columns, words, limit, indexed=("name",)), limit)
        return [SearchHit(kind, id_, name, _details(email, phone), inactive=not active)
                for id_, name, email, phone, active in rows]
    return find


def _find_contacts(session: Session, words: list[str], limit: int) -> list[SearchHit]:
    columns = "t.id, t.first_name, t.last_name, t.email, t.phone, t.active, a.name"
    _, rows = _matches(session, "contacts", columns, words, limit, joins="LEFT JOIN accounts a ON a.id = t.account_id")
    return [SearchHit("contact", id_, f"{first} {last}".strip(), _details(account, email, phone), inactive=not active)
            for id_, first, last, email, phone, active, account in rows]


def _find_documents(doc_type: str) -> Finder:
    def find(session: Session, words: list[str], limit: int) -> list[SearchHit]:
        columns = "t.id, t.number, t.subject, t.status, COALESCE(a.name, v.name, '')"
        joins = "LEFT JOIN accounts a ON a.id = t.account_id LEFT JOIN vendors v ON v.id = t.vendor_id"
        equal = {"doc_type": doc_type}
        exact, newest = _matches(session, "documents", columns, words, limit, indexed=("number",), joins=joins,
                                 equal=equal, among=DOC_TYPES)
        rows = _best_first(exact, _newest_first(newest, _of_parties(session, columns, joins, words, doc_type, limit)),
                           limit)
        return [SearchHit(doc_type, id_, number, _details(party, subject, status_label(status)))
                for id_, number, subject, status, party in rows]
    return find


def core_kinds() -> list[SearchKind]:
    return [
        SearchKind("product", _l("Products"), "catalog", _find_items("product"), 10),
        SearchKind("service", _l("Services"), "catalog", _find_items("service"), 20),
        SearchKind("account", _l("Accounts"), "accounts", _find_parties("account", "accounts"), 30),
        SearchKind("contact", _l("Contacts"), "accounts", _find_contacts, 40),
        SearchKind("vendor", _l("Vendors"), "vendors", _find_parties("vendor", "vendors"), 50),
        SearchKind("quote", _l("Quotes"), "quotes", _find_documents("quote"), 60),
        SearchKind("sales_order", _l("Sales orders"), "sales_orders", _find_documents("sales_order"), 70),
        SearchKind("purchase_order", _l("Purchase orders"), "purchase_orders", _find_documents("purchase_order"), 80),
        SearchKind("invoice", _l("Invoices"), "invoices", _find_documents("invoice"), 90),
    ]


def kinds() -> list[SearchKind]:
    """The core's kinds and the enabled plugins' (``crm_search_kinds``), in their order; a
    plugin's kind with the key of an earlier one is left out."""
    found = {k.key: k for k in core_kinds()}
    for answer in hooks.call("crm_search_kinds"):
        for kind in answer or ():
            found.setdefault(kind.key, kind)
    return sorted(found.values(), key=lambda k: (k.order, k.key))


def search(session: Session, q: str | None, allowed: Sequence[SearchKind], limit: int) -> SearchResult:
    """Up to ``limit`` hits of each of the ``allowed`` kinds (those a user may read) matching
    ``q``; a group says whether there are more. Kinds without a hit are left out."""
    words = words_of(q)
    result = SearchResult((q or "").strip(), words)
    if not searchable(words):
        return result
    session.info.pop(MEMO, None)
    try:
        for kind in allowed:
            hits = kind.find(session, words, limit + 1)
            if hits:
                result.groups.append(SearchGroup(kind, hits[:limit], more=len(hits) > limit))
    finally:
        session.info.pop(MEMO, None)
    return result
