"""Every trader's account at a glance, in a handful of queries however many traders there are.

The figures are those of ``floor report --json`` (:func:`floor.reports.account_reports`): cash,
holdings valued by :func:`floor.valuation.value_positions` at the newest cached price of each
symbol (the market's price for one never cached), P&L against the initial cash, and the same
transaction fields. ``floor report`` reads trader by trader and every transaction; a live page
needs only the newest few, and one query per kind of row rather than per trader.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, select

from floor.accounts import list_accounts
from floor.market import MarketData
from floor.metrics import win_rate
from floor.price_cache import latest_quotes, price_map
from floor.reports import transaction_json
from floor.schema import positions, transactions
from floor.valuation import value_positions

RECENT_TRANSACTIONS = 10


def newest_prices(engine: Engine, symbols: set[str]) -> dict[str, Decimal]:
    """The newest cached price of each symbol (by fetch time, then id), as ``floor report`` uses."""
    return price_map(latest_quotes(engine, symbols))


def account_summaries(engine: Engine, market: MarketData, recent: int = RECENT_TRANSACTIONS) -> list[dict]:
    """One summary per account, in account order: the report's figures, the newest ``recent``
    transactions (oldest first), ``trade_count`` and ``win_rate`` (:class:`floor.metrics.WinRate`)."""
    accounts = list_accounts(engine)
    with engine.connect() as conn:
        held: dict[int, dict[str, int]] = defaultdict(dict)
        for row in conn.execute(select(positions.c.account_id, positions.c.symbol, positions.c.shares)):
            held[row.account_id][row.symbol] = row.shares
        trades: dict[int, list[dict]] = defaultdict(list)
        query = select(
            transactions.c.account_id,
            transactions.c.created_at,
            transactions.c.symbol,
            transactions.c.side,
            transactions.c.quantity,
            transactions.c.price,
            transactions.c.total,
            transactions.c.rationale,
        ).order_by(transactions.c.id)
        for row in conn.execute(query):
            trades[row.account_id].append(row)
    symbols = {s for h in held.values() for s in h}
    quoted = newest_prices(engine, symbols)
    missing = symbols - quoted.keys()
    if missing:
        quoted.update(price_map(market.quotes(sorted(missing), datetime.now(UTC))))
    summaries = []
    for account in accounts:
        mine = held.get(account.id, {})
        holdings_value, _ = value_positions(account.cash, mine, quoted)
        value = account.cash + holdings_value
        history = trades.get(account.id, [])
        summaries.append(
            {
                "name": account.name,
                "lastname": account.lastname,
                "model": account.model,
                "strategy": account.strategy,
                "cash": float(account.cash),
                "holdings": dict(sorted(mine.items())),
                "portfolio_value": float(value),
                "profit_loss": float(value - account.initial_cash),
                "transactions": [transaction_json(t) for t in history[-recent:]],
                "trade_count": len(history),
                "win_rate": win_rate(t._mapping for t in history),
            }
        )
    return summaries
