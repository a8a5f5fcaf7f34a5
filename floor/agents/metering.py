"""Every model call of a turn counted, priced, kept within the trader's budget and retried within bounds.

:class:`MeteredModel` wraps any smolagents ``Model`` (a LiteLLM model, the offline strategy model,
a researcher's model) and shares one :class:`TurnMeter` with every other model of the same turn,
so a trader's researcher is costed and budgeted with the trader. In a backtest it also records
each call that reaches a provider, or answers it from the recording when the backtest is a replay
(:mod:`floor.agents.model_calls`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from smolagents import ChatMessage, Model

from floor.agents.costs import call_cost, loaded_litellm
from floor.agents.model_calls import ModelCallLog, RecordedCall, message_data, provider_request, request_hash
from floor.agents.redaction import Redactor
from floor.errors import FloorError

MAX_RETRY_WAIT_SECONDS = 60.0


class BudgetExceeded(FloorError):
    """The trader's daily model budget would be exceeded by another call; the turn stops."""


class ModelCallFailed(FloorError):
    """The provider refused or kept failing a call after the bounded retries; the turn stops."""


@dataclass
class TurnMeter:
    """Tokens and dollars of one turn's model calls, against the trader's daily budget.

    Args:
        budget: Dollars the trader may spend per day; ``None`` for no limit.
        spent_before: Dollars the trader already spent today before this turn.
        on_record: Told each call's tokens in, out and dollars as it is counted (to store them).
    """

    budget: Decimal | None = None
    spent_before: Decimal = Decimal(0)
    on_record: Callable[[int, int, Decimal], None] | None = field(default=None, repr=False)
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    last_call_cost: Decimal = Decimal(0)
    unpriced: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def spent_today(self) -> Decimal:
        return self.spent_before + self.cost

    def check_budget(self) -> None:
        """Raise :class:`BudgetExceeded` if another call like the last one would pass the budget."""
        if self.budget is None:
            return
        spent = self.spent_today
        if spent >= self.budget or spent + self.last_call_cost > self.budget:
            raise BudgetExceeded(
                f"daily budget of ${self.budget} reached: ${spent:.6f} spent today, "
                f"and the next call would cost about ${self.last_call_cost:.6f}"
            )

    def record(
        self, model_id: str, input_tokens: int, output_tokens: int, cost: Decimal | None = None
    ) -> Decimal:
        """Count one call; returns its cost in dollars (0 when litellm has no price for the model).

        ``cost`` is given for a call replayed from a recording: what it cost when it was made.
        """
        cost = call_cost(model_id, input_tokens, output_tokens) if cost is None else cost
        with self._lock:
            self.calls += 1
            self.input_tokens += input_tokens
            self.output_tokens += output_tokens
            if cost is None:
                self.unpriced.add(model_id)
                cost = Decimal(0)
            self.cost += cost
            self.last_call_cost = cost
        if self.on_record is not None:
            self.on_record(input_tokens, output_tokens, cost)
        return cost


