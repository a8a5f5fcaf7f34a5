"""The one place that picks a trader's model: the offline strategy model or a LiteLLM model."""

from __future__ import annotations

import os

from smolagents import Model

from floor.errors import ConfigurationError
from floor.settings import Settings
from floor.traders import TraderProfile

# litellm provider prefix -> the settings field holding its key, and its base URL field if any.
PROVIDER_KEYS = {
    "openai": ("openai_api_key", "openai_base_url"),
    "deepseek": ("deepseek_api_key", None),
    "gemini": ("google_api_key", None),
    "xai": ("xai_api_key", None),
    "openrouter": ("openrouter_api_key", None),
}


def build_model(profile: TraderProfile, settings: Settings) -> Model:
    """The model that plays ``profile``: offline rules for 'offline', else litellm's model string."""
    if profile.model == "offline":
        from floor.agents.offline_model import OfflineStrategyModel

        return OfflineStrategyModel(style=profile.style)

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not fetch its map
    from smolagents import LiteLLMModel

    provider = profile.model.split("/", 1)[0]
    key_field, base_field = PROVIDER_KEYS.get(provider, (None, None))
    api_key = getattr(settings, key_field) if key_field else None
    if key_field == "xai_api_key" and not api_key:
        api_key = settings.grok_api_key
    if key_field and not api_key:
        raise ConfigurationError(f"{profile.name} uses {profile.model} but {key_field.upper()} is not set")
    api_base = getattr(settings, base_field) if base_field else None
    return LiteLLMModel(model_id=profile.model, api_key=api_key, api_base=api_base)
