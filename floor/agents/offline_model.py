"""The offline strategy model: a smolagents ``Model`` that plays a persona by rules, through tools only.

With no LLM key every trader still runs a real ``ToolCallingAgent``; this model stands in for the
LLM. It knows nothing but the conversation: the turn kind from the task's ``Turn:`` line, the
account and prices from the tools' JSON observations, and what it already did from the tag at the
end of each of its own messages. So one instance can serve many runs, concurrently too, and a run
replays identically from its messages. Its moves, one per step:

1. ``get_balance`` and ``get_holdings``;
2. ``get_price_histories(symbols, days=60)`` for the style's watchlist and every holding, in one
   call (one ``get_price_history`` call per symbol where only that tool is offered);
3. one ``sell_shares`` / ``buy_shares`` per step, sells first. One per step because smolagents runs
   parallel calls concurrently (a sell's cash would not be there for the buys) and drops the
   observations of every call in a step when one of them raises;
4. ``final_answer`` with a short appraisal.

A step whose tools raised is retried once for the account and the research; an order that was
rejected or raised is not retried, and the appraisal says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from smolagents import ChatMessage, ChatMessageToolCall, MessageRole, Model, TokenUsage
from smolagents.models import ChatMessageToolCallFunction

from floor.agents.strategies import STYLES, Order, PortfolioView, plan_orders, watchlist
from floor.money import to_decimal

HISTORY_DAYS = 60
MAX_RESEARCH = 12
MAX_TRIES = 2
TURN_LINE = re.compile(r"^\s*Turn:\s*(trade|rebalance)\b", re.IGNORECASE | re.MULTILINE)
STEP_TAG = re.compile(r"\[offline:(account|research|order|appraisal)(?::(\d+))?\]")
ERROR_STARTS = ("Error:", "Call id:")
CALLED_NAME = re.compile(r"'name':\s*'([\w.-]+)'")
STEP_TOOLS = {
    "order": {"buy_shares", "sell_shares"},
    "research": {"get_price_histories", "get_price_history"},
    "account": {"get_balance", "get_holdings"},
    "appraisal": {"final_answer"},
}
# smolagents and MCP prefix a tool's error with its name and arguments (the whole rationale): drop that
ERROR_PREFIX = re.compile(r"^Error executing tool '?[\w.-]+'?(?: with arguments .*\})?:\s*")
HOLD_REASONS = {
    "value": "no quality business on my list trades far enough below its long-run average, and nothing "
    "I own is expensive enough to sell, so patience wins",
    "bold": "no market moved far enough to bet against and no position hit its stop or its target",
    "risk_parity": "every allocation is within its drift band around its inverse-volatility target",
    "crypto_momentum": "no innovation or crypto name I don't already own has strong momentum, and none "
    "of my holdings has broken trend",
}


@dataclass
class _Step:
    """One of the model's earlier steps: what it set out to do and what came back."""

    tag: str
    number: int
    records: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    failed: bool = False  # the agent reported an error instead of observations


@dataclass
class _Transcript:
    turn: str = "trade"
    steps: list[_Step] = field(default_factory=list)
    replies: int = 0

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [r for step in self.steps for r in step.records if r.get("kind") == kind]

    def tagged(self, tag: str) -> list[_Step]:
        return [step for step in self.steps if step.tag == tag]


@dataclass(frozen=True)
class _Move:
    tag: str
    thinking: str
    calls: list[tuple[str, dict[str, Any]]]
    number: int = 0


