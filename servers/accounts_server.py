"""The accounts MCP server: one trader's cash, holdings, trades and strategy.

No tool takes an account name: the server is bound to its trader when it starts, so a trader
can never touch another's account.
"""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ResourceError, ToolError

from floor import accounts, ledger
from floor.errors import TradeRejected
from floor.money import cents
from floor.tool_results import Balance, Holdings, Position, StrategyChanged, TradeReceipt
from servers.binding import TraderBinding


def _receipt(trade: ledger.Trade) -> TradeReceipt:
    return TradeReceipt(
        trader=trade.trader,
        side=trade.side,
        symbol=trade.symbol,
        quantity=trade.quantity,
        price=float(trade.price),
        total=float(trade.total),
        cash_after=float(trade.cash_after),
        shares_after=trade.shares_after,
        rationale=trade.rationale,
        transaction_id=trade.id,
        duplicate=trade.duplicate,
    )


def build_accounts_server(binding: TraderBinding) -> FastMCP:
    """A FastMCP server whose tools act on ``binding.trader``'s account only."""
    server = FastMCP("accounts_server", log_level="WARNING")
    trader = binding.trader

    @server.tool()
    def get_balance() -> Balance:
        """Get the cash balance of your account, in dollars."""
        return Balance(trader=trader, cash=float(ledger.balance(binding.engine, trader)))

    @server.tool()
    def get_holdings() -> Holdings:
        """Get the shares you hold, symbol by symbol, with the average cost paid per share."""
        held = ledger.holdings(binding.engine, trader)
        return Holdings(
            trader=trader,
            holdings={h.symbol: h.shares for h in held},
            positions=[
                Position(symbol=h.symbol, shares=h.shares, average_cost=float(h.average_cost)) for h in held
            ],
        )

    def _trade(side: str, symbol: str, quantity: int, rationale: str) -> TradeReceipt:
        order = ledger.buy if side == "buy" else ledger.sell
        try:
            trade = order(
                binding.engine,
                trader,
                symbol,
                quantity,
                rationale,
                binding.prices,
                idempotency_key=binding.order_key(side, symbol, quantity),
                cycle_id=binding.cycle_id,
            )
        except TradeRejected as exc:
            raise ToolError(f"Trade rejected: {exc}") from exc
        return _receipt(trade)

    @server.tool()
    def buy_shares(symbol: str, quantity: int, rationale: str) -> TradeReceipt:
        """Buy shares at the current price plus a 0.2% spread, paid from your cash.

        Args:
            symbol: Ticker symbol, e.g. AAPL.
            quantity: Whole number of shares to buy, at least 1.
            rationale: Why you buy, in a sentence; it is recorded with the trade.
        """
        return _trade("buy", symbol, quantity, rationale)

    @server.tool()
    def sell_shares(symbol: str, quantity: int, rationale: str) -> TradeReceipt:
        """Sell shares you hold at the current price minus a 0.2% spread.

        Args:
            symbol: Ticker symbol, e.g. AAPL.
            quantity: Whole number of shares to sell, at least 1 and at most what you hold.
            rationale: Why you sell, in a sentence; it is recorded with the trade.
        """
        return _trade("sell", symbol, quantity, rationale)

    @server.tool()
    def change_strategy(strategy: str) -> StrategyChanged:
        """Replace your investment strategy with a new description.

        Args:
            strategy: The new strategy, in your own words (at most 2,000 characters).
        """
        try:
            account = accounts.change_strategy(binding.engine, trader, strategy)
        except TradeRejected as exc:
            raise ToolError(f"Strategy not changed: {exc}") from exc
        return StrategyChanged(trader=trader, strategy=account.strategy)

    def _only_bound(name: str) -> None:
        if name.strip().lower() != trader.lower():
            raise ResourceError(f"this server is bound to {trader}; it does not answer for {name!r}")

    @server.resource("accounts://accounts_server/{name}", mime_type="application/json")
    def account_report(name: str) -> str:
        """Your account: cash, holdings, strategy and recent transactions, as JSON."""
        import json

        _only_bound(name)
        with binding.engine.connect() as conn:
            account = accounts.get_account(conn, trader)
        recent = ledger.transaction_history(binding.engine, trader, last=10)
        return json.dumps(
            {
                "name": account.name,
                "lastname": account.lastname,
                "strategy": account.strategy,
                "cash": float(account.cash),
                "holdings": {h.symbol: h.shares for h in ledger.holdings(binding.engine, trader)},
                "recent_transactions": [
                    {
                        "timestamp": t.created_at.isoformat(),
                        "symbol": t.symbol,
                        "side": t.side,
                        "quantity": t.quantity,
                        "price": float(cents(t.price)),
                        "rationale": t.rationale,
                    }
                    for t in recent
                ],
            }
        )

    @server.resource("accounts://strategy/{name}", mime_type="text/plain")
    def strategy(name: str) -> str:
        """Your current investment strategy."""
        _only_bound(name)
        with binding.engine.connect() as conn:
            return accounts.get_account(conn, trader).strategy

    return server
