"""The risk policy against the database: what the ledger reads under the account's lock to check an
order, the drawdown halt kept on the account row, ``floor resume``, and what the report shows.

Every read in :func:`check_order` runs in the trade's own transaction after the account row was
locked ``FOR UPDATE``; every order of that account takes the same lock first, so the counts, sums
and positions read here cannot change until the order commits or is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, DateTime, Engine, func, insert, literal, select, true, update
from sqlalchemy.sql import ColumnElement

from floor.ledger.accounts import Account, get_account
from floor.ledger.risk import (
    Book,
    Breach,
    Halt,
    Order,
    RiskPolicy,
    at_cost_note,
    check,
    drawdown_pct,
    halt_reason,
)
from floor.schema import accounts, activity_logs, positions, snapshots, transactions

TRADING_TIMEZONE = "America/New_York"
LOG_PREFIX = "Risk limit "
LOG_PATTERN = re.compile(r"^Risk limit (\w+): (.*)$", re.DOTALL)


def check_order(
    conn: Connection,
    account: Account,
    policy: RiskPolicy,
    order: Order,
    prices,
    *,
    turn_key: str | None,
    cycle_id: int | None,
) -> Breach | None:
    """The limit ``order`` would pass, logged as an ``account`` entry; ``None`` if it may fill.

    ``prices`` is the ledger's price source: each held position is valued at its quote, at cost
    when it has none. A drawdown halt that starts or ends here is stored on the account row (it
    commits with the transaction whether or not the order fills). Windows (the trading day, a
    cooldown) and halts are timed by the price source's clock: the session's, in a backtest.
    """
    now = literal(prices.now(), DateTime(timezone=True))
    book = _read_book(conn, account, policy, order, prices, turn_key, now)
    if policy.drawdown_halt_pct is not None:
        book = _with_halt(conn, account, policy, book, cycle_id, now)
    breach = check(policy, order, book)
    if breach is not None:
        refused = f"refused {order.side} {order.quantity} {order.symbol}"
        _log(conn, account.id, f"{LOG_PREFIX}{breach.rule}: {refused}: {breach.message}", cycle_id)
    return breach


def _read_book(
    conn: Connection,
    account: Account,
    policy: RiskPolicy,
    order: Order,
    prices,
    turn_key: str | None,
    now: ColumnElement,
) -> Book:
    values: dict[str, Decimal] = {}
    shares: dict[str, int] = {}
    at_cost: list[str] = []
    held = conn.execute(
        select(positions.c.symbol, positions.c.shares, positions.c.cost).where(
            positions.c.account_id == account.id
        )
    )
    # Equity is only worth a quote per holding when a limit is a share of it.
    priced = policy.needs_equity
    for row in held:
        shares[row.symbol] = row.shares
        quote = None if row.symbol == order.symbol or not priced else prices.quote(row.symbol)
        if row.symbol == order.symbol:
            values[row.symbol] = row.shares * order.price
        elif quote is not None:
            values[row.symbol] = row.shares * quote.price
        else:
            values[row.symbol] = row.cost
            if priced:
                at_cost.append(row.symbol)
    own = transactions.c.account_id == account.id
    orders_this_turn = None
    if policy.max_orders_per_turn is not None and turn_key is not None:
        orders_this_turn = conn.execute(
            select(func.count()).select_from(transactions).where(own, transactions.c.turn_key == turn_key)
        ).scalar_one()
    turnover = Decimal("0.00")
    if policy.max_daily_turnover_pct is not None:
        start_of_day = func.timezone(
            TRADING_TIMEZONE, func.date_trunc("day", func.timezone(TRADING_TIMEZONE, now))
        )
        turnover = conn.execute(
            select(func.coalesce(func.sum(transactions.c.total), 0)).where(
                own, transactions.c.created_at >= start_of_day
            )
        ).scalar_one()
    cooling_until = None
    if policy.loss_cooldown_hours is not None and order.side == "buy":
        window = timedelta(hours=float(policy.loss_cooldown_hours))
        last_loss = conn.execute(
            select(func.max(transactions.c.created_at)).where(
                own,
                transactions.c.symbol == order.symbol,
                transactions.c.side == "sell",
                transactions.c.realized < 0,
                transactions.c.created_at > now - window,
            )
        ).scalar_one()
        cooling_until = last_loss + window if last_loss is not None else None
    return Book(
        trader=account.name,
        cash=account.cash,
        positions=values,
        shares=shares,
        at_cost=tuple(sorted(at_cost)),
        orders_this_turn=orders_this_turn,
        turnover_today=Decimal(turnover),
        cooling_until=cooling_until,
    )


def _with_halt(
    conn: Connection,
    account: Account,
    policy: RiskPolicy,
    book: Book,
    cycle_id: int | None,
    now: ColumnElement,
) -> Book:
    """The book with the account's drawdown halt: lifted after its sessions, started past the limit."""
    row = conn.execute(
        select(accounts.c.halted_at, accounts.c.halt_reason, accounts.c.peak_since).where(
            accounts.c.id == account.id
        )
    ).one()
    if row.halted_at is not None:
        passed = _sessions_since(conn, account.id, row.halted_at)
        if policy.drawdown_halt_sessions and passed >= policy.drawdown_halt_sessions:
            _lift(conn, account.id, f"Drawdown halt lifted after {passed} sessions", cycle_id, now)
        else:
            halt = Halt(row.halted_at, row.halt_reason or "", passed)
            return replace(book, halt=halt)
        return book  # the peak restarts now: no snapshot since can put the trader in drawdown
    peak_query = select(func.max(snapshots.c.portfolio_value)).where(snapshots.c.account_id == account.id)
    if row.peak_since is not None:
        peak_query = peak_query.where(snapshots.c.taken_at >= row.peak_since)
    peak = conn.execute(peak_query).scalar_one()
    if drawdown_pct(book.equity, peak) < policy.drawdown_halt_pct:
        return book
    reason = halt_reason(policy, book.equity, peak) + at_cost_note(book)
    halted_at = conn.execute(
        update(accounts)
        .where(accounts.c.id == account.id)
        .values(halted_at=now, halt_reason=reason)
        .returning(accounts.c.halted_at)
    ).scalar_one()
    _log(conn, account.id, f"{LOG_PREFIX}drawdown_halt: halted, sells only: {reason}", cycle_id)
    return replace(book, halt=Halt(halted_at, reason, 0))


