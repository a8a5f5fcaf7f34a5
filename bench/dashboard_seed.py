"""A year of hourly history for a floor of N traders, for the dashboard benchmark.

Written straight into the tables with COPY (the ledger would take hours for a year): every
universe symbol's price each hour, one snapshot and one turn per trader per cycle, a few hundred
trades (cash and positions kept consistent with them) and a few thousand log lines per trader.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from floor.ledger.accounts import reset_accounts
from floor.market.universe import INSTRUMENTS
from floor.money import buy_fill, sell_fill
from floor.traders import TraderProfile

HOURS = 24 * 365
LOGS_PER_TRADER = 5_000
TRADES_PER_TRADER = 400
STYLES = [
    ("Patience", "value"),
    ("Bold", "bold"),
    ("Systematic", "risk_parity"),
    ("Crypto", "crypto_momentum"),
]


def copy_rows(pg, table: str, columns: list[str], rows) -> None:
    """COPY rows into a table over a psycopg connection (seeding a year row by row takes minutes)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    with pg.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())


def seed(engine, n: int) -> None:
    """A year of hourly history for ``n`` traders, written straight into the tables."""
    rng = np.random.default_rng(7)
    traders = [
        TraderProfile(f"T{i:03d}", STYLES[i % 4][0], STYLES[i % 4][1], f"Bench trader {i}.", "offline")
        for i in range(n)
    ]
    reset_accounts(engine, traders)
    start = datetime(2025, 11, 24, tzinfo=UTC)
    times = [start + timedelta(hours=h) for h in range(HOURS)]
    symbols = [i.symbol for i in INSTRUMENTS]
    walks = {
        i.symbol: i.base_price * np.exp(np.cumsum(rng.normal(0, i.annual_vol / np.sqrt(HOURS), HOURS)))
        for i in INSTRUMENTS
    }
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        ids = dict(conn.execute("SELECT name, id FROM accounts").fetchall())
        copy_rows(
            conn,
            "cycles",
            ["id", "started_at", "finished_at", "status", "forced", "flow_run_id"],
            (
                (
                    h + 1,
                    t.isoformat(),
                    (t + timedelta(seconds=40)).isoformat(),
                    "completed",
                    "f",
                    uuid.uuid4(),
                )
                for h, t in enumerate(times)
            ),
        )
        conn.execute("SELECT setval('cycles_id_seq', %s)", (HOURS,))
        copy_rows(
            conn,
            "prices",
            ["symbol", "price", "as_of", "source", "stale", "fetched_at", "cycle_id"],
            (
                (s, f"{walks[s][h]:.4f}", t.isoformat(), "simulated", "f", t.isoformat(), h + 1)
                for h, t in enumerate(times)
                for s in symbols
            ),
        )
        for trader in traders:
            account = ids[trader.name]
            held: dict[str, int] = {}
            cash = Decimal("10000.00")
            trades = []
            for h in sorted(rng.choice(HOURS, TRADES_PER_TRADER, replace=False)):
                symbol = symbols[int(rng.integers(len(symbols)))]
                price = Decimal(f"{walks[symbol][h]:.4f}")
                if held.get(symbol) and rng.random() < 0.5:
                    quantity, side, fill = held[symbol], "sell", sell_fill(price)
                    held.pop(symbol)
                    cash += fill * quantity
                else:
                    fill = buy_fill(price)
                    quantity = int(min(cash * Decimal("0.1"), cash) // fill)
                    if quantity < 1:
                        continue
                    side = "buy"
                    held[symbol] = held.get(symbol, 0) + quantity
                    cash -= fill * quantity
                trades.append(
                    (account, times[h].isoformat(), symbol, side, quantity, fill, fill * quantity, h)
                )
            copy_rows(
                conn,
                "transactions",
                [
                    "account_id",
                    "created_at",
                    "symbol",
                    "side",
                    "quantity",
                    "price",
                    "total",
                    "rationale",
                    "idempotency_key",
                    "cycle_id",
                ],
                (
                    (a, t, s, sd, q, p, tot, "bench", f"k{i}", h + 1)
                    for i, (a, t, s, sd, q, p, tot, h) in enumerate(trades)
                ),
            )
            copy_rows(
                conn,
                "positions",
                ["account_id", "symbol", "shares", "cost"],
                ((account, s, q, "0") for s, q in held.items()),
            )
            conn.execute("UPDATE accounts SET cash = %s WHERE id = %s", (cash, account))
            values = 10_000 * np.exp(np.cumsum(rng.normal(0.00001, 0.002, HOURS)))
            copy_rows(
                conn,
                "snapshots",
                [
                    "account_id",
                    "cycle_id",
                    "taken_at",
                    "cash",
                    "holdings_value",
                    "portfolio_value",
                    "profit_loss",
                    "positions",
                ],
                (
                    (
                        account,
                        h + 1,
                        t.isoformat(),
                        f"{v * 0.2:.2f}",
                        f"{v * 0.8:.2f}",
                        f"{v:.2f}",
                        f"{v - 10_000:.2f}",
                        "[]",
                    )
                    for h, (t, v) in enumerate(zip(times, values, strict=True))
                ),
            )
            copy_rows(
                conn,
                "turns",
                [
                    "cycle_id",
                    "account_id",
                    "kind",
                    "model",
                    "status",
                    "steps",
                    "input_tokens",
                    "output_tokens",
                    "cost",
                    "started_at",
                    "finished_at",
                ],
                (
                    (
                        h + 1,
                        account,
                        "trade",
                        "offline",
                        "succeeded",
                        6,
                        0,
                        0,
                        "0",
                        t.isoformat(),
                        t.isoformat(),
                    )
                    for h, t in enumerate(times)
                ),
            )
            kinds = ["trace", "agent", "function", "generation", "response", "account"]
            copy_rows(
                conn,
                "activity_logs",
                ["account_id", "created_at", "type", "message", "cycle_id"],
                (
                    (account, times[h].isoformat(), kinds[k % 6], f"bench line {k} of {trader.name}", h + 1)
                    for k, h in enumerate(sorted(rng.integers(0, HOURS, LOGS_PER_TRADER)))
                ),
            )
        conn.commit()
    finally:
        raw.close()
    with engine.begin() as c:
        c.exec_driver_sql("ANALYZE")
