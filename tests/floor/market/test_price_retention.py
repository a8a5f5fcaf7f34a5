"""The price cache stays bounded: lookups and fills outside a cycle reuse a fresh batch, and old
out-of-cycle prices are pruned, never one a valuation or a fill used."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update

from floor.ledger import trades as ledger
from floor.market.cache import PriceBook, cycle_quotes, prune_prices, store_quotes
from floor.market.simulated import SimulatedMarket
from floor.money import buy_fill
from floor.portfolio.read_model import read_accounts
from floor.portfolio.valuation import record_snapshots
from floor.runs.cycles import start_cycle
from floor.schema import accounts, prices, snapshots, transactions

MARKET = SimulatedMarket()
UNIVERSE = len(MARKET.universe())
MINUTE = timedelta(seconds=60)


def price_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(prices)).scalar_one()


def age_prices(engine, by: timedelta) -> None:
    with engine.begin() as conn:
        conn.execute(update(prices).values(fetched_at=prices.c.fetched_at - by))


def test_lookups_outside_a_cycle_store_one_batch_per_freshness_window(engine):
    book = PriceBook(engine, MARKET, fresh_for=MINUTE)
    first = book.quote("AAPL")
    for symbol in ["AAPL", "MSFT", "KO", "AAPL", "SPY"] * 4:
        assert book.quote(symbol) is not None
    assert price_rows(engine) == UNIVERSE  # one batch, whatever the number of lookups
    assert book.quote("AAPL") == first and first.cache_id is not None
    age_prices(engine, MINUTE + timedelta(seconds=1))  # past its freshness: the next lookup fetches
    assert book.quote("AAPL").cache_id != first.cache_id
    book.quote("MSFT")
    assert price_rows(engine) == 2 * UNIVERSE


def test_concurrent_lookups_outside_a_cycle_wait_for_one_fetch(engine):
    books = [PriceBook(engine, MARKET, fresh_for=MINUTE) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        quotes = list(pool.map(lambda book: book.quote("KO"), books))
    assert len({q.cache_id for q in quotes}) == 1
    assert price_rows(engine) == UNIVERSE


def test_fills_outside_a_cycle_add_no_price_and_name_the_one_they_used(floor):
    book = PriceBook(floor, MARKET, fresh_for=MINUTE)
    for n in range(3):
        ledger.buy(floor, "Ray", "TLT", 2, "bonds", book, idempotency_key=f"tlt-{n}")
    ledger.sell(floor, "Ray", "TLT", 1, "trim", book, idempotency_key="tlt-sell")
    assert price_rows(floor) == UNIVERSE
    with floor.connect() as conn:
        fills = conn.execute(
            select(transactions.c.side, transactions.c.price, prices.c.price.label("quoted"), prices.c.symbol)
            .join(prices, prices.c.id == transactions.c.price_id)
            .order_by(transactions.c.id)
        ).all()
    assert [f.symbol for f in fills] == ["TLT"] * 4
    assert all(f.price == buy_fill(f.quoted) for f in fills if f.side == "buy")


def test_a_fill_in_a_cycle_names_the_cycles_price(floor):
    cycle_id = start_cycle(floor, forced=True, flow_run_id=None)
    now = datetime.now(UTC)
    store_quotes(
        floor, [replace(q, fetched_at=now) for q in MARKET.quotes(MARKET.universe(), now).values()], cycle_id
    )
    ledger.buy(
        floor,
        "Warren",
        "KO",
        5,
        "staples",
        PriceBook(floor, MARKET, cycle_id),
        idempotency_key="ko",
        cycle_id=cycle_id,
    )
    with floor.connect() as conn:
        used = conn.execute(select(transactions.c.price_id)).scalar_one()
    assert used == cycle_quotes(floor, cycle_id)["KO"].cache_id
    assert price_rows(floor) == UNIVERSE


def test_pruning_keeps_every_price_a_valuation_or_a_fill_used(floor):
    now = datetime.now(UTC)
    days = [now - timedelta(days=d) for d in (10, 9, 8)]

    def stored(at, cycle_id=None, symbols=None):
        quoted = MARKET.quotes(symbols or MARKET.universe(), at).values()
        return {
            q.symbol: q for q in store_quotes(floor, [replace(q, fetched_at=at) for q in quoted], cycle_id)
        }

    oldest = stored(days[0])  # looked up outside a cycle, ten days ago
    # a fill back then, from that batch (the book took it for fresh)
    ledger.buy(
        floor,
        "Ray",
        "TLT",
        4,
        "bonds",
        PriceBook(floor, MARKET, fresh_for=timedelta(days=30)),
        idempotency_key="old",
    )
    older = stored(days[1], symbols=["TLT", "KO"])  # nine days ago, two symbols
    cycle_id = start_cycle(floor, forced=True, flow_run_id=None)
    cycle = stored(days[2], cycle_id)  # a cycle eight days ago, valued at its prices
    valued = read_accounts(floor, MARKET.name, cycle_id)
    record_snapshots(floor, valued, cycle_id=cycle_id, taken_at=days[2])
    newest = stored(now)  # today's lookups

    removed = prune_prices(floor, before=now - timedelta(days=7))

    with floor.connect() as conn:
        kept = set(conn.execute(select(prices.c.id)).scalars())
        filled = conn.execute(select(transactions.c.price_id)).scalar_one()
        [positions] = conn.execute(
            select(snapshots.c.positions)
            .join(accounts, accounts.c.id == snapshots.c.account_id)
            .where(accounts.c.name == "Ray")
        ).scalars()
    assert filled == oldest["TLT"].cache_id and filled in kept  # the fill's price
    assert {q.cache_id for q in cycle.values()} <= kept  # every price the valuation used
    assert {q.cache_id for q in newest.values()} <= kept
    gone = {q.cache_id for q in [*oldest.values(), *older.values()]} - {filled}
    assert not gone & kept and removed == len(gone)
    [ray_tlt] = positions
    assert Decimal(ray_tlt["price"]) == cycle["TLT"].price == cycle_quotes(floor, cycle_id)["TLT"].price
    assert prune_prices(floor, before=now - timedelta(days=7)) == 0


def test_pruning_keeps_the_newest_price_of_each_symbol_however_old(floor):
    long_ago = datetime.now(UTC) - timedelta(days=30)
    quoted = MARKET.quotes(["KO"], long_ago)["KO"]
    [only] = store_quotes(floor, [replace(quoted, fetched_at=long_ago)])
    assert prune_prices(floor, before=datetime.now(UTC)) == 0
    assert PriceBook(floor, MARKET).quote("KO").cache_id != only.cache_id  # too old to answer a lookup
    assert prune_prices(floor, before=datetime.now(UTC)) == 1  # superseded now
