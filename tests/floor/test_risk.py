"""The risk policy against a real Postgres: every limit refuses with its numbers and changes nothing,
holds under concurrent orders, comes from settings and the traders file, and shows in the report,
the instructions and ``floor resume``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, update

from deployments.cli import main
from floor.agents.prompts import instructions
from floor.errors import ConfigurationError, TradeRejected
from floor.ledger import trades as ledger
from floor.ledger.risk import NO_POLICY, RiskPolicy, policy_for
from floor.ledger.risk_book import halt_of, resume
from floor.market.simulated import SimulatedMarket
from floor.portfolio.reports import account_reports, format_report
from floor.runs.activity import read_logs
from floor.schema import accounts, positions, snapshots, transactions
from floor.settings import Settings
from floor.traders import load_traders
from tests.fixed_prices import SetPrices


def prices() -> SetPrices:
    return SetPrices({"AAPL": "100.00", "MSFT": "200.00", "KO": "50.00"}, unquoted={"NOPX"})


def state(engine, trader="Warren"):
    """Everything a trade may change: cash, positions, transactions."""
    with engine.connect() as conn:
        account = conn.execute(select(accounts).where(accounts.c.name == trader)).one()
        held = conn.execute(
            select(positions.c.symbol, positions.c.shares, positions.c.cost)
            .where(positions.c.account_id == account.id)
            .order_by(positions.c.symbol)
        ).all()
        rows = conn.execute(
            select(
                transactions.c.id, transactions.c.symbol, transactions.c.side, transactions.c.quantity
            ).where(transactions.c.account_id == account.id)
        ).all()
    return account.cash, tuple(map(tuple, held)), tuple(map(tuple, rows))


def snapshot(engine, value: str, trader="Warren", *, at: datetime | None = None) -> None:
    """A valuation snapshot worth ``value`` (one session), as the cycle's valuation writes it."""
    with engine.begin() as conn:
        account_id = conn.execute(select(accounts.c.id).where(accounts.c.name == trader)).scalar_one()
        conn.execute(
            insert(snapshots).values(
                account_id=account_id,
                taken_at=at or datetime.now(UTC),
                cash=Decimal(value),
                holdings_value=Decimal("0"),
                portfolio_value=Decimal(value),
                profit_loss=Decimal(value) - Decimal("10000"),
                positions=[],
            )
        )


def buy(engine, symbol, quantity, key, policy, source=None, **kwargs):
    return ledger.buy(
        engine,
        "Warren",
        symbol,
        quantity,
        "r",
        source or prices(),
        idempotency_key=key,
        policy=policy,
        **kwargs,
    )


def sell(engine, symbol, quantity, key, policy, source=None, **kwargs):
    return ledger.sell(
        engine,
        "Warren",
        symbol,
        quantity,
        "r",
        source or prices(),
        idempotency_key=key,
        policy=policy,
        **kwargs,
    )


def setup_turnover(engine):
    buy(engine, "AAPL", 40, "t-b", NO_POLICY)


def setup_orders(engine):
    buy(engine, "AAPL", 1, "o-1", NO_POLICY, turn_key="turn-1")
    buy(engine, "MSFT", 1, "o-2", NO_POLICY, turn_key="turn-1")


def setup_drawdown(engine):
    buy(engine, "AAPL", 10, "d-b", NO_POLICY)
    snapshot(engine, "12000.00")


def setup_cooldown(engine):
    buy(engine, "AAPL", 10, "c-b", NO_POLICY)
    sell(engine, "AAPL", 5, "c-s", NO_POLICY)  # 99.80 against an average cost of 100.20: a loss


