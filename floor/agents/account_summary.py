"""The account as a trader's prompt shows it: a summary whose size does not grow with history.

Cash, each position with its cost and value at the newest cached price, the portfolio's value and
P&L, and only the last few transactions. A trader with 500 transactions gets the same few lines as
one with five; the full history stays in the ledger, where ``floor report`` shows it.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine

from floor.accounts import get_account
from floor.ledger import holdings, transaction_history
from floor.money import cents
from floor.price_cache import latest_quotes, price_map

RECENT_TRANSACTIONS = 5
MAX_RATIONALE = 80  # characters of each recent trade's rationale the summary repeats


def account_summary(engine: Engine, trader: str, *, recent: int = RECENT_TRANSACTIONS) -> str:
    """A compact, bounded description of ``trader``'s account for the turn's prompt."""
    with engine.connect() as conn:
        account = get_account(conn, trader)
    held = holdings(engine, trader)
    prices = price_map(latest_quotes(engine, [h.symbol for h in held])) if held else {}
    lines = [f"Cash: ${account.cash:,.2f}"]
    value = account.cash
    if held:
        lines.append("Positions (shares, average cost, last price, value, unrealised P&L):")
    for h in held:
        price = prices.get(h.symbol)
        if price is None:
            lines.append(f"- {h.symbol}: {h.shares} @ ${h.average_cost:,.2f} (no price yet)")
            value += h.cost
            continue
        worth = cents(price * h.shares)
        value += worth
        lines.append(
            f"- {h.symbol}: {h.shares} @ ${h.average_cost:,.2f}, now ${price:,.2f}, "
            f"value ${worth:,.2f}, P&L ${worth - h.cost:+,.2f}"
        )
    if not held:
        lines.append("Positions: none")
    profit = value - account.initial_cash
    lines.append(
        f"Portfolio value: ${value:,.2f}; P&L since start ${profit:+,.2f} "
        f"({_pct(profit, account.initial_cash)})"
    )
    recent_trades = transaction_history(engine, trader, last=recent)
    if recent_trades:
        lines.append(f"Last {len(recent_trades)} transactions, newest last:")
        for t in recent_trades:
            rationale = " ".join(t.rationale.split())
            if len(rationale) > MAX_RATIONALE:
                rationale = rationale[: MAX_RATIONALE - 3] + "..."
            lines.append(
                f"- {t.created_at:%m-%d %H:%M} {t.side} {t.quantity} {t.symbol} "
                f"@ ${t.price:,.2f}: {rationale}"
            )
    else:
        lines.append("No transactions yet.")
    return "\n".join(lines)


def _pct(amount: Decimal, base: Decimal) -> str:
    return f"{amount * 100 / base:+.2f}%" if base else "n/a"
