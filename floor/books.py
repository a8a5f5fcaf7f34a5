"""Books: a ledger of its own for each backtest (and seed), under the same rules as the live floor.

A book is a Postgres schema holding the floor's tables as the current code declares them
(``floor.schema.metadata``); the live floor is the database's own schema, and is no row here.
Every ledger, cycle and read-model function takes an engine: given :func:`book_engine`, it reads
and writes only that book, because SQLAlchemy's ``schema_translate_map`` points every table the
code names at the book's schema. No query of the floor's is written twice, and none given a book's
engine can reach the live floor's tables.

A book is created and dropped in one transaction each, so a crash leaves either the whole book
or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, text

from floor.errors import FloorError, shown
from floor.schema import backtests, books, metadata

MAX_LABEL_LENGTH = 200
# Kept in the live schema only: what lists the books is not part of any one of them.
_LIVE_ONLY = {books.name, backtests.name}


class UnknownBook(FloorError):
    """No book has that id."""


@dataclass(frozen=True)
class Book:
    """One book: its id, the schema holding its tables, a label and when it was made."""

    id: int
    schema: str
    label: str
    created_at: datetime
    backtest_id: int | None = None  # the backtest it plays, with its trader and seed
    trader: str | None = None
    seed: int | None = None


def create_book(
    engine: Engine,
    label: str = "",
    *,
    backtest_id: int | None = None,
    trader: str | None = None,
    seed: int | None = None,
) -> Book:
    """A new, empty book (no accounts yet) labelled ``label``, for ``trader`` and ``seed`` of
    backtest ``backtest_id`` when given."""
    if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH or not label.isprintable():
        raise ValueError(
            f"a book's label is printable text of at most {MAX_LABEL_LENGTH} characters, got {shown(label)}"
        )
    with engine.begin() as conn:
        book_id = conn.execute(text("SELECT nextval(pg_get_serial_sequence('books', 'id'))")).scalar_one()
        schema = f"book_{book_id}"  # made of the id alone: nothing a user typed reaches the DDL
        row = conn.execute(
            insert(books)
            .values(
                id=book_id, schema_name=schema, label=label, backtest_id=backtest_id, trader=trader, seed=seed
            )
            .returning(*books.c)
        ).one()
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        tables = [t for t in metadata.sorted_tables if t.name not in _LIVE_ONLY]
        # (execution_options changes the connection itself: the last thing it does here)
        metadata.create_all(conn.execution_options(schema_translate_map={None: schema}), tables=tables)
    return _book(row)


def book_engine(engine: Engine, book: Book) -> Engine:
    """``engine`` reading and writing ``book``'s tables only (same pool, no new connections)."""
    return engine.execution_options(schema_translate_map={None: book.schema})


def find_book(engine: Engine, book_id: int) -> Book:
    with engine.connect() as conn:
        row = conn.execute(select(books).where(books.c.id == book_id)).one_or_none()
    if row is None:
        raise UnknownBook(f"no book {book_id}")
    return _book(row)


def list_books(engine: Engine, backtest_id: int | None = None) -> list[Book]:
    """Every book (of backtest ``backtest_id``, when given), oldest first."""
    query = select(books).order_by(books.c.id)
    if backtest_id is not None:
        query = query.where(books.c.backtest_id == backtest_id)
    with engine.connect() as conn:
        return [_book(row) for row in conn.execute(query)]


def delete_book(engine: Engine, book_id: int) -> None:
    """Drop the book and everything in it; the live floor and other books are untouched."""
    book = find_book(engine, book_id)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{book.schema}" CASCADE'))
        conn.execute(delete(books).where(books.c.id == book.id))


def _book(row) -> Book:
    return Book(
        id=row.id,
        schema=row.schema_name,
        label=row.label,
        created_at=row.created_at,
        backtest_id=row.backtest_id,
        trader=row.trader,
        seed=row.seed,
    )
