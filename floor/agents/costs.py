"""What a model call costs in dollars, from litellm's price map (the copy bundled with litellm, offline)."""

from __future__ import annotations

import sys
import threading
from decimal import Decimal
from typing import Any

PRICE_PLACES = Decimal("0.000001")  # the turns.cost column keeps micro-dollars
FREE_PREFIXES = ("offline/", "ollama/", "ollama_chat/")  # rules, or a model on your own machine

_LITELLM_LOCK = threading.Lock()
_litellm_ready = threading.Event()


def import_litellm() -> Any:
    """litellm, imported once: turns start in threads, and a second first-import would see a
    half-made module."""
    with _LITELLM_LOCK:
        import litellm

        litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners on every error
    _litellm_ready.set()
    return litellm


def loaded_litellm() -> Any | None:
    """litellm if a turn has finished importing it, else None (never the half-made module that
    ``sys.modules`` holds while another thread is still importing it)."""
    return sys.modules.get("litellm") if _litellm_ready.is_set() else None


def call_cost(model_id: str, input_tokens: int, output_tokens: int) -> Decimal | None:
    """Dollars for one call of ``model_id`` (a litellm model string); ``None`` if it has no price."""
    if model_id.startswith(FREE_PREFIXES):
        return Decimal(0)
    litellm = import_litellm()

    try:
        prompt, completion = litellm.cost_per_token(
            model=model_id, prompt_tokens=input_tokens, completion_tokens=output_tokens
        )
    except Exception:  # noqa: BLE001 - litellm raises several kinds for a model it has no price for
        return None
    return (Decimal(repr(prompt)) + Decimal(repr(completion))).quantize(PRICE_PLACES)
