"""The accounts MCP server: one trader's cash, holdings, trades and strategy.

No tool takes an account name: every call acts for the trader its binding names (fixed when a
stdio server starts, the request's credential in the tool service), so a trader can never touch
another's account.
"""

from __future__ import annotations

import anyio.to_thread
from mcp.server.fastmcp.exceptions import ResourceError, ToolError

from floor.errors import TradeRejected, shown
from floor.ledger import accounts
from floor.ledger import trades as ledger
from floor.portfolio.read_model import account_json, read_accounts, transaction_json
from floor.tool_results import Balance, Holdings, Position, StrategyChanged, TradeReceipt
from servers.binding import BindingSource, TraderBinding, bound_tools
from servers.strict_tools import StrictFastMCP

RECENT = 10  # transactions the account resource carries


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


def build_accounts_server(source: BindingSource, **options: object) -> StrictFastMCP:
    """A FastMCP server whose tools act on the account of the trader ``source`` binds each call to.

    ``options`` go to FastMCP (the tool service passes its auth and transport settings).
    """
    server = StrictFastMCP("accounts_server", log_level="WARNING", **options)
    tool = bound_tools(server, source)

    @tool
    def get_balance(binding: TraderBinding) -> Balance:
        """Get the cash balance of your account, in dollars."""
        return Balance(trader=binding.trader, cash=float(ledger.balance(binding.engine, binding.trader)))

    @tool
    def get_holdings(binding: TraderBinding) -> Holdings:
        """Get the shares you hold, symbol by symbol, with the average cost paid per share."""
        trader = binding.trader
        held = ledger.holdings(binding.engine, trader)
        return Holdings(
            trader=trader,
            holdings={h.symbol: h.shares for h in held},
            positions=[
                Position(symbol=h.symbol, shares=h.shares, average_cost=float(h.average_cost)) for h in held
            ],
        )

    def _trade(binding: TraderBinding, side: str, symbol: str, quantity: int, rationale: str) -> TradeReceipt:
        order = ledger.buy if side == "buy" else ledger.sell
        try:
            trade = order(
                binding.engine,
                binding.trader,
                symbol,
                quantity,
                rationale,
                binding.prices,
                idempotency_key=binding.order_key(side, symbol, quantity),
                cycle_id=binding.cycle_id,
                turn_key=binding.turn_key,
                policy=binding.policy,
            )
        except TradeRejected as exc:
            raise ToolError(f"Trade rejected: {exc}") from exc
        return _receipt(trade)

    @tool
    def buy_shares(binding: TraderBinding, symbol: str, quantity: int, rationale: str) -> TradeReceipt:
        """Buy shares at the current price plus a 0.2% spread, paid from your cash.

        Args:
            symbol: Ticker symbol, e.g. AAPL.
            quantity: Whole number of shares to buy, at least 1.
            rationale: Why you buy, in a sentence; it is recorded with the trade.
        """
        return _trade(binding, "buy", symbol, quantity, rationale)

    @tool
    def sell_shares(binding: TraderBinding, symbol: str, quantity: int, rationale: str) -> TradeReceipt:
        """Sell shares you hold at the current price minus a 0.2% spread.

        Args:
            symbol: Ticker symbol, e.g. AAPL.
            quantity: Whole number of shares to sell, at least 1 and at most what you hold.
            rationale: Why you sell, in a sentence; it is recorded with the trade.
        """
        return _trade(binding, "sell", symbol, quantity, rationale)

    @tool
    def change_strategy(binding: TraderBinding, strategy: str) -> StrategyChanged:
        """Replace your investment strategy with a new description.

        Args:
            strategy: The new strategy, in your own words (at most 2,000 characters).
        """
        try:
            account = accounts.change_strategy(binding.engine, binding.trader, strategy)
        except TradeRejected as exc:
            raise ToolError(f"Strategy not changed: {exc}") from exc
        return StrategyChanged(trader=binding.trader, strategy=account.strategy)

    def _only_bound(binding: TraderBinding, name: str) -> str:
        trader = binding.trader
        if name.strip().lower() != trader.lower():
            raise ResourceError(f"this server is bound to {trader}; it does not answer for {shown(name)}")
        return trader

    @server.resource("accounts://accounts_server/{name}", mime_type="application/json")
    async def account_report(name: str) -> str:
        """Your account: cash, positions with cost, price, value and P&L, strategy and recent
        transactions, as JSON (figures as ``floor report`` gives them)."""
        return await anyio.to_thread.run_sync(_account_json, source.current(), name)

    def _account_json(binding: TraderBinding, name: str) -> str:
        import json

        trader = _only_bound(binding, name)
        found = read_accounts(
            binding.engine, binding.prices.source, binding.cycle_id, traders=[trader], recent=RECENT
        )
        if not found:
            raise ResourceError(f"there is no account for trader {shown(trader)}; run `floor reset`")
        view = found[0]
        return json.dumps(
            {**account_json(view), "recent_transactions": [transaction_json(t) for t in view.transactions]}
        )

    @server.resource("accounts://strategy/{name}", mime_type="text/plain")
    async def strategy(name: str) -> str:
        """Your current investment strategy."""
        return await anyio.to_thread.run_sync(_strategy, source.current(), name)

    def _strategy(binding: TraderBinding, name: str) -> str:
        trader = _only_bound(binding, name)
        with binding.engine.connect() as conn:
            return accounts.get_account(conn, trader).strategy

    return server
