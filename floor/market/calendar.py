"""NYSE trading hours, holidays and half days, from the maintained ``exchange_calendars`` library.

``exchange_calendars`` and pandas take a second or two to import, so they are imported on first
use and the calendar is built once per process; importing this module stays cheap.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")

CALENDAR_NAME = "XNYS"
FIRST_DAY = date(2019, 1, 1)
YEARS_AHEAD = 2  # next_open/next_close need sessions after "now"; the calendar is bounded
# NYSE extended hours: pre-market from 04:00 and after-hours until 20:00 New York time on session days.
EXTENDED_OPEN, EXTENDED_CLOSE = time(4, 0), time(20, 0)
SESSIONS = ("open", "extended-hours", "closed")


@dataclass(frozen=True)
class MarketStatus:
    """Whether the NYSE is open at an instant, and when it next opens and closes (all UTC)."""

    open: bool
    as_of: datetime
    next_open: datetime | None  # None beyond the end of the calendar
    next_close: datetime | None
    # Which session it is ("open", "extended-hours", "closed"), who said so, and why a fallback
    # was used. ``open`` is whether the session counts as open under the floor's settings.
    session: str = field(default="", compare=False)
    source: str = field(default="calendar", compare=False)
    note: str | None = field(default=None, compare=False)


def market_status(at: datetime, open_sessions: frozenset[str] = frozenset({"open"})) -> MarketStatus:
    """Whether the NYSE is open at ``at``, and its next open and close after ``at``.

    The open minute counts as open and the close minute as closed (09:30 open, 16:00 closed).

    Args:
        at: A timezone-aware instant.
        open_sessions: Which sessions count as open: ``"open"`` (the regular session) and/or
            ``"extended-hours"`` (04:00-09:30 and close-20:00 New York time on session days).

    Returns:
        The status, with every time in UTC. While open, ``next_close`` is today's close and
        ``next_open`` the next session's open.

    Raises:
        ValueError: ``at`` is naive or outside the calendar (2019 to two years after today).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"market_status needs a timezone-aware instant, got naive {at.isoformat()}")
    import pandas as pd

    calendar = _nyse()
    as_of = at.astimezone(UTC)
    minute = pd.Timestamp(as_of)
    if not calendar.first_minute <= minute <= calendar.last_minute:
        raise ValueError(
            f"{as_of.isoformat()} is outside the NYSE calendar "
            f"({calendar.first_minute.isoformat()} to {calendar.last_minute.isoformat()})"
        )
    session = _session(calendar, minute, as_of)
    return MarketStatus(
        open=session in open_sessions,
        as_of=as_of,
        next_open=_utc_or_none(calendar.next_open, minute),
        next_close=_utc_or_none(calendar.next_close, minute),
        session=session,
    )


def format_market_time(at: datetime | None) -> str:
    """An instant as a US-market user reads it: New York time with its zone, ``Wed 2 Dec 09:30 EST``.

    ``None`` (beyond the calendar) reads as ``unknown``.
    """
    if at is None:
        return "unknown"
    local = at.astimezone(NEW_YORK)
    return f"{local:%a} {local.day} {local:%b %H:%M %Z}"


def _session(calendar: Any, minute: pd.Timestamp, as_of: datetime) -> str:
    if calendar.is_open_on_minute(minute):
        return "open"
    local = as_of.astimezone(NEW_YORK)
    if calendar.is_session(local.date().isoformat()) and EXTENDED_OPEN <= local.time() < EXTENDED_CLOSE:
        return "extended-hours"
    return "closed"


def last_closed_session(at: datetime) -> date:
    """The most recent NYSE session that has closed at or before the aware instant ``at``."""
    import pandas as pd

    calendar = _nyse()
    minute = pd.Timestamp(at.astimezone(UTC))
    last_close = calendar.previous_close(minute + pd.Timedelta(minutes=1))
    return calendar.minute_to_session(last_close, direction="previous").date()


def session_close(day: date) -> datetime:
    """When the session of ``day`` closed (16:00 New York, 13:00 on half days), in UTC."""
    return _nyse().session_close(day.isoformat()).to_pydatetime().astimezone(UTC)


def session_open(day: date) -> datetime:
    """When the session of ``day`` opened (9:30 New York), in UTC."""
    return _nyse().session_open(day.isoformat()).to_pydatetime().astimezone(UTC)


def is_session(day: date) -> bool:
    """True if the NYSE traded on ``day`` (inside the calendar's years: 2019 to two years ahead)."""
    calendar = _nyse()
    if not calendar.first_session.date() <= day <= calendar.last_session.date():
        return False
    return bool(calendar.is_session(day.isoformat()))


def sessions_between(first: date, last: date) -> list[date]:
    """Every NYSE session from ``first`` to ``last``, both included, in order."""
    return [s.date() for s in _nyse().sessions_in_range(first.isoformat(), last.isoformat())]


def sessions_until(until: date, count: int) -> list[date]:
    """The last ``count`` sessions up to and including ``until`` (a non-session day: before it)."""
    calendar = _nyse()
    last = calendar.date_to_session(until.isoformat(), direction="previous")
    return [s.date() for s in calendar.sessions_window(last, -count)]


def reference_time(at: datetime) -> datetime:
    """``at`` while the regular session is open, else the last close: the newest a price can be."""
    if market_status(at).open:
        return at.astimezone(UTC)
    return session_close(last_closed_session(at))


def gate_status(market: object, at: datetime, open_sessions: frozenset[str]) -> MarketStatus:
    """The cycle's gate: the market API's status for a remote market, else the NYSE calendar.

    When the API fails (a bad key included) the calendar decides and ``note`` says why.
    """
    from floor.errors import FloorError
    from floor.market import RemoteMarket

    status = market_status(at, open_sessions)
    if not isinstance(market, RemoteMarket):
        return status
    try:
        session = market.session()
    except FloorError as exc:
        return replace(status, note=f"market status from the NYSE calendar, because: {exc}")
    return replace(status, open=session in open_sessions, session=session, source=market.name)


def is_market_open(at: datetime) -> bool:
    """True if the NYSE is trading at the aware instant ``at`` (holidays and half days included)."""
    return market_status(at).open


def _utc_or_none(step: Any, minute: pd.Timestamp) -> datetime | None:
    """``step(minute)`` as an aware UTC datetime, or None when it falls beyond the calendar."""
    try:
        found = step(minute)
    except ValueError:  # exchange_calendars' out-of-bounds errors are ValueErrors
        return None
    return found.to_pydatetime().astimezone(UTC)


@cache
def _nyse() -> Any:
    """The XNYS calendar from 2019 to two years after today, built once per process."""
    import exchange_calendars
    import pandas as pd

    last_day = datetime.now(UTC).date() + timedelta(days=366 * YEARS_AHEAD)
    pandas4_warning = getattr(pd.errors, "Pandas4Warning", DeprecationWarning)
    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads ``.values`` of tz-aware pandas objects, which pandas 3.1
        # deprecates; harmless for us. Silenced only here, where its lazy properties are filled.
        warnings.filterwarnings("ignore", category=pandas4_warning, module=r"pandas\.")
        calendar = exchange_calendars.get_calendar(
            CALENDAR_NAME, start=FIRST_DAY.isoformat(), end=last_day.isoformat()
        )
        # Fill the lazily cached arrays now, inside the filter, so later queries do not warn.
        probe = calendar.first_minute
        calendar.is_open_on_minute(probe)
        calendar.next_open(probe)
        calendar.next_close(probe)
    return calendar
