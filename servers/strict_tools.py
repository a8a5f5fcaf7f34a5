"""Strict tools: a tool takes exactly the arguments it declares, each of exactly its JSON type.

FastMCP (mcp 1.30) reads tool arguments leniently: ``true`` becomes 1, ``"2"`` becomes 2, a
string holding JSON is parsed for a list, and an undeclared argument is dropped without a word
(so ``buy_shares(..., price=0.01)`` would fill at market). :class:`StrictFastMCP` checks every
call against a strict model of the tool's signature first and lists that model's schema
(``additionalProperties: false`` on every object); text with control characters is refused too.

Every error the caller reads is short: one of ours (a :class:`ToolError` or a
:class:`~floor.errors.FloorError`) is passed on, cut to :data:`MAX_ERROR_CHARS`; anything else (a
database error with its SQL, a bug) is logged here with its traceback and answered generically.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from typing import Any

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.fastmcp.utilities.context_injection import find_context_parameter
from mcp.types import Tool as MCPTool
from pydantic import ConfigDict, ValidationError, create_model
from starlette.applications import Starlette
from starlette.middleware import Middleware

from floor.errors import FloorError, shown
from servers.unreadable_messages import AnswerUnreadableMessages, serve_stdio

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500
MAX_PROBLEMS_SHOWN = 3
# C0 and C1 control characters, DEL among them, except tab and newline.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# What a strict type error expected, in words a model reads, by pydantic error type.
EXPECTED = {
    "int_type": "a whole number (JSON integer)",
    "float_type": "a number",
    "bool_type": "true or false (a JSON boolean)",
    "string_type": "text (a JSON string)",
    "list_type": "a list (JSON array)",
    "dict_type": "an object",
    "model_type": "an object",
}


class ToolArguments:
    """The arguments one tool takes, as a strict pydantic model and its JSON schema."""

    def __init__(self, tool: str, fn: Callable[..., Any]) -> None:
        context = find_context_parameter(fn)
        fields: dict[str, Any] = {
            p.name: (
                Any if p.annotation is p.empty else p.annotation,
                ... if p.default is p.empty else p.default,
            )
            for p in inspect.signature(fn, eval_str=True).parameters.values()
            if p.name != context
        }
        self.tool = tool
        self.model = create_model(
            f"{tool}Arguments", __config__=ConfigDict(strict=True, extra="forbid"), **fields
        )
        self.schema = _closed(self.model.model_json_schema(by_alias=True))

    def check(self, arguments: dict[str, Any]) -> None:
        """Raise a :class:`ToolError` saying what is wrong with ``arguments``, if anything is."""
        try:
            # Given here as well, these hold in nested models too; and only the names the schema lists.
            self.model.model_validate(arguments, strict=True, extra="forbid", by_alias=True, by_name=False)
        except ValidationError as exc:
            problems = [self._problem(error) for error in exc.errors(include_url=False)]
            more = len(problems) - MAX_PROBLEMS_SHOWN
            raise ToolError(
                "; ".join(problems[:MAX_PROBLEMS_SHOWN] + ([f"and {more} more"] if more > 0 else []))
            ) from None
        found = _control_character(arguments, ())
        if found:
            raise ToolError(found)

    def _problem(self, error: Any) -> str:
        *parent, last = error["loc"]
        kind = error["type"]
        if kind == "extra_forbidden":
            if not parent:
                return f"{self.tool} does not take an argument named {shown(last)}"
            return f"{_path(parent)} has no field named {shown(last)}"
        if kind == "missing":
            if not parent:
                return f"{self.tool} needs the argument {shown(last)}"
            return f"{_path(parent)} needs the field {shown(last)}"
        where = _path(error["loc"])
        if kind in EXPECTED:
            return f"{where} must be {EXPECTED[kind]}, not {_json_kind(error['input'])}"
        return f"{where}: {error['msg']}"  # pydantic's own words, which do not quote the input


class StrictFastMCP(FastMCP):
    """A FastMCP server whose tools are strict, whose errors are safe to show, and which answers
    requests it cannot read (:mod:`servers.unreadable_messages`) on stdio and over HTTP."""

    def __init__(self, *args: Any, **settings: Any) -> None:
        self._arguments: dict[str, ToolArguments] = {}
        super().__init__(*args, **settings)

    def add_tool(self, fn: Callable[..., Any], name: str | None = None, **options: Any) -> None:
        """Register ``fn`` as FastMCP does, and the strict model of its arguments beside it."""
        super().add_tool(fn, name=name, **options)
        tool = name or fn.__name__
        self._arguments[tool] = ToolArguments(tool, fn)

    async def list_tools(self) -> list[MCPTool]:
        """The tools, each with the schema its arguments are checked against."""
        return [
            tool.model_copy(update={"inputSchema": self._arguments[tool.name].schema})
            for tool in await super().list_tools()
        ]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """Check ``arguments`` strictly, then run the tool; any error comes back short and safe."""
        accepted = self._arguments.get(name)
        if accepted is None:
            raise ToolError(f"there is no tool named {shown(name)}")
        accepted.check(arguments)
        try:
            # Arguments that passed the strict check come out of FastMCP's lenient one unchanged.
            return await super().call_tool(name, arguments)
        except ToolError as exc:
            raise ToolError(_told(name, exc)) from exc

    async def run_stdio_async(self) -> None:
        await serve_stdio(self._mcp_server)

    def streamable_http_app(self) -> Starlette:
        app = super().streamable_http_app()
        # Appended, so it runs after the SDK's authentication middleware.
        app.user_middleware.append(
            Middleware(AnswerUnreadableMessages, max_body_size=self.settings.max_request_body_size)
        )
        return app


def _told(tool: str, error: ToolError) -> str:
    """What the caller is told of ``error``: ours, cut short; anything else only that it happened."""
    # FastMCP wraps whatever a tool raised in a ToolError "from" it.
    cause = error.__cause__
    if cause is None or isinstance(cause, ToolError | FloorError):
        text = str(error)
        return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."
    log.error("tool %s failed", tool, exc_info=cause)
    return (
        f"{tool} failed because of a fault on the server's side, not in your arguments; "
        "it has been logged. Try again later or carry on without it."
    )


def _closed(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object that lists its properties."""
    if isinstance(schema, dict):
        if "properties" in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            _closed(value)
    elif isinstance(schema, list):
        for value in schema:
            _closed(value)
    return schema


def _control_character(value: Any, loc: tuple[str | int, ...]) -> str | None:
    """Why ``value`` (JSON arguments) is refused for a control character in its text, if it is."""
    if isinstance(value, str):
        found = CONTROL_CHARACTER.search(value)
        if found:
            return (
                f"{_path(loc)} contains a control character (U+{ord(found.group()):04X}) at position "
                f"{found.start()}; send plain text (newlines and tabs are fine)"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _control_character(item, (*loc, key))
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _control_character(item, (*loc, index))
            if problem:
                return problem
    return None


def _path(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """A declared argument's place, e.g. ``entities[0].name`` (an undeclared name is never one)."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _json_kind(value: object) -> str:
    """What a JSON value is, e.g. ``a string``; never the value itself."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else "a value of another type"
