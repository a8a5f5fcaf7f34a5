"""Property tests of the ledger and the risk policy against a real Postgres.

Hypothesis draws sequences of orders (a few symbols, one outside the market; valid and invalid
quantities; idempotency keys from a small pool, so they repeat), price moves, sessions and resumes.
After every order: a refusal changed nothing, a repeated key wrote nothing. At every fill: no
limit of the drawn policy is exceeded, recomputed here from the database at the test's prices.
After every sequence: cash = 10,000 - buys + sells to the cent, holdings = bought - sold, nothing
negative. Each test prints how many orders it placed (run pytest with -s to see it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from floor.errors import TradeRejected
from floor.ledger import trades as ledger
from floor.ledger.accounts import reset_accounts
from floor.ledger.risk import NO_POLICY, RiskPolicy
from floor.ledger.risk_book import resume
from floor.money import INITIAL_CASH, cents
from floor.schema import accounts, positions, snapshots, transactions
from floor.traders import load_traders
from tests.fixed_prices import SetPrices
from tests.valued_floor import value_at

TRADER = "Warren"
MARKET = {"AAPL": "100.00", "MSFT": "250.00", "KO": "60.00", "TLT": "90.00"}
SYMBOLS = [*MARKET, "ZZZZ"]  # ZZZZ: not traded on this market
KEYS = [f"key-{i}" for i in range(25)]
TURNS = ["turn-a", "turn-b", None]
HUNDRED = Decimal("100")

# Mostly orders that could fill, so that fills, limits and replays are all exercised.
valid_quantities = st.integers(1, 12)
invalid_quantities = st.sampled_from([0, -3, 2.5, "7", True, None, 10**7])
quantities = st.sampled_from([valid_quantities] * 8 + [invalid_quantities]).flatmap(lambda drawn: drawn)
trade_ops = st.tuples(
    st.sampled_from(["buy", "buy", "sell"]),
    st.sampled_from([*list(MARKET) * 4, "ZZZZ"]),
    quantities,
    st.sampled_from(KEYS),
    st.sampled_from(TURNS),
)
other_ops = {
    "move": st.tuples(
        st.just("move"), st.sampled_from(list(MARKET)), st.sampled_from(["0.7", "0.9", "1.1", "1.4"])
    ),
    "session": st.tuples(st.just("session")),
    "resume": st.tuples(st.just("resume")),
}
steps = st.sampled_from(["trade"] * 7 + ["move", "move", "session", "session", "resume"]).flatmap(
    lambda kind: trade_ops if kind == "trade" else other_ops[kind]
)
sequences = st.lists(steps, min_size=15, max_size=40)


def maybe(values):
    return st.one_of(st.none(), st.sampled_from(values))


policies = st.builds(
    RiskPolicy,
    max_position_pct=maybe([Decimal("15"), Decimal("30"), Decimal("60")]),
    max_order_pct=maybe([Decimal("5"), Decimal("20")]),
    max_orders_per_turn=maybe([1, 3, 6]),
    max_daily_turnover_pct=maybe([Decimal("40"), Decimal("150")]),
    min_cash_reserve_pct=maybe([Decimal("10"), Decimal("50")]),
    universe=maybe([frozenset({"AAPL", "MSFT", "KO"}), frozenset({"KO"})]),
    drawdown_halt_pct=maybe([Decimal("3"), Decimal("10")]),
    drawdown_halt_sessions=maybe([1, 2]),
    loss_cooldown_hours=maybe([Decimal("24")]),
)


@dataclass
class Tally:
    examples: int = 0
    orders: int = 0
    fills: int = 0
    replays: int = 0
    refusals: Counter = field(default_factory=Counter)

    def line(self, what: str) -> str:
        refused = ", ".join(f"{rule} {n}" for rule, n in sorted(self.refusals.items()))
        return (
            f"\n{what}: {self.orders} orders over {self.examples} examples: {self.fills} fills, "
            f"{self.replays} replays, refused: {refused}; 0 violations"
        )


def books(engine):
    """Cash, positions (symbol -> (shares, cost)), transactions and the halt fields of the account."""
    with engine.connect() as conn:
        account = conn.execute(select(accounts).where(accounts.c.name == TRADER)).one()
        held = {
            r.symbol: (r.shares, r.cost)
            for r in conn.execute(select(positions).where(positions.c.account_id == account.id))
        }
        rows = conn.execute(
            select(transactions).where(transactions.c.account_id == account.id).order_by(transactions.c.id)
        ).all()
        query = select(func.max(snapshots.c.portfolio_value)).where(snapshots.c.account_id == account.id)
        if account.peak_since is not None:
            query = query.where(snapshots.c.taken_at >= account.peak_since)
        peak = conn.execute(query).scalar_one()
    return account, held, rows, peak


def equity(cash: Decimal, held: dict, source: SetPrices) -> Decimal:
    return cash + sum((shares * source.prices[s] for s, (shares, _) in held.items()), Decimal("0"))


def run_sequence(engine, traders, ops, policy: RiskPolicy, tally: Tally) -> None:
    reset_accounts(engine, traders)
    source = SetPrices(MARKET)
    used: dict[str, tuple] = {}  # key -> (side, symbol, quantity, transaction id) of a fill
    fills: list[ledger.Trade] = []
    loss_sold: set[str] = set()
    tally.examples += 1
    for op in ops:
        if op[0] == "move":
            source.move(op[1], cents(source.prices[op[1]] * Decimal(op[2])))
            continue
        if op[0] == "session":
            value_at(engine, source.prices)
            continue
        if op[0] == "resume":
            resume(engine, TRADER)
            continue
        side, symbol, quantity, key, turn = op
        tally.orders += 1
        before, held_before, rows_before, peak = books(engine)
        place = ledger.buy if side == "buy" else ledger.sell
        try:
            trade = place(
                engine,
                TRADER,
                symbol,
                quantity,
                "p",
                source,
                idempotency_key=key,
                turn_key=turn,
                policy=policy,
            )
        except TradeRejected as refused:
            after, held_after, rows_after, _ = books(engine)
            assert (after.cash, held_after, rows_after) == (before.cash, held_before, rows_before), refused
            if key in used and used[key][:3] == (side, symbol, _valid(quantity)):
                raise AssertionError(f"a repeated order was refused instead of replayed: {refused}") from None
            tally.refusals[_rule(str(refused))] += 1
            continue
        after, held_after, rows_after, _ = books(engine)
        if trade.duplicate:
            tally.replays += 1
            assert used[key] == (side, symbol, trade.quantity, trade.id)
            assert (after.cash, held_after, rows_after) == (before.cash, held_before, rows_before)
            continue
        assert key not in used, "a used key wrote a second transaction"
        assert len(rows_after) == len(rows_before) + 1
        used[key] = (side, symbol, trade.quantity, trade.id)
        fills.append(trade)
        tally.fills += 1
        equity_before = equity(before.cash, held_before, source)
        assert_within_policy(
            policy,
            trade,
            turn,
            source,
            equity_before,
            (peak, before.peak_since),
            after,
            held_after,
            rows_after,
            loss_sold,
        )
        if side == "sell" and rows_after[-1].realized < 0:
            loss_sold.add(symbol)
    assert_books_add_up(engine, fills)


def assert_within_policy(
    policy, trade, turn, source, equity_before, peak, after, held, rows, loss_sold
) -> None:
    """The fill passed no limit, recomputed from the database at the prices it filled at.

    ``peak`` is the drawdown peak before the order; a halt that ended with the order restarts it.
    """
    peak, peak_since = peak
    equity_after = equity(after.cash, held, source)
    today = sum((r.total for r in rows), Decimal("0"))
    if policy.max_daily_turnover_pct is not None:
        assert today <= equity_before * policy.max_daily_turnover_pct / HUNDRED
    if policy.max_orders_per_turn is not None and turn is not None:
        assert sum(1 for r in rows if r.turn_key == turn) <= policy.max_orders_per_turn
    if trade.side == "sell":
        return
    assert after.halted_at is None, "a buy filled during a drawdown halt"
    if policy.drawdown_halt_pct is not None and peak and after.peak_since == peak_since:
        assert (peak - equity_before) / peak * HUNDRED < policy.drawdown_halt_pct
    if policy.max_position_pct is not None:
        position = held[trade.symbol][0] * source.prices[trade.symbol]
        assert position <= equity_after * policy.max_position_pct / HUNDRED
    if policy.max_order_pct is not None:
        assert trade.total <= equity_before * policy.max_order_pct / HUNDRED
    if policy.min_cash_reserve_pct is not None:
        assert after.cash >= equity_after * policy.min_cash_reserve_pct / HUNDRED
    if policy.universe is not None:
        assert trade.symbol in policy.universe
    if policy.loss_cooldown_hours is not None:
        assert trade.symbol not in loss_sold


def assert_books_add_up(engine, fills: list[ledger.Trade]) -> None:
    account, held, rows, _ = books(engine)
    cash = INITIAL_CASH
    shares: Counter = Counter()
    for t in fills:
        cash += -t.total if t.side == "buy" else t.total
        shares[t.symbol] += t.quantity if t.side == "buy" else -t.quantity
        assert t.total == t.price * t.quantity
    assert account.cash == cash >= 0
    assert {s: n for s, (n, _) in held.items()} == {s: n for s, n in shares.items() if n}
    assert all(n > 0 and cost >= 0 for n, cost in held.values())
    assert [r.id for r in rows] == [t.id for t in fills]
    assert sum((r.total if r.side == "sell" else -r.total for r in rows), INITIAL_CASH) == account.cash


def _valid(quantity):
    try:
        return ledger.validate_quantity(quantity)
    except TradeRejected:
        return None


def _rule(message: str) -> str:
    for rule, words in RULE_WORDS:
        if words in message:
            return rule
    return "ledger"


RULE_WORDS = (
    ("position", "position would be"),
    ("order", "the order costs"),
    ("per_turn", "orders per turn"),
    ("turnover", "daily turnover"),
    ("reserve", "cash reserve"),
    ("universe", "tradable universe"),
    ("halt", "halted for drawdown"),
    ("cooldown", "cool-down"),
)


def test_random_orders_without_a_policy_keep_the_books(engine, settings, record_property):
    traders, tally = load_traders(settings), Tally()

    @hypothesis_settings(max_examples=40, deadline=None, database=None)
    @given(sequences)
    def orders_keep_the_books(ops):
        run_sequence(engine, traders, ops, NO_POLICY, tally)

    orders_keep_the_books()
    print(tally.line("ledger"))
    record_property("orders", tally.orders)
    assert tally.fills and tally.replays


def test_random_orders_never_pass_a_random_policy(engine, settings, record_property):
    traders, tally = load_traders(settings), Tally()

    @hypothesis_settings(max_examples=50, deadline=None, database=None)
    @given(policies, sequences)
    def orders_stay_within_the_policy(policy, ops):
        run_sequence(engine, traders, ops, policy, tally)

    orders_stay_within_the_policy()
    print(tally.line("risk policy"))
    record_property("orders", tally.orders)
    assert tally.fills and sum(n for rule, n in tally.refusals.items() if rule != "ledger")
