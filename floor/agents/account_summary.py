"""The account as a trader's prompt shows it: a summary whose size does not grow with history.

Cash, each position with its cost and value, the portfolio's value and P&L, and only the last few
transactions, all from the floor's read model (:mod:`floor.portfolio.read_model`), priced by its one rule. A
trader with 500 transactions gets the same few lines as one with five; the full history stays in
the ledger, where ``floor report`` shows it.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine

from floor.errors import TradeRejected
from floor.portfolio.read_model import AccountView, read_accounts

RECENT_TRANSACTIONS = 5
MAX_RATIONALE = 80  # characters of each recent trade's rationale the summary repeats


def account_summary(
    engine: Engine,
    trader: str,
    source: str,
    cycle_id: int | None = None,
    *,
    recent: int = RECENT_TRANSACTIONS,
) -> str:
    """A compact, bounded description of ``trader``'s account for the turn's prompt.

    ``source`` is the configured market's name and ``cycle_id`` the turn's cycle (see
    :func:`floor.portfolio.read_model.read_accounts`).
    """
    found = read_accounts(engine, source, cycle_id, traders=[trader], recent=recent)
    if not found:
        raise TradeRejected(f"there is no account for trader {trader!r}; run `floor reset` to open it")
    return format_summary(found[0])


def format_summary(view: AccountView) -> str:
    lines = [f"Cash: ${view.cash:,.2f}"]
    if view.holdings:
        lines.append("Positions (shares, average cost, last price, value, unrealised P&L):")
    else:
        lines.append("Positions: none")
    for h in view.holdings:
        if h.price is None:
            lines.append(f"- {h.symbol}: {h.shares} @ ${h.average_cost:,.2f} (no price yet; counted at cost)")
            continue
        lines.append(
            f"- {h.symbol}: {h.shares} @ ${h.average_cost:,.2f}, now ${h.price:,.2f}, "
            f"value ${h.market_value:,.2f}, P&L ${h.unrealised:+,.2f}"
        )
    lines.append(
        f"Portfolio value: ${view.value:,.2f}; P&L since start ${view.profit_loss:+,.2f} "
        f"({_pct(view.profit_loss_pct)})"
    )
    if view.transactions:
        lines.append(f"Last {len(view.transactions)} transactions, newest last:")
        for t in view.transactions:
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


def _pct(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}%"
