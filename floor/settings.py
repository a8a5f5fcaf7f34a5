"""One settings object for the whole floor, read once by entry points and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# With no FLOOR_MODEL, the first provider whose key is set picks the default model.
DEFAULT_MODEL_FOR_KEY = (
    ("openai_api_key", "openai/gpt-4.1-mini"),
    ("deepseek_api_key", "deepseek/deepseek-chat"),
    ("google_api_key", "gemini/gemini-2.5-flash"),
    ("xai_api_key", "xai/grok-3-mini"),
    ("grok_api_key", "xai/grok-3-mini"),
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

    # Research and notifications
    brave_api_key: str | None = None
    pushover_user: str | None = None
    pushover_token: str | None = None

    # Dashboard

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

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def default_model(self) -> str:
        """The model every trader uses unless configured otherwise."""
        if self.floor_model:
            return self.floor_model
        for key_field, model in DEFAULT_MODEL_FOR_KEY:
            if getattr(self, key_field):
                return model
        return "offline"
