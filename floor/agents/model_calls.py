"""A model call as data: the exact request, its hash, and the answer — to record and to replay.

A backtest records every call its turns make to a model provider (``floor.backtest.recordings``);
a replay answers each call from that recording instead of the provider. The request is what the
provider would be sent — messages, tool schemas, model, seed and every other setting — without how
it is sent (key, base URL, timeout). Its hash decides: a replayed request must hash exactly like
the recorded one at the same place (session, call number), else the replay stops with a
:class:`ReplayMismatch` that names the first difference. There is no near match.

The simulated date is in the prompt (the turn's "Time:"), so the same question on two sessions is
two different requests.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from smolagents import ChatMessage, Model

from floor.errors import FloorError

# How a request travels, not what it asks: left out of the request and its hash.
TRANSPORT_SETTINGS = frozenset({"api_key", "api_base", "timeout", "max_retries", "extra_headers"})
_QUOTE = 40  # characters either side of a difference, in a mismatch's message


class ReplayMismatch(FloorError):
    """A replayed turn asked its model something the recording does not hold; the replay stops."""


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a model request holds a {type(value).__name__}, which cannot be recorded")


def provider_request(
    model: Model,
    messages: Sequence[ChatMessage | dict[str, Any]],
    stop_sequences: list[str] | None = None,
    response_format: dict[str, str] | None = None,
    tools_to_call_from: list[Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """What ``model.generate(...)`` with these arguments sends its provider, as plain JSON data.

    Built by the model's own request preparation (smolagents' ``_prepare_completion_kwargs``, as
    its ``generate`` calls it), so the recording holds what was really asked.
    """
    prepare = getattr(model, "_prepare_completion_kwargs", None)
    if prepare is None:
        raise TypeError(f"{type(model).__name__} does not say what it would send a provider")
    prepared = prepare(
        messages=list(messages),
        stop_sequences=stop_sequences,
        response_format=response_format,
        tools_to_call_from=tools_to_call_from,
        model=model.model_id,
        convert_images_to_image_urls=True,
        custom_role_conversions=getattr(model, "custom_role_conversions", None),
        **kwargs,
    )
    return _plain({k: v for k, v in prepared.items() if k not in TRANSPORT_SETTINGS})


def request_hash(request: dict[str, Any]) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no spaces): the same request, the same hash."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class RecordedCall:
    """One call as recorded: the model's message (or the failure it ended in), its tokens and cost."""

    message: dict[str, Any] | None
    error: str | None
    input_tokens: int
    output_tokens: int
    cost: Decimal
    latency_ms: int

    def chat_message(self) -> ChatMessage:
        """The recorded answer as the model returned it (token counts included)."""
        from smolagents.monitoring import TokenUsage

        assert self.message is not None
        return ChatMessage.from_dict(
            json.loads(json.dumps(self.message)),  # from_dict changes what it is given
            token_usage=TokenUsage(input_tokens=self.input_tokens, output_tokens=self.output_tokens),
        )


def message_data(message: ChatMessage) -> dict[str, Any]:
    """A model's answer as plain data (its role, text and tool calls; not the provider's raw reply)."""
    tool_calls = [
        {
            "id": call.id,
            "type": call.type,
            "function": {
                "name": call.function.name,
                "arguments": _plain(call.function.arguments),
                "description": call.function.description,
            },
        }
        for call in message.tool_calls or []
    ]
    return {
        "role": _plain(message.role),
        "content": _plain(message.content),
        "tool_calls": tool_calls or None,
    }


class ModelCallLog(Protocol):
    """Where one session's provider calls are recorded, or answered from when replaying."""

    @property
    def replaying(self) -> bool:
        """True when calls are answered from a recording and none reaches a provider."""
        ...

    def answer(self, request: dict[str, Any], digest: str) -> RecordedCall | None:
        """The recorded answer to the session's next call (replaying; else None). A request that is
        not the recorded one raises :class:`ReplayMismatch`."""
        ...

    def record(self, request: dict[str, Any], digest: str, model: str, call: RecordedCall) -> None:
        """Keep the session's next call as it was made (recording)."""
        ...

    def close(self) -> None:
        """The session's turn is over: a replay that left recorded calls unasked raises
        :class:`ReplayMismatch`."""
        ...


def first_difference(recorded: Any, asked: Any, path: str = "request") -> str | None:
    """Where two requests first differ, in words (the path and both values); None if they are equal."""
    if type(recorded) is not type(asked):
        return f"{path} was {_brief(recorded)}, now {_brief(asked)}"
    if isinstance(recorded, dict):
        for key in sorted(set(recorded) | set(asked)):
            if key not in asked:
                return f"{path}.{key} was {_brief(recorded[key])}, now absent"
            if key not in recorded:
                return f"{path}.{key} is new: {_brief(asked[key])}"
            found = first_difference(recorded[key], asked[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(recorded, list):
        for i, (a, b) in enumerate(zip(recorded, asked, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(recorded) != len(asked):
            return f"{path} had {len(recorded)} items, now {len(asked)}"
        return None
    if isinstance(recorded, str) and recorded != asked:
        at = next((i for i, (a, b) in enumerate(zip(recorded, asked, strict=False)) if a != b), None)
        at = min(len(recorded), len(asked)) if at is None else at
        lo = max(0, at - _QUOTE)
        return (
            f"{path} differs at character {at}: was {recorded[lo : at + _QUOTE]!r}, "
            f"now {asked[lo : at + _QUOTE]!r}"
        )
    if recorded != asked:
        return f"{path} was {_brief(recorded)}, now {_brief(asked)}"
    return None


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 2 * _QUOTE else text[: 2 * _QUOTE] + "…"
