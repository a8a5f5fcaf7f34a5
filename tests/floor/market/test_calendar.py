"""NYSE hours from exchange_calendars: sessions, weekends, holidays, half days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from floor.market.calendar import MarketStatus, is_market_open, market_status

NY = ZoneInfo("America/New_York")


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def test_open_during_a_normal_session() -> None:
    status = market_status(ny(2025, 11, 24, 11, 0))  # a Monday

    assert status == MarketStatus(
        open=True,
        as_of=datetime(2025, 11, 24, 16, 0, tzinfo=UTC),
        next_open=ny(2025, 11, 25, 9, 30),
        next_close=ny(2025, 11, 24, 16, 0),
    )
    assert status.as_of.utcoffset() == timedelta(0)
    assert status.next_open is not None and status.next_open.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (ny(2025, 11, 24, 8, 0), False),  # before the open
        (ny(2025, 11, 24, 9, 30), True),  # the open minute is open
        (ny(2025, 11, 24, 15, 59), True),
        (ny(2025, 11, 24, 16, 0), False),  # the close minute is closed
        (ny(2025, 11, 22, 12, 0), False),  # Saturday
        (ny(2025, 12, 25, 12, 0), False),  # Christmas
        (ny(2025, 11, 28, 12, 0), True),  # day after Thanksgiving: half day, open until 13:00
        (ny(2025, 11, 28, 13, 30), False),
        (ny(2025, 7, 3, 12, 0), True),  # summer time (UTC-4) works the same
    ],
)
def test_is_market_open(at: datetime, expected: bool) -> None:
    assert is_market_open(at) is expected


def test_half_day_closes_early() -> None:
    assert market_status(ny(2025, 11, 28, 12, 0)).next_close == ny(2025, 11, 28, 13, 0)


def test_friday_evening_waits_for_monday() -> None:
    status = market_status(ny(2025, 11, 21, 18, 0))

    assert not status.open
    assert status.next_open == ny(2025, 11, 24, 9, 30)
    assert status.next_close == ny(2025, 11, 24, 16, 0)


def test_holiday_skips_to_the_next_session() -> None:
    status = market_status(ny(2025, 12, 24, 18, 0))  # Christmas Eve evening; Christmas is closed
    assert status.next_open == ny(2025, 12, 26, 9, 30)


def test_naive_and_out_of_range_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        market_status(datetime(2025, 11, 24, 11, 0))
    with pytest.raises(ValueError, match="outside the NYSE calendar"):
        market_status(ny(2010, 3, 1, 11, 0))


def test_works_for_today_and_covers_the_coming_year() -> None:
    now = datetime.now(UTC)
    status = market_status(now)
    assert status.next_open is not None and status.next_open > now
    assert market_status(now + timedelta(days=365)).next_close is not None


def test_market_times_read_in_new_york_time_with_the_zone() -> None:
    from floor.market.calendar import format_market_time

    assert format_market_time(datetime(2026, 12, 2, 14, 30, tzinfo=UTC)) == "Wed 2 Dec 09:30 EST"
    assert format_market_time(datetime(2026, 7, 1, 13, 30, tzinfo=UTC)) == "Wed 1 Jul 09:30 EDT"
    assert format_market_time(None) == "unknown"