RULES = [
    # policy, setup, order (side, symbol, quantity, turn key), rule, message
    (
        RiskPolicy(max_position_pct=Decimal("25")),
        None,
        ("buy", "AAPL", 30, None),
        "max_position_pct",
        "AAPL position would be 30.1% of equity ($3000.00 of $9994.00); the limit is 25%",
    ),
    (
        RiskPolicy(max_order_pct=Decimal("10")),
        None,
        ("buy", "AAPL", 11, None),
        "max_order_pct",
        "the order costs $1102.20, 11.1% of equity $10000.00; the limit is 10% (at most 9 AAPL)",
    ),
    (
        RiskPolicy(max_orders_per_turn=2),
        setup_orders,
        ("buy", "KO", 1, "turn-1"),
        "max_orders_per_turn",
        "this would be order 3 of this turn; the limit is 2 orders per turn",
    ),
    (
        RiskPolicy(max_daily_turnover_pct=Decimal("50")),
        setup_turnover,
        ("sell", "AAPL", 10, None),
        "max_daily_turnover_pct",
        "today's trading would reach $5006.00, 50.2% of equity $9992.00; the daily turnover limit is 50%",
    ),
    (
        RiskPolicy(min_cash_reserve_pct=Decimal("20")),
        None,
        ("buy", "AAPL", 81, None),
        "min_cash_reserve_pct",
        "cash after the buy would be $1883.80, 18.8% of equity $9983.80; the minimum cash reserve is 20%",
    ),
    (
        RiskPolicy(universe=frozenset({"MSFT", "KO"})),
        None,
        ("buy", "AAPL", 1, None),
        "universe",
        "AAPL is outside Warren's tradable universe (KO, MSFT)",
    ),
    (
        RiskPolicy(drawdown_halt_pct=Decimal("15")),
        setup_drawdown,
        ("buy", "MSFT", 1, None),
        "drawdown_halt",
        "trading is halted for drawdown (equity $9998.00 is 16.7% below its peak $12000.00; "
        "the drawdown limit is 15%); only sells until `floor resume Warren`",
    ),
    (
        RiskPolicy(loss_cooldown_hours=Decimal("24")),
        setup_cooldown,
        ("buy", "AAPL", 1, None),
        "loss_cooldown",
        "AAPL was sold at a loss; no buy of AAPL until",
    ),
]


@pytest.mark.parametrize(("policy", "setup", "order", "rule", "message"), RULES, ids=[r[3] for r in RULES])
def test_every_limit_refuses_with_its_numbers_and_changes_nothing(floor, policy, setup, order, rule, message):
    if setup:
        setup(floor)
    before = state(floor)
    side, symbol, quantity, turn_key = order
    place = buy if side == "buy" else sell
    with pytest.raises(TradeRejected) as refused:
        place(floor, symbol, quantity, "refused", policy, turn_key=turn_key)
    assert message in str(refused.value)
    assert state(floor) == before
    logged = [e.message for e in read_logs(floor, "Warren") if e.message.startswith(f"Risk limit {rule}:")]
    assert logged and logged[-1].endswith(str(refused.value))
    assert f"refused {side} {quantity} {symbol}" in logged[-1]


def test_orders_within_every_limit_fill_as_without_a_policy(floor):
    policy = RiskPolicy(
        max_position_pct=Decimal("25"),
        max_order_pct=Decimal("10"),
        max_orders_per_turn=3,
        max_daily_turnover_pct=Decimal("100"),
        min_cash_reserve_pct=Decimal("20"),
        universe=frozenset({"AAPL", "MSFT"}),
        drawdown_halt_pct=Decimal("15"),
        loss_cooldown_hours=Decimal("24"),
    )
    trade = buy(floor, "AAPL", 9, "ok-1", policy, turn_key="turn-a")
    assert (trade.total, trade.cash_after) == (Decimal("901.80"), Decimal("9098.20"))
    sell(floor, "AAPL", 9, "ok-2", policy, turn_key="turn-a")
    with floor.connect() as conn:
        rows = conn.execute(
            select(transactions.c.turn_key, transactions.c.realized).order_by(transactions.c.id)
        )
        assert [tuple(r) for r in rows] == [("turn-a", None), ("turn-a", Decimal("-3.60"))]


