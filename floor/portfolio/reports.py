"""Account reports for people and scripts (``floor report``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine

from floor.ledger.accounts import list_accounts
from floor.ledger.risk import RiskPolicy
from floor.ledger.risk_book import fired_limits, halt_of
from floor.market.calendar import NEW_YORK
from floor.money import MINUS, format_money
from floor.portfolio.read_model import account_json, read_accounts, transaction_json
from floor.runs.cycles import Usage, recent_turns, start_of_day, usage_by_trader


def account_reports(
    engine: Engine,
    source: str,
    name: str | None = None,
    *,
    policies: Mapping[str, RiskPolicy] | None = None,
) -> list[dict]:
    """One report per account (or only ``name``'s), as the JSON ``floor report --json`` prints.

    The figures are the read model's (:func:`floor.portfolio.read_model.read_accounts`): holdings at the
    newest cached price of ``source`` (the configured market's name), never a market request; a
    holding with no cached price is valued at cost and listed under ``unpriced``. Every
    transaction is included. ``policies`` (trader name -> risk policy) adds each trader's limits to
    its ``risk`` entry; a drawdown halt and the limits that fired recently are shown either way.
    """
    traders = None
    if name is not None:
        traders = [a.name for a in list_accounts(engine) if a.name.lower() == name.lower()]
    views = read_accounts(engine, source, traders=traders, recent=None)
    usage_all, usage_today = usage_by_trader(engine), usage_by_trader(engine, since=start_of_day())
    reports = []
    for view in views:
        reports.append(
            {
                **account_json(view),
                "usage": usage_all.get(view.trader, Usage()).as_json(),
                "usage_today": usage_today.get(view.trader, Usage()).as_json(),
                "turns": [_turn_json(t) for t in recent_turns(engine, view.trader, last=RECENT_TURNS)],
                "transactions": [transaction_json(t) for t in view.transactions],
                "risk": _risk_json(engine, view.trader, (policies or {}).get(view.trader)),
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
    positions = report.get("positions") or []
    if positions:
        lines.append("  holdings (shares @ average cost, price, value, unrealised P&L, weight):")
    else:
        lines.append("  holdings: none")
    for p in positions:
        if p["price"] is None:
            priced = "NO PRICE (valued at cost)"
        else:
            priced = f"now {format_money(p['price'])}"
        pct = "" if p["unrealised_pct"] is None else f" ({p['unrealised_pct']:+.2f}%)".replace("-", MINUS)
        weight = "" if p["weight_pct"] is None else f", {p['weight_pct']:.2f}% of value"
        lines.append(
            f"    {p['symbol']:6} {p['shares']:>6} @ {format_money(p['average_cost'])}, {priced}, "
            f"value {format_money(p['market_value'])}, "
            f"P&L {format_money(p['unrealised'], signed=True)}{pct}{weight}"
        )
    if report.get("unpriced"):
        lines.append(f"  no cached price for {', '.join(report['unpriced'])}: counted at cost")
    for t in report["transactions"][-5:]:
        realised = t.get("realised")
        lines.append(
            f"  {_new_york(t['timestamp'])} {t['side']:4} {t['quantity']:>5} {t['symbol']:6} "
            f"@ {format_money(t['price'])} = {format_money(t['total'])}"
            + ("" if realised is None else f", realised {format_money(realised, signed=True)}")
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
