"""The cycle's prices in Postgres: cache first, checked before use, stale rather than invented."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from floor.market import Quote
from floor.market.cache import PriceBook, cycle_quotes
from floor.market.calendar import last_closed_session, sessions_until
from floor.market.checks import check_price_batch
from floor.market.feed import NoPrices, fetch_batch, freshness_floor, use_batch, use_stale
from floor.market.polygon import MarketDataUnavailable
from floor.runs.cycles import start_cycle
from floor.settings import Settings
from tests.fakes.polygon_server import Fault, PolygonServer
from tests.floor.market.test_polygon import KEY, market_for

NY = ZoneInfo("America/New_York")
MONDAY_NIGHT = datetime(2026, 11, 23, 23, 30, tzinfo=NY)
SETTINGS = Settings(_env_file=None)


@pytest.fixture
def polygon():
    with PolygonServer(api_key=KEY) as server:
        yield server


def cycle(engine) -> int:
    return start_cycle(engine, forced=True, flow_run_id=None)


def test_free_plan_fetches_one_grouped_daily_per_session_whatever_the_cycles(engine, polygon) -> None:
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 231.5, "MSFT": 410.25})
    market = market_for(polygon)
    first = fetch_batch(engine, market, MONDAY_NIGHT, SETTINGS)
    assert first.origin == "upstream"
    use_batch(engine, first, cycle(engine))
    for hours in (1, 5, 9):  # later cycles the same night read the cache
        later = fetch_batch(engine, market, MONDAY_NIGHT + timedelta(hours=hours), SETTINGS)
        assert later.origin == "cache"
        assert {q.symbol: q.price for q in later.quotes} == {
            "AAPL": Decimal("231.5"),
            "MSFT": Decimal("410.25"),
        }
        use_batch(engine, later, cycle(engine))
    assert polygon.count("grouped") == 1

    polygon.set_closes(date(2026, 11, 24), {"AAPL": 233.0, "MSFT": 412.0})
    next_day = fetch_batch(engine, market, MONDAY_NIGHT + timedelta(days=1), SETTINGS)
    assert next_day.origin == "upstream" and polygon.count("grouped") == 2
    assert next_day.previous == {"AAPL": Decimal("231.5"), "MSFT": Decimal("410.25")}


def test_paid_plan_reuses_a_batch_only_for_the_cache_window(engine, polygon) -> None:
    at = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    polygon.set_trades({"AAPL": 221.0}, at)
    market = market_for(polygon, "paid")
    settings = Settings(_env_file=None, price_cache_seconds=60)
    use_batch(engine, fetch_batch(engine, market, at, settings), cycle(engine))
    assert fetch_batch(engine, market, datetime.now(UTC), settings).origin == "cache"
    assert polygon.count("snapshot") == 1
    assert (
        fetch_batch(engine, market, datetime.now(UTC) + timedelta(minutes=2), settings).origin == "upstream"
    )
    assert polygon.count("snapshot") == 2


def test_a_failed_fetch_falls_back_to_the_last_price_marked_stale_with_its_age(engine, polygon) -> None:
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 231.5})
    market = market_for(polygon, polygon_retries=1)
    use_batch(engine, fetch_batch(engine, market, MONDAY_NIGHT, SETTINGS), cycle(engine))

    polygon.fail_always(Fault(500))
    two_days_later = MONDAY_NIGHT + timedelta(days=2)
    with pytest.raises(MarketDataUnavailable) as failure:
        fetch_batch(engine, market, two_days_later, SETTINGS)
    cycle_id = cycle(engine)
    used = use_stale(engine, market, two_days_later, cycle_id, str(failure.value))

    stored = cycle_quotes(engine, cycle_id)
    assert stored["AAPL"].price == Decimal("231.5") and stored["AAPL"].stale
    assert stored["AAPL"].as_of == datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # its own as-of, not now
    assert used.origin == "stale" and used.oldest_age == two_days_later - stored["AAPL"].as_of
    assert "STALE" in used.summary() and "500" in used.summary()


def test_no_price_at_all_is_a_clear_error_and_stores_nothing(engine, polygon) -> None:
    cycle_id = cycle(engine)
    with pytest.raises(NoPrices, match="no price at all: Polygon is down; and no earlier polygon-free price"):
        use_stale(engine, market_for(polygon), MONDAY_NIGHT, cycle_id, "Polygon is down")
    assert cycle_quotes(engine, cycle_id) == {}


def quote(symbol: str, value: str, as_of: datetime, previous: str | None = None) -> Quote:
    return Quote(
        symbol, Decimal(value), as_of, "polygon-paid", previous_close=Decimal(previous) if previous else None
    )


def test_batch_checks_pass_a_good_batch_and_name_every_bad_row() -> None:
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    good = [quote("AAPL", "221", now, "220"), quote("MSFT", "411", now)]
    report = check_price_batch(good, fresh_from=now - timedelta(minutes=30), previous={}, jump_bound=0.5)
    assert report.success, report.as_markdown()

    bad = [
        quote("AAPL", "221", now, "100"),  # +121% from the previous close
        quote("MSFT", "411", now - timedelta(hours=2)),  # too old for the plan
        quote("MSFT", "412", now),  # a duplicate symbol
        quote("GLD", "190", now),
    ]
    report = check_price_batch(
        bad, fresh_from=now - timedelta(minutes=30), previous={"GLD": Decimal("1")}, jump_bound=0.5
    )
    failed = {(r.expectation, r.column): r.observed for r in report.failures()}
    assert set(failed) == {
        ("expect_column_values_to_be_between", "jump_from_previous_close"),
        ("expect_column_values_to_be_between", "minutes_too_old"),
        ("expect_column_values_to_be_unique", "symbol"),
    }
    assert "AAPL" in failed[("expect_column_values_to_be_between", "jump_from_previous_close")]
    assert "GLD" in failed[("expect_column_values_to_be_between", "jump_from_previous_close")]
    assert "MSFT" in failed[("expect_column_values_to_be_between", "minutes_too_old")]


def test_an_empty_batch_fails_the_checks() -> None:
    report = check_price_batch([], fresh_from=datetime.now(UTC), previous={}, jump_bound=0.5)
    assert not report.success


def test_freshness_per_plan(polygon) -> None:
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=NY)
    friday_close = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # the half day closed at 13:00
    assert freshness_floor(market_for(polygon), saturday, SETTINGS) == friday_close
    assert freshness_floor(market_for(polygon, "paid"), saturday, SETTINGS) == friday_close - timedelta(
        minutes=30
    )
    realtime = market_for(polygon, "realtime")
    in_session = datetime(2026, 11, 24, 11, 0, tzinfo=NY)
    assert freshness_floor(realtime, in_session, SETTINGS) == in_session - timedelta(minutes=5)


def test_traders_read_the_cache_and_never_cause_an_upstream_request(engine, polygon) -> None:
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 231.5})
    market = market_for(polygon)
    cycle_id = cycle(engine)
    use_batch(engine, fetch_batch(engine, market, MONDAY_NIGHT, SETTINGS), cycle_id)
    polygon.reset_counts()

    books = [PriceBook(engine, market_for(polygon), cycle_id) for _ in range(8)]
    assert {book.quote("AAPL").price for book in books} == {Decimal("231.5")}
    assert all(book.quote("MSFT") is None for book in books)  # not in the batch: no price, no request
    outside = PriceBook(engine, market_for(polygon))  # a server run by hand, outside any cycle
    assert outside.quote("AAPL").price == Decimal("231.5") and outside.quote("MSFT") is None
    assert polygon.count() == 0


def test_history_is_fetched_once_then_served_from_the_cache(engine, polygon) -> None:
    days = [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    for n, day in enumerate(days):
        polygon.set_closes(day, {"AAPL": 100.0 + n})
    books = [PriceBook(engine, market_for(polygon), None) for _ in range(3)]
    for book in books:
        closes = book.history("AAPL", 3, date(2026, 11, 20))
        assert [(c.day, c.close) for c in closes] == [(d, Decimal(100 + n)) for n, d in enumerate(days)]
    assert polygon.count("aggs") == 1
    assert [c.close for c in books[0].history("AAPL", 2, date(2026, 11, 20))] == [101, 102]
    assert polygon.count("aggs") == 1


def test_a_checked_batch_is_stored_as_fetched(engine, polygon) -> None:
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 231.5})
    batch = fetch_batch(engine, market_for(polygon), MONDAY_NIGHT, SETTINGS)
    cycle_id = cycle(engine)
    use_batch(engine, replace(batch), cycle_id)
    stored = cycle_quotes(engine, cycle_id)["AAPL"]
    assert (stored.price, stored.source, stored.stale) == (Decimal("231.5"), "polygon-free", False)
    assert stored.fetched_at == batch.quotes[0].fetched_at


def test_symbols_a_good_batch_lacks_keep_their_last_price_marked_stale(engine, polygon) -> None:
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 231.5, "MSFT": 410.25})
    market = market_for(polygon)
    use_batch(engine, fetch_batch(engine, market, MONDAY_NIGHT, SETTINGS), cycle(engine), market.universe())
    polygon.set_closes(date(2026, 11, 24), {"AAPL": 233.0})  # no MSFT that day
    cycle_id = cycle(engine)
    used = use_batch(
        engine,
        fetch_batch(engine, market, MONDAY_NIGHT + timedelta(days=1), SETTINGS),
        cycle_id,
        market.universe(),
    )
    stored = cycle_quotes(engine, cycle_id)
    assert (stored["AAPL"].price, stored["AAPL"].stale) == (Decimal("233"), False)
    assert (stored["MSFT"].price, stored["MSFT"].stale) == (Decimal("410.25"), True)
    assert used.stale_count == 1 and "1 of them stale" in used.summary()
    assert set(stored) == {"AAPL", "MSFT"}  # nothing invented for symbols never priced


def test_history_with_a_day_missing_upstream_is_not_asked_again(engine, polygon) -> None:
    sessions = sessions_until(last_closed_session(datetime.now(UTC)), 4)
    for n, day in enumerate(sessions):
        if n != 1:  # a halt: no bar that day
            polygon.set_closes(day, {"AAPL": 100.0 + n})
    book = PriceBook(engine, market_for(polygon), None)
    for _ in range(3):
        closes = book.history("AAPL", 4)
        assert [c.day for c in closes] == [sessions[0], sessions[2], sessions[3]]
    assert polygon.count("aggs") == 1
    book.history("AAPL", 10)  # a longer range than was ever fetched: asked once more
    assert polygon.count("aggs") == 2


def test_the_jump_check_compares_with_the_previous_close_not_a_price_weeks_old(engine, polygon) -> None:
    market = market_for(polygon)
    polygon.set_closes(date(2026, 10, 23), {"AAPL": 100.0})
    use_batch(
        engine,
        fetch_batch(engine, market, datetime(2026, 10, 23, 22, 0, tzinfo=UTC), SETTINGS),
        cycle(engine),
    )
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 180.0})  # a month of honest drift
    after_a_month = fetch_batch(engine, market, MONDAY_NIGHT, SETTINGS)
    assert after_a_month.previous == {}  # nothing from the last five days to compare with
    use_batch(engine, after_a_month, cycle(engine))
    polygon.set_closes(date(2026, 11, 24), {"AAPL": 300.0})
    next_day = fetch_batch(engine, market, MONDAY_NIGHT + timedelta(days=1), SETTINGS)
    assert next_day.previous == {"AAPL": Decimal("180")}
    report = check_price_batch(
        next_day.quotes, fresh_from=next_day.fresh_from, previous=next_day.previous, jump_bound=0.5
    )
    assert not report.success
