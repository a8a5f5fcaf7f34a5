"""Account reports for people and scripts (``floor report``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine

from floor.accounts import list_accounts
from floor.ledger import holdings, transaction_history
from floor.market import MarketData
from floor.price_cache import latest_quotes, price_map
from floor.valuation import value_positions


def current_prices(engine: Engine, market: MarketData, symbols: set[str]) -> dict[str, Decimal]:
    """The newest cached price of each symbol; the market's price now for any never cached."""
    found = price_map(latest_quotes(engine, symbols))
    missing = symbols - found.keys()
    if missing:
        found.update(price_map(market.quotes(sorted(missing), datetime.now(UTC))))
    return found


def account_reports(engine: Engine, market: MarketData, name: str | None = None) -> list[dict]:
    """One report per account (or only ``name``'s), as the JSON ``floor report --json`` prints."""
    selected = [a for a in list_accounts(engine) if name is None or a.name.lower() == name.lower()]
    held = {a.name: {h.symbol: h.shares for h in holdings(engine, a.name)} for a in selected}
    prices = current_prices(engine, market, {s for h in held.values() for s in h})
    reports = []
    for account in selected:
        holdings_value, _ = value_positions(account.cash, held[account.name], prices)
        value = account.cash + holdings_value
        reports.append(
            {
                "name": account.name,
                "lastname": account.lastname,
                "model": account.model,
                "strategy": account.strategy,
                "cash": float(account.cash),
                "holdings": held[account.name],
                "portfolio_value": float(value),
                "profit_loss": float(value - account.initial_cash),
                "transactions": [
                    {
                        "timestamp": t.created_at.isoformat(),
                        "symbol": t.symbol,
                        "side": t.side,
                        "quantity": t.quantity,
                        "price": float(t.price),
                        "total": float(t.total),
                        "rationale": t.rationale,
                    }
                    for t in transaction_history(engine, account.name)
                ],
            }
        )
    return reports


def format_report(report: dict) -> str:
    """A human-readable account summary."""
    lines = [
        f"{report['name']} {report['lastname']}  ({report['model']})",
        f"  value ${report['portfolio_value']:,.2f}   P&L ${report['profit_loss']:+,.2f}   "
        f"cash ${report['cash']:,.2f}",
    ]
    if report["holdings"]:
        lines.append("  holdings: " + ", ".join(f"{s} {n}" for s, n in sorted(report["holdings"].items())))
    else:
        lines.append("  holdings: none")
    for t in report["transactions"][-5:]:
        lines.append(
            f"  {t['timestamp'][:16]} {t['side']:4} {t['quantity']:>5} {t['symbol']:6} @ ${t['price']:,.2f}"
        )
    lines.append(f"  {len(report['transactions'])} transactions in all")
    return "\n".join(lines)
