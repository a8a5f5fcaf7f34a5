"""Who is winning: one row per trader, best portfolio first."""

from __future__ import annotations

from floor.money import cents
from floor.portfolio.read_model import AccountView
from floor.runs.cycles import TurnOutcome


def leaderboard_rows(views: list[AccountView], outcomes: dict[str, TurnOutcome]) -> list[dict]:
    """Rows for a table: rank, trader, value, P&L, return, cash, positions, and the turn's result."""
    ranked = sorted(views, key=lambda v: v.value, reverse=True)
    rows = []
    for rank, v in enumerate(ranked, start=1):
        invested = v.initial_cash
        outcome = outcomes.get(v.trader)
        rows.append(
            {
                "rank": rank,
                "trader": v.trader,
                "portfolio_value": float(v.value),
                "profit_loss": float(v.profit_loss),
                "return_pct": float(cents(v.profit_loss * 100 / invested)) if invested else 0.0,
                "cash": float(v.cash),
                "positions": len(v.holdings),
                "unpriced": ", ".join(v.unpriced),
                "turn": outcome.status if outcome else "not run",
                "steps": outcome.steps if outcome else 0,
                "tokens": (outcome.input_tokens + outcome.output_tokens) if outcome else 0,
                "cost_usd": float(outcome.cost) if outcome else 0.0,
                "note": (outcome.error or "") if outcome else "",
            }
        )
    return rows