def transient_errors() -> tuple[type[BaseException], ...]:
    """Provider errors worth another try: rate limits, server errors, timeouts, lost connections.

    None while litellm is not loaded: nothing can have raised its errors then, and an offline turn
    should not pay for importing it.
    """
    litellm = loaded_litellm()
    if litellm is None:
        return ()
    return (
        litellm.RateLimitError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.BadGatewayError,
        litellm.APIConnectionError,
        litellm.Timeout,
    )


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the provider asked us to wait (its ``Retry-After`` header), if it said."""
    headers = getattr(exc, "litellm_response_headers", None) or {}  # litellm keeps the real ones here
    try:
        value = float(headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def describe_failure(exc: BaseException) -> str:
    """What went wrong with a model call, in words a user can act on (never with a key in it)."""
    litellm = loaded_litellm()  # not loaded: not a provider's error
    status = getattr(exc, "status_code", None)
    kinds = (
        ()
        if litellm is None
        else (
            (litellm.AuthenticationError, "the provider rejected the API key"),
            (litellm.PermissionDeniedError, "the provider denied access to the model"),
            (litellm.NotFoundError, "the provider does not know the model"),
            (litellm.RateLimitError, "the provider is rate-limiting requests"),
            (litellm.Timeout, "the provider did not answer in time"),
            (litellm.APIConnectionError, "the provider could not be reached"),
            (litellm.ContextWindowExceededError, "the conversation outgrew the model's context window"),
            (litellm.BadRequestError, "the provider rejected the request"),
        )
    )
    what = next((text for kind, text in kinds if isinstance(exc, kind)), None)
    if what is None:
        what = (
            "the provider failed"
            if status and status >= 500
            else f"the model call failed ({type(exc).__name__})"
        )
    detail = str(getattr(exc, "message", "") or exc).splitlines()[0][:300] if str(exc) else ""
    suffix = f" ({status})" if status else ""
    return f"{what}{suffix}: {detail}" if detail else f"{what}{suffix}"


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


class MeteredModel(Model):
    """A model whose every call is budget-checked, retried within bounds, counted and priced.

    Args:
        inner: The model that answers.
        meter: The turn's meter, shared with every other model of the turn.
        retries: Further attempts after a transient provider error.
        retry_wait: Seconds before the first retry; doubles after each.
        redact: Masks secrets in error messages.
        on_retry: Told of each retry, for the trace.
        calls: Where the turn's provider calls are recorded (or answered from, in a replay); only
            for a model that calls a provider (``provider_calls``, true unless it says otherwise).
    """

    def __init__(
        self,
        inner: Model,
        meter: TurnMeter,
        *,
        retries: int = 2,
        retry_wait: float = 2.0,
        redact: Redactor | None = None,
        on_retry: Callable[[int, str], None] | None = None,
        calls: ModelCallLog | None = None,
    ) -> None:
        super().__init__(model_id=inner.model_id)
        self.inner, self.meter = inner, meter
        self.retries, self.retry_wait = retries, retry_wait
        self.redact = redact or Redactor(())
        self.on_retry = on_retry
        self.calls = calls if getattr(inner, "provider_calls", True) else None

    def generate(
        self,
        messages: Sequence[ChatMessage | dict[str, Any]],
        stop_sequences: list[str] | None = None,
        response_format: dict[str, str] | None = None,
        tools_to_call_from: list[Any] | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        self.meter.check_budget()
        arguments = dict(
            stop_sequences=stop_sequences,
            response_format=response_format,
            tools_to_call_from=tools_to_call_from,
            **kwargs,
        )
        if self.calls is None:
            return self._call(messages, arguments)[0]
        request = provider_request(self.inner, messages, **arguments)
        digest = request_hash(request)
        recorded = self.calls.answer(request, digest)
        if recorded is not None:  # a replay: the provider is never asked
            if recorded.error is not None:
                raise ModelCallFailed(recorded.error)
            self.meter.record(self.model_id, recorded.input_tokens, recorded.output_tokens, recorded.cost)
            return recorded.chat_message()
        started = time.perf_counter()
        try:
            message, cost = self._call(messages, arguments)
        except ModelCallFailed as exc:
            failed = RecordedCall(None, str(exc), 0, 0, Decimal(0), _ms_since(started))
            self.calls.record(request, digest, self.model_id, failed)
            raise
        usage = message.token_usage
        tokens = (usage.input_tokens, usage.output_tokens) if usage is not None else (0, 0)
        made = RecordedCall(message_data(message), None, *tokens, cost, _ms_since(started))
        self.calls.record(request, digest, self.model_id, made)
        return message

    def _call(
        self, messages: Sequence[ChatMessage | dict[str, Any]], arguments: dict[str, Any]
    ) -> tuple[ChatMessage, Decimal]:
        """Ask the inner model, retrying transient failures; count the answer, and return it with
        what it cost (0 when the model reports no usage)."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

        retrying = Retrying(
            retry=retry_if_exception_type(transient_errors()),
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait,
            before_sleep=self._retrying,
            reraise=True,
        )
        try:
            message = retrying(self.inner.generate, messages, **arguments)
        except FloorError:
            raise
        except Exception as exc:
            attempts = f" after {self.retries + 1} attempts" if isinstance(exc, transient_errors()) else ""
            raise ModelCallFailed(self.redact(describe_failure(exc)) + attempts) from None
        usage = message.token_usage
        if usage is None:
            return message, Decimal(0)
        return message, self.meter.record(self.model_id, usage.input_tokens, usage.output_tokens)

    def _wait(self, state: Any) -> float:
        """Exponential from ``retry_wait``, or longer when the provider's Retry-After asks, capped."""
        backoff = self.retry_wait * 2 ** (state.attempt_number - 1)
        asked = retry_after(state.outcome.exception()) if state.outcome is not None else None
        return min(max(backoff, asked or 0.0), MAX_RETRY_WAIT_SECONDS)

    def _retrying(self, state: Any) -> None:
        if self.on_retry is not None and state.outcome is not None:
            self.on_retry(state.attempt_number, self.redact(describe_failure(state.outcome.exception())))
