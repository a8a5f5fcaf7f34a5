"""One trader's turn: a smolagents ToolCallingAgent acting through the floor's MCP servers.

The turn is issued its own bearer token and connects to the tool service over streamable HTTP
(:mod:`floor.agents.tool_servers`); the token binds every tool to this trader, this turn and this
cycle, and is revoked when the turn ends. The agent's model is whatever
:func:`floor.agents.models.build_model` picks, wrapped in a :class:`~floor.agents.metering.MeteredModel`
that counts, prices, budgets and retries every call. Every step lands in the activity log
(:class:`~floor.agents.tracing.StepTracer`), secrets masked. A failure ends this trader's turn with
a recorded reason and never raises into the cycle.

What the agent gets follows from its model (:func:`floor.agents.models.server_kinds`): the MCP
servers it connects to, the push tool and the researcher it may call (:func:`managed_agents`).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import Engine

from floor.agents.account_summary import account_summary
from floor.agents.metering import BudgetExceeded, MeteredModel, ModelCallFailed, TurnMeter
from floor.agents.model_calls import ModelCallLog, ReplayMismatch
from floor.agents.models import build_model, server_kinds
from floor.agents.prompts import instructions, market_data_note, turn_message
from floor.agents.redaction import Redactor
from floor.agents.tool_servers import ToolAccess, ToolServiceUnavailable, TurnTools
from floor.agents.tracing import StepTracer
from floor.clock import Clock, SessionClock, WallClock
from floor.errors import ConfigurationError
from floor.ledger import accounts
from floor.ledger.risk import policy_for
from floor.market.factory import market_source
from floor.runs.cycles import (
    TurnOutcome,
    add_turn_usage,
    finish_turn,
    finished_turn,
    spent_since,
    start_of_day,
    start_turn,
)
from floor.settings import Settings
from floor.traders import TraderProfile

# The servers a trader's own agent opens at the start of its turn (the researcher opens its own).
TURN_SERVER_KINDS = ("accounts", "market", "push")


@dataclass(frozen=True)
class TurnRequest:
    """Everything a turn needs to know about where it runs."""

    profile: TraderProfile
    cycle_id: int | None
    turn_key: str
    universe: list[str]
    clock: Clock = field(default_factory=WallClock)  # the prompt's "Time:" (a session's, in a backtest)
    seed: int | None = None  # asked of a language model (providers honour it as best they can)
    calls: ModelCallLog | None = None  # a backtest's: its provider calls recorded, or replayed

    @property
    def session(self) -> date | None:
        """The NYSE session a backtest turn replays; None for a live turn."""
        return self.clock.session if isinstance(self.clock, SessionClock) else None


@dataclass
class TurnContext:
    """What one running turn shares with everything it assembles (servers, managed agents)."""

    engine: Engine
    settings: Settings
    request: TurnRequest
    tools: TurnTools
    meter: TurnMeter
    redact: Redactor
    tracer: StepTracer

    def metered(self, model: Any) -> MeteredModel:
        """``model`` counted, priced and budgeted with this turn (for a managed agent's model)."""
        return MeteredModel(
            model,
            self.meter,
            retries=self.settings.model_retries,
            retry_wait=self.settings.model_retry_wait_seconds,
            redact=self.redact,
            on_retry=self._retrying,
            calls=self.request.calls,
        )

    def model(self) -> Any:
        """The trader's model for this turn (with its seed; keyless when replaying a recording)."""
        request = self.request
        replaying = request.calls is not None and request.calls.replaying
        return build_model(request.profile, self.settings, seed=request.seed, replaying=replaying)

    def tracer_for(self, label: str) -> StepTracer:
        """A step callback writing a managed agent's steps to this trader's log, under ``label``."""
        return StepTracer(
            self.engine,
            self.request.profile.name,
            self.request.cycle_id,
            redact=self.redact,
            label=label,
            max_errors=self.settings.max_step_errors,
        )

    def _retrying(self, attempt: int, reason: str) -> None:
        self.tracer.log("trace", f"Model call attempt {attempt} failed ({reason}); retrying")


def managed_agents(context: TurnContext, access: ToolAccess, kinds: frozenset[str], stack: ExitStack) -> list:
    """Agents the trader can call as tools: its researcher, when its model is granted research.

    The researcher's servers open on its first call, with the turn's token, and live on
    ``stack``, as long as the turn.
    """
    if "research" not in kinds:
        return []
    from floor.agents.researcher import ResearcherOnCall

    researcher = ResearcherOnCall(
        stack,
        context.metered(context.model()),
        context.settings,
        access,
        step_callback=context.tracer_for("researcher"),
    )
    return [researcher]


def run_turn(engine: Engine, settings: Settings, request: TurnRequest, tools: TurnTools) -> TurnOutcome:
    """Play one turn for ``request.profile`` with the tools ``tools`` serves; returns the outcome."""
    profile = request.profile
    done = finished_turn(engine, request.cycle_id, profile.name)
    if done is not None:  # a retried cycle: this trader already played, don't trade again
        return done
    redact = Redactor.from_settings(settings)
    kind = accounts.next_turn_kind(engine, profile.name)
    turn_id = start_turn(engine, request.cycle_id, profile.name, kind, profile.model)
    tracer = StepTracer(
        engine,
        profile.name,
        request.cycle_id,
        redact=redact,
        max_errors=settings.max_step_errors,
        held=request.session is not None,  # a backtest's log is written once, as its turn ends
    )
    tracer.log("trace", f"Turn started: {kind} with {profile.model}")
    # The daily budget is of a live trader's day; a backtest replays many days in one.
    budget = (settings.daily_budget_dollars or None) if request.session is None else None
    meter = TurnMeter(
        budget=budget,
        spent_before=spent_since(engine, profile.name, start_of_day()) if budget else 0,
        on_record=partial(add_turn_usage, engine, turn_id),  # each call's spend lands as it is made
    )
    context = TurnContext(engine, settings, request, tools, meter, redact, tracer)
    try:
        meter.check_budget()
        outcome = _play(context, kind)
    except ConfigurationError as exc:
        outcome = _with_usage(TurnOutcome(status="skipped", error=redact(str(exc))), meter)
    except Exception as exc:  # noqa: BLE001 - one trader's failure must never stop the others
        outcome = _failed(context, exc)
        mismatch = _root_cause(exc)
        if isinstance(mismatch, ReplayMismatch):  # not this trader's failure: the replay stops
            finish_turn(engine, turn_id, outcome)
            tracer.log("trace", f"Turn failed: {outcome.error}")
            tracer.flush()
            raise mismatch from None
    finish_turn(engine, turn_id, outcome)
    if outcome.status == "succeeded":
        accounts.finish_turn_kind(engine, profile.name, kind)
    summary = (
        f"Turn {outcome.status} after {outcome.steps} steps: {profile.model}, {meter.calls} model calls, "
        f"{outcome.input_tokens} in / {outcome.output_tokens} out tokens, ${outcome.cost:.6f}"
    )
    if meter.unpriced:
        summary += f" (litellm has no price for {', '.join(sorted(meter.unpriced))}: counted as $0)"
    if outcome.error:
        summary += f"; {outcome.error}"
    tracer.log("trace", summary)
    tracer.flush()
    return outcome


def _failed(context: TurnContext, exc: BaseException) -> TurnOutcome:
    """The recorded outcome of a turn that raised: why, in words, with what it spent so far."""
    from smolagents.utils import AgentError

    meter, tracer = context.meter, context.tracer
    cause = _root_cause(exc)
    status = "failed"
    if isinstance(cause, ToolServiceUnavailable):
        reason = str(cause)
    elif isinstance(cause, BudgetExceeded):
        status = "skipped" if meter.calls == 0 else "failed"
        reason = f"stopped by the budget: {cause}"
    elif isinstance(cause, ModelCallFailed):
        reason = f"model call failed: {cause}"
    elif isinstance(cause, ReplayMismatch):
        reason = f"the replay stopped: {cause}"
    elif tracer.interrupted:
        reason = f"stopped after {tracer.consecutive_errors} failed steps in a row: {tracer.last_error}"
    elif isinstance(cause, AgentError):
        reason = f"the agent failed: {cause.message}"
    else:
        reason = f"{type(cause).__name__}: {cause}"
    return _with_usage(TurnOutcome(status=status, error=context.redact(reason), steps=tracer.steps), meter)


def _root_cause(exc: BaseException) -> BaseException:
    """The floor's own error behind smolagents' wrapping, else ``exc`` itself."""
    seen = exc
    while seen is not None:
        if isinstance(
            seen,
            BudgetExceeded | ModelCallFailed | ConfigurationError | ToolServiceUnavailable | ReplayMismatch,
        ):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def _with_usage(outcome: TurnOutcome, meter: TurnMeter) -> TurnOutcome:
    return replace(
        outcome, input_tokens=meter.input_tokens, output_tokens=meter.output_tokens, cost=meter.cost
    )


def _play(context: TurnContext, kind: str) -> TurnOutcome:
    engine, settings, request = context.engine, context.settings, context.request
    # A missing key raises here, before the turn is admitted to any tool.
    raw_model = context.model()
    kinds = frozenset(server_kinds(raw_model)) & context.tools.kinds
    if "push" in kinds:
        from floor.notify import build_notifier

        build_notifier(settings)  # a bad notification target stops here with a clear ConfigurationError
    with context.tools.admit(engine, settings, request, kinds) as access:
        return _run_agent(context, kind, context.metered(raw_model), access, kinds)


def _run_agent(context: TurnContext, kind: str, model: Any, access: ToolAccess, kinds: frozenset[str]):
    from smolagents import LogLevel
    from smolagents.memory import ActionStep, FinalAnswerStep, PlanningStep

    from floor.agents.tool_calling import FloorToolCallingAgent

    engine, settings, request = context.engine, context.settings, context.request
    profile = request.profile
    with engine.connect() as conn:
        strategy = accounts.get_account(conn, profile.name).strategy
    summary = account_summary(engine, profile.name, market_source(settings), request.cycle_id)
    tracer = context.tracer
    with ExitStack() as stack:
        tools = stack.enter_context(access.open_tools([k for k in TURN_SERVER_KINDS if k in kinds]))
        agent = FloorToolCallingAgent(
            tools=tools,
            model=model,
            managed_agents=managed_agents(context, access, kinds, stack) or None,
            instructions=instructions(
                profile,
                strategy,
                request.universe,
                market_data_note(settings),
                policy=policy_for(profile, settings),
                session=request.session,
            ),
            max_steps=settings.max_agent_steps,
            step_callbacks={ActionStep: tracer, FinalAnswerStep: tracer, PlanningStep: tracer},
            verbosity_level=LogLevel.OFF,
        )
        result = agent.run(turn_message(kind, profile, request.clock.now(), summary), return_full_result=True)
    if result.state != "success":
        reason = f"the agent stopped without an answer ({result.state})"
        return _with_usage(TurnOutcome(status="failed", error=reason, steps=tracer.steps), context.meter)
    outcome = TurnOutcome(status="succeeded", appraisal=context.redact(result.output), steps=tracer.steps)
    return _with_usage(outcome, context.meter)
