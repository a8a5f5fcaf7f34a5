"""The activity log as people read it: one line per agent step, the full output one click away.

A pure function over log entries (:func:`feed`), so the dashboard and tests derive the same lines.
The log holds what :class:`floor.agents.tracing.StepTracer` writes for each step ("Step N [action]:
...", "Step N [tool call] name({...})", "Step N [observation] ...", "Step N [error] ..."), the
turn's trace and final answer, and the ledger's ``account`` entries ("Bought 3 AAPL at $374.89
..."). A step becomes one readable line ("looked up AAPL: $374.14", "bought 3 AAPL at $374.89 —
rationale", "history of 10 symbols") with its entries kept as the line's detail.

Causal order: the ledger writes a fill's ``account`` entry while the tool runs, the tracer writes the
step when it ends, so the effect's id comes before its cause's. The feed holds an ``account`` entry
back until the step whose order caused it, and shows it right after that step's line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

MAX_TEXT = 160  # characters of a line's text; the detail keeps everything
ORDER_TOOLS = {"buy_shares": "buy", "sell_shares": "sell"}

_STEP = re.compile(
    r"^(?P<label>\[[^\]]+\] )?Step (?P<n>\d+) \[(?P<part>action|tool call|observation|error)\]:? ?"
)
_CALL = re.compile(r"^(?P<name>[\w.-]+)\((?P<args>.*)\)$", re.S)
_FILL = re.compile(r"^(?P<verb>Bought|Sold) (?P<quantity>\d+) (?P<symbol>\S+) at ")
_USAGE = re.compile(r" \[\d+ in / \d+ out tokens(, \$[\d.]+)?\]$")


class Entry(Protocol):
    """A log entry as :mod:`floor.runs.activity` and :mod:`floor.portfolio.views` return them."""

    id: int
    created_at: datetime
    type: str
    message: str


@dataclass(frozen=True)
class FeedLine:
    """One readable line of a trader's activity.

    Attributes:
        ids: The log entries it stands for, in log order.
        created_at: When its first entry was written.
        type: The log type it is coloured by (``function`` for a step that used tools).
        text: The readable line.
        detail: Everything the entries said (tool arguments, full tool output); "" if ``text`` is all.
    """

    ids: tuple[int, ...]
    created_at: datetime
    type: str
    text: str
    detail: str = ""


@dataclass(frozen=True)
class Feed:
    """Feed lines oldest first, and the ids of ``account`` entries still waiting for their step."""

    lines: list[FeedLine]
    held: list[int] = field(default_factory=list)


@dataclass
class _Call:
    name: str
    arguments: dict


@dataclass
class _Step:
    entries: list = field(default_factory=list)
    said: str = ""
    calls: list[_Call] = field(default_factory=list)
    observation: str = ""
    error: str = ""
    label: str = ""


def feed(entries: Sequence[Entry], *, hold_since: datetime | None = None) -> Feed:
    """Feed lines for one trader's ``entries`` (oldest first).

    An ``account`` entry waits for the next step whose order caused it (a fill matches its side,
    symbol and quantity; a limit's refusal the step's first order); a line that is not a step's
    lets unclaimed ones through in log order. One still unclaimed at the end is shown last, unless
    it was written at or after ``hold_since``: then its id is returned in ``held`` (its step may not
    be written yet; ask for it again with the next entries).
    """
    lines: list[FeedLine] = []
    pending: list[Entry] = []  # account entries waiting for the step that caused them
    step: _Step | None = None
    key: tuple[str, str] | None = None

    def close_step() -> None:
        nonlocal step, key
        if step is not None:
            lines.append(_step_line(step))
            lines.extend(_account_line(e) for e in _claim(step, pending))
        step, key = None, None

    for entry in entries:
        if entry.type == "account":
            pending.append(entry)
            continue
        match = _STEP.match(entry.message)
        if match is None:
            close_step()
            # No step claimed them, and the turn moved on: they stay in log order.
            lines.extend(_account_line(e) for e in pending)
            pending.clear()
            lines.append(_plain_line(entry))
            continue
        this = (match.group("label") or "", match.group("n"))
        if this != key:
            close_step()
            step, key = _Step(label=this[0].strip()[1:-1]), this
        _add(step, match.group("part"), entry.message[match.end() :], entry)
    close_step()
    held = [e.id for e in pending if hold_since is not None and e.created_at >= hold_since]
    lines.extend(_account_line(e) for e in pending if e.id not in held)
    return Feed(lines, held)


def _add(step: _Step, part: str, rest: str, entry: Entry) -> None:
    step.entries.append(entry)
    if part == "action":
        step.said = _USAGE.sub("", rest).strip()
    elif part == "tool call":
        call = _CALL.match(rest.strip())
        if call:
            step.calls.append(_Call(call.group("name"), _arguments(call.group("args"))))
        else:
            step.calls.append(_Call(rest.strip(), {}))
    elif part == "observation":
        step.observation = rest
    else:
        step.error = rest


def _arguments(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _claim(step: _Step, pending: list[Entry]) -> list[Entry]:
    """The pending account entries this step's orders caused (removed from ``pending``)."""
    orders = [c for c in step.calls if c.name in ORDER_TOOLS]
    if not orders:
        return []
    claimed = []
    for entry in list(pending):
        fill = _FILL.match(entry.message)
        for order in orders:
            side = ORDER_TOOLS[order.name]
            if fill is None:
                matches = True  # a limit that refused an order, or a halt it started
            else:
                verb = "buy" if fill.group("verb") == "Bought" else "sell"
                matches = (
                    verb == side
                    and fill.group("symbol") == str(order.arguments.get("symbol", "")).strip().upper()
                    and fill.group("quantity") == str(order.arguments.get("quantity", "")).strip()
                )
            if matches:
                claimed.append(entry)
                pending.remove(entry)
                break
    return claimed


