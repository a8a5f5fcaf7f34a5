"""An OpenAI-compatible chat-completions server on 127.0.0.1 that answers from a script.

The outside world for LLM tests: litellm, smolagents and the floor's own code talk to it over real
HTTP exactly as they would to a provider. Each request takes the next scripted reply of its model
(or of the shared script), and every request is recorded.

    with OpenAIServer() as llm:
        llm.script(
            tool_call("lookup_share_price", {"symbol": "AAPL"}),
            tool_call("buy_shares", {"symbol": "AAPL", "quantity": 3, "rationale": "cheap"}),
            final_answer("Bought 3 AAPL."),
            model="gpt-4o-mini",
        )
        settings = Settings(openai_base_url=llm.base_url, openai_api_key="sk-test", ...)

Replies: :func:`tool_call`, :func:`tool_calls`, :func:`final_answer`, :func:`text`, :func:`failure`
(any HTTP status: 401, 429, 500 …), :func:`stall` (answers after a delay, for timeouts) and
:func:`malformed_tool_call` (arguments that are not JSON). A reply may also be a callable taking the
:class:`RecordedRequest` and returning a reply, for answers that depend on the conversation. When a
script runs out the server answers 500 ``script exhausted`` (or the ``default`` reply if set), so a
test never hangs on a missing answer.
"""

from __future__ import annotations

import http.server
import itertools
import json
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.loopback import LoopbackHTTPServer

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # its tokenizer must not go online

Reply = dict[str, Any]
Script = Reply | Callable[["RecordedRequest"], Reply]
ANY_MODEL = "*"


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 0  # the status the server answered with
    received_at: float = field(default_factory=time.monotonic)

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.body.get("tools", []) or []]

    def prompt_text(self) -> str:
        """Every message's text, joined: what the model was shown."""
        parts = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, list):
                parts.extend(str(c.get("text", "")) for c in content if isinstance(c, dict))
            elif content:
                parts.append(str(content))
        return "\n".join(parts)


# --- replies ---


def tool_calls(*calls: tuple[str, dict[str, Any]], content: str | None = None, usage=(100, 20)) -> Reply:
    """An assistant message calling ``calls`` (name, arguments) in one step."""
    return {"kind": "message", "content": content, "calls": list(calls), "usage": usage}


def tool_call(name: str, arguments: dict[str, Any], *, content: str | None = None, usage=(100, 20)) -> Reply:
    """An assistant message calling one tool."""
    return tool_calls((name, arguments), content=content, usage=usage)


def final_answer(answer: str, *, usage=(100, 20)) -> Reply:
    """The ``final_answer`` tool call a smolagents ToolCallingAgent ends its run with."""
    return tool_call("final_answer", {"answer": answer}, usage=usage)


def text(content: str, *, usage=(100, 20)) -> Reply:
    """A plain assistant message with no tool call."""
    return {"kind": "message", "content": content, "calls": [], "usage": usage}


def malformed_tool_call(name: str = "buy_shares", raw_arguments: str = '{"symbol": "AAPL", "quant') -> Reply:
    """A tool call whose arguments are not valid JSON."""
    return {"kind": "message", "content": None, "calls": [(name, raw_arguments)], "usage": (100, 20)}


def failure(status: int, message: str = "", *, retry_after: float | None = None) -> Reply:
    """An error response in OpenAI's shape (401 bad key, 429 rate limit, 500 …)."""
    kinds = {401: "invalid_api_key", 403: "permission_denied", 429: "rate_limit_exceeded"}
    return {
        "kind": "failure",
        "status": status,
        "message": message or f"scripted failure {status}",
        "type": kinds.get(status, "server_error"),
        "retry_after": retry_after,
    }


def stall(seconds: float, then: Reply | None = None) -> Reply:
    """Wait ``seconds`` before answering (``then``, default a final answer): the client should time out."""
    return {"kind": "stall", "seconds": seconds, "then": then or final_answer("late")}


# --- the server ---


class OpenAIServer(LoopbackHTTPServer):
    """A scripted OpenAI-compatible server on 127.0.0.1, on a free port.

    Args:
        default: The reply when a model's script is empty; default a 500 ``script exhausted``.
        prompt_tokens: ``"count"`` reports usage.prompt_tokens as litellm's tokenizer counts the
            request's messages and tools (what a provider would bill); ``"scripted"`` reports the
            reply's own figures.
    """

    def __init__(self, default: Script | None = None, *, prompt_tokens: str = "scripted") -> None:
        if prompt_tokens not in ("count", "scripted"):
            raise ValueError("prompt_tokens must be 'count' or 'scripted'")
        self.default = default
        self.prompt_tokens = prompt_tokens
        super().__init__()
        if prompt_tokens == "count":
            import litellm  # noqa: F401 - imported here, once: a first import inside a handler thread can fail
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[str, deque[Script]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})

    @property
    def base_url(self) -> str:
        """What to set as OPENAI_BASE_URL (``http://127.0.0.1:PORT/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # scripting

    def script(self, *replies: Script, model: str = ANY_MODEL) -> None:
        """Queue ``replies`` for requests naming ``model`` (as the provider sees it, no prefix)."""
        with self._lock:
            self._scripts[model].extend(replies)

    def requests_for(self, model: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.model == model]

    def _next(self, request: RecordedRequest) -> Script:
        with self._lock:
            self.requests.append(request)
            for key in (request.model, ANY_MODEL):
                if self._scripts.get(key):
                    return self._scripts[key].popleft()
        return self.default or failure(500, "script exhausted")

    def _completion(self, request: RecordedRequest, reply: Reply) -> dict[str, Any]:
        calls = [
            {
                "id": f"call_{next(self._ids)}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
            for name, arguments in reply["calls"]
        ]
        prompt, completion = reply["usage"]
        if self.prompt_tokens == "count":
            prompt = count_prompt_tokens(request)
        message: dict[str, Any] = {"role": "assistant", "content": reply["content"]}
        if calls:
            message["tool_calls"] = calls
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }


def count_prompt_tokens(request: RecordedRequest) -> int:
    """The request's prompt tokens as litellm's bundled tokenizer counts messages and tools."""
    import litellm

    return litellm.token_counter(
        model="gpt-4o-mini", messages=request.messages, tools=request.body.get("tools") or None
    )


class _Handler(http.server.BaseHTTPRequestHandler):
    fake: OpenAIServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, {"error": {"message": "request body is not JSON", "type": "invalid_request"}})
            return
        request = RecordedRequest(path=self.path, headers=dict(self.headers.items()), body=body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            request.status = 404
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            self._answer(request)
        except Exception as exc:  # noqa: BLE001 - a broken script must show up as an answer, not a hang-up
            request.status = 500
            self._send(500, {"error": {"message": f"fake server error: {exc!r}", "type": "server_error"}})

    def _answer(self, request: RecordedRequest) -> None:
        reply = self.fake._next(request)
        if callable(reply):
            reply = reply(request)
        if reply["kind"] == "stall":
            time.sleep(reply["seconds"])
            reply = reply["then"]
        if reply["kind"] == "failure":
            request.status = reply["status"]
            headers = {}
            if reply["retry_after"] is not None:
                headers["Retry-After"] = str(reply["retry_after"])
            error = {"message": reply["message"], "type": reply["type"], "code": reply["type"]}
            self._send(reply["status"], {"error": error}, headers)
            return
        request.status = 200
        self._send(200, self.fake._completion(request, reply))

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def log_message(self, *args: object) -> None:
        pass
