"""Typed results of the floor's tools.

The MCP servers return these models (FastMCP sends them as JSON text plus structured content),
and the offline strategy models read the same JSON back from their observations, so both sides
share one definition. Money is sent as a number with cents; quantities as whole shares.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class Balance(BaseModel):
    """Cash of the bound trader's account."""

    kind: str = "balance"
    trader: str
    cash: float = Field(description="Cash available, in dollars.")


class Position(BaseModel):
    symbol: str
    shares: int
    average_cost: float = Field(description="Average cost per share paid, spread included.")


class Holdings(BaseModel):
    """Shares held by the bound trader, symbol by symbol."""

    kind: str = "holdings"
    trader: str
    holdings: dict[str, int] = Field(description="symbol -> whole shares held")
    positions: list[Position]


class TradeReceipt(BaseModel):
    """What a filled buy or sell did to the account."""

    kind: str = "trade"
    trader: str
    side: str = Field(description="'buy' or 'sell'")
    symbol: str
    quantity: int
    price: float = Field(description="Execution price per share, spread included.")
    total: float = Field(description="quantity x price, in dollars.")
    cash_after: float
    shares_after: int
    rationale: str
    transaction_id: int
    duplicate: bool = Field(default=False, description="True if this repeats an earlier identical order.")


class StrategyChanged(BaseModel):
    kind: str = "strategy"
    trader: str
    strategy: str


class QuoteResult(BaseModel):
    """The current price of one symbol."""

    kind: str = "quote"
    symbol: str
    price: float
    as_of: datetime
    source: str
    stale: bool = False
    age_minutes: int | None = None  # how old the price is; set when it is stale


class DailyCloseResult(BaseModel):
    day: date
    close: float


class PriceHistory(BaseModel):
    """Daily closes of one symbol, oldest first."""

    kind: str = "history"
    symbol: str
    closes: list[DailyCloseResult]


class PriceHistories(BaseModel):
    """Daily closes of several symbols, in the order asked for."""

    kind: str = "histories"
    histories: list[PriceHistory]


class MarketStatusResult(BaseModel):
    kind: str = "market_status"
    open: bool
    as_of: datetime
    next_open: datetime | None = None
    next_close: datetime | None = None
    session: str = ""  # open, extended-hours or closed
