"""A Polygon (Massive) compatible REST server on 127.0.0.1 with scriptable faults.

The outside world for market-data tests: the real ``massive`` client talks to it over real HTTP
through ``base=server.base_url``. It serves the endpoints the floor uses, shaped like the real API:

- ``/v2/aggs/grouped/locale/us/market/stocks/{date}`` (grouped daily, the free plan)
- ``/v2/snapshot/locale/us/markets/stocks/tickers?tickers=A,B`` (snapshot, the paid plan)
- ``/v2/last/trade/{ticker}`` (last trade, the realtime plan)
- ``/v2/aggs/ticker/{ticker}/range/1/day/{from}/{to}`` (daily aggregates, for history)
- ``/v1/marketstatus/now``

    with PolygonServer() as polygon:
        polygon.set_closes(date(2026, 11, 20), {"AAPL": 231.5, "MSFT": 410.25})
        polygon.fail_next(Fault(429, retry_after=1), Fault(500))
        ...
        assert polygon.count("grouped") == 1

Requests without ``Authorization: Bearer <api_key>`` get 401 like the real API. Faults are consumed
one per request, in order (optionally only by one kind of endpoint); ``fail_always`` answers every
request with one fault. Every request is recorded with the status it got.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
KINDS = ("grouped", "snapshot", "last-trade", "aggs", "market-status")
_ROUTES = (
    ("grouped", re.compile(r"^/v2/aggs/grouped/locale/us/market/stocks/(?P<day>[^/]+)$")),
    ("snapshot", re.compile(r"^/v2/snapshot/locale/us/markets/stocks/tickers$")),
    ("last-trade", re.compile(r"^/v2/last/trade/(?P<ticker>[^/]+)$")),
    ("aggs", re.compile(r"^/v2/aggs/ticker/(?P<ticker>[^/]+)/range/1/day/(?P<start>[^/]+)/(?P<end>[^/]+)$")),
    ("market-status", re.compile(r"^/v1/marketstatus/now$")),
)


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour: an HTTP error status, a delay, or a body that is not JSON.

    ``Fault(429, retry_after=1)``, ``Fault(500)``, ``Fault(403)``, ``Fault(delay=5)`` (answers
    correctly but late, for read timeouts), ``Fault(bad_json=True)``.
    """

    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    bad_json: bool = False
    kind: str | None = None  # only requests of this endpoint kind consume it


@dataclass
class Recorded:
    kind: str
    path: str
    query: dict[str, list[str]]
    status: int = 0
    received_at: float = field(default_factory=time.monotonic)