def _sessions_since(conn: Connection, account_id: int, since: datetime) -> int:
    """Sessions (valuation snapshots, one per cycle) of the account taken after ``since``."""
    return conn.execute(
        select(func.count())
        .select_from(snapshots)
        .where(snapshots.c.account_id == account_id, snapshots.c.taken_at > since)
    ).scalar_one()


def _lift(
    conn: Connection, account_id: int, message: str, cycle_id: int | None, now: ColumnElement | None = None
) -> None:
    conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(halted_at=None, halt_reason=None, peak_since=func.now() if now is None else now)
    )
    _log(conn, account_id, f"{message}; buys allowed again, the drawdown peak counts from now", cycle_id)


def _log(conn: Connection, account_id: int, message: str, cycle_id: int | None) -> None:
    conn.execute(
        insert(activity_logs).values(
            account_id=account_id, type="account", message=message, cycle_id=cycle_id
        )
    )


def resume(engine: Engine, trader: str) -> bool:
    """Lift the trader's drawdown halt (``floor resume``); False if the trader was not halted."""
    with engine.begin() as conn:
        account = get_account(conn, trader, for_update=True)
        halted_at = conn.execute(select(accounts.c.halted_at).where(accounts.c.id == account.id)).scalar_one()
        if halted_at is None:
            return False
        _lift(conn, account.id, "Drawdown halt lifted by `floor resume`", None)
        return True


@dataclass(frozen=True)
class FiredLimit:
    """A limit that refused an order (or started a halt), as its log entry tells it."""

    created_at: datetime
    rule: str
    message: str


def halt_of(engine: Engine, trader: str) -> Halt | None:
    """The trader's drawdown halt in force, if any, with the sessions passed since it started."""
    with engine.connect() as conn:
        account = get_account(conn, trader)
        row = conn.execute(
            select(accounts.c.halted_at, accounts.c.halt_reason).where(accounts.c.id == account.id)
        ).one()
        if row.halted_at is None:
            return None
        return Halt(row.halted_at, row.halt_reason or "", _sessions_since(conn, account.id, row.halted_at))


def fired_limits(engine: Engine, trader: str, *, last: int = 5) -> list[FiredLimit]:
    """The newest ``last`` limits that fired for the trader, oldest first."""
    query = (
        select(activity_logs.c.created_at, activity_logs.c.message)
        .join(accounts, accounts.c.id == activity_logs.c.account_id)
        .where(
            accounts.c.name == trader,
            activity_logs.c.type == "account",
            activity_logs.c.message.startswith(LOG_PREFIX, autoescape=True),
        )
        .order_by(activity_logs.c.id.desc())
        .limit(last)
    )
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    fired = []
    for row in reversed(rows):
        match = LOG_PATTERN.match(row.message)
        if match:
            fired.append(FiredLimit(row.created_at, match.group(1), match.group(2)))
    return fired


@dataclass(frozen=True)
class RiskState:
    """A trader's drawdown halt in force (if any) and the limits that fired recently, oldest first."""

    halt: Halt | None
    fired: list[FiredLimit]


RECENT_LOG_WINDOW = 1000  # log entries per trader searched for fired limits


def risk_states(engine: Engine, *, last: int = 3, window: int = RECENT_LOG_WINDOW) -> dict[str, RiskState]:
    """Every trader's :class:`RiskState`, in a few queries however many traders there are.

    Fired limits are those among each trader's newest ``window`` log entries (the newest ``last``),
    so a long log costs no more than a short one.
    """
    recent = (
        select(activity_logs.c.id, activity_logs.c.created_at, activity_logs.c.type, activity_logs.c.message)
        .where(activity_logs.c.account_id == accounts.c.id)
        .order_by(activity_logs.c.id.desc())
        .limit(window)
        .lateral()
    )
    fired_query = (
        select(accounts.c.name, recent.c.created_at, recent.c.message)
        .select_from(accounts)
        .join(recent, true())
        .where(recent.c.type == "account", recent.c.message.startswith(LOG_PREFIX, autoescape=True))
        .order_by(accounts.c.id, recent.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(accounts.c.id, accounts.c.name, accounts.c.halted_at, accounts.c.halt_reason).order_by(
                accounts.c.id
            )
        ).all()
        halts = {
            r.name: Halt(r.halted_at, r.halt_reason or "", _sessions_since(conn, r.id, r.halted_at))
            for r in rows
            if r.halted_at is not None
        }
        fired: dict[str, list[FiredLimit]] = {r.name: [] for r in rows}
        for row in conn.execute(fired_query):
            match = LOG_PATTERN.match(row.message)
            if match:
                fired[row.name].append(FiredLimit(row.created_at, match.group(1), match.group(2)))
    return {name: RiskState(halts.get(name), found[-last:] if last else []) for name, found in fired.items()}
