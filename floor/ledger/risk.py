"""Risk limits no model can talk its way past.

A :class:`RiskPolicy` is declared floor-wide in settings (``RISK_*``) and per trader in the traders
file (a ``[trader.risk]`` table). The ledger checks an order against it inside the trade's own
transaction, on the rows it holds locked (see :mod:`floor.ledger.risk_book`), so neither a prompt nor a
race of concurrent orders can pass a limit. This module holds the policy and the rules themselves:
pure functions of an order and the account's book at that moment.

Exposure limits (position, order size, cash reserve, universe, drawdown halt, cool-down) apply to
buys; activity limits (orders per turn, turnover per day) to buys and sells alike. Selling out of a
position is never blocked by a limit on exposure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Literal

from floor.errors import ConfigurationError
from floor.money import cents

if TYPE_CHECKING:
    from floor.settings import Settings
    from floor.traders import TraderProfile

HUNDRED = Decimal("100")
# Each limit with the bounds of its value; the setting is RISK_<NAME>, the traders-file key <name>.
PERCENT_LIMITS = {
    "max_position_pct": (Decimal("0"), HUNDRED),
    "max_order_pct": (Decimal("0"), HUNDRED),
    "max_daily_turnover_pct": (Decimal("0"), Decimal("100000")),
    "min_cash_reserve_pct": (Decimal("0"), HUNDRED),
    "drawdown_halt_pct": (Decimal("0"), HUNDRED),
    "loss_cooldown_hours": (Decimal("0"), Decimal(24 * 365)),
}
COUNT_LIMITS = {"max_orders_per_turn": (1, 100_000), "drawdown_halt_sessions": (1, 100_000)}


@dataclass(frozen=True)
class RiskPolicy:
    """One trader's limits; ``None`` means no limit. Percentages are of equity at trade time."""

    max_position_pct: Decimal | None = None
    max_order_pct: Decimal | None = None
    max_orders_per_turn: int | None = None
    max_daily_turnover_pct: Decimal | None = None
    min_cash_reserve_pct: Decimal | None = None
    universe: frozenset[str] | None = None
    drawdown_halt_pct: Decimal | None = None
    drawdown_halt_sessions: int | None = None  # a halt ends by itself after this many sessions
    loss_cooldown_hours: Decimal | None = None

    @property
    def active(self) -> bool:
        """Whether any limit is set (the halt's session count alone limits nothing)."""
        return any(
            getattr(self, f.name) is not None for f in fields(self) if f.name != "drawdown_halt_sessions"
        )

    @property
    def needs_equity(self) -> bool:
        """Whether a limit is a share of equity (so every holding must be valued to check it)."""
        shares = (
            self.max_position_pct,
            self.max_order_pct,
            self.max_daily_turnover_pct,
            self.min_cash_reserve_pct,
            self.drawdown_halt_pct,
        )
        return any(limit is not None for limit in shares)

    def describe(self) -> list[str]:
        """One line per limit set, in the words the trader's instructions and the report use."""
        lines = []
        if self.max_position_pct is not None:
            lines.append(f"a position may be at most {_pct(self.max_position_pct)} of equity after the fill")
        if self.max_order_pct is not None:
            lines.append(f"one buy may cost at most {_pct(self.max_order_pct)} of equity")
        if self.max_orders_per_turn is not None:
            lines.append(f"at most {self.max_orders_per_turn} orders per turn")
        if self.max_daily_turnover_pct is not None:
            lines.append(
                f"buys and sells together at most {_pct(self.max_daily_turnover_pct)} of equity "
                "per trading day (New York)"
            )
        if self.min_cash_reserve_pct is not None:
            lines.append(f"keep at least {_pct(self.min_cash_reserve_pct)} of equity in cash after a buy")
        if self.universe is not None:
            lines.append(f"buy only {', '.join(sorted(self.universe)) or 'nothing'}")
        if self.drawdown_halt_pct is not None:
            ends = (
                f"for {self.drawdown_halt_sessions} sessions or until resumed"
                if self.drawdown_halt_sessions
                else "until resumed"
            )
            lines.append(
                f"down {_pct(self.drawdown_halt_pct)} from the peak value: sells only, {ends} (drawdown halt)"
            )
        if self.loss_cooldown_hours is not None:
            lines.append(
                f"no buy of a symbol for {_num(self.loss_cooldown_hours)} hours after selling it at a loss"
            )
        return lines


NO_POLICY = RiskPolicy()


def policy_for(profile: TraderProfile | None, settings: Settings) -> RiskPolicy:
    """The floor-wide ``RISK_*`` settings with the trader's own ``[trader.risk]`` overrides on top
    (none for a trader with an account but no entry in the traders file)."""
    values: dict[str, object] = {name: getattr(settings, f"risk_{name}") for name in _limit_names()}
    values["universe"] = parse_universe(settings.risk_universe, "RISK_UNIVERSE")
    if profile is not None:
        values.update(dict(profile.risk_overrides))
    return RiskPolicy(**values)


