"""The paper-trading ledger: every buy and sell on the floor goes through here.

A trade is one database transaction: the account row is locked, the order checked, the
transaction row written and cash and position updated together. The database enforces cash >= 0
and shares >= 0; every trade carries an idempotency key unique per account, so a retried order
returns the first result and writes nothing. Rejections raise :class:`TradeRejected` with a
reason the agent can read, and change nothing.

With a :class:`~floor.ledger.risk.RiskPolicy`, the order is also checked against its limits inside the
same transaction, on the locked rows (see :mod:`floor.ledger.risk_book`). A refusal by a limit changes
no cash, position or transaction; it writes only its ``account`` log entry (and a drawdown halt
when one starts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from floor.errors import TradeRejected, shown
from floor.ledger.accounts import get_account
from floor.ledger.risk import Breach, Order, RiskPolicy
from floor.ledger.risk_book import check_order
from floor.market import Quote
from floor.money import buy_fill, cents, format_money, sell_fill
from floor.schema import accounts, activity_logs, positions, transactions

MAX_SHARES_PER_ORDER = 1_000_000
MAX_RATIONALE_LENGTH = 2000
MAX_TURN_KEY_LENGTH = 200
SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,5}([.\-][A-Z0-9]{1,2})?$")


class PriceSource(Protocol):
    """Where the ledger gets the price a trade fills at.

    A quote read from the price cache (``cache_id`` set) is recorded with the fill, so the cached
    price it used is kept when old prices are pruned.
    """

    def knows(self, symbol: str) -> bool: ...

    def quote(self, symbol: str) -> Quote | None: ...

    def now(self) -> datetime:
        """The instant a fill happens at (the wall clock live, the session's in a backtest)."""
        ...


@dataclass(frozen=True)
class Trade:
    """A filled buy or sell, as recorded."""

    id: int
    trader: str
    side: str
    symbol: str
    quantity: int
    price: Decimal
    total: Decimal
    cash_after: Decimal
    shares_after: int
    rationale: str
    duplicate: bool = False


def normalize_symbol(symbol: object) -> str:
    """Upper-case, trimmed ticker; refused unless it looks like one (``AAPL``, ``BRK.B``)."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise TradeRejected("the symbol is empty; give a ticker such as AAPL")
    cleaned = symbol.strip().upper()
    if not SYMBOL_PATTERN.match(cleaned):
        raise TradeRejected(f"{shown(cleaned, 28)} is not a ticker symbol; use letters like AAPL or BRK.B")
    return cleaned


def validate_quantity(quantity: object) -> int:
    """A whole number of shares from 1 to 1,000,000, or a TradeRejected saying why not."""
    if isinstance(quantity, bool) or not isinstance(quantity, int | Decimal | float | str):
        raise TradeRejected(f"quantity must be a whole number of shares, got {shown(quantity)}")
    try:
        value = Decimal(str(quantity).strip())
    except ArithmeticError:
        raise TradeRejected(f"quantity must be a whole number of shares, got {shown(quantity)}") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise TradeRejected(f"quantity must be a whole number of shares, got {shown(quantity)}")
    if value < 1:
        raise TradeRejected(f"quantity must be at least 1 share, got {shown(quantity)}")
    if value > MAX_SHARES_PER_ORDER:
        raise TradeRejected(
            f"quantity {shown(int(value))} is absurd; one order is at most {MAX_SHARES_PER_ORDER:,} shares"
        )
    return int(value)


def _clean_rationale(rationale: object) -> str:
    text = " ".join(str(rationale or "").split())
    return text[:MAX_RATIONALE_LENGTH]


def buy(
    engine: Engine,
    trader: str,
    symbol: object,
    quantity: object,
    rationale: object,
    prices: PriceSource,
    *,
    idempotency_key: str,
    cycle_id: int | None = None,
    turn_key: str | None = None,
    policy: RiskPolicy | None = None,
) -> Trade:
    """Buy whole shares at the current price plus the 0.2% spread.

    ``turn_key`` names the trader turn placing the order (stored with it; the orders-per-turn
    limit counts by it); ``policy`` is the trader's risk policy, checked in the trade's transaction.
    """
    return _trade(
        engine,
        trader,
        "buy",
        symbol,
        quantity,
        rationale,
        prices,
        idempotency_key,
        cycle_id,
        turn_key,
        policy,
    )


def sell(
    engine: Engine,
    trader: str,
    symbol: object,
    quantity: object,
    rationale: object,
    prices: PriceSource,
    *,
    idempotency_key: str,
    cycle_id: int | None = None,
    turn_key: str | None = None,
    policy: RiskPolicy | None = None,
) -> Trade:
    """Sell whole shares held at the current price minus the 0.2% spread.

    ``turn_key`` names the trader turn placing the order (stored with it; the orders-per-turn
    limit counts by it); ``policy`` is the trader's risk policy, checked in the trade's transaction.
    """
    return _trade(
        engine,
        trader,
        "sell",
        symbol,
        quantity,
        rationale,
        prices,
        idempotency_key,
        cycle_id,
        turn_key,
        policy,
    )


def _trade(
    engine: Engine,
    trader: str,
    side: str,
    symbol: object,
    quantity: object,
    rationale: object,
    prices: PriceSource,
    idempotency_key: str,
    cycle_id: int | None,
    turn_key: str | None = None,
    policy: RiskPolicy | None = None,
) -> Trade:
    symbol = normalize_symbol(symbol)
    quantity = validate_quantity(quantity)
    rationale = _clean_rationale(rationale)
    if not idempotency_key:
        raise ValueError("every trade needs an idempotency key")
    if turn_key is not None and not 0 < len(turn_key) <= MAX_TURN_KEY_LENGTH:
        raise ValueError(f"a turn key is 1 to {MAX_TURN_KEY_LENGTH} characters")
    if not prices.knows(symbol):
        raise TradeRejected(f"unknown symbol {symbol}: it is not traded on this floor's market")

    # A limit's refusal leaves the transaction to commit its log entry (and a halt), then raises.
    with engine.begin() as conn:
        result = _fill(
            conn,
            trader,
            side,
            symbol,
            quantity,
            rationale,
            prices,
            idempotency_key,
            cycle_id,
            turn_key,
            policy,
        )
    if isinstance(result, Breach):
        raise TradeRejected(result.message)
    return result


def _fill(
    conn,
    trader: str,
    side: str,
    symbol: str,
    quantity: int,
    rationale: str,
    prices: PriceSource,
    idempotency_key: str,
    cycle_id: int | None,
    turn_key: str | None,
    policy: RiskPolicy | None,
) -> Trade | Breach:
    account = get_account(conn, trader, for_update=True)
    earlier = conn.execute(
        select(transactions).where(
            transactions.c.account_id == account.id, transactions.c.idempotency_key == idempotency_key
        )
    ).one_or_none()
    if earlier is not None:
        if (earlier.side, earlier.symbol, earlier.quantity) != (side, symbol, quantity):
            raise TradeRejected(
                f"order key {idempotency_key!r} was already used for {earlier.side} "
                f"{earlier.quantity} {earlier.symbol}; a new order needs a new key"
            )
        return _replay(conn, account, earlier)

    # The price is read inside the lock on purpose: the fill must match what the account
    # is checked against, and the price source only reads a cache or a local simulation.
    quote = prices.quote(symbol)
    if quote is None:
        raise TradeRejected(f"no price for {symbol} is available right now; try again later")
    fill = buy_fill(quote.price) if side == "buy" else sell_fill(quote.price)
    total = cents(fill * quantity)
    held = conn.execute(
        select(positions.c.shares, positions.c.cost).where(
            positions.c.account_id == account.id, positions.c.symbol == symbol
        )
    ).one_or_none()
    shares_held, cost_held = (held.shares, held.cost) if held else (0, Decimal("0.00"))

    if side == "buy":
        if total > account.cash:
            affordable = int(account.cash // fill) if fill > 0 else 0
            raise TradeRejected(
                f"not enough cash to buy {quantity} {symbol} at ${fill}: it costs ${total}, "
                f"the account has ${account.cash} (enough for {affordable} shares)"
            )
        cash_after = account.cash - total
        shares_after = shares_held + quantity
        cost_after = cost_held + total
    else:
        if quantity > shares_held:
            raise TradeRejected(
                f"cannot sell {quantity} {symbol}: the account holds {shares_held} shares of {symbol}"
            )
        cash_after = account.cash + total
        shares_after = shares_held - quantity
        # Cost basis shrinks in proportion to the shares sold (average-cost method).
        cost_after = cents(cost_held * shares_after / shares_held) if shares_after else Decimal("0.00")

    if policy is not None and policy.active:
        order = Order(side, symbol, quantity, quote.price, total)
        breach = check_order(conn, account, policy, order, prices, turn_key=turn_key, cycle_id=cycle_id)
        if breach is not None:
            return breach

    transaction_id = conn.execute(
        insert(transactions)
        .values(
            account_id=account.id,
            symbol=symbol,
            side=side,
            quantity=quantity,
            price=fill,
            total=total,
            rationale=rationale,
            idempotency_key=idempotency_key,
            cycle_id=cycle_id,
            turn_key=turn_key,
            realized=None if side == "buy" else total - (cost_held - cost_after),
            price_id=quote.cache_id,
            created_at=prices.now(),
        )
        .returning(transactions.c.id)
    ).scalar_one()
    conn.execute(
        update(accounts).where(accounts.c.id == account.id).values(cash=cash_after, updated_at=func.now())
    )
    if shares_after:
        conn.execute(
            pg_insert(positions)
            .values(account_id=account.id, symbol=symbol, shares=shares_after, cost=cost_after)
            .on_conflict_do_update(
                index_elements=[positions.c.account_id, positions.c.symbol],
                set_={"shares": shares_after, "cost": cost_after},
            )
        )
    else:
        conn.execute(
            delete(positions).where(positions.c.account_id == account.id, positions.c.symbol == symbol)
        )
    verb = "Bought" if side == "buy" else "Sold"
    conn.execute(
        insert(activity_logs).values(
            account_id=account.id,
            type="account",
            message=(
                f"{verb} {quantity} {symbol} at {format_money(fill)} ({format_money(total)}); "
                f"cash now {format_money(cash_after)}"
            ),
            cycle_id=cycle_id,
        )
    )
    return Trade(
        id=transaction_id,
        trader=trader,
        side=side,
        symbol=symbol,
        quantity=quantity,
        price=fill,
        total=total,
        cash_after=cash_after,
        shares_after=shares_after,
        rationale=rationale,
    )


def _replay(conn, account, earlier) -> Trade:
    """The result of an order that was already filled, read back without writing anything."""
    shares = conn.execute(
        select(positions.c.shares).where(
            positions.c.account_id == account.id, positions.c.symbol == earlier.symbol
        )
    ).scalar_one_or_none()
    return Trade(
        id=earlier.id,
        trader=account.name,
        side=earlier.side,
        symbol=earlier.symbol,
        quantity=earlier.quantity,
        price=earlier.price,
        total=earlier.total,
        cash_after=account.cash,
        shares_after=shares or 0,
        rationale=earlier.rationale,
        duplicate=True,
    )


@dataclass(frozen=True)
class Holding:
    symbol: str
    shares: int
    cost: Decimal

    @property
    def average_cost(self) -> Decimal:
        return cents(self.cost / self.shares)


def balance(engine: Engine, trader: str) -> Decimal:
    with engine.connect() as conn:
        return get_account(conn, trader).cash


def holdings(engine: Engine, trader: str) -> list[Holding]:
    """The trader's positions, by symbol."""
    with engine.connect() as conn:
        account = get_account(conn, trader)
        rows = conn.execute(
            select(positions).where(positions.c.account_id == account.id).order_by(positions.c.symbol)
        )
        return [Holding(row.symbol, row.shares, row.cost) for row in rows]


@dataclass(frozen=True)
class TransactionRecord:
    id: int
    created_at: object
    symbol: str
    side: str
    quantity: int
    price: Decimal
    total: Decimal
    rationale: str


def transaction_history(engine: Engine, trader: str, *, last: int | None = None) -> list[TransactionRecord]:
    """The trader's transactions, oldest first (only the newest ``last`` if given)."""
    with engine.connect() as conn:
        account = get_account(conn, trader)
        query = (
            select(transactions)
            .where(transactions.c.account_id == account.id)
            .order_by(transactions.c.id.desc())
        )
        if last is not None:
            query = query.limit(last)
        rows = list(conn.execute(query))
    return [
        TransactionRecord(r.id, r.created_at, r.symbol, r.side, r.quantity, r.price, r.total, r.rationale)
        for r in reversed(rows)
    ]
