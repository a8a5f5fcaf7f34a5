"""The market MCP server: prices, daily history (of one symbol or several) and whether the market is open."""

from __future__ import annotations

import re
from datetime import date

from mcp.server.fastmcp.exceptions import ToolError

from floor.errors import FloorError, TradeRejected, shown
from floor.tool_results import (
    DailyCloseResult,
    MarketStatusResult,
    PriceHistories,
    PriceHistory,
    QuoteResult,
)
from servers.binding import BindingSource, TraderBinding, bound_tools
from servers.strict_tools import StrictFastMCP

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def build_market_server(
    source: BindingSource, open_sessions: frozenset[str] = frozenset({"open"}), **options: object
) -> StrictFastMCP:
    """The market tools of the trader ``source`` binds each call to (the prices of its cycle).

    ``open_sessions`` is MARKET_OPEN_STATUSES, e.g. ``open``; ``options`` go to FastMCP.
    """
    server = StrictFastMCP("market_server", log_level="WARNING", **options)
    tool = bound_tools(server, source)

    def _symbol(book, symbol: str) -> str:
        try:
            return book.resolve(symbol)
        except TradeRejected as exc:
            raise ToolError(str(exc)) from exc

    @tool
    def lookup_share_price(binding: TraderBinding, symbol: str) -> QuoteResult:
        """Get the current price of one share.

        Args:
            symbol: Ticker symbol, e.g. AAPL.
        """
        book = binding.prices
        cleaned = _symbol(book, symbol)
        quote = book.quote(cleaned)
        if quote is None:
            raise ToolError(f"no price for {cleaned} is available right now")
        return QuoteResult(
            symbol=cleaned,
            price=float(quote.price),
            as_of=quote.as_of,
            source=quote.source,
            stale=quote.stale,
            age_minutes=int((book.now() - quote.as_of).total_seconds() // 60) if quote.stale else None,
        )

    def _end(end: str | None) -> date | None:
        """``end`` as a day, written YYYY-MM-DD only (Python would also read 20250102 or 2025-W01-4)."""
        if end is None:
            return None
        try:
            if not DAY.fullmatch(end):
                raise ValueError(end)
            return date.fromisoformat(end)
        except ValueError:
            raise ToolError(f"end must be a day written YYYY-MM-DD, got {shown(end)}") from None

    def _history(book, symbol: str, days: int, end: date | None) -> PriceHistory:
        try:
            closes = book.history(symbol, days, end)
        except TradeRejected as exc:
            raise ToolError(str(exc)) from exc
        except FloorError as exc:  # the market API failed or refused; the agent may try later
            raise ToolError(f"the price history of {symbol} is unavailable right now: {exc}") from exc
        return PriceHistory(
            symbol=symbol, closes=[DailyCloseResult(day=c.day, close=float(c.close)) for c in closes]
        )

    @tool
    def get_price_history(
        binding: TraderBinding, symbol: str, days: int = 30, end: str | None = None
    ) -> PriceHistory:
        """Get daily closing prices of one symbol, oldest first.

        Args:
            symbol: Ticker symbol, e.g. AAPL.
            days: How many trading days back, from 1 to 365.
            end: The last day, YYYY-MM-DD; default the last session that has closed. A later day is refused.
        """
        book = binding.prices
        return _history(book, _symbol(book, symbol), days, _end(end))

    @tool
    def get_price_histories(
        binding: TraderBinding, symbols: list[str], days: int = 30, end: str | None = None
    ) -> PriceHistories:
        """Get daily closing prices of several symbols in one call, each oldest first.

        Args:
            symbols: 1 to 20 different ticker symbols, e.g. ["AAPL", "MSFT"].
            days: How many trading days back, from 1 to 365.
            end: The last day, YYYY-MM-DD; default the last session that has closed. A later day is refused.
        """
        book = binding.prices
        try:
            cleaned = book.resolve_batch(symbols)  # every symbol checked before any is read
        except TradeRejected as exc:
            raise ToolError(str(exc)) from exc
        last = _end(end)
        return PriceHistories(histories=[_history(book, symbol, days, last) for symbol in cleaned])

    @tool
    def is_market_open(binding: TraderBinding) -> MarketStatusResult:
        """Tell whether the US stock market (NYSE) is open now, and when it next opens and closes."""
        from floor.market.calendar import market_status

        # The NYSE calendar, not the market API: a trader's question costs no upstream request.
        status = market_status(binding.prices.now(), open_sessions)
        return MarketStatusResult(
            open=status.open,
            as_of=status.as_of,
            next_open=status.next_open,
            next_close=status.next_close,
            session=status.session,
        )

    return server
