"""Price books: named list prices per item, in one currency."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm.errors import Conflict, ValidationError
from crm.models import Item, PriceBook, PriceBookEntry
from crm.models.base import utcnow
from crm.money import currency_precision
from crm.services.records import (
    add_record,
    apply_changes,
    check_version,
    delete_record,
    flush,
    get_or_404,
    saved,
    valid_id,
)

ENTITY = "price_books"
UNIQUE = {"name": ("uq_price_books_name", "price_books.name")}
MAX_PRICES = 5000


def get_price_book(session: Session, price_book_id: int, *, for_update: bool = False) -> PriceBook:
    return get_or_404(session, PriceBook, price_book_id, _("price book"), for_update=for_update,
                      options=[selectinload(PriceBook.prices)])


def create_price_book(session: Session, data: dict) -> PriceBook:
    _check_unique_name(session, data["name"])
    book = PriceBook(prices=[])
    _apply(session, book, data)
    return add_record(session, ENTITY, book, UNIQUE)


def update_price_book(session: Session, book: PriceBook, data: dict) -> PriceBook:
    """A PATCH with ``prices`` replaces the whole list."""
    check_version(book, data.pop("version", None))
    if "name" in data and data["name"] != book.name:
        _check_unique_name(session, data["name"])
    _apply(session, book, data)
    flush(session, UNIQUE)
    saved(session, ENTITY, book, False)
    return book


def delete_price_book(session: Session, book: PriceBook) -> None:
    """Deletes the book and its prices (documents keep the prices they took)."""
    delete_record(session, ENTITY, book)


def list_price(session: Session, price_book_id: int, item_id: int) -> Decimal | None:
    """The price of ``item_id`` in the price book ``price_book_id``, for documents to default
    a line's unit price; None when the book does not exist, is inactive or does not list the item."""
    if not (valid_id(price_book_id) and valid_id(item_id)):
        return None
    return session.scalar(
        select(PriceBookEntry.list_price).join(PriceBook, PriceBook.id == PriceBookEntry.price_book_id)
        .where(PriceBookEntry.price_book_id == price_book_id, PriceBookEntry.item_id == item_id,
               PriceBook.active.is_(True)))


def _apply(session: Session, book: PriceBook, data: dict) -> None:
    with session.no_autoflush:
        if "currency" in data:
            data["currency"] = _currency(data["currency"])
        if "prices" in data:
            _set_prices(book, _prices(session, data.pop("prices")))
        apply_changes(book, data)


def _currency(code: str) -> str:
    code = code.strip().upper()
    try:
        currency_precision(code)
    except ValueError:
        raise ValidationError.for_field(
            "currency", _("unknown currency %(code)s: use an ISO 4217 code like EUR", code=repr(code))) from None
    return code


def _prices(session: Session, rows: list[dict]) -> dict[int, Decimal]:
    """``[{"item_id", "list_price"}]`` -> item id -> price; every item existing and listed once."""
    if len(rows) > MAX_PRICES:
        raise ValidationError.for_field("prices", _("at most %(count)s prices per request", count=MAX_PRICES))
    ids = [row["item_id"] for row in rows]
    known = set(session.scalars(select(Item.id).where(Item.id.in_(ids)))) if ids else set()
    result: dict[int, Decimal] = {}
    for index, row in enumerate(rows):
        item_id = row["item_id"]
        if item_id not in known:
            raise ValidationError.for_field(f"prices.{index}.item_id", _("unknown item %(id)s", id=item_id))
        if item_id in result:
            raise ValidationError.for_field(f"prices.{index}.item_id", _("this item is listed twice"))
        result[item_id] = row["list_price"]
    return result


def _set_prices(book: PriceBook, prices: dict[int, Decimal]) -> None:
    """Replace the entries, keeping the rows of items that stay (their price updated)."""
    current = {entry.item_id: entry for entry in book.prices}
    if {item_id: entry.list_price for item_id, entry in current.items()} == prices:
        return
    book.updated_at = utcnow()  # the entries are rows of their own: this bumps the book's version
    entries = []
    for item_id, price in sorted(prices.items()):  # the order they load in
        entry = current.get(item_id) or PriceBookEntry(item_id=item_id)
        entry.list_price = price
        entries.append(entry)
    book.prices = entries


def _check_unique_name(session: Session, name: str) -> None:
    if session.scalar(select(PriceBook.id).where(PriceBook.name == name)) is not None:
        raise Conflict(_("a price book named %(name)s already exists", name=repr(name)),
                       {"name": [_("already exists")]})
