"""Trader accounts: creating them from configuration, resetting them, and reading them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from floor.errors import TradeRejected
from floor.money import INITIAL_CASH
from floor.schema import accounts, activity_logs, positions, snapshots, transactions, turns
from floor.traders import TraderProfile

MAX_STRATEGY_LENGTH = 2000


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    lastname: str
    model: str
    style: str
    strategy: str
    cash: Decimal
    initial_cash: Decimal
    next_turn: str


def _account(row) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        lastname=row.lastname,
        model=row.model,
        style=row.style,
        strategy=row.strategy,
        cash=row.cash,
        initial_cash=row.initial_cash,
        next_turn=row.next_turn,
    )


def ensure_accounts(engine: Engine, traders: list[TraderProfile]) -> None:
    """Open an account for every configured trader that has none; refresh persona and model.

    Cash, positions, history and a strategy the trader changed itself are left alone.
    """
    with engine.begin() as conn:
        existing = {row.name: row for row in conn.execute(select(accounts))}
        for trader in traders:
            row = existing.get(trader.name)
            if row is None:
                conn.execute(
                    insert(accounts).values(
                        name=trader.name,
                        lastname=trader.lastname,
                        model=trader.model,
                        style=trader.style,
                        strategy=trader.strategy,
                        cash=INITIAL_CASH,
                        initial_cash=INITIAL_CASH,
                    )
                )
            elif (row.lastname, row.model, row.style) != (trader.lastname, trader.model, trader.style):
                conn.execute(
                    update(accounts)
                    .where(accounts.c.id == row.id)
                    .values(
                        lastname=trader.lastname,
                        model=trader.model,
                        style=trader.style,
                        updated_at=func.now(),
                    )
                )


def reset_accounts(engine: Engine, traders: list[TraderProfile]) -> None:
    """Every configured trader back to $10,000 cash, no positions, no transactions, its own strategy.

    Accounts of traders no longer configured are removed with their history.
    """
    names = [t.name for t in traders]
    with engine.begin() as conn:
        conn.execute(delete(accounts).where(accounts.c.name.not_in(names)))
        ids = select(accounts.c.id).where(accounts.c.name.in_(names)).scalar_subquery()
        for table in (transactions, positions, snapshots, activity_logs, turns):
            conn.execute(delete(table).where(table.c.account_id.in_(ids)))
        conn.execute(delete(accounts).where(accounts.c.name.in_(names)))
    ensure_accounts(engine, traders)


def get_account(conn: Connection, name: str, *, for_update: bool = False) -> Account:
    """The account of trader ``name``; with ``for_update`` the row stays locked until commit."""
    query = select(accounts).where(accounts.c.name == name)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    if row is None:
        raise TradeRejected(f"there is no account for trader {name!r}; run `floor reset` to open it")
    return _account(row)


def list_accounts(engine: Engine) -> list[Account]:
    with engine.connect() as conn:
        return [_account(row) for row in conn.execute(select(accounts).order_by(accounts.c.id))]


def change_strategy(engine: Engine, name: str, strategy: str) -> Account:
    """Replace the trader's strategy text; refused if empty or longer than 2,000 characters."""
    text = " ".join(str(strategy).split())
    if not text:
        raise TradeRejected("the new strategy is empty; describe the strategy in a sentence or more")
    if len(text) > MAX_STRATEGY_LENGTH:
        raise TradeRejected(f"the strategy is {len(text)} characters; keep it under {MAX_STRATEGY_LENGTH}")
    with engine.begin() as conn:
        account = get_account(conn, name, for_update=True)
        conn.execute(
            update(accounts).where(accounts.c.id == account.id).values(strategy=text, updated_at=func.now())
        )
        return get_account(conn, name)


def next_turn_kind(engine: Engine, name: str) -> str:
    """The kind of the trader's next turn: 'trade' (find new opportunities) or 'rebalance'.

    The original design alternated the two; the alternation is remembered per trader across
    cycles and only moves on when a turn finishes (see :func:`finish_turn_kind`).
    """
    with engine.connect() as conn:
        return get_account(conn, name).next_turn


def finish_turn_kind(engine: Engine, name: str, kind: str) -> None:
    """Record that a turn of ``kind`` finished, so the next one is the other kind (idempotent)."""
    following = "rebalance" if kind == "trade" else "trade"
    with engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.name == name).values(next_turn=following))
