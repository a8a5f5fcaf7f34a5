"""A book played session by session, without Prefect: rewinding an unfinished session, resuming."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from floor.backtest.records import create_backtest, ensure_books, plan_backtest
from floor.backtest.sessions import finished_sessions, play_book, rewind
from floor.books import book_engine
from floor.ledger.accounts import change_strategy
from floor.ledger.trades import buy
from floor.market.calendar import sessions_between
from floor.market.simulated import SimulatedMarket
from floor.schema import accounts, cycles, positions, transactions
from floor.traders import find_trader, load_traders
from servers.in_process import BookTools
from tests.fixed_prices import SetPrices

AAPL_AT_200 = SetPrices({"AAPL": "200"})
ACCOUNT_STATE = ("cash", "strategy", "next_turn", "halted_at", "peak_since")
SESSIONS = sessions_between(date(2025, 6, 2), date(2025, 6, 13))  # 10 sessions


@pytest.fixture
def book(floor, settings):
    spec = plan_backtest(load_traders(settings), SESSIONS[0], SESSIONS[-1], traders=["Ray"])
    [made] = ensure_books(floor, create_backtest(floor, spec), load_traders(settings))
    tools = BookTools(settings, SimulatedMarket(), made.schema)
    yield book_engine(floor, made), tools
    tools.close()


def state(engine) -> tuple:
    with engine.connect() as conn:
        return (
            conn.execute(
                select(accounts.c["cash", "strategy", "next_turn", "halted_at", "peak_since"])
            ).all(),
            conn.execute(select(positions.c["symbol", "shares", "cost"]).order_by("symbol")).all(),
            conn.execute(
                select(transactions.c["symbol", "side", "quantity", "price", "created_at"]).order_by("id")
            ).all(),
        )


def cut_short(engine, day: date) -> None:
    """A session killed mid-turn: its cycle still running, with a fill made."""
    with engine.begin() as conn:
        started = insert(cycles).values(session=day, forced=True).returning(cycles.c.id)
        cycle_id = conn.execute(started).scalar_one()
    buy(engine, "Ray", "AAPL", 2, "cut short", AAPL_AT_200, idempotency_key=f"cut-{day}", cycle_id=cycle_id)


def test_an_unfinished_session_is_rewound_to_the_last_completed_one_and_play_goes_on(book, settings):
    engine, tools = book
    ray = find_trader(load_traders(settings), "Ray")
    market = SimulatedMarket()
    play_book(engine, settings, ray, market, SESSIONS[:4], tools)
    after_four = state(engine)
    assert after_four[2], "risk parity invests from its first session"

    # A fifth session killed mid-turn: its cycle running, a fill made, the strategy rewritten.
    cut_short(engine, SESSIONS[4])
    change_strategy(engine, "Ray", "a page rewrote this")
    assert state(engine) != after_four

    assert rewind(engine, [ray]) == SESSIONS[3]
    assert state(engine) == after_four  # cash, strategy, turn kind, positions and fills as four left them
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cycles)).scalar_one() == 4

    play_book(engine, settings, ray, market, SESSIONS, tools)
    assert finished_sessions(engine) == SESSIONS
    cash = state(engine)[0][0].cash
    assert isinstance(cash, Decimal) and cash >= 0


def test_a_rewound_and_resumed_book_ends_as_one_played_straight(floor, settings):
    ray = find_trader(load_traders(settings), "Ray")
    market = SimulatedMarket()
    spec = plan_backtest(load_traders(settings), SESSIONS[0], SESSIONS[-1], traders=["Ray"])
    ledgers = []
    for interrupted in (False, True):
        [made] = ensure_books(floor, create_backtest(floor, spec), load_traders(settings))
        engine, tools = book_engine(floor, made), BookTools(settings, market, made.schema)
        if interrupted:
            play_book(engine, settings, ray, market, SESSIONS[:3], tools)
            cut_short(engine, SESSIONS[3])
        play_book(engine, settings, ray, market, SESSIONS, tools)
        tools.close()
        ledgers.append(state(engine))
    assert ledgers[0] == ledgers[1]