def test_a_sell_outside_the_universe_or_in_a_halt_still_fills(floor):
    buy(floor, "AAPL", 10, "b", NO_POLICY)
    snapshot(floor, "12000.00")
    policy = RiskPolicy(universe=frozenset({"MSFT"}), drawdown_halt_pct=Decimal("15"))
    with pytest.raises(TradeRejected, match="halted for drawdown"):
        buy(floor, "MSFT", 1, "b2", policy)
    assert sell(floor, "AAPL", 4, "s", policy).shares_after == 6
    assert halt_of(floor, "Warren") is not None


def test_a_holding_without_a_quote_is_valued_at_cost_and_the_message_says_so(floor):
    source = prices()
    buy(floor, "KO", 40, "b", NO_POLICY, source)  # $2004.00 at cost
    source.unquoted.add("KO")
    with pytest.raises(TradeRejected, match=r"KO valued at cost: no price for it now"):
        buy(floor, "AAPL", 11, "b2", RiskPolicy(max_order_pct=Decimal("10")), source)


def test_concurrent_buys_never_pass_the_position_cap(floor):
    # 20 threads each buy 10 AAPL (about 10% of equity) under a 25% cap: only two can fill.
    policy = RiskPolicy(max_position_pct=Decimal("25"))

    def order(i: int) -> bool:
        try:
            buy(floor, "AAPL", 10, f"race-{i}", policy)
            return True
        except TradeRejected:
            return False

    with ThreadPoolExecutor(max_workers=10) as pool:
        filled = sum(pool.map(order, range(20)))
    cash, held, rows = state(floor)
    assert filled == 2 == len(rows)
    assert held == (("AAPL", 20, Decimal("2004.00")),)
    refusals = [e for e in read_logs(floor, "Warren") if e.message.startswith("Risk limit max_position_pct:")]
    assert len(refusals) == 18
    print(
        f"\nrisk race: 20 buys of 10 AAPL on 10 threads under a 25% position cap: {filled} filled, "
        f"{len(refusals)} refused; the cap held"
    )


def test_concurrent_orders_of_one_turn_never_pass_the_per_turn_limit(floor):
    policy = RiskPolicy(max_orders_per_turn=3)

    def order(i: int) -> bool:
        try:
            buy(floor, "KO", 1, f"turn-{i}", policy, turn_key="the-turn")
            return True
        except TradeRejected:
            return False

    with ThreadPoolExecutor(max_workers=10) as pool:
        filled = sum(pool.map(order, range(20)))
    assert filled == 3 == len(state(floor)[2])
    assert buy(floor, "KO", 1, "other-turn", policy, turn_key="next-turn").quantity == 1
    print(
        f"\nrisk race: 20 orders of one turn on 10 threads under a limit of 3 per turn: {filled} filled, "
        f"{20 - filled} refused; the limit held"
    )


def test_a_repeated_key_replays_even_past_a_limit(floor):
    policy = RiskPolicy(max_orders_per_turn=1)
    first = buy(floor, "KO", 2, "k", policy, turn_key="t")
    again = buy(floor, "KO", 2, "k", policy, turn_key="t")
    assert again.duplicate and again.id == first.id and len(state(floor)[2]) == 1


def test_drawdown_halt_lasts_until_resume_then_the_peak_restarts(floor):
    buy(floor, "AAPL", 10, "b", NO_POLICY)
    snapshot(floor, "12000.00")
    policy = RiskPolicy(drawdown_halt_pct=Decimal("15"))
    with pytest.raises(TradeRejected, match="halted"):
        buy(floor, "KO", 1, "k1", policy)
    snapshot(floor, "9990.00")  # sessions pass: without a session count the halt stays
    with pytest.raises(TradeRejected, match="halted"):
        buy(floor, "KO", 1, "k2", policy)
    assert resume(floor, "Warren") and not resume(floor, "Warren")
    assert buy(floor, "KO", 1, "k3", policy).quantity == 1
    assert halt_of(floor, "Warren") is None
    assert any(
        e.message.startswith("Drawdown halt lifted by `floor resume`") for e in read_logs(floor, "Warren")
    )


