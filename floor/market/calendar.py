"""NYSE trading hours, holidays and half days, from the maintained ``exchange_calendars`` library.

``exchange_calendars`` and pandas take a second or two to import, so they are imported on first
use and the calendar is built once per process; importing this module stays cheap.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

CALENDAR_NAME = "XNYS"
FIRST_DAY = date(2019, 1, 1)
YEARS_AHEAD = 2  # next_open/next_close need sessions after "now"; the calendar is bounded


@dataclass(frozen=True)
class MarketStatus:
    """Whether the NYSE is open at an instant, and when it next opens and closes (all UTC)."""

    open: bool
    as_of: datetime
    next_open: datetime | None  # None beyond the end of the calendar
    next_close: datetime | None


def market_status(at: datetime) -> MarketStatus:
    """Whether the NYSE is open at ``at``, and its next open and close after ``at``.

    The open minute counts as open and the close minute as closed (09:30 open, 16:00 closed).

    Args:
        at: A timezone-aware instant.

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
    return MarketStatus(
        open=bool(calendar.is_open_on_minute(minute)),
        as_of=as_of,
        next_open=_utc_or_none(calendar.next_open, minute),
        next_close=_utc_or_none(calendar.next_close, minute),
    )


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
