"""Snapshots of what each portfolio was worth, one per trader per cycle, and their rows for checks.

The figures come from the read model (:func:`floor.portfolio.read_model.read_accounts` at the cycle's prices);
this module only stores them and reads them back.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from floor.portfolio.read_model import AccountView, read_accounts
from floor.schema import accounts, positions, snapshots


def value_cycle(engine: Engine, source: str, cycle_id: int, taken_at: datetime) -> list[AccountView]:
    """Value every account at cycle ``cycle_id``'s prices (of the market ``source``) and store the
    snapshots; returns the views they were taken from."""
    views = read_accounts(engine, source, cycle_id, recent=0)
    record_snapshots(engine, views, cycle_id=cycle_id, taken_at=taken_at)
    return views


def record_snapshots(
    engine: Engine, views: list[AccountView], *, cycle_id: int | None, taken_at: datetime
) -> None:
    """Store one snapshot per trader; taking the same cycle's snapshot again replaces it.

    Each position keeps the price it was valued at, or ``null`` with ``"price_source": "missing"``
    and its cost as ``value`` when it had none.
    """
    with engine.begin() as conn:
        ids = {row.name: row.id for row in conn.execute(select(accounts.c.id, accounts.c.name))}
        for v in views:
            values = {
                "account_id": ids[v.trader],
                "cycle_id": cycle_id,
                "taken_at": taken_at,
                "cash": v.cash,
                "holdings_value": v.holdings_value,
                "portfolio_value": v.value,
                "profit_loss": v.profit_loss,
                "positions": [
                    {
                        "symbol": h.symbol,
                        "shares": h.shares,
                        "price": None if h.price is None else str(h.price),
                        "price_source": h.price_source,
                        "average_cost": str(h.average_cost),
                        "value": str(h.market_value),
                    }
                    for h in v.holdings
                ],
            }
            statement = pg_insert(snapshots).values(**values)
            if cycle_id is not None:
                statement = statement.on_conflict_do_update(
                    constraint="uq_snapshots_account_cycle",
                    set_={k: statement.excluded[k] for k in values if k not in ("account_id", "cycle_id")},
                )
            conn.execute(statement)


def snapshot_rows(engine: Engine, cycle_id: int) -> list[dict]:
    """The snapshots of one cycle as plain rows (for data-quality checks)."""
    query = (
        select(accounts.c.name, snapshots)
        .join(accounts, accounts.c.id == snapshots.c.account_id)
        .where(snapshots.c.cycle_id == cycle_id)
    )
    with engine.connect() as conn:
        return [
            {
                "trader": r.name,
                "cash": r.cash,
                "holdings_value": r.holdings_value,
                "portfolio_value": r.portfolio_value,
                "positions": [
                    {
                        "symbol": p["symbol"],
                        "shares": p["shares"],
                        "price": None if p.get("price") is None else Decimal(p["price"]),
                        "value": None if p.get("value") is None else Decimal(p["value"]),
                    }
                    for p in r.positions
                ],
            }
            for r in conn.execute(query)
        ]


def position_rows(engine: Engine) -> list[dict]:
    """Every position on the floor as plain rows (for data-quality checks)."""
    query = select(accounts.c.name, positions.c.symbol, positions.c.shares).join(
        accounts, accounts.c.id == positions.c.account_id
    )
    with engine.connect() as conn:
        return [{"trader": r.name, "symbol": r.symbol, "shares": r.shares} for r in conn.execute(query)]