def parse_universe(value: object, where: str) -> frozenset[str] | None:
    """A set of normalised tickers from a comma-separated string or a list; ``None`` if unset."""
    from floor.errors import TradeRejected
    from floor.ledger.trades import normalize_symbol  # here, not at the top: the ledger imports this module

    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple):
        raise ConfigurationError(f"{where} must be a list of symbols, got {value!r}")
    try:
        return frozenset(normalize_symbol(p) for p in parts if not (isinstance(p, str) and not p.strip()))
    except TradeRejected as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def parse_overrides(raw: object, trader: str) -> tuple[tuple[str, object], ...]:
    """A trader's ``[trader.risk]`` table, checked; ``false`` switches a floor-wide limit off."""
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"trader {trader!r}: risk must be a table of limits")
    known = {*_limit_names(), "universe"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigurationError(
            f"trader {trader!r}: unknown risk limit {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    overrides: list[tuple[str, object]] = []
    for name, value in raw.items():
        where = f"trader {trader!r}: risk.{name}"
        if value is False:
            overrides.append((name, None))
        elif name == "universe":
            overrides.append((name, parse_universe(value, where)))
        elif name in COUNT_LIMITS:
            low, high = COUNT_LIMITS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigurationError(
                    f"{where} must be a whole number from {low} to {high}, got {value!r}"
                )
            overrides.append((name, value))
        else:
            low, high = PERCENT_LIMITS[name]
            number = (
                Decimal(str(value))
                if isinstance(value, int | float) and not isinstance(value, bool)
                else None
            )
            if number is None or not number.is_finite() or not low < number <= high:
                raise ConfigurationError(
                    f"{where} must be a number above {low} and at most {high}, got {value!r}"
                )
            if name in ("min_cash_reserve_pct", "drawdown_halt_pct") and number >= HUNDRED:
                raise ConfigurationError(f"{where} must be below 100")
            overrides.append((name, number))
    return tuple(overrides)


def _limit_names() -> list[str]:
    return [f.name for f in fields(RiskPolicy) if f.name != "universe"]


Side = Literal["buy", "sell"]


@dataclass(frozen=True)
class Order:
    """An order about to fill: ``price`` is the market price it is valued at, ``total`` what it costs."""

    side: Side
    symbol: str
    quantity: int
    price: Decimal
    total: Decimal


@dataclass(frozen=True)
class Halt:
    """A drawdown halt in force: since when, why, and how many sessions have passed since."""

    since: datetime
    reason: str
    sessions_passed: int


@dataclass(frozen=True)
class Book:
    """The account at the moment of the order, read under its lock.

    ``positions`` maps each held symbol to its value at the fill's price source (at cost for the
    symbols in ``at_cost``, which have no quote right now).
    """

    trader: str
    cash: Decimal
    positions: Mapping[str, Decimal]
    shares: Mapping[str, int] = field(default_factory=dict)
    at_cost: tuple[str, ...] = ()
    orders_this_turn: int | None = None
    turnover_today: Decimal = Decimal("0.00")
    cooling_until: datetime | None = None  # when the order's symbol may be bought again
    halt: Halt | None = None

    @property
    def equity(self) -> Decimal:
        return self.cash + sum(self.positions.values(), Decimal("0"))


@dataclass(frozen=True)
class Breach:
    """A limit an order would pass: the rule's name and a message with its numbers."""

    rule: str
    message: str


def check(policy: RiskPolicy, order: Order, book: Book) -> Breach | None:
    """The first limit ``order`` would pass, or ``None`` if the policy allows it."""
    rules = (_universe, _halted, _cooling, _orders_per_turn, _order_size, _position, _cash_reserve, _turnover)
    for rule in rules:
        breach = rule(policy, order, book)
        if breach is not None:
            return breach
    return None


def drawdown_pct(equity: Decimal, peak: Decimal | None) -> Decimal:
    """How far ``equity`` is below ``peak``, in percent (0 without a peak or above it)."""
    if peak is None or peak <= 0 or equity >= peak:
        return Decimal("0")
    return (peak - equity) / peak * HUNDRED


def halt_reason(policy: RiskPolicy, equity: Decimal, peak: Decimal) -> str:
    return (
        f"equity ${cents(equity)} is {_pct(drawdown_pct(equity, peak))} below its peak ${cents(peak)}; "
        f"the drawdown limit is {_pct(policy.drawdown_halt_pct)}"
    )


def _universe(policy: RiskPolicy, order: Order, book: Book) -> Breach | None:
    if order.side != "buy" or policy.universe is None or order.symbol in policy.universe:
        return None
    allowed = ", ".join(sorted(policy.universe)) or "none"
    return Breach("universe", f"{order.symbol} is outside {book.trader}'s tradable universe ({allowed})")


def _halted(policy: RiskPolicy, order: Order, book: Book) -> Breach | None:
    if order.side != "buy" or book.halt is None:
        return None
    ends = f"`floor resume {book.trader}`"
    if policy.drawdown_halt_sessions:
        left = max(policy.drawdown_halt_sessions - book.halt.sessions_passed, 1)
        ends += f" or {left} more session{'s' if left != 1 else ''}"
    return Breach(
        "drawdown_halt", f"trading is halted for drawdown ({book.halt.reason}); only sells until {ends}"
    )


def _cooling(policy: RiskPolicy, order: Order, book: Book) -> Breach | None:
    if order.side != "buy" or book.cooling_until is None:
        return None
    return Breach(
        "loss_cooldown",
        f"{order.symbol} was sold at a loss; no buy of {order.symbol} until "
        f"{book.cooling_until:%Y-%m-%d %H:%M} UTC (cool-down {_num(policy.loss_cooldown_hours)} hours)",
    )


def _orders_per_turn(policy: RiskPolicy, order: Order, book: Book) -> Breach | None:
    limit = policy.max_orders_per_turn
    if limit is None or book.orders_this_turn is None or book.orders_this_turn < limit:
        return None
    return Breach(
        "max_orders_per_turn",
        f"this would be order {book.orders_this_turn + 1} of this turn; the limit is {limit} orders per turn",
    )


def _order_size(policy: RiskPolicy, order: Order, book: Book) -> Breach | None:
    limit = policy.max_order_pct
    if order.side != "buy" or limit is None:
        return None
    equity = book.equity
    if order.total <= equity * limit / HUNDRED:
        return None
    fill = order.total / order.quantity
    most = max(int(equity * limit / HUNDRED // fill), 0)
    return Breach(
        "max_order_pct",
        f"the order costs ${order.total}, {_share(order.total, equity)} of equity ${cents(equity)}; "
        f"the limit is {_pct(limit)} (at most {most} {order.symbol}){at_cost_note(book)}",
    )


def _position(policy: RiskPolicy, order: Order, book: Book) -> Breach | None:
    limit = policy.max_position_pct
    if order.side != "buy" or limit is None:
        return None
    position = (book.shares.get(order.symbol, 0) + order.quantity) * order.price
    equity = book.equity - order.total + order.quantity * order.price
    if position <= equity * limit / HUNDRED:
        return None
    return Breach(
        "max_position_pct",
        f"{order.symbol} position would be {_share(position, equity)} of equity "
        f"(${cents(position)} of ${cents(equity)}); the limit is {_pct(limit)}{at_cost_note(book)}",
    )


def _cash_reserve(policy: RiskPolicy, order: Order, book: Book) -> Breach | None:
    limit = policy.min_cash_reserve_pct
    if order.side != "buy" or limit is None:
        return None
    cash = book.cash - order.total
    equity = book.equity - order.total + order.quantity * order.price
    if cash >= equity * limit / HUNDRED:
        return None
    return Breach(
        "min_cash_reserve_pct",
        f"cash after the buy would be ${cash}, {_share(cash, equity, ROUND_FLOOR)} of equity "
        f"${cents(equity)}; "
        f"the minimum cash reserve is {_pct(limit)}{at_cost_note(book)}",
    )


def _turnover(policy: RiskPolicy, order: Order, book: Book) -> Breach | None:
    limit = policy.max_daily_turnover_pct
    if limit is None:
        return None
    turnover = book.turnover_today + order.total
    equity = book.equity
    if turnover <= equity * limit / HUNDRED:
        return None
    return Breach(
        "max_daily_turnover_pct",
        f"today's trading would reach ${turnover}, {_share(turnover, equity)} of equity ${cents(equity)}; "
        f"the daily turnover limit is {_pct(limit)} (${cents(equity * limit / HUNDRED)})",
    )


def at_cost_note(book: Book) -> str:
    if not book.at_cost:
        return ""
    return f" ({', '.join(book.at_cost)} valued at cost: no price for it now)"


def _share(part: Decimal, whole: Decimal, rounding: str = ROUND_CEILING) -> str:
    # Rounded away from the limit, so a share just past it never reads as equal to it.
    if whole <= 0:
        return "all"
    return _pct((part / whole * HUNDRED).quantize(Decimal("0.1"), rounding=rounding))


def _pct(value: Decimal | None) -> str:
    return f"{_num(value)}%"


def _num(value: Decimal | None) -> str:
    """A percentage or count for people: at most one decimal place, no trailing zero."""
    rounded = Decimal(value).quantize(Decimal("0.1"))
    return f"{rounded:f}".removesuffix(".0")
