"""One settings object for the whole floor, read once by entry points and passed down."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# With no FLOOR_MODEL, the first provider whose key is set picks the default model.
DEFAULT_MODEL_FOR_KEY = (
    ("openai_api_key", "openai/gpt-4.1-mini"),
    ("deepseek_api_key", "deepseek/deepseek-chat"),
    ("google_api_key", "gemini/gemini-2.5-flash"),
    ("xai_api_key", "xai/grok-4.20-non-reasoning"),
    ("grok_api_key", "xai/grok-4.20-non-reasoning"),
    ("openrouter_api_key", "openrouter/openai/gpt-4.1-mini"),
)


class Settings(BaseSettings):
    """Every knob of the floor. Environment variables win over ``.env``; names are upper case."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Storage
    database_url: str | None = Field(
        default=None,
        description="Postgres URL (postgresql://user:pw@host:5432/db); unset = embedded Postgres.",
    )
    data_dir: Path | None = Field(
        default=None, description="Where embedded Postgres keeps its files; default: per-user data dir."
    )

    # Market data
    polygon_api_key: str | None = None
    polygon_plan: Literal["free", "paid", "realtime"] = "free"
    polygon_base_url: str | None = None
    polygon_connect_timeout: float = Field(default=3.0, gt=0, le=60, description="Seconds to connect.")
    polygon_read_timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds to wait for data.")
    polygon_retries: int = Field(default=3, ge=0, le=10, description="Retries on 429, 5xx and timeouts.")
    polygon_backoff_seconds: float = Field(default=0.5, ge=0, le=30, description="First backoff; doubles.")
    polygon_retry_after_max: float = Field(
        default=30.0, ge=0, le=600, description="Longest Retry-After wait honoured, in seconds."
    )
    price_jump_bound: float = Field(
        default=0.5, gt=0, le=10, description="Largest move from the previous close in a batch; 0.5 = 50%."
    )
    paid_max_age_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="Paid plan: how stale a fetched price may be."
    )
    realtime_max_age_minutes: int = Field(
        default=5, ge=1, le=24 * 60, description="Realtime plan: how stale a fetched price may be."
    )
    price_cache_seconds: int = Field(
        default=60, ge=0, le=3600, description="Paid/realtime: reuse cached prices fetched this recently."
    )
    quote_cache_seconds: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="Outside a cycle, a price lookup or fill reuses the simulated market's newest cached "
        "batch fetched this recently instead of storing a new one.",
    )
    price_retention_days: int = Field(
        default=7,
        ge=1,
        le=3650,
        description="Prices fetched outside a cycle are pruned after this many days (each cycle's prices, "
        "and any a fill used, are kept).",
    )
    market_open_statuses: str = Field(
        default="open", description="Market statuses counted as open: open and/or extended-hours."
    )

    @field_validator("market_open_statuses")
    @classmethod
    def _known_market_statuses(cls, value: str | None) -> str:
        chosen = {part.strip().lower() for part in (value or "open").split(",") if part.strip()}
        unknown = chosen - {"open", "extended-hours"}
        if unknown or not chosen:
            raise ValueError(f"market statuses must be 'open' and/or 'extended-hours', got {value!r}")
        return ",".join(sorted(chosen))

    # Models
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    deepseek_api_key: str | None = None
    google_api_key: str | None = None
    grok_api_key: str | None = None
    xai_api_key: str | None = None
    openrouter_api_key: str | None = None
    floor_model: str | None = Field(
        default=None, description="litellm model string for every trader, or 'offline'."
    )
    use_many_models: bool = False
    deepseek_base_url: str | None = None
    gemini_base_url: str | None = None
    xai_base_url: str | None = None
    openrouter_base_url: str | None = None
    ollama_base_url: str | None = Field(
        default=None, description="Ollama server for ollama/… and ollama_chat/… models."
    )
    model_timeout_seconds: float = Field(
        default=120.0, gt=0, le=3600, description="How long one model call may take."
    )
    model_retries: int = Field(
        default=2, ge=0, le=10, description="Retries of a model call after a 429, 5xx or timeout."
    )
    model_retry_wait_seconds: float = Field(
        default=2.0, ge=0, le=120, description="First wait before a retry; doubles each time."
    )
    daily_budget_dollars: Decimal = Field(
        default=Decimal("1.00"),
        ge=0,
        decimal_places=6,
        description="Most a trader may spend on models per UTC day; 0 = no limit.",
    )
    max_step_errors: int = Field(
        default=3, ge=1, le=30, description="Consecutive failed agent steps that end a turn."
    )
    model_cutoffs: dict[str, date] = Field(
        default_factory=dict,
        description="Training cutoffs by litellm model string, as JSON: "
        '{"openai/my-model": "2024-06-01"}; over the built-in table (floor.agents.training_cutoffs).',
    )
    backtest_workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="Worker processes a backtest plays its books in; unset: one per core (at most one "
        "per book); 0: threads of the backtest's own process.",
    )

    # Research and notifications
    brave_api_key: str | None = None
    pushover_user: str | None = None
    pushover_token: str | None = None
    apprise_urls: str | None = Field(
        default=None, description="Apprise URL(s) to notify, separated by spaces or commas."
    )
    brave_base_url: str = Field(
        default="https://api.search.brave.com", description="Brave Search API address (tests, proxies)."
    )
    fetch_max_chars: int = Field(
        default=20_000, ge=500, le=500_000, description="Most characters of page text one fetch returns."
    )
    fetch_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    fetch_allow_private_addresses: bool = Field(
        default=False, description="Let fetch reach loopback and private networks (tests, intranets)."
    )
    researcher_max_steps: int = Field(default=8, ge=1, le=50)

    # Dashboard
    dashboard_host: str = Field(default="127.0.0.1", description="Address `floor dashboard` binds.")
    dashboard_port: int = Field(default=8050, ge=1, le=65535)
    dashboard_user: str | None = Field(default=None, description="Basic-auth user (with a password).")
    dashboard_password: str | None = None
    prefect_ui_url: str | None = Field(
        default=None, description="Prefect UI address, for links to flow runs (e.g. http://127.0.0.1:4200)."
    )
    dashboard_log_poll_ms: int = Field(default=500, ge=100, le=60_000)
    dashboard_max_request_bytes: int = Field(
        default=64 * 1024,
        ge=4 * 1024,
        le=16 * 1024 * 1024,
        description="Largest request body the dashboard reads; larger ones get HTTP 413.",
    )
    dashboard_refresh_seconds: int = Field(default=120, ge=5, le=24 * 3600)

    # Tool service (the MCP servers over streamable HTTP)
    tools_url: str | None = Field(
        default=None,
        description="A running tool service (http://host:8765) for turns to use; unset or not answering: "
        "each cycle serves its tools in its own process.",
    )
    tools_host: str = Field(default="127.0.0.1", description="Address `floor tools` binds.")
    tools_port: int = Field(default=8765, ge=1, le=65535, description="Port `floor tools` binds.")
    tools_allowed_hosts: str | None = Field(
        default=None,
        description="Host names (host or host:port, comma-separated) the service answers besides loopback, "
        "e.g. behind a TLS proxy.",
    )
    tool_token_ttl_seconds: int = Field(
        default=7200, ge=60, le=7 * 24 * 3600, description="How long a turn's tool token lives at most."
    )
    tool_call_timeout_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="How long a turn waits for one tool call."
    )
    tools_max_request_bytes: int = Field(
        default=1_048_576, ge=4096, le=64 * 1_048_576, description="Largest request body the service reads."
    )

    # Schedule
    run_every_n_minutes: int = Field(default=60, ge=1, le=24 * 60)
    run_even_when_market_is_closed: bool = False

    # Traders
    floor_traders_file: Path | None = Field(
        default=None, description="TOML file of traders; default: the four built-in personas."
    )
    max_agent_steps: int = Field(default=30, ge=1, le=100)
    max_concurrent_turns: int = Field(
        default=8, ge=1, le=256, description="How many traders' turns a cycle runs at once."
    )

    # Risk limits, checked by the ledger in each trade's transaction; all off by default. A trader's
    # [trader.risk] table in the traders file overrides them (see floor/traders.toml, floor/ledger/risk.py).
    risk_max_position_pct: Decimal | None = Field(
        default=None, gt=0, le=100, description="Largest position, % of equity after the fill."
    )
    risk_max_order_pct: Decimal | None = Field(
        default=None, gt=0, le=100, description="Largest buy, % of equity."
    )
    risk_max_orders_per_turn: int | None = Field(
        default=None, ge=1, le=100_000, description="Most orders (buys and sells) one trader turn may place."
    )
    risk_max_daily_turnover_pct: Decimal | None = Field(
        default=None,
        gt=0,
        le=100_000,
        description="Most bought + sold per New York trading day, % of equity.",
    )
    risk_min_cash_reserve_pct: Decimal | None = Field(
        default=None, gt=0, lt=100, description="Cash a buy must leave, % of equity after the fill."
    )
    risk_universe: str | None = Field(
        default=None, description="Symbols a trader may buy, comma-separated; unset = the whole market."
    )
    risk_drawdown_halt_pct: Decimal | None = Field(
        default=None, gt=0, lt=100, description="Down this % from the peak value: sells only until resumed."
    )
    risk_drawdown_halt_sessions: int | None = Field(
        default=None, ge=1, le=100_000, description="Sessions after which a drawdown halt ends by itself."
    )
    risk_loss_cooldown_hours: Decimal | None = Field(
        default=None,
        gt=0,
        le=24 * 365,
        description="No buy of a symbol this long after selling it at a loss.",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object, info: ValidationInfo) -> object:
        # A blank value (KEY= in .env) means unset: the field's default, None for most.
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return value

    @property
    def open_sessions(self) -> frozenset[str]:
        """The market sessions the gate and ``is_market_open`` count as open."""
        return frozenset(self.market_open_statuses.split(","))

    @property
    def default_model(self) -> str:
        """The model every trader uses unless configured otherwise."""
        if self.floor_model:
            return self.floor_model
        for key_field, model in DEFAULT_MODEL_FOR_KEY:
            if getattr(self, key_field):
                return model
        return "offline"

    @property
    def quote_freshness(self) -> timedelta:
        """How long a cached batch answers price lookups outside a cycle (QUOTE_CACHE_SECONDS)."""
        return timedelta(seconds=self.quote_cache_seconds)
