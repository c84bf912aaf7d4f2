"""The item lookup's tables.

``item_lookup_entries`` is a narrow, indexed copy of what the picker filters,
counts and sorts on: one row per item, kept in sync by database triggers on
``items`` and ``bundle_components`` (see :mod:`crm_item_lookup.sync`), so that it
follows every write, whether it comes from the ORM, a bulk insert or the stock
ledger's conditional UPDATEs. Its ``f1``..``f3`` columns hold the values of the
three facet fields configured for the row's kind (``item_lookup_facet_fields``).

``item_lookup_counts`` holds, per (kind, active, in stock, f1, f2, f3), how many entries there
are (``''`` for no value): the facet counts of a search that filters on nothing but those come
from its few thousand rows instead of the 100,000 entries. The triggers maintain it too.

``item_lookup_facet_counts`` holds the same per facet position and value (on SQLite): a facet's
counts when no other facet is selected come from a few dozen of its rows.

``item_lookup_count_deltas`` (used on PostgreSQL) holds a transaction's changes to those counts
until its commit folds them in, summed per group: a bulk import adds 1 to the same few dozen
count rows once per item, and PostgreSQL would otherwise keep every version of each row until
the commit and walk them all at each update.

``item_lookup_text`` (SQLite only) is an FTS5 full-text index of the entries' search text with
trigram tokens: a virtual table, created by migration item_lookup_0003 and kept by the triggers,
with no model.

``item_lookup_state`` holds one counter that goes up (inside the writing
transaction) whenever something the facet counts depend on changes; cached
counts are keyed by it, so they are never stale.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, SmallInteger, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model
from crm.models.base import Money, Quantity

#: how many characters of a facet value are kept (and compared)
FACET_VALUE_LENGTH = 100
#: the columns of ix_item_lookup_entries_vendor: a vendor's entries are counted and sorted from the
#: index alone (migration item_lookup_0002)
VENDOR_INDEX = ("vendor_id", "active", "in_stock", "kind_key", "f1", "f2", "f3", "unit_price", "name_key", "sku",
                "available")


class Entry(Model):
    __tablename__ = "item_lookup_entries"
    __table_args__ = (
        # facet counts: one ordered pass over (kind, active) groups, every other filter on the index
        Index("ix_item_lookup_entries_facets", "kind_key", "active", "f1", "f2", "f3", "in_stock", "vendor_id"),
        # sorting within a kind
        Index("ix_item_lookup_entries_name", "kind_key", "active", "name_key"),
        Index("ix_item_lookup_entries_sku", "kind_key", "active", "sku"),
        Index("ix_item_lookup_entries_price", "kind_key", "active", "unit_price"),
        Index("ix_item_lookup_entries_available", "kind_key", "active", "available"),
        # every kind at once, sorted by name
        Index("ix_item_lookup_entries_all_name", "active", "name_key"),
        # a vendor's entries: covering for its facet counts and for every sort (no row lookups)
        Index("ix_item_lookup_entries_vendor", *VENDOR_INDEX),
        # text search: a trigram GIN index on PostgreSQL; on SQLite the FTS5 table item_lookup_text
        # (trigram tokens; a virtual table, so it has no model: migration item_lookup_0003)
        Index("ix_item_lookup_entries_search", "search", postgresql_using="gin",
              postgresql_ops={"search": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    # no foreign key to items.id: the delete trigger removes the entry
    item_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: product, service or bundle
    kind_key: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool]
    vendor_id: Mapped[int | None]
    #: a product (not a bundle) with on_hand - reserved > 0; bundles are checked through their components
    in_stock: Mapped[bool]
    #: on_hand - reserved of a product; NULL for bundles and services
    available: Mapped[Decimal | None] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    name_key: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str | None] = mapped_column(String(100))
    f1: Mapped[str | None] = mapped_column(String(FACET_VALUE_LENGTH))
    f2: Mapped[str | None] = mapped_column(String(FACET_VALUE_LENGTH))
    f3: Mapped[str | None] = mapped_column(String(FACET_VALUE_LENGTH))
    #: lower-cased name, SKU and description
    search: Mapped[str] = mapped_column(Text)


class Count(Model):
    """How many entries share a kind, active flag, in-stock flag and facet values (``''`` = none)."""

    __tablename__ = "item_lookup_counts"
    __table_args__ = {"sqlite_with_rowid": False}  # the rows live in the key's b-tree: no lookups

    # the key's order lets a facet value selected on f1 (the most used) narrow the rows read
    kind_key: Mapped[str] = mapped_column(String(10), primary_key=True)
    active: Mapped[bool] = mapped_column(primary_key=True)
    f1: Mapped[str] = mapped_column(String(FACET_VALUE_LENGTH), primary_key=True)
    f2: Mapped[str] = mapped_column(String(FACET_VALUE_LENGTH), primary_key=True)
    f3: Mapped[str] = mapped_column(String(FACET_VALUE_LENGTH), primary_key=True)
    in_stock: Mapped[bool] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


#: +1 or -1 on the count of a group (``''`` for no facet value), written by PostgreSQL's triggers
#: and folded into ``item_lookup_counts`` at the commit of the transaction that wrote it; empty
#: between transactions. ``opens``: the first change since the last folding, the one whose
#: deferred trigger folds them all (see ``crm_item_lookup.sync``). No key: rows are only appended,
#: then deleted together.
count_deltas = Table(
    "item_lookup_count_deltas", Model.metadata,
    Column("kind_key", String(10), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("in_stock", Boolean, nullable=False),
    Column("f1", String(FACET_VALUE_LENGTH), nullable=False),
    Column("f2", String(FACET_VALUE_LENGTH), nullable=False),
    Column("f3", String(FACET_VALUE_LENGTH), nullable=False),
    Column("n", Integer, nullable=False),
    Column("opens", Boolean, nullable=False),
)


class FacetCount(Model):
    """How many entries share a kind, active flag, in-stock flag and one facet's value (``''`` = none),
    per facet position: what a facet lists when no other facet has a selection, read from a few
    dozen rows instead of grouping ``item_lookup_counts``. Every entry is counted once at each
    position (so the entries of a kind are the sum of its rows at any one position). Kept on
    SQLite only (empty on PostgreSQL: see ``sync.facet_counts_kept``)."""

    __tablename__ = "item_lookup_facet_counts"
    __table_args__ = {"sqlite_with_rowid": False}

    kind_key: Mapped[str] = mapped_column(String(10), primary_key=True)
    active: Mapped[bool] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    value: Mapped[str] = mapped_column(String(FACET_VALUE_LENGTH), primary_key=True)
    in_stock: Mapped[bool] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class FacetFields(Model):
    """The three facet fields of each kind (``category``, ``custom.<key>``, ... or NULL)."""

    __tablename__ = "item_lookup_facet_fields"

    kind_key: Mapped[str] = mapped_column(String(10), primary_key=True)
    f1: Mapped[str | None] = mapped_column(String(80))
    f2: Mapped[str | None] = mapped_column(String(80))
    f3: Mapped[str | None] = mapped_column(String(80))


class State(Model):
    """One row (id 1): ``generation`` changes with every change the facet counts depend on."""

    __tablename__ = "item_lookup_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