def test_drawdown_halt_ends_after_its_sessions(floor):
    buy(floor, "AAPL", 10, "b", NO_POLICY)
    snapshot(floor, "12000.00")
    policy = RiskPolicy(drawdown_halt_pct=Decimal("15"), drawdown_halt_sessions=2)
    with pytest.raises(TradeRejected, match=r"only sells until `floor resume Warren` or 2 more sessions"):
        buy(floor, "KO", 1, "k1", policy)
    snapshot(floor, "9990.00", at=datetime.now(UTC) + timedelta(seconds=1))
    with pytest.raises(TradeRejected, match="or 1 more session$"):
        buy(floor, "KO", 1, "k2", policy)
    snapshot(floor, "9990.00", at=datetime.now(UTC) + timedelta(seconds=2))
    assert buy(floor, "KO", 1, "k3", policy).quantity == 1
    assert any(
        e.message.startswith("Drawdown halt lifted after 2 sessions") for e in read_logs(floor, "Warren")
    )


def test_the_cool_down_is_per_symbol_and_only_after_a_loss(floor):
    policy = RiskPolicy(loss_cooldown_hours=Decimal("24"))
    source = prices()
    buy(floor, "AAPL", 10, "b1", policy, source)
    buy(floor, "MSFT", 10, "b2", policy, source)
    source.move("MSFT", "210.00")
    sell(floor, "MSFT", 5, "s1", policy, source)  # a gain: no cool-down
    sell(floor, "AAPL", 5, "s2", policy, source)  # a loss
    assert buy(floor, "MSFT", 1, "b3", policy, source).quantity == 1
    with pytest.raises(TradeRejected, match="cool-down 24 hours"):
        buy(floor, "AAPL", 1, "b4", policy, source)
    with floor.begin() as conn:  # a day later the cool-down is over
        conn.execute(update(transactions).values(created_at=func.now() - timedelta(hours=25)))
    assert buy(floor, "AAPL", 1, "b5", policy, source).quantity == 1


def test_no_policy_writes_no_risk_log_and_stores_the_turn(floor):
    trade = ledger.buy(floor, "Warren", "AAPL", 90, "r", prices(), idempotency_key="k", turn_key="turn-9")
    assert trade.total == Decimal("9018.00")
    assert not [e for e in read_logs(floor, "Warren") if e.message.startswith("Risk limit")]
    with floor.connect() as conn:
        assert conn.execute(select(transactions.c.turn_key)).scalar_one() == "turn-9"


def test_floor_wide_settings_with_per_trader_overrides(tmp_path, monkeypatch):
    path = tmp_path / "traders.toml"
    path.write_text(
        '[[trader]]\nname = "Ann"\nlastname = "Careful"\nstyle = "value"\nstrategy = "s"\n'
        "[trader.risk]\nmax_position_pct = 10\nmax_orders_per_turn = false\n"
        'universe = ["spy", "TLT"]\nloss_cooldown_hours = 1.5\n\n'
        '[[trader]]\nname = "Bob"\nlastname = "Plain"\nstyle = "bold"\nstrategy = "s"\n'
    )
    monkeypatch.setenv("RISK_MAX_POSITION_PCT", "25")
    monkeypatch.setenv("RISK_MAX_ORDERS_PER_TURN", "5")
    monkeypatch.setenv("RISK_UNIVERSE", "aapl, msft")
    monkeypatch.setenv("RISK_DRAWDOWN_HALT_PCT", "")  # blank is unset
    settings = Settings(_env_file=None, floor_traders_file=path)
    ann, bob = load_traders(settings)
    assert policy_for(ann, settings) == RiskPolicy(
        max_position_pct=Decimal("10"),
        universe=frozenset({"SPY", "TLT"}),
        loss_cooldown_hours=Decimal("1.5"),
    )
    assert policy_for(bob, settings) == RiskPolicy(
        max_position_pct=Decimal("25"), max_orders_per_turn=5, universe=frozenset({"AAPL", "MSFT"})
    )


def test_no_limits_by_default(settings):
    assert not any(policy_for(t, settings).active for t in load_traders(settings))


