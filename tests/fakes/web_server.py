"""A small web on 127.0.0.1: pages to fetch, a Brave-Search-compatible API, a notification receiver.

The outside world for research and push tests; the floor's real clients (httpx, apprise) talk to
it over real HTTP.

    with WebServer() as web:
        web.page("/news", "<html><body><main><h1>Hi</h1></main></body></html>")
        web.page("/gone", "missing", status=404)
        web.brave(api_key="brave-test", results=[{"title": "A", "url": "https://a.example"}])
        web.receiver("/notify", status=500)
        ... web.url("/news") ...
        assert web.requests[-1].path == "/news"

Every request is recorded (method, path with query, headers, body) with the status it got.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackHTTPServer


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    brave_key: str | None = None
    brave_results: list[dict[str, Any]] | None = None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def json(self) -> Any:
        return json.loads(self.body)


class WebServer(LoopbackHTTPServer):
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        super().__init__()

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"web": self})

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def page(
        self, path: str, body: str | bytes, *, status: int = 200, content_type: str | None = None, **kw
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(
            status=status, body=data, content_type=content_type or "text/html; charset=utf-8", **kw
        )

    def redirect(self, path: str, location: str) -> None:
        self.routes[path] = Route(status=302, headers={"Location": location})

    def brave(self, *, api_key: str, results: list[dict[str, Any]], status: int = 200) -> None:
        """Answer ``/res/v1/web/search`` like Brave: 401 without the key, else ``results``."""
        self.routes["/res/v1/web/search"] = Route(status=status, brave_key=api_key, brave_results=results)

    def receiver(self, path: str = "/notify", *, status: int = 200) -> None:
        """Accept POSTs to ``path`` (an apprise ``json://`` target) and answer ``status``."""
        self.routes[path] = Route(status=status, body=b"{}", content_type="application/json")

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]


class _Handler(http.server.BaseHTTPRequestHandler):
    web: WebServer
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = Recorded(self.command, self.path, dict(self.headers.items()), body)
        with self.web._lock:
            self.web.requests.append(record)
        route = self.web.routes.get(urlsplit(self.path).path)
        if route is None:
            return self._send(record, 404, b"not found", "text/plain")
        if route.delay:
            time.sleep(route.delay)
        if route.brave_results is not None:
            if self.headers.get("X-Subscription-Token") != route.brave_key:
                return self._send(record, 401, b'{"error": "bad key"}', "application/json")
            if route.status != 200:
                return self._send(record, route.status, b'{"error": "scripted"}', "application/json")
            count = int(record.query.get("count", ["10"])[0])
            payload = {"type": "search", "web": {"type": "search", "results": route.brave_results[:count]}}
            return self._send(record, 200, json.dumps(payload).encode(), "application/json")
        self._send(record, route.status, route.body, route.content_type, route.headers)

    do_GET = do_POST = _handle  # noqa: N815 - http.server's naming

    def _send(self, record: Recorded, status: int, body: bytes, content_type: str, headers=None) -> None:
        record.status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass
