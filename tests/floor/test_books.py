"""Books: a backtest's ledger of its own, same rules, and the live floor never touched."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, inspect, select, text

from floor.books import UnknownBook, book_engine, create_book, delete_book, find_book, list_books
from floor.errors import TradeRejected
from floor.ledger.accounts import reset_accounts
from floor.ledger.trades import balance, buy, holdings, sell
from floor.market.cache import PriceBook
from floor.market.simulated import SimulatedMarket
from floor.schema import books, metadata
from floor.traders import load_traders


@pytest.fixture
def live(floor: Engine):
    """The live floor with fresh accounts, and no book left over from another test."""
    _drop_books(floor)
    yield floor
    _drop_books(floor)


def _drop_books(engine: Engine) -> None:
    with engine.begin() as conn:
        for (schema,) in conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'book\\_%'")):
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        conn.execute(books.delete())


def dump(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table of the live floor (all but the list of books), in a fixed order."""
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in metadata.sorted_tables
            if table is not books
        }


def opened(live: Engine, settings, label: str = "") -> Engine:
    book = book_engine(live, create_book(live, label))
    reset_accounts(book, load_traders(settings))
    return book


def order(engine: Engine, side: str, symbol: str, quantity: int, key: str):
    trade = buy if side == "buy" else sell
    return trade(
        engine, "Warren", symbol, quantity, "test", PriceBook(engine, SimulatedMarket()), idempotency_key=key
    )


def test_a_book_trades_by_the_ledgers_rules_and_the_live_floor_does_not_move(live, settings):
    order(live, "buy", "AAPL", 2, "live-1")  # the live floor has a history of its own
    before = dump(live)

    book = opened(live, settings, "a year of 2025")
    filled = order(book, "buy", "AAPL", 3, "book-1")
    assert filled.quantity == 3 and balance(book, "Warren") == Decimal(10_000) - filled.total
    kept = (balance(book, "Warren"), holdings(book, "Warren"))
    with pytest.raises(TradeRejected, match="not enough cash"):
        order(book, "buy", "AAPL", 1_000, "book-2")
    with pytest.raises(TradeRejected, match="hold"):
        order(book, "sell", "AAPL", 4, "book-3")
    assert (balance(book, "Warren"), holdings(book, "Warren")) == kept  # a refusal changes nothing
    assert order(book, "buy", "AAPL", 3, "book-1").duplicate  # idempotency keys hold in a book too

    assert dump(live) == before  # every live row, byte for byte


def test_books_are_independent_of_each_other(live, settings):
    first, second = opened(live, settings), opened(live, settings)
    order(first, "buy", "MSFT", 5, "same-key")
    again = order(second, "buy", "MSFT", 5, "same-key")
    assert not again.duplicate  # the same key in another book is another order
    order(second, "sell", "MSFT", 5, "sell-all")
    assert [h.shares for h in holdings(first, "Warren")] == [5] and holdings(second, "Warren") == []


def test_a_book_holds_every_table_of_the_floor_but_the_list_of_books(live):
    book = create_book(live)
    names = set(inspect(live).get_table_names(schema=book.schema))
    assert names == {t.name for t in metadata.sorted_tables} - {"books", "backtests"}
    assert find_book(live, book.id) == book and book.schema == f"book_{book.id}"


def test_deleting_a_book_drops_it_and_nothing_else(live, settings):
    kept, dropped = create_book(live, "kept"), create_book(live, "dropped")
    kept_engine = book_engine(live, kept)
    reset_accounts(kept_engine, load_traders(settings))
    before = dump(live)
    delete_book(live, dropped.id)
    assert [b.label for b in list_books(live)] == ["kept"]
    assert dropped.schema not in inspect(live).get_schema_names()
    assert balance(kept_engine, "Warren") == Decimal(10_000)
    assert dump(live) == before
    with pytest.raises(UnknownBook, match=f"no book {dropped.id}"):
        delete_book(live, dropped.id)


@pytest.mark.parametrize("label", ["x" * 201, "two\nlines", 7])
def test_a_bad_label_is_refused_and_makes_no_book(live, label):
    with pytest.raises(ValueError, match="label"):
        create_book(live, label)
    assert list_books(live) == []
    assert not [s for s in inspect(live).get_schema_names() if s.startswith("book_")]