@pytest.mark.parametrize(
    ("risk", "message"),
    [
        ("max_position_pct = 0", "above 0"),
        ("max_position_pct = 120", "at most 100"),
        ('max_order_pct = "ten"', "must be a number"),
        ("max_orders_per_turn = 2.5", "whole number"),
        ("max_orders_per_turn = true", "whole number"),
        ("drawdown_halt_pct = 100", "below 100"),
        ('universe = ["AAPL", "not a ticker"]', "not a ticker symbol"),
        ("stop_loss = 5", "unknown risk limit stop_loss"),
    ],
)
def test_bad_risk_overrides_are_clear_errors(tmp_path, risk, message):
    path = tmp_path / "traders.toml"
    path.write_text(
        f'[[trader]]\nname = "Ann"\nlastname = "C"\nstyle = "value"\nstrategy = "s"\n[trader.risk]\n{risk}\n'
    )
    with pytest.raises(ConfigurationError, match=message):
        load_traders(Settings(_env_file=None, floor_traders_file=path))


def test_the_limits_are_in_the_instructions_only_when_set(settings):
    profile = load_traders(settings)[0]
    plain = instructions(profile, "buy low", ["AAPL", "MSFT"])
    assert instructions(profile, "buy low", ["AAPL", "MSFT"], policy=NO_POLICY) == plain
    told = instructions(
        profile,
        "buy low",
        ["AAPL", "MSFT"],
        policy=RiskPolicy(
            max_position_pct=Decimal("25"), drawdown_halt_pct=Decimal("12.5"), drawdown_halt_sessions=3
        ),
    )
    assert "Your risk limits" in told and "Your risk limits" not in plain
    assert "- a position may be at most 25% of equity after the fill\n" in told
    assert "- down 12.5% from the peak value: sells only, for 3 sessions or until resumed" in told


def test_the_report_shows_a_halt_and_the_limits_that_fired(floor):
    buy(floor, "AAPL", 10, "b", NO_POLICY)
    snapshot(floor, "12000.00")
    policy = RiskPolicy(drawdown_halt_pct=Decimal("15"), max_order_pct=Decimal("50"))
    with pytest.raises(TradeRejected):
        buy(floor, "KO", 1, "k", policy)
    (report,) = account_reports(floor, SimulatedMarket.name, "Warren", policies={"Warren": policy})
    risk = report["risk"]
    assert risk["halt"]["sessions_passed"] == 0 and "16.7% below its peak" in risk["halt"]["reason"]
    assert [f["rule"] for f in risk["fired"]] == ["drawdown_halt", "drawdown_halt"]
    assert risk["limits"] == policy.describe()
    text = format_report(report)
    assert "HALTED since" in text and "`floor resume Warren`" in text
    assert "limit fired" in text and "risk limits: one buy may cost at most 50% of equity" in text
    (other,) = account_reports(floor, SimulatedMarket.name, "George")
    assert other["risk"] == {"limits": [], "halt": None, "fired": []}
    assert "HALTED" not in format_report(other) and "risk limits" not in format_report(other)


def test_floor_resume_lifts_the_halt(floor, capsys):
    buy(floor, "AAPL", 10, "b", NO_POLICY)
    snapshot(floor, "12000.00")
    with pytest.raises(TradeRejected):
        buy(floor, "KO", 1, "k", RiskPolicy(drawdown_halt_pct=Decimal("15")))
    with pytest.raises(SystemExit) as done:
        main(["resume", "warren"])
    assert done.value.code == 0
    assert "Warren resumed" in capsys.readouterr().out
    assert halt_of(floor, "Warren") is None
    with pytest.raises(SystemExit):
        main(["resume", "Warren"])
    assert "Warren is not halted" in capsys.readouterr().out
    with pytest.raises(SystemExit) as unknown:
        main(["resume", "Nobody"])
    assert unknown.value.code == 2 and "no trader named 'Nobody'" in capsys.readouterr().err


def test_migration_0005_matches_the_declared_schema(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from floor.schema import metadata

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
