"""Sessions for the market-data plans: extended hours, the last closed session, session windows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from floor.market.calendar import (
    last_closed_session,
    market_status,
    reference_time,
    session_close,
    sessions_until,
)

NY = ZoneInfo("America/New_York")
BOTH = frozenset({"open", "extended-hours"})


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


@pytest.mark.parametrize(
    ("at", "session"),
    [
        (ny(2026, 11, 24, 3, 59), "closed"),
        (ny(2026, 11, 24, 4, 0), "extended-hours"),  # pre-market
        (ny(2026, 11, 24, 9, 30), "open"),
        (ny(2026, 11, 24, 16, 0), "extended-hours"),  # after-hours
        (ny(2026, 11, 24, 20, 0), "closed"),
        (ny(2026, 11, 26, 10, 0), "closed"),  # Thanksgiving
        (ny(2026, 11, 28, 10, 0), "closed"),  # Saturday
    ],
)
def test_sessions_and_which_count_as_open(at: datetime, session: str) -> None:
    regular, extended = market_status(at), market_status(at, BOTH)
    assert regular.session == extended.session == session
    assert regular.open == (session == "open")
    assert extended.open == (session != "closed")


def test_the_last_closed_session_is_a_new_york_date() -> None:
    assert last_closed_session(datetime(2026, 11, 25, 1, 0, tzinfo=UTC)) == date(2026, 11, 24)  # 20:00 NY
    assert last_closed_session(ny(2026, 11, 24, 16, 0)) == date(2026, 11, 24)  # the close minute
    assert last_closed_session(ny(2026, 11, 24, 15, 59)) == date(2026, 11, 23)
    assert last_closed_session(ny(2026, 11, 27, 8, 0)) == date(2026, 11, 25)  # over Thanksgiving


def test_half_days_close_early_and_windows_skip_holidays() -> None:
    assert session_close(date(2026, 11, 27)) == ny(2026, 11, 27, 13, 0)
    assert sessions_until(date(2026, 11, 29), 3) == [
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 27),
    ]
    assert reference_time(ny(2026, 11, 28, 12, 0)) == ny(2026, 11, 27, 13, 0)
    assert reference_time(ny(2026, 11, 24, 11, 0)) == ny(2026, 11, 24, 11, 0)
