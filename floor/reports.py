"""Account reports for people and scripts (``floor report``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine

from floor.accounts import list_accounts
from floor.cycles import Usage, recent_turns, start_of_day, usage_by_trader
from floor.ledger import holdings, transaction_history
from floor.market import MarketData
from floor.market.calendar import NEW_YORK
from floor.money import format_money
from floor.price_cache import latest_quotes, price_map
from floor.risk import RiskPolicy
from floor.risk_book import fired_limits, halt_of
from floor.valuation import value_positions


def current_prices(engine: Engine, market: MarketData, symbols: set[str]) -> dict[str, Decimal]:
    """The newest cached price of each symbol; the market's price now for any never cached."""
    found = price_map(latest_quotes(engine, symbols))
    missing = symbols - found.keys()
    if missing:
        found.update(price_map(market.quotes(sorted(missing), datetime.now(UTC))))
    return found


def account_reports(
    engine: Engine,
    market: MarketData,
    name: str | None = None,
    *,
    policies: Mapping[str, RiskPolicy] | None = None,
) -> list[dict]:
    """One report per account (or only ``name``'s), as the JSON ``floor report --json`` prints.

    ``policies`` (trader name -> risk policy) adds each trader's limits to its ``risk`` entry;
    a drawdown halt and the limits that fired recently are shown either way.
    """
    selected = [a for a in list_accounts(engine) if name is None or a.name.lower() == name.lower()]
    held = {a.name: {h.symbol: h.shares for h in holdings(engine, a.name)} for a in selected}
    prices = current_prices(engine, market, {s for h in held.values() for s in h})
    usage_all, usage_today = usage_by_trader(engine), usage_by_trader(engine, since=start_of_day())
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
                "usage": usage_all.get(account.name, Usage()).as_json(),
                "usage_today": usage_today.get(account.name, Usage()).as_json(),
                "turns": [_turn_json(t) for t in recent_turns(engine, account.name, last=RECENT_TURNS)],
                "transactions": [transaction_json(t) for t in transaction_history(engine, account.name)],
                "risk": _risk_json(engine, account.name, (policies or {}).get(account.name)),
            }
        )
    return reports


RECENT_TURNS = 5
RECENT_FIRED_LIMITS = 5


def _risk_json(engine: Engine, trader: str, policy: RiskPolicy | None) -> dict:
    halt = halt_of(engine, trader)
    return {
        "limits": policy.describe() if policy is not None else [],
        "halt": None
        if halt is None
        else {
            "since": halt.since.isoformat(),
            "reason": halt.reason,
            "sessions_passed": halt.sessions_passed,
        },
        "fired": [
            {"timestamp": f.created_at.isoformat(), "rule": f.rule, "message": f.message}
            for f in fired_limits(engine, trader, last=RECENT_FIRED_LIMITS)
        ],
    }


def transaction_json(transaction) -> dict:
    """One transaction row as ``floor report --json`` (and the dashboard) show it."""
    return {
        "timestamp": transaction.created_at.isoformat(),
        "symbol": transaction.symbol,
        "side": transaction.side,
        "quantity": transaction.quantity,
        "price": float(transaction.price),
        "total": float(transaction.total),
        "rationale": transaction.rationale,
    }


def _turn_json(turn) -> dict:
    return {
        "cycle_id": turn.cycle_id,
        "started_at": turn.started_at.isoformat(),
        "kind": turn.kind,
        "model": turn.model,
        "status": turn.status,
        "steps": turn.steps,
        "input_tokens": turn.input_tokens,
        "output_tokens": turn.output_tokens,
        "cost": float(turn.cost),
        "error": turn.error,
    }


def format_report(report: dict) -> str:
    """A human-readable account summary."""
    lines = [
        f"{report['name']} {report['lastname']}  ({report['model']})",
        f"  value {format_money(report['portfolio_value'])}   "
        f"P&L {format_money(report['profit_loss'], signed=True)}   cash {format_money(report['cash'])}",
    ]
    if report["holdings"]:
        lines.append("  holdings: " + ", ".join(f"{s} {n}" for s, n in sorted(report["holdings"].items())))
    else:
        lines.append("  holdings: none")
    for t in report["transactions"][-5:]:
        lines.append(
            f"  {_new_york(t['timestamp'])} {t['side']:4} {t['quantity']:>5} {t['symbol']:6} "
            f"@ {format_money(t['price'])}"
        )
    lines.append(f"  {len(report['transactions'])} transactions in all")
    usage, today = report.get("usage"), report.get("usage_today")
    if usage:
        lines.append(
            f"  models: {usage['turns']} turns, {usage['input_tokens']:,} in / "
            f"{usage['output_tokens']:,} out tokens, ${usage['cost']:.4f} (today ${today['cost']:.4f})"
        )
    for t in report.get("turns", [])[-3:]:
        line = (
            f"  turn {_new_york(t['started_at'])} cycle {t['cycle_id']} {t['kind']:9} {t['status']:9} "
            f"{t['model']} "
            f"{t['input_tokens']:,}/{t['output_tokens']:,} tokens ${t['cost']:.4f}"
        )
        if t["error"]:
            line += f"  ({t['error'][:120]})"
        lines.append(line)
    risk = report.get("risk") or {}
    if risk.get("halt"):
        halt = risk["halt"]
        lines.append(
            f"  HALTED since {halt['since'][:16]} (sells only; {halt['sessions_passed']} sessions since; "
            f"`floor resume {report['name']}` lifts it): {halt['reason']}"
        )
    if risk.get("limits"):
        lines.append("  risk limits: " + "; ".join(risk["limits"]))
    for fired in risk.get("fired", []):
        lines.append(f"  limit fired {fired['timestamp'][:16]} {fired['rule']}: {fired['message'][:160]}")
    return "\n".join(lines)


def _new_york(timestamp: str) -> str:
    """An ISO 8601 instant from the JSON report as New York time to the minute, zone shown."""
    return f"{datetime.fromisoformat(timestamp).astimezone(NEW_YORK):%Y-%m-%d %H:%M %Z}"
