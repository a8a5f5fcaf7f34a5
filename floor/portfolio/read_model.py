"""The floor's one read model: every trader's account, positions and recent trades, priced by one rule.

:func:`read_accounts` answers "what does each trader hold, and what is it worth?" for the cycle's
valuation, ``floor report``, the dashboard, the accounts MCP resource and the prompt's summary, in a
handful of queries on one connection however many traders there are.

The price of a holding (:func:`read_accounts`' one rule):
  - inside a cycle (``cycle_id`` given): the price cached for that cycle;
  - otherwise: the newest price cached from the configured market (``source``, its name).
A read never asks a market for anything. A holding with no such price is shown as such
(``price_source == "missing"``, ``price`` None), valued at its cost, and the account lists it in
:attr:`AccountView.unpriced`, so every reader shows the same flag.

Money is ``Decimal`` to the cent: each holding's market value is ``cents(price x shares)`` and the
holdings' value is the sum of those, so a table of holdings adds up to the total it shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import Connection, Engine, Integer, func, select, true

from floor.market.cache import read_cycle_quotes, read_latest_quotes
from floor.money import cents
from floor.portfolio.metrics import WinRate
from floor.schema import accounts, positions, transactions

RECENT_TRANSACTIONS = 10
PERCENT = Decimal("0.01")

PriceSource = Literal["cycle", "cached", "missing"]
Side = Literal["buy", "sell"]


@dataclass(frozen=True)
class Holding:
    """One position, priced.

    Attributes:
        cost: What the shares held cost in all (the ledger's average-cost basis).
        average_cost: Cost per share, to the cent.
        price: The price it is valued at; None when there is none (``price_source`` "missing").
        price_source: "cycle" (the cycle's price), "cached" (the newest cached) or "missing".
        price_as_of: When that price was quoted.
        market_value: ``cents(price x shares)``; the cost when the price is missing.
        unrealised: Market value minus cost (0 when the price is missing).
        unrealised_pct: ``unrealised`` as a percentage of cost, two places.
        weight_pct: Market value as a percentage of the account's value, two places.
    """

    symbol: str
    shares: int
    cost: Decimal
    average_cost: Decimal
    price: Decimal | None
    price_source: PriceSource
    price_as_of: datetime | None
    market_value: Decimal
    unrealised: Decimal
    unrealised_pct: Decimal | None
    weight_pct: Decimal | None

    @property
    def missing(self) -> bool:
        return self.price_source == "missing"


@dataclass(frozen=True)
class Transaction:
    """A filled order as the ledger recorded it; ``realised`` is a sell's P&L against average cost."""

    id: int
    created_at: datetime
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    total: Decimal
    rationale: str
    realised: Decimal | None
    cycle_id: int | None


@dataclass(frozen=True)
class AccountView:
    """One trader's account as every reader shows it."""

    trader: str
    lastname: str
    model: str
    strategy: str
    cash: Decimal
    initial_cash: Decimal
    holdings: tuple[Holding, ...]
    holdings_value: Decimal
    value: Decimal
    profit_loss: Decimal
    profit_loss_pct: Decimal | None
    realised: Decimal  # the sum of every sell's realised P&L
    transactions: tuple[Transaction, ...]  # the newest few (all, if asked), oldest first
    trade_count: int
    win_rate: WinRate  # sells that realised a gain, of the sells with a recorded P&L
    cycle_id: int | None  # the cycle whose prices value it; None: the newest cached prices

    @property
    def unpriced(self) -> tuple[str, ...]:
        """Symbols held with no price: valued at cost and flagged wherever the account is shown."""
        return tuple(h.symbol for h in self.holdings if h.missing)

    @property
    def shares(self) -> dict[str, int]:
        """Symbol -> shares held."""
        return {h.symbol: h.shares for h in self.holdings}


def read_accounts(
    engine: Engine,
    source: str,
    cycle_id: int | None = None,
    *,
    traders: Iterable[str] | None = None,
    recent: int | None = RECENT_TRANSACTIONS,
) -> list[AccountView]:
    """Every account (or only ``traders``'), in account order, priced by the one rule above.

    Args:
        engine: The floor's database (a read-only engine will do).
        source: The configured market's name (``market.name``): whose cached prices count outside
            a cycle.
        cycle_id: Value at this cycle's cached prices instead.
        traders: Only these traders' accounts (by exact name).
        recent: How many of the newest transactions each view carries; None for all of them.
    """
    with engine.connect() as conn:
        return _read_accounts(conn, source, cycle_id, traders, recent)


def _read_accounts(
    conn: Connection, source: str, cycle_id: int | None, traders: Iterable[str] | None, recent: int | None
) -> list[AccountView]:
    query = select(accounts).order_by(accounts.c.id)
    if traders is not None:
        query = query.where(accounts.c.name.in_(list(traders)))
    account_rows = list(conn.execute(query))
    if not account_rows:
        return []
    ids = [row.id for row in account_rows]

    held: dict[int, list] = {i: [] for i in ids}
    position_rows = conn.execute(
        select(positions).where(positions.c.account_id.in_(ids)).order_by(positions.c.symbol)
    )
    for row in position_rows:
        held[row.account_id].append(row)
    symbols = {row.symbol for rows in held.values() for row in rows}
    if cycle_id is not None:
        quotes, found_as = read_cycle_quotes(conn, cycle_id, symbols), "cycle"
    else:
        quotes, found_as = read_latest_quotes(conn, symbols, source=source), "cached"

    trades = _recent_transactions(conn, ids, recent)
    tallies = _tallies(conn, ids)

    views = []
    for account in account_rows:
        priced = []
        for row in held[account.id]:
            quote = quotes.get(row.symbol)
            if quote is None:
                priced.append((row, None, "missing", None, row.cost))
            else:
                priced.append((row, quote.price, found_as, quote.as_of, cents(quote.price * row.shares)))
        holdings_value = sum((p[4] for p in priced), Decimal("0.00"))
        value = account.cash + holdings_value
        holdings = tuple(
            Holding(
                symbol=row.symbol,
                shares=row.shares,
                cost=row.cost,
                average_cost=cents(row.cost / row.shares),
                price=price,
                price_source=how,
                price_as_of=as_of,
                market_value=worth,
                unrealised=worth - row.cost,
                unrealised_pct=_pct(worth - row.cost, row.cost),
                weight_pct=_pct(worth, value),
            )
            for row, price, how, as_of, worth in priced
        )
        count, wins, closed, realised = tallies.get(account.id, (0, 0, 0, Decimal("0.00")))
        profit = value - account.initial_cash
        views.append(
            AccountView(
                trader=account.name,
                lastname=account.lastname,
                model=account.model,
                strategy=account.strategy,
                cash=account.cash,
                initial_cash=account.initial_cash,
                holdings=holdings,
                holdings_value=holdings_value,
                value=value,
                profit_loss=profit,
                profit_loss_pct=_pct(profit, account.initial_cash),
                realised=realised,
                transactions=tuple(trades.get(account.id, ())),
                trade_count=count,
                win_rate=WinRate(wins, closed),
                cycle_id=cycle_id,
            )
        )
    return views


def _pct(amount: Decimal, base: Decimal) -> Decimal | None:
    return (amount * 100 / base).quantize(PERCENT) if base else None


def _recent_transactions(
    conn: Connection, ids: list[int], recent: int | None
) -> dict[int, list[Transaction]]:
    """The newest ``recent`` transactions of each account (all when None), oldest first."""
    columns = [
        transactions.c.id,
        transactions.c.account_id,
        transactions.c.created_at,
        transactions.c.symbol,
        transactions.c.side,
        transactions.c.quantity,
        transactions.c.price,
        transactions.c.total,
        transactions.c.rationale,
        transactions.c.realized,
        transactions.c.cycle_id,
    ]
    if recent is None:
        query = select(*columns).where(transactions.c.account_id.in_(ids)).order_by(transactions.c.id)
    else:
        # One index range scan per account (ix_transactions_account_id_id), however long its history.
        owners = select(accounts.c.id.label("owner")).where(accounts.c.id.in_(ids)).subquery()
        newest = (
            select(*columns)
            .where(transactions.c.account_id == owners.c.owner)
            .order_by(transactions.c.id.desc())
            .limit(max(recent, 0))
            .lateral()
        )
        query = select(newest).select_from(owners).join(newest, true()).order_by(newest.c.id)
    found: dict[int, list[Transaction]] = {}
    for r in conn.execute(query):
        found.setdefault(r.account_id, []).append(
            Transaction(
                id=r.id,
                created_at=r.created_at,
                symbol=r.symbol,
                side=r.side,
                quantity=r.quantity,
                price=r.price,
                total=r.total,
                rationale=r.rationale,
                realised=r.realized,
                cycle_id=r.cycle_id,
            )
        )
    return found


def _tallies(conn: Connection, ids: list[int]) -> dict[int, tuple[int, int, int, Decimal]]:
    """Per account: transactions, sells that realised a gain, sells with a recorded P&L, realised P&L."""
    recorded = (transactions.c.side == "sell") & transactions.c.realized.is_not(None)
    query = (
        select(
            transactions.c.account_id,
            func.count(),
            func.count().filter(recorded & (transactions.c.realized > 0)).cast(Integer),
            func.count().filter(recorded).cast(Integer),
            func.coalesce(func.sum(transactions.c.realized), 0),
        )
        .where(transactions.c.account_id.in_(ids))
        .group_by(transactions.c.account_id)
    )
    return {row[0]: (int(row[1]), int(row[2]), int(row[3]), cents(row[4])) for row in conn.execute(query)}


def holding_json(h: Holding) -> dict:
    """A holding at the JSON edge (floats), as ``floor report --json`` and the MCP resource give it."""
    return {
        "symbol": h.symbol,
        "shares": h.shares,
        "average_cost": float(h.average_cost),
        "price": None if h.price is None else float(h.price),
        "price_source": h.price_source,
        "market_value": float(h.market_value),
        "unrealised": float(h.unrealised),
        "unrealised_pct": None if h.unrealised_pct is None else float(h.unrealised_pct),
        "weight_pct": None if h.weight_pct is None else float(h.weight_pct),
    }


def transaction_json(t: Transaction) -> dict:
    """A transaction at the JSON edge, as ``floor report --json`` and the MCP resource give it."""
    return {
        "timestamp": t.created_at.isoformat(),
        "symbol": t.symbol,
        "side": t.side,
        "quantity": t.quantity,
        "price": float(t.price),
        "total": float(t.total),
        "rationale": t.rationale,
        "realised": None if t.realised is None else float(t.realised),
    }


def account_json(view: AccountView) -> dict:
    """The account's figures at the JSON edge; ``holdings`` stays symbol -> shares (the report's contract)."""
    return {
        "name": view.trader,
        "lastname": view.lastname,
        "model": view.model,
        "strategy": view.strategy,
        "cash": float(view.cash),
        "holdings": view.shares,
        "positions": [holding_json(h) for h in view.holdings],
        "unpriced": list(view.unpriced),
        "holdings_value": float(view.holdings_value),
        "portfolio_value": float(view.value),
        "profit_loss": float(view.profit_loss),
        "realised": float(view.realised),
        "priced_at_cycle": view.cycle_id,
    }