def _results(observation: str) -> list[Any]:
    """The JSON values an observation holds (one per tool call), or the text itself."""
    decoder, found, at = json.JSONDecoder(), [], 0
    text = observation.strip()
    while at < len(text):
        try:
            value, end = decoder.raw_decode(text, at)
        except ValueError:
            return found + [text[at:]]
        found.append(value)
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return found


def _money(value: Any) -> str:
    try:
        return f"${float(value):,.2f}"
    except (TypeError, ValueError):
        return str(value)


def _short(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _of_kind(results: list[Any], kind: str) -> list[dict]:
    return [r for r in results if isinstance(r, dict) and r.get("kind") == kind]


def _describe(step: _Step) -> str:
    """What a step did, in a few words."""
    results = _results(step.observation) if step.observation else []
    names = [c.name for c in step.calls]
    parts: list[str] = []
    quotes = _of_kind(results, "quote")
    lookups = [c for c in step.calls if c.name == "lookup_share_price"]
    if lookups:
        priced = {q.get("symbol"): q for q in quotes}
        symbols = [str(c.arguments.get("symbol", "?")).upper() for c in lookups]
        if len(symbols) <= 3:
            shown = []
            for symbol in symbols:
                quote = priced.get(symbol)
                if quote is None:
                    shown.append(symbol)
                else:
                    stale = " (stale)" if quote.get("stale") else ""
                    shown.append(f"{symbol}: {_money(quote.get('price'))}{stale}")
            parts.append("looked up " + ", ".join(shown))
        else:
            parts.append(f"looked up {len(symbols)} prices")
    histories = _histories_asked(step.calls)
    if histories:
        symbol, days = histories[0]
        what = symbol if len(histories) == 1 else f"{len(histories)} symbols"
        parts.append(f"history of {what}" + (f" ({days} days)" if days else ""))
    receipts = _of_kind(results, "trade")
    for call in step.calls:
        if call.name not in ORDER_TOOLS:
            continue
        side = ORDER_TOOLS[call.name]
        symbol = str(call.arguments.get("symbol", "?")).upper()
        quantity = call.arguments.get("quantity", "?")
        receipt = next(
            (r for r in receipts if r.get("side") == side and str(r.get("symbol")) == symbol), None
        )
        verb = "bought" if side == "buy" else "sold"
        if receipt is not None:
            receipts.remove(receipt)
            rationale = receipt.get("rationale") or call.arguments.get("rationale") or ""
            line = f"{verb} {receipt.get('quantity')} {symbol} at {_money(receipt.get('price'))}"
            parts.append(line + (f" — {rationale}" if rationale else ""))
        elif step.error:
            parts.append(f"{side} {quantity} {symbol} refused")
        else:
            parts.append(f"{side} {quantity} {symbol}")
    for balance in _of_kind(results, "balance"):
        parts.append(f"cash {_money(balance.get('cash'))}")
    for held in _of_kind(results, "holdings"):
        shares = held.get("holdings") or {}
        parts.append(
            "holdings: " + (", ".join(f"{s} {n}" for s, n in sorted(shares.items())) if shares else "none")
        )
    for status in _of_kind(results, "market_status"):
        parts.append("market open" if status.get("open") else "market closed")
    if "change_strategy" in names:
        parts.append("changed strategy")
    others = [c for c in step.calls if c.name not in DESCRIBED_TOOLS]
    for call in others:
        argument = next((str(v) for v in call.arguments.values() if isinstance(v, str | int | float)), "")
        parts.append(f"{call.name}({_short(argument, 40)})" if argument else call.name)
    if step.error:
        parts.append(f"error: {step.error}")
    if not parts:
        parts.append(", ".join(names) if names else (step.said or "(no output)"))
    return "; ".join(parts)


# The calls _describe words itself; any other is shown as its name and first argument.
DESCRIBED_TOOLS = frozenset(
    {
        "lookup_share_price",
        "get_price_history",
        "get_price_histories",
        "get_balance",
        "get_holdings",
        "is_market_open",
        "change_strategy",
        *ORDER_TOOLS,
    }
)


def _histories_asked(calls: list[_Call]) -> list[tuple[str, Any]]:
    """(symbol, days) of each price history the calls asked for, one symbol or a batch of them."""
    asked = []
    for call in calls:
        if call.name == "get_price_history":
            symbols = [call.arguments.get("symbol", "?")]
        elif call.name == "get_price_histories":
            listed = call.arguments.get("symbols")
            symbols = listed if isinstance(listed, list) else ["?"]
        else:
            continue
        asked += [(str(symbol).upper(), call.arguments.get("days")) for symbol in symbols]
    return asked


def _step_line(step: _Step) -> FeedLine:
    text = _describe(step)
    if step.label:
        text = f"[{step.label}] {text}"
    return FeedLine(
        ids=tuple(e.id for e in step.entries),
        created_at=step.entries[0].created_at,
        type="agent" if step.error else ("function" if step.calls else "generation"),
        text=_short(text),
        detail="\n".join(e.message for e in step.entries),
    )


def _plain_line(entry: Entry) -> FeedLine:
    message = entry.message
    text = message
    if message.startswith("Final answer: "):
        text = "answered: " + message.removeprefix("Final answer: ")
    elif message.startswith("Plan: "):
        text = "planned: " + message.removeprefix("Plan: ")
    short = _short(text)
    cut = short != " ".join(text.split())
    return FeedLine((entry.id,), entry.created_at, entry.type, short, message if cut else "")


def _account_line(entry: Entry) -> FeedLine:
    short = _short(entry.message)
    return FeedLine(
        (entry.id,), entry.created_at, "account", short, entry.message if short != entry.message else ""
    )


def feed_by_trader(entries: Iterable[Any], *, hold_since: datetime | None = None) -> dict[str, Feed]:
    """:func:`feed` of each trader's entries (entries with a ``trader`` attribute, oldest first)."""
    grouped: dict[str, list] = {}
    for entry in entries:
        grouped.setdefault(entry.trader, []).append(entry)
    return {trader: feed(found, hold_since=hold_since) for trader, found in grouped.items()}