class OfflineStrategyModel(Model):
    """A deterministic model that trades one offline style (see ``floor.agents.strategies``).

    Args:
        style: One of ``value``, ``bold``, ``risk_parity``, ``crypto_momentum``.
        **kwargs: Passed to ``smolagents.Model``; ``model_id`` defaults to ``offline/<style>``.
    """

    # It plays by rules through these tools alone: no push, no researcher.
    server_kinds = ("accounts", "market")
    provider_calls = False  # rules answer here: nothing to record, and a replay plays them again

    def __init__(self, style: str, **kwargs: Any) -> None:
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {style!r}")
        kwargs.setdefault("model_id", f"offline/{style}")
        super().__init__(**kwargs)
        self.style = style

    def generate(
        self,
        messages: Sequence[ChatMessage | dict[str, Any]],
        stop_sequences: list[str] | None = None,
        response_format: dict[str, str] | None = None,
        tools_to_call_from: list[Any] | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        """The next step of the turn, decided from ``messages`` alone."""
        transcript = read_transcript(messages)
        available = (
            None if tools_to_call_from is None else {getattr(t, "name", t) for t in tools_to_call_from}
        )
        move = next_move(self.style, transcript, available)
        step = transcript.replies + 1
        calls = [
            ChatMessageToolCall(
                id=f"call_{step}_{i:02d}",  # zero-padded: smolagents orders observations by id
                type="function",
                function=ChatMessageToolCallFunction(name=name, arguments=arguments),
            )
            for i, (name, arguments) in enumerate(move.calls)
        ]
        suffix = f":{move.number}" if move.number else ""
        return ChatMessage(
            role=MessageRole.ASSISTANT,
            content=f"{move.thinking} [offline:{move.tag}{suffix}]",
            tool_calls=calls,
            token_usage=TokenUsage(input_tokens=0, output_tokens=0),
        )


def read_transcript(messages: Sequence[ChatMessage | dict[str, Any]]) -> _Transcript:
    """The turn kind, the model's own earlier steps and the tool records each one got back."""
    transcript, seen_task = _Transcript(), False
    for message in messages:
        role, text = _role(message), _text(message)
        stripped = text.lstrip()
        is_response = role in ("tool-response", "tool") or stripped.startswith(
            ("Observation:", *ERROR_STARTS)
        )
        if role == "assistant":
            transcript.replies += 1
            tag = STEP_TAG.search(text)
            transcript.steps.append(_Step(tag.group(1), int(tag.group(2) or 0)) if tag else _Step("", 0))
        elif stripped.startswith("Calling tools:") and transcript.steps and not transcript.steps[-1].tag:
            _tag_from_calls(transcript, text)  # a step written without our tag: go by the tools it called
        elif is_response and transcript.steps:
            step = transcript.steps[-1]
            step.texts.append(text)
            step.records.extend(tool_records(text))
            step.failed |= stripped.startswith("Error:") or (
                stripped.startswith("Call id:") and "Error:" in text
            )
        elif role == "user" and not is_response and (not seen_task or stripped.startswith("New task")):
            found = TURN_LINE.search(text)  # a new task: its Turn line governs from here on
            transcript.turn = found.group(1).lower() if found else "trade"
            transcript.steps, transcript.replies, seen_task = [], 0, True
    return transcript


def _tag_from_calls(transcript: _Transcript, text: str) -> None:
    names = set(CALLED_NAME.findall(text))
    step = transcript.steps[-1]
    for tag, tools in STEP_TOOLS.items():
        if names & tools:
            step.tag = tag
            step.number = len(transcript.tagged("order")) if tag == "order" else 0
            return


def tool_records(text: str) -> list[dict[str, Any]]:
    """Every JSON object with a ``kind`` key in ``text``, in order, whatever surrounds them."""
    decoder, records, i = json.JSONDecoder(), [], text.find("{")
    while i != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            value, end = None, i + 1
        if isinstance(value, dict) and "kind" in value:
            records.append(value)
        else:
            end = i + 1  # not a record: a record may still sit inside it
        i = text.find("{", end)
    return records


def next_move(style: str, transcript: _Transcript, available: set[str] | None) -> _Move:
    """Decide the next step from what the transcript shows was done and seen."""

    def has(name: str) -> bool:
        return available is None or name in available

    balances, holdings = transcript.records("balance"), transcript.records("holdings")
    if not balances or not holdings:
        if not (has("get_balance") and has("get_holdings")):
            return _final("I could not read my account: the get_balance or get_holdings tool is missing.")
        tries = transcript.tagged("account")
        if not tries or (tries[-1].failed and len(tries) < MAX_TRIES):
            calls = [
                (n, {}) for n, seen in (("get_balance", balances), ("get_holdings", holdings)) if not seen
            ]
            return _Move("account", "First I check my cash and what I hold.", calls)
        return _final(f"I could not read my account ({_reason(tries[-1])}), so I made no trades.")

    held = {s: int(q) for s, q in holdings[0].get("holdings", {}).items() if int(q) > 0}
    histories = _histories(transcript)
    if not (has("get_price_histories") or has("get_price_history")):
        return _final("I could not research prices (no price history tool), so I made no trades.")
    tries = transcript.tagged("research")
    if not tries or (tries[-1].failed and len(tries) < MAX_TRIES):
        wanted = [s for s in research_symbols(style, held) if s not in histories]
        if wanted:
            if has("get_price_histories"):
                calls = [("get_price_histories", {"symbols": wanted, "days": HISTORY_DAYS})]
            else:
                calls = [("get_price_history", {"symbol": s, "days": HISTORY_DAYS}) for s in wanted]
            return _Move(
                "research", f"Now the {HISTORY_DAYS}-day price history of {', '.join(wanted)}.", calls
            )
    if not histories:
        reason = _reason(tries[-1] if tries else None)
        return _final(f"I got no price history ({reason}), so I held this {transcript.turn} turn.")

    view = PortfolioView(
        cash=to_decimal(balances[0].get("cash", 0)),
        holdings=held,
        prices={s: to_decimal(closes[-1]) for s, closes in histories.items()},
        average_costs={
            p["symbol"]: to_decimal(p["average_cost"])
            for p in holdings[0].get("positions", [])
            if p.get("symbol") and p.get("average_cost")
        },
    )
    plan = plan_orders(style, transcript.turn, view, histories)
    doable = [o for o in plan if has(f"{o.side}_shares")]
    done = len(transcript.tagged("order"))
    if done < len(doable):
        order = doable[done]
        verb = "Buying" if order.side == "buy" else "Selling"
        arguments = {"symbol": order.symbol, "quantity": order.quantity, "rationale": order.rationale}
        thinking = f"{verb} {order.quantity} {order.symbol}: {order.rationale}"
        return _Move("order", thinking, [(f"{order.side}_shares", arguments)], done + 1)
    return _final(_appraisal(style, transcript, view, doable, len(plan) - len(doable)))


def research_symbols(style: str, holdings: dict[str, int]) -> list[str]:
    """The style's watchlist plus every holding (holdings first when over ``MAX_RESEARCH``)."""
    extra = sorted(s for s in holdings if s not in watchlist(style))
    keep = set((extra + watchlist(style))[:MAX_RESEARCH])
    return [s for s in watchlist(style) + extra if s in keep]


def _histories(transcript: _Transcript) -> dict[str, list[float]]:
    """symbol -> closes, from single histories and from the histories of a batch."""
    records = transcript.records("history")
    for batch in transcript.records("histories"):
        records += [r for r in batch.get("histories", []) if isinstance(r, dict)]
    histories = {}
    for record in records:
        closes = [c.get("close") if isinstance(c, dict) else c for c in record.get("closes", [])]
        closes = [float(c) for c in closes if isinstance(c, int | float) and c > 0]
        if record.get("symbol") and closes:
            histories[str(record["symbol"])] = closes
    return histories


def _appraisal(
    style: str, transcript: _Transcript, view: PortfolioView, plan: list[Order], dropped: int
) -> str:
    fills = transcript.records("trade")
    positions = sum(1 for q in view.holdings.values() if q > 0)
    if fills:
        did = " and ".join(
            f"{verb} "
            + _listing([f"{f.get('quantity')} {f.get('symbol')}" for f in fills if f.get("side") == side])
            for side, verb in (("sell", "sold"), ("buy", "bought"))
            if any(f.get("side") == side for f in fills)
        )
        text = f"This {transcript.turn} turn I {did}, leaving ${float(fills[-1].get('cash_after', 0)):,.2f} "
        text += f"in cash. {fills[0].get('rationale', '')}".rstrip()
    elif not plan:
        text = f"This {transcript.turn} turn I held: {HOLD_REASONS[style]}. I keep ${view.cash:,.2f} in cash "
        text += f"and {positions} position{'s' if positions != 1 else ''}."
    else:
        text = f"This {transcript.turn} turn I made no trades; I keep ${view.cash:,.2f} in cash."
    failed = [s for s in transcript.tagged("order") if not any(r.get("kind") == "trade" for r in s.records)]
    if failed:
        count = f"{len(failed)} order{'s' if len(failed) != 1 else ''}"
        text += f" {count} did not go through ({_describe(plan, failed[0])}: {_reason(failed[0])})."
    if dropped:
        text += f" I skipped {dropped} order{'s' if dropped != 1 else ''}: the trading tool is missing."
    return text


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _describe(plan: list[Order], step: _Step) -> str:
    order = plan[step.number - 1] if 0 < step.number <= len(plan) else None
    return f"{order.side} {order.quantity} {order.symbol}" if order else "an order"


def _reason(step: _Step | None) -> str:
    """The first informative line a step got back, e.g. a rejection message."""
    for text in step.texts if step else []:
        for line in text.splitlines():
            line = line.strip()
            if line and line not in ("Observation:", "Error:") and not line.startswith("Call id:"):
                return ERROR_PREFIX.sub("", line)[:160].rstrip(".")
    return "no answer"


def _final(answer: str) -> _Move:
    return _Move("appraisal", "Summing up the turn.", [("final_answer", {"answer": answer})])


def _role(message: ChatMessage | dict[str, Any]) -> str:
    role = message.get("role") if isinstance(message, dict) else getattr(message, "role", "")
    return str(getattr(role, "value", role) or "")


def _text(message: ChatMessage | dict[str, Any]) -> str:
    content = message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
    if isinstance(content, str):
        return content
    parts = [part.get("text", "") for part in content or [] if isinstance(part, dict)]
    return "\n".join(p for p in parts if isinstance(p, str))
