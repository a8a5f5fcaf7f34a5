"""What each portfolio is worth: cash + sum of shares x price, and snapshots of it per cycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from floor.errors import DataQualityError
from floor.money import cents
from floor.schema import accounts, positions, snapshots


@dataclass(frozen=True)
class Valuation:
    trader: str
    cash: Decimal
    holdings_value: Decimal
    portfolio_value: Decimal
    profit_loss: Decimal
    positions: list[dict]  # {"symbol", "shares", "price"} with the price used


def value_positions(
    cash: Decimal, held: dict[str, int], prices: dict[str, Decimal]
) -> tuple[Decimal, list[dict]]:
    """Holdings value (to the cent) and the priced positions; every held symbol needs a price."""
    missing = sorted(symbol for symbol in held if symbol not in prices)
    if missing:
        raise DataQualityError(f"no price to value {', '.join(missing)}")
    priced = [{"symbol": s, "shares": n, "price": prices[s]} for s, n in sorted(held.items())]
    return cents(sum((p["price"] * p["shares"] for p in priced), Decimal("0"))), priced


def value_accounts(engine: Engine, prices: dict[str, Decimal]) -> list[Valuation]:
    """A valuation of every account at ``prices``, in account order."""
    with engine.connect() as conn:
        account_rows = list(conn.execute(select(accounts).order_by(accounts.c.id)))
        held: dict[int, dict[str, int]] = {}
        for row in conn.execute(select(positions)):
            held.setdefault(row.account_id, {})[row.symbol] = row.shares
    valuations = []
    for account in account_rows:
        holdings_value, priced = value_positions(account.cash, held.get(account.id, {}), prices)
        value = account.cash + holdings_value
        valuations.append(
            Valuation(
                trader=account.name,
                cash=account.cash,
                holdings_value=holdings_value,
                portfolio_value=value,
                profit_loss=value - account.initial_cash,
                positions=priced,
            )
        )
    return valuations


def record_snapshots(
    engine: Engine, valuations: list[Valuation], *, cycle_id: int | None, taken_at: datetime
) -> None:
    """Store one snapshot per trader; taking the same cycle's snapshot again replaces it."""
    with engine.begin() as conn:
        ids = {row.name: row.id for row in conn.execute(select(accounts.c.id, accounts.c.name))}
        for v in valuations:
            values = {
                "account_id": ids[v.trader],
                "cycle_id": cycle_id,
                "taken_at": taken_at,
                "cash": v.cash,
                "holdings_value": v.holdings_value,
                "portfolio_value": v.portfolio_value,
                "profit_loss": v.profit_loss,
                "positions": [
                    {"symbol": p["symbol"], "shares": p["shares"], "price": str(p["price"])}
                    for p in v.positions
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
                    {"symbol": p["symbol"], "shares": p["shares"], "price": Decimal(p["price"])}
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
