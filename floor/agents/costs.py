"""What a model call costs in dollars, from litellm's price map (the copy bundled with litellm, offline)."""

from __future__ import annotations

from decimal import Decimal

PRICE_PLACES = Decimal("0.000001")  # the turns.cost column keeps micro-dollars
FREE_PREFIXES = ("offline/", "ollama/", "ollama_chat/")  # rules, or a model on your own machine


def call_cost(model_id: str, input_tokens: int, output_tokens: int) -> Decimal | None:
    """Dollars for one call of ``model_id`` (a litellm model string); ``None`` if it has no price."""
    if model_id.startswith(FREE_PREFIXES):
        return Decimal(0)
    import litellm

    try:
        prompt, completion = litellm.cost_per_token(
            model=model_id, prompt_tokens=input_tokens, completion_tokens=output_tokens
        )
    except Exception:  # noqa: BLE001 - litellm raises several kinds for a model it has no price for
        return None
    return (Decimal(repr(prompt)) + Decimal(repr(completion))).quantize(PRICE_PLACES)