class PolygonServer:
    """A Polygon-compatible server on a free loopback port; use as a context manager."""

    def __init__(self, api_key: str = "test-polygon-key") -> None:
        self.api_key = api_key
        self.closes: dict[date, dict[str, float]] = {}
        self.trades: dict[str, tuple[float, datetime]] = {}
        self.market = "open"  # what /v1/marketstatus/now answers: open, extended-hours, closed
        self.latency = 0.0  # seconds added to every answer, to stand in for a distant API
        self.requests: list[Recorded] = []
        self._faults: deque[Fault] = deque()
        self._always: Fault | None = None
        self._lock = threading.Lock()
        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    # --- lifecycle ---

    def __enter__(self) -> PolygonServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_port}"

    # --- data ---

    def set_closes(self, day: date, closes: dict[str, float]) -> None:
        """The whole market's closes of one trading day (grouped daily and daily aggregates)."""
        self.closes[day] = dict(closes)

    def set_trades(self, prices: dict[str, float], at: datetime) -> None:
        """Last trades (and so snapshots) of these symbols at ``at``."""
        for symbol, value in prices.items():
            self.trades[symbol] = (value, at)

    # --- faults and counting ---

    def fail_next(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def fail_always(self, fault: Fault | None) -> None:
        self._always = fault

    def count(self, kind: str | None = None) -> int:
        """How many requests reached the server (of one endpoint kind, or all)."""
        return sum(1 for r in self.requests if kind is None or r.kind == kind)

    def reset_counts(self) -> None:
        self.requests.clear()

    def _next_fault(self, kind: str) -> Fault | None:
        with self._lock:
            if self._always is not None:
                return self._always
            for fault in self._faults:
                if fault.kind is None or fault.kind == kind:
                    self._faults.remove(fault)
                    return fault
        return None

    # --- answers ---

    def _answer(self, kind: str, match: re.Match, query: dict[str, list[str]]) -> tuple[int, dict]:
        if kind == "grouped":
            day = date.fromisoformat(match["day"])
            closes = self.closes.get(day, {})
            stamp = _millis(datetime.combine(day, clock(16, 0), NEW_YORK))
            results = [
                {"T": s, "o": c, "h": c, "l": c, "c": c, "v": 1000, "vw": c, "t": stamp, "n": 10}
                for s, c in closes.items()
            ]
            body: dict[str, Any] = {
                "status": "OK",
                "adjusted": True,
                "queryCount": len(results),
                "resultsCount": len(results),
            }
            if results:
                body["results"] = results
            return 200, body
        if kind == "snapshot":
            wanted = ",".join(query.get("tickers", [])).split(",")
            tickers = [self._snapshot(symbol) for symbol in wanted if symbol in self.trades]
            return 200, {"status": "OK", "count": len(tickers), "tickers": tickers}
        if kind == "last-trade":
            symbol = match["ticker"]
            if symbol not in self.trades:
                return 404, {"status": "NOT_FOUND", "request_id": "fake", "message": "Data not found."}
            value, at = self.trades[symbol]
            trade = {"T": symbol, "p": value, "s": 100, "t": _nanos(at), "y": _nanos(at), "x": 4}
            return 200, {"status": "OK", "request_id": "fake", "results": trade}
        if kind == "aggs":
            symbol = match["ticker"]
            start, end = date.fromisoformat(match["start"]), date.fromisoformat(match["end"])
            bars = [
                {"c": closes[symbol], "o": closes[symbol], "h": closes[symbol], "l": closes[symbol],
                 "v": 1000, "t": _millis(datetime.combine(day, clock(0, 0), NEW_YORK))}
                for day, closes in sorted(self.closes.items())
                if start <= day <= end and symbol in closes
            ]  # fmt: skip
            body = {"ticker": symbol, "status": "OK", "queryCount": len(bars), "resultsCount": len(bars)}
            if bars:
                body["results"] = bars
            return 200, body
        now = datetime.now(UTC)
        return 200, {
            "market": self.market,
            "earlyHours": self.market == "extended-hours",
            "afterHours": False,
            "serverTime": now.astimezone(NEW_YORK).isoformat(),
            "exchanges": {"nyse": self.market, "nasdaq": self.market, "otc": self.market},
        }

    def _snapshot(self, symbol: str) -> dict:
        value, at = self.trades[symbol]
        previous = self._previous_close(symbol, at)
        snapshot = {
            "ticker": symbol,
            "day": {"o": value, "h": value, "l": value, "c": value, "v": 1000, "vw": value},
            "lastTrade": {"p": value, "s": 100, "t": _nanos(at), "x": 4},
            "min": {"c": value, "t": _millis(at)},
            "updated": _nanos(at),
        }
        if previous is not None:
            snapshot["prevDay"] = {"c": previous}
        return snapshot

    def _previous_close(self, symbol: str, at: datetime) -> float | None:
        days = [
            d for d in sorted(self.closes) if d < at.astimezone(NEW_YORK).date() and symbol in self.closes[d]
        ]
        return self.closes[days[-1]][symbol] if days else None

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlparse(self.path)
                query = parse_qs(url.query)
                kind, match = next(
                    ((k, m) for k, pattern in _ROUTES if (m := pattern.match(url.path))), ("unknown", None)
                )
                record = Recorded(kind=kind, path=url.path, query=query)
                with server._lock:
                    server.requests.append(record)
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    body = {"status": "ERROR", "request_id": "fake", "error": "Unknown API Key"}
                    return self._send(record, 401, body)
                if match is None:
                    return self._send(record, 404, {"status": "NOT_FOUND", "message": "no such endpoint"})
                time.sleep(server.latency)
                fault = server._next_fault(kind)
                if fault is not None:
                    time.sleep(fault.delay)
                    if fault.bad_json:
                        return self._send(record, 200, None, raw=b'{"status": "OK", "results": [{"T": ')
                    if fault.status is not None:
                        return self._send(record, fault.status, _error_body(fault.status), fault.retry_after)
                status, body = server._answer(kind, match, query)
                self._send(record, status, body)

            def _send(
                self,
                record: Recorded,
                status: int,
                body: Any,
                retry_after: float | None = None,
                raw: bytes = b"",
            ) -> None:
                record.status = status
                data = raw or json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if retry_after is not None:
                        self.send_header("Retry-After", str(int(retry_after)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        return Handler


def _error_body(status: int) -> dict:
    if status == 403:
        return {
            "status": "NOT_AUTHORIZED",
            "request_id": "fake",
            "message": "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing",
        }
    if status == 429:
        return {
            "status": "ERROR",
            "request_id": "fake",
            "error": "You've exceeded the maximum requests per minute.",
        }
    return {"status": "ERROR", "request_id": "fake", "error": f"Internal error ({status})."}


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _nanos(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000) * 1000
