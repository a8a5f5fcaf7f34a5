"""The one place that picks a trader's model: the offline strategy model or a LiteLLM model.

Any litellm model string works (``openai/gpt-4.1-mini``, ``deepseek/deepseek-chat``,
``gemini/gemini-2.5-flash``, ``xai/…``, ``openrouter/…``, ``ollama_chat/…``). Each provider's key
and base URL come from settings; a trader whose provider needs a key that is not set raises
:class:`ConfigurationError` and the cycle records the turn as skipped — it is never run on some
other model. Retries are ours (see :mod:`floor.agents.metering`), so smolagents' own 60-second
rate-limit wait and the OpenAI client's retries are off.
"""

from __future__ import annotations

from smolagents import Model

from floor.agents.costs import import_litellm
from floor.errors import ConfigurationError
from floor.settings import Settings
from floor.tool_access import SERVER_KINDS
from floor.traders import TraderProfile

# litellm provider prefix -> the settings fields holding its key (first set wins) and base URL.
PROVIDERS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "openai": (("openai_api_key",), "openai_base_url"),
    "deepseek": (("deepseek_api_key",), "deepseek_base_url"),
    "gemini": (("google_api_key",), "gemini_base_url"),
    "xai": (("xai_api_key", "grok_api_key"), "xai_base_url"),
    "openrouter": (("openrouter_api_key",), "openrouter_base_url"),
    "ollama": ((), "ollama_base_url"),
    "ollama_chat": ((), "ollama_base_url"),
}


def provider_of(model: str) -> str:
    """The litellm provider prefix of a model string (``openai`` for ``openai/gpt-4o-mini``)."""
    if "/" not in model:
        raise ConfigurationError(f"model {model!r} must name its provider, e.g. openai/{model}")
    return model.split("/", 1)[0]


def provider_credentials(model: str, settings: Settings) -> tuple[str | None, str | None]:
    """The API key and base URL for ``model``; a ConfigurationError if its key is missing."""
    provider = provider_of(model)
    if provider not in PROVIDERS:
        return None, None  # a provider litellm reads its own environment variables for
    key_fields, base_field = PROVIDERS[provider]
    api_key = next((getattr(settings, f) for f in key_fields if getattr(settings, f)), None)
    if key_fields and not api_key:
        names = " or ".join(f.upper() for f in key_fields)
        raise ConfigurationError(f"{model} needs {names}, which is not set")
    return api_key, getattr(settings, base_field) if base_field else None


def build_model(
    profile: TraderProfile, settings: Settings, *, seed: int | None = None, replaying: bool = False
) -> Model:
    """The model that plays ``profile``: offline rules for 'offline', else litellm's model string.

    ``seed`` goes with every request to a language model; the offline rules are deterministic.
    A model ``replaying`` a recording needs no key: every answer comes from the recording.
    """
    if profile.model == "offline":
        from floor.agents.offline_model import OfflineStrategyModel

        return OfflineStrategyModel(style=profile.style)
    if replaying:
        provider_of(profile.model)  # the model string is still checked
        api_key, api_base = None, None
    else:
        api_key, api_base = provider_credentials(profile.model, settings)
    import_litellm()
    from smolagents import LiteLLMModel

    return LiteLLMModel(
        model_id=profile.model,
        api_key=api_key,
        api_base=api_base,
        retry=False,
        timeout=settings.model_timeout_seconds,
        max_retries=0,
        **({} if seed is None else {"seed": seed}),
    )


def trained_on_text(model: str) -> bool:
    """Whether the model string names a language model, trained on text that may hold the future
    of a backtest's span; the offline rules learnt nothing."""
    return model != "offline"


def server_kinds(model: Model) -> tuple[str, ...]:
    """The tool servers a turn opens for ``model``: what the model declares, else every kind.

    A language model gets them all (push on the turn; research and memory through its
    researcher); the offline strategy model declares that it acts on accounts and market only.
    """
    return tuple(getattr(model, "server_kinds", SERVER_KINDS))
