"""When a model's training data ends, and whether a backtest's span lies inside it.

A model trained on text written after a backtest's first session may know what happened next, so
its results over that span are marked "inside the model's training data" wherever they are shown.
The cutoff comes from, in order: the ``MODEL_CUTOFFS`` setting (a user's table, for any model),
litellm's model metadata where it carries one, and the providers' published cutoffs below. A model
found in none of them has an unknown cutoff, shown as unknown — never guessed. The offline rules
learnt nothing: their results are never inside training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from floor.agents.models import trained_on_text
from floor.settings import Settings

# Published knowledge cutoffs (the providers' model pages), by litellm model string. A month is
# dated by its first day: a span starting in that month counts as inside.
PUBLISHED_CUTOFFS: dict[str, date] = {
    "openai/gpt-4o": date(2023, 10, 1),
    "openai/gpt-4o-mini": date(2023, 10, 1),
    "openai/gpt-4.1": date(2024, 6, 1),
    "openai/gpt-4.1-mini": date(2024, 6, 1),
    "openai/gpt-4.1-nano": date(2024, 6, 1),
    "gemini/gemini-2.0-flash": date(2024, 8, 1),
    "gemini/gemini-2.5-flash": date(2025, 1, 1),
    "gemini/gemini-2.5-pro": date(2025, 1, 1),
}
_LITELLM_KEYS = ("knowledge_cutoff", "training_cutoff")  # what litellm's metadata would call it


@dataclass(frozen=True)
class TrainingMark:
    """A model's cutoff and whether a span starting on ``start`` lies (partly) inside its training data.

    ``inside`` is None when the cutoff is unknown.
    """

    model: str
    cutoff: date | None
    inside: bool | None

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "inside": self.inside,
        }


def _litellm_cutoff(model: str) -> date | None:
    from floor.agents.costs import import_litellm

    litellm = import_litellm()
    bare = model.split("/", 1)[1] if "/" in model else model
    for name in (model, bare):
        info = litellm.model_cost.get(name) or {}
        for key in _LITELLM_KEYS:
            value = info.get(key)
            if isinstance(value, str):
                try:
                    return date.fromisoformat(value[:10] if len(value) >= 10 else f"{value[:7]}-01")
                except ValueError:
                    continue
    return None


def training_cutoff(model: str, settings: Settings) -> date | None:
    """The last day of ``model``'s training data as far as is known; None when nobody says."""
    if model in settings.model_cutoffs:
        return settings.model_cutoffs[model]
    return _litellm_cutoff(model) or PUBLISHED_CUTOFFS.get(model)


def training_mark(model: str, start: date, settings: Settings) -> TrainingMark:
    """Whether a span starting on ``start`` starts before ``model``'s training cutoff."""
    if not trained_on_text(model):
        return TrainingMark(model, None, False)
    cutoff = training_cutoff(model, settings)
    return TrainingMark(model, cutoff, None if cutoff is None else start < cutoff)
