"""Answers for JSON-RPC requests the MCP SDK cannot read, on stdio and over HTTP alike.

A number of more than 4,300 digits (Python's limit on turning digits into an ``int``) makes a
message fail to parse. The SDK's stdio transport then only logs it and never answers that request,
so the client waits forever; its HTTP transport answers 500 with no request id. Here such a
request, when its id can still be read, gets a JSON-RPC error for that id, saying why.
"""

from __future__ import annotations

import json
import sys
from io import TextIOWrapper

import anyio
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import RequestBodyLimitMiddleware
from mcp.shared.message import SessionMessage
from mcp.types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError, JSONRPCMessage
from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def unreadable_answer(raw: str | bytes) -> JSONRPCError | None:
    """The error answering ``raw`` if it is a request the SDK cannot read but whose id we can.

    None for a message the SDK reads (it answers that itself) and for one without a readable id:
    a notification, or text that is not JSON at all.
    """
    try:
        JSONRPCMessage.model_validate_json(raw)
        return None
    except ValidationError:
        pass
    too_long: list[str] = []

    def read_int(digits: str) -> int | None:
        try:
            return int(digits)
        except ValueError:  # too many digits: read as None, so the rest (the id) can still be read
            too_long.append(digits)
            return None

    try:
        message = json.loads(raw, parse_int=read_int)
    except (ValueError, RecursionError):
        return None
    request_id = message.get("id") if isinstance(message, dict) and "method" in message else None
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        return None
    if too_long:
        error = ErrorData(
            code=PARSE_ERROR,
            message=f"Parse error: a number has more than {sys.get_int_max_str_digits()} digits",
        )
    else:
        error = ErrorData(
            code=INVALID_REQUEST, message="Invalid request: not a JSON-RPC request this server reads"
        )
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=error)


async def serve_stdio(server: Server) -> None:
    """Run the SDK's low-level ``server`` on stdin and stdout, answering unreadable requests."""
    # Read as the SDK's own stdio transport reads stdin.
    stdin = anyio.wrap_file(TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"))
    answers_in, answers_out = anyio.create_memory_object_stream[SessionMessage](16)

    async def readable_lines():
        async with answers_in:
            async for line in stdin:
                answer = unreadable_answer(line)
                if answer is None:
                    yield line
                else:
                    await answers_in.send(SessionMessage(JSONRPCMessage(answer)))

    async def send_answers(write) -> None:
        async with answers_out:
            async for answer in answers_out:
                try:
                    await write.send(answer)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    return  # the session has ended

    async with stdio_server(stdin=readable_lines()) as (read, write):  # type: ignore[arg-type]
        async with anyio.create_task_group() as group:
            group.start_soon(send_answers, write)
            await server.run(read, write, server.create_initialization_options())
            group.cancel_scope.cancel()


class AnswerUnreadableMessages:
    """ASGI middleware answering a POSTed request the SDK cannot read with a 400 for its id.

    It belongs after the authentication middleware: a request without valid credentials passes
    on untouched, to be refused with 401. Bodies are read only up to ``max_body_size``.
    """

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self._bounded = RequestBodyLimitMiddleware(self._screen, max_body_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        authenticated = user is None or user.is_authenticated
        if scope["type"] == "http" and scope["method"] == "POST" and authenticated:
            await self._bounded(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _screen(self, scope: Scope, receive: Receive, send: Send) -> None:
        first = await receive()  # the whole body, gathered by the limit middleware, if it fitted
        whole = first["type"] == "http.request" and not first.get("more_body", False)
        answer = unreadable_answer(first.get("body", b"")) if whole else None
        if answer is not None:
            body = answer.model_dump(mode="json", by_alias=True, exclude_none=True)
            await JSONResponse(body, status_code=400)(scope, receive, send)
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return first

        await self.app(scope, replay, send)
