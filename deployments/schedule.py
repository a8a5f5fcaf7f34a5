"""When the trading cycle runs: a cron inside NYSE hours (America/New_York), every N minutes."""

from __future__ import annotations

TIMEZONE = "America/New_York"


def market_hours_cron(every_n_minutes: int) -> str:
    """A cron expression firing every ``every_n_minutes`` on weekdays during market hours.

    The market-open gate still decides each run (holidays, half days, the 09:00-09:30 slot).
    """
    if every_n_minutes < 1:
        raise ValueError("the cycle must run at least every minute apart")
    if every_n_minutes < 60:
        return f"*/{every_n_minutes} 9-15 * * 1-5"
    hours = max(1, every_n_minutes // 60)
    return f"30 9-15/{hours} * * 1-5" if hours > 1 else "30 9-15 * * 1-5"
