"""PolygonMarket through the real massive client, over real HTTP, against a Polygon-compatible server."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from floor.errors import ConfigurationError, TransientError
from floor.market import MarketData, RemoteMarket
from floor.market.calendar import gate_status
from floor.market.factory import build_market
from floor.market.polygon import BadApiKey, MarketDataUnavailable, PlanNotAllowed, PolygonMarket
from floor.market.simulated import SimulatedMarket
from floor.settings import Settings
from tests.fakes.polygon_server import Fault, PolygonServer

NY = ZoneInfo("America/New_York")
KEY = "test-polygon-key"


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def market_for(server: PolygonServer, plan: str = "free", **overrides) -> PolygonMarket:
    options = {
        "polygon_api_key": KEY,
        "polygon_plan": plan,
        "polygon_base_url": server.base_url,
        "polygon_backoff_seconds": 0.01,
        "polygon_read_timeout": 0.5,
        "polygon_connect_timeout": 0.5,
        **overrides,
    }
    market = build_market(Settings(_env_file=None, **options))
    assert isinstance(market, PolygonMarket)
    return market


@pytest.fixture
def polygon():
    with PolygonServer(api_key=KEY) as server:
        yield server


def test_a_key_selects_polygon_and_no_key_the_simulation(polygon) -> None:
    market = market_for(polygon, "paid")
    assert isinstance(market, MarketData) and isinstance(market, RemoteMarket)
    assert market.name == "polygon-paid"
    simulated = build_market(Settings(_env_file=None))
    assert isinstance(simulated, SimulatedMarket) and not isinstance(simulated, RemoteMarket)
    assert polygon.count() == 0  # building a market makes no request


def test_free_plan_reads_one_grouped_daily_of_the_new_york_session(polygon) -> None:
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 231.5, "MSFT": 410.25, "NOTOURS": 3.0})
    # 23:30 in New York is already the next day in UTC: the request must still name Monday.
    quotes = market_for(polygon).quotes(["AAPL", "msft", "TSLA"], ny(2026, 11, 23, 23, 30))

    assert {s: q.price for s, q in quotes.items()} == {"AAPL": Decimal("231.5"), "MSFT": Decimal("410.25")}
    assert quotes["AAPL"].as_of == datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # Monday's 16:00 close
    assert quotes["AAPL"].source == "polygon-free"
    assert [r.path.rsplit("/", 1)[1] for r in polygon.requests] == ["2026-11-23"]


@pytest.mark.parametrize(
    ("at", "session"),
    [
        (ny(2026, 11, 24, 10, 0), "2026-11-23"),  # during Tuesday's session: Monday has closed
        (ny(2026, 11, 28, 12, 0), "2026-11-27"),  # Saturday: Friday's half day (closed 13:00)
        (ny(2026, 11, 27, 8, 0), "2026-11-25"),  # Friday before the open: back over Thanksgiving
        (ny(2026, 11, 30, 3, 0), "2026-11-27"),  # Monday night-time: back over the weekend
    ],
)
def test_free_plan_walks_back_over_weekends_and_holidays(polygon, at: datetime, session: str) -> None:
    polygon.set_closes(date.fromisoformat(session), {"AAPL": 200.0})
    quotes = market_for(polygon).quotes(["AAPL"], at)
    assert quotes["AAPL"].price == Decimal("200")
    assert polygon.requests[-1].path.endswith(session)


def test_paid_plan_asks_one_snapshot_for_the_symbols_needed(polygon) -> None:
    at = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 220.0})
    polygon.set_trades({"AAPL": 221.25, "MSFT": 411.0, "NOTOURS": 5.0}, at)
    quotes = market_for(polygon, "paid").quotes(["AAPL", "MSFT", "GLD"], at)

    assert {s: q.price for s, q in quotes.items()} == {"AAPL": Decimal("221.25"), "MSFT": Decimal("411")}
    assert quotes["AAPL"].as_of == at and quotes["AAPL"].previous_close == Decimal("220")
    assert polygon.count() == polygon.count("snapshot") == 1
    assert polygon.requests[0].query["tickers"] == ["AAPL,MSFT,GLD"]


def test_realtime_plan_reads_last_trades_and_skips_symbols_it_does_not_know(polygon) -> None:
    at = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    polygon.set_trades({"AAPL": 222.5}, at)
    quotes = market_for(polygon, "realtime").quotes(["AAPL", "GLD"], at)

    assert list(quotes) == ["AAPL"] and quotes["AAPL"].price == Decimal("222.5")
    assert sorted((r.path, r.status) for r in polygon.requests) == [
        ("/v2/last/trade/AAPL", 200),
        ("/v2/last/trade/GLD", 404),
    ]


def test_unknown_symbols_are_never_priced(polygon) -> None:
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 231.5, "FAKE": 0.0})
    market = market_for(polygon)
    assert not market.knows("FAKE") and market.knows("aapl")
    assert market.quotes(["FAKE", "ZZZZ"], ny(2026, 11, 24, 10)) == {}
    assert polygon.count() == 0  # nothing to ask for


def test_429_with_retry_after_then_success(polygon) -> None:
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 231.5})
    polygon.fail_next(Fault(429, retry_after=1))
    started = time.monotonic()
    quotes = market_for(polygon).quotes(["AAPL"], ny(2026, 11, 24, 10))
    waited = time.monotonic() - started

    assert quotes["AAPL"].price == Decimal("231.5")
    assert [r.status for r in polygon.requests] == [429, 200]
    assert waited >= 1.0  # Retry-After honoured


def test_a_retry_after_beyond_the_cap_waits_only_the_cap(polygon) -> None:
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 231.5})
    polygon.fail_next(Fault(429, retry_after=3600))
    started = time.monotonic()
    market_for(polygon, polygon_retry_after_max=0.2).quotes(["AAPL"], ny(2026, 11, 24, 10))
    assert time.monotonic() - started < 5


def test_500s_until_the_retries_run_out(polygon) -> None:
    polygon.fail_always(Fault(500))
    with pytest.raises(
        MarketDataUnavailable, match="after 2 retries: too many 500 error responses"
    ) as caught:
        market_for(polygon, polygon_retries=2).quotes(["AAPL"], ny(2026, 11, 24, 10))
    assert isinstance(caught.value, TransientError)
    assert polygon.count() == 3  # the first try and two retries, no more


def test_two_500s_then_success(polygon) -> None:
    polygon.set_closes(date(2026, 11, 23), {"AAPL": 231.5})
    polygon.fail_next(Fault(500), Fault(503))
    assert market_for(polygon).quotes(["AAPL"], ny(2026, 11, 24, 10))["AAPL"].price == Decimal("231.5")
    assert [r.status for r in polygon.requests] == [500, 503, 200]


def test_a_slow_server_times_out_with_bounded_retries(polygon) -> None:
    polygon.fail_always(Fault(delay=1.5))
    started = time.monotonic()
    with pytest.raises(MarketDataUnavailable, match="read timed out"):
        market_for(polygon, polygon_retries=1, polygon_read_timeout=0.3).quotes(
            ["AAPL"], ny(2026, 11, 24, 10)
        )
    assert time.monotonic() - started < 3
    assert polygon.count() == 2


def test_403_names_the_plan(polygon) -> None:
    polygon.fail_next(Fault(403))
    with pytest.raises(PlanNotAllowed, match="POLYGON_PLAN=paid") as caught:
        market_for(polygon, "paid").quotes(["AAPL"], ny(2026, 11, 24, 10))
    assert isinstance(caught.value, ConfigurationError)
    assert polygon.count() == 1  # a refusal is not retried


def test_a_bad_key_is_a_clear_error_without_retries(polygon) -> None:
    with pytest.raises(BadApiKey, match="POLYGON_API_KEY"):
        market_for(polygon, polygon_api_key="not-the-key").quotes(["AAPL"], ny(2026, 11, 24, 10))
    assert polygon.count() == 1


def test_bad_json_is_an_error_not_an_empty_market(polygon) -> None:
    polygon.fail_next(Fault(bad_json=True))
    with pytest.raises(MarketDataUnavailable, match="not JSON"):
        market_for(polygon).quotes(["AAPL"], ny(2026, 11, 24, 10))


def test_history_from_daily_aggregates_in_session_order(polygon) -> None:
    for day, close in ((date(2026, 11, 20), 100.0), (date(2026, 11, 23), 101.0), (date(2026, 11, 24), 102.0)):
        polygon.set_closes(day, {"AAPL": close})
    closes = market_for(polygon).history("AAPL", 2, date(2026, 11, 24))
    assert [(c.day, c.close) for c in closes] == [(date(2026, 11, 23), 101), (date(2026, 11, 24), 102)]
    assert polygon.requests[0].path.endswith("/2026-11-23/2026-11-24")


@pytest.mark.parametrize(
    ("api", "open_sessions", "expected"),
    [
        ("open", {"open"}, True),
        ("extended-hours", {"open"}, False),
        ("extended-hours", {"open", "extended-hours"}, True),
        ("closed", {"open", "extended-hours"}, False),
    ],
)
def test_gate_reads_the_api_status(polygon, api: str, open_sessions: set[str], expected: bool) -> None:
    polygon.market = api
    status = gate_status(market_for(polygon), ny(2026, 11, 28, 12), frozenset(open_sessions))
    assert (status.open, status.session, status.source, status.note) == (expected, api, "polygon-free", None)


def test_gate_falls_back_to_the_calendar_when_the_api_fails(polygon) -> None:
    polygon.fail_always(Fault(500))
    at = ny(2026, 11, 24, 10)  # a Tuesday session
    status = gate_status(market_for(polygon, polygon_retries=0), at, frozenset({"open"}))
    assert status.open and status.source == "calendar"
    assert "too many 500 error responses" in status.note


def test_gate_with_a_bad_key_says_so_and_uses_the_calendar(polygon) -> None:
    status = gate_status(
        market_for(polygon, polygon_api_key="wrong"), ny(2026, 11, 28, 12), frozenset({"open"})
    )
    assert not status.open and status.source == "calendar" and "POLYGON_API_KEY" in status.note
