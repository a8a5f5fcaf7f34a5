"""What time it is for the floor: the wall clock live, one NYSE session's decision time in a backtest.

A clock reaches every tool through the price book (``floor.market.cache.PriceBook``) and the turn's
prompt, so a tool can answer only with what was known at its clock's instant (see PriceBook for
the rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


@dataclass(frozen=True)
class WallClock:
    """The live floor's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class SessionClock:
    """A backtest's decision on NYSE session ``session``: its opening bell, so the newest close a
    trader may know is the session before's."""

    session: date

    def __post_init__(self) -> None:
        from floor.market.calendar import is_session

        if not is_session(self.session):
            raise ValueError(f"{self.session.isoformat()} is not an NYSE session")

    def now(self) -> datetime:
        from floor.market.calendar import session_open

        return session_open(self.session)
