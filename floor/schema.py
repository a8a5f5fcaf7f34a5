"""The floor's tables, declared once with SQLAlchemy Core. Migrations in ``floor/migrations``
create them; queries live in the domain modules that own each table."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

MONEY = Numeric(16, 2)
PRICE = Numeric(18, 4)
LOG_TYPES = ("trace", "agent", "function", "generation", "response", "account")
CYCLE_STATUSES = ("running", "completed", "failed", "crashed")
TURN_STATUSES = ("running", "succeeded", "failed", "skipped", "crashed")

# Owner numbers of process leases (floor.runs.leases): which live process runs a cycle or a turn.
run_owners = Sequence("run_owners", metadata=metadata, data_type=Integer, cycle=True)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("lastname", String(128), nullable=False),
    Column("model", String(200), nullable=False),
    Column("style", String(32), nullable=False),
    Column("strategy", Text, nullable=False),
    Column("cash", MONEY, nullable=False),
    Column("initial_cash", MONEY, nullable=False),
    Column("next_turn", String(16), nullable=False, server_default="trade"),
    # A drawdown halt in force (see floor.ledger.risk): since when and why; the peak counts from peak_since.
    Column("halted_at", DateTime(timezone=True)),
    Column("halt_reason", Text),
    Column("peak_since", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("cash >= 0", name="ck_accounts_cash_not_negative"),
    CheckConstraint("next_turn IN ('trade', 'rebalance')", name="ck_accounts_next_turn"),
)

positions = Table(
    "positions",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("symbol", String(16), primary_key=True),
    Column("shares", BigInteger, nullable=False),
    Column("cost", MONEY, nullable=False),
    CheckConstraint("shares >= 0", name="ck_positions_shares_not_negative"),
)

cycles = Table(
    "cycles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False, server_default="running"),
    Column("forced", Boolean, nullable=False, server_default="false"),
    Column("flow_run_id", String(64)),
    Column("note", Text),
    Column("owner", Integer),  # the lease of the process running it (floor.runs.leases)
    # In a backtest's book: the NYSE session the cycle replays, and once it is completed, each
    # trader's account as the session left it (where a resumed backtest starts again).
    Column("session", Date),
    Column("closing_state", JSONB),
    CheckConstraint("status IN " + str(CYCLE_STATUSES), name="ck_cycles_status"),
    Index("ix_cycles_session", "session", unique=True, postgresql_where=text("session IS NOT NULL")),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("symbol", String(16), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("price", MONEY, nullable=False),
    Column("total", MONEY, nullable=False),
    Column("rationale", Text, nullable=False, server_default=""),
    Column("idempotency_key", String(200), nullable=False),
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="SET NULL")),
    Column("turn_key", String(200)),  # the trader turn that placed the order, when known
    Column("realized", MONEY),  # a sell's profit or loss against the average cost; NULL for buys
    # The cached price the fill was priced from: pruning old prices keeps it (floor.market.cache).
    Column("price_id", BigInteger, ForeignKey("prices.id", name="fk_transactions_price_id")),
    CheckConstraint("side IN ('buy', 'sell')", name="ck_transactions_side"),
    CheckConstraint("quantity > 0", name="ck_transactions_quantity_positive"),
    CheckConstraint("price > 0", name="ck_transactions_price_positive"),
    UniqueConstraint("account_id", "idempotency_key", name="uq_transactions_account_key"),
    Index("ix_transactions_account_id_id", "account_id", "id"),
    Index("ix_transactions_account_turn", "account_id", "turn_key"),
    Index("ix_transactions_price_id", "price_id"),
)

turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="CASCADE")),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("model", String(200), nullable=False),
    Column("status", String(16), nullable=False, server_default="running"),
    Column("error", Text),
    Column("appraisal", Text),
    Column("steps", Integer, nullable=False, server_default="0"),
    Column("input_tokens", Integer, nullable=False, server_default="0"),
    Column("output_tokens", Integer, nullable=False, server_default="0"),
    Column("cost", Numeric(14, 6), nullable=False, server_default="0"),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("owner", Integer),  # the lease of the process running it (floor.runs.leases)
    CheckConstraint("status IN " + str(TURN_STATUSES), name="ck_turns_status"),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="SET NULL")),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("cash", MONEY, nullable=False),
    Column("holdings_value", MONEY, nullable=False),
    Column("portfolio_value", MONEY, nullable=False),
    Column("profit_loss", MONEY, nullable=False),
    Column("positions", JSONB, nullable=False),
    UniqueConstraint("account_id", "cycle_id", name="uq_snapshots_account_cycle"),
    Index("ix_snapshots_account_taken", "account_id", "taken_at"),
)

activity_logs = Table(
    "activity_logs",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("type", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="SET NULL")),
    CheckConstraint("type IN " + str(LOG_TYPES), name="ck_activity_logs_type"),
    Index("ix_activity_logs_account_id_id", "account_id", "id"),
)

prices = Table(
    "prices",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("symbol", String(16), nullable=False),
    Column("price", PRICE, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("source", String(32), nullable=False),
    Column("stale", Boolean, nullable=False, server_default="false"),
    Column("fetched_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="SET NULL")),
    CheckConstraint("price > 0", name="ck_prices_positive"),
    Index("ix_prices_symbol_fetched", "symbol", "fetched_at"),
    Index("ix_prices_cycle_symbol", "cycle_id", "symbol"),
    Index("ix_prices_source_fetched", "source", "fetched_at"),
    Index("ix_prices_uncycled_fetched", "fetched_at", postgresql_where=text("cycle_id IS NULL")),
)

# A per-trader knowledge graph kept by the researcher: entities, observations about them, relations.
memory_entities = Table(
    "memory_entities",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("entity_type", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("account_id", "name", name="uq_memory_entities_account_name"),
)

memory_observations = Table(
    "memory_observations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("entity_id", BigInteger, ForeignKey("memory_entities.id", ondelete="CASCADE"), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_memory_observations_entity_id", "entity_id", "id"),
)

memory_relations = Table(
    "memory_relations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("from_id", BigInteger, ForeignKey("memory_entities.id", ondelete="CASCADE"), nullable=False),
    Column("to_id", BigInteger, ForeignKey("memory_entities.id", ondelete="CASCADE"), nullable=False),
    Column("relation_type", String(100), nullable=False),
    UniqueConstraint("from_id", "to_id", "relation_type", name="uq_memory_relations_edge"),
    Index("ix_memory_relations_account_id", "account_id"),
)

daily_closes = Table(
    "daily_closes",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("close", PRICE, nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("close > 0", name="ck_daily_closes_positive"),
)

# One row per upstream history fetch of a symbol: the sessions it asked for and when. A range a
# fetch covered, made after its last session closed, is answered from the cache even where rows
# are missing (a symbol listed later, or with no data upstream): asking again would bring nothing.
daily_close_fetches = Table(
    "daily_close_fetches",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("first_day", Date, primary_key=True),
    Column("last_day", Date, primary_key=True),
    Column("fetched_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per turn's tool credential. Only a hash of the token is kept: a leaked table grants nothing.
tool_tokens = Table(
    "tool_tokens",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("turn_key", String(200), nullable=False),
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="CASCADE")),
    Column("kinds", String(200), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_tool_tokens_expires_at", "expires_at"),
)

# Every call a book's turns made to a model provider (floor.backtest.recordings): the exact request,
# its hash, and what came back (a message, or the failure), so a replay answers from here and costs
# nothing. ``seq`` counts the session's calls from 0.
model_calls = Table(
    "model_calls",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("session", Date, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("model", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("request", JSONB, nullable=False),
    Column("response", JSONB, nullable=False),  # {"message": …} or {"error": …}
    Column("input_tokens", Integer, nullable=False, server_default="0"),
    Column("output_tokens", Integer, nullable=False, server_default="0"),
    Column("cost", Numeric(14, 6), nullable=False, server_default="0"),
    Column("latency_ms", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("session", "seq", name="uq_model_calls_session_seq"),
)

BACKTEST_STATUSES = ("running", "stopped", "completed", "failed")

# One row per backtest (floor.backtest): its span, traders and seeds; its books play it.
backtests = Table(
    "backtests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("label", Text, nullable=False, server_default=""),
    Column("start_day", Date, nullable=False),
    Column("end_day", Date, nullable=False),
    Column("traders", JSONB, nullable=False),  # names, in the order given
    Column("model", String(200)),  # every trader's model for this backtest; NULL: each its own
    Column("seeds", Integer, nullable=False, server_default="1"),
    Column("status", String(16), nullable=False, server_default="running"),
    Column("flow_run_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("results", JSONB),
    Column("note", Text),
    # The backtest whose recorded model calls this one replays (floor.backtest.recordings).
    Column("replay_of", Integer, ForeignKey("backtests.id", ondelete="RESTRICT")),
    CheckConstraint("status IN " + str(BACKTEST_STATUSES), name="ck_backtests_status"),
    CheckConstraint("start_day <= end_day", name="ck_backtests_span"),
    CheckConstraint("seeds >= 1", name="ck_backtests_seeds"),
)

# Books other than the live floor's (floor.books): each is a Postgres schema holding the floor's
# tables, for one trader and seed of a backtest. The live floor is the database's own schema and
# has no row here.
books = Table(
    "books",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("schema_name", String(63), nullable=False, unique=True),
    Column("label", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("backtest_id", Integer, ForeignKey("backtests.id", ondelete="CASCADE")),
    Column("trader", String(64)),
    Column("seed", Integer),
    UniqueConstraint("backtest_id", "trader", "seed", name="uq_books_backtest_trader_seed"),
)
