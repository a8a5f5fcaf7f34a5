"""Prices, history and market status from Polygon (now Massive) through the ``massive`` client.

One plan, one request shape:

- free: the whole market's closes of the last closed NYSE session in ONE grouped-daily request,
  the session dated in New York time (walking back over weekends and holidays by the calendar);
- paid: ONE snapshot request for the symbols needed (15-minute delayed trades);
- realtime: the last trade of each symbol.

Retries are urllib3's, which the client is built on, configured here: bounded, exponential backoff
on 429, 5xx, connect and read timeouts, honouring ``Retry-After`` up to a cap. The client's own
defaults (0.1 s backoff, retrying 413 and 499) are replaced. Bodies are decoded here, because the
client turns a body that is not JSON into an empty result, which would read as "no prices".
Nothing here invents a price: a symbol the API does not price is left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

from floor.errors import ConfigurationError, FloorError, TransientError
from floor.market import DailyClose, Quote
from floor.market.universe import INSTRUMENTS
from floor.money import price
from floor.settings import Settings

PLANS = ("free", "paid", "realtime")
RETRY_STATUSES = (429, 500, 502, 503, 504)
LAST_TRADE_CONCURRENCY = 8  # realtime: requests in flight at once (the client keeps 10 connections)


class MarketDataUnavailable(TransientError):
    """The API could not be reached or kept failing after the retries; a later try may work."""


class MarketDataRejected(FloorError):
    """The API refused the request for a reason a retry will not fix (an unknown path, bad input)."""


class PlanNotAllowed(ConfigurationError):
    """403: the key's plan does not include this data."""


class BadApiKey(ConfigurationError):
    """401: the API does not know the key."""


def source_name(plan: str) -> str:
    """The name a plan's market goes by, and the source its cached prices carry."""
    return f"polygon-{plan}"


class PolygonMarket:
    """``MarketData`` from Polygon/Massive for one plan; knows a fixed universe of symbols."""

    def __init__(
        self, client: Any, plan: str, symbols: Iterable[str] | None = None, retries: int = 0
    ) -> None:
        if plan not in PLANS:
            raise ConfigurationError(f"POLYGON_PLAN must be one of {', '.join(PLANS)}, got {plan!r}")
        self._client = client
        self.plan = plan
        self.retries = retries
        self.name = source_name(plan)
        self._symbols = [s.upper() for s in (symbols or [i.symbol for i in INSTRUMENTS])]
        self._known = set(self._symbols)

    # --- MarketData ---

    def knows(self, symbol: str) -> bool:
        return symbol.upper() in self._known

    def universe(self) -> list[str]:
        return list(self._symbols)

    def quotes(self, symbols: Iterable[str], at: datetime) -> dict[str, Quote]:
        """Prices of the known symbols among ``symbols``; symbols the API does not price are left out.

        Raises:
            MarketDataUnavailable: Timeouts, 429 or 5xx after the retries, or a body that is not JSON.
            PlanNotAllowed: 403; the message names the plan.
            BadApiKey: 401.
        """
        wanted = list(dict.fromkeys(s.upper() for s in symbols if self.knows(s)))
        if not wanted:
            return {}
        if self.plan == "free":
            return self._grouped_daily(wanted, at)
        if self.plan == "paid":
            return self._snapshot(wanted)
        return self._last_trades(wanted)

    def history(self, symbol: str, days: int, until: date) -> list[DailyClose]:
        """The last ``days`` sessions' closes up to ``until`` from daily aggregates, oldest first."""
        from floor.market.calendar import sessions_until

        if not self.knows(symbol):
            raise ValueError(f"unknown symbol: {symbol}")
        sessions = sessions_until(until, days)
        ticker = symbol.upper()
        body = self._call(
            f"daily aggregates of {ticker}",
            lambda: self._client.get_aggs(
                ticker, 1, "day", sessions[0].isoformat(), sessions[-1].isoformat(),
                adjusted=True, sort="asc", limit=50000, raw=True,
            ),
        )  # fmt: skip
        closes: dict[date, DailyClose] = {}
        for bar in body.get("results") or []:
            close, stamp = bar.get("c"), bar.get("t")
            if _positive(close) and isinstance(stamp, int | float):
                day = _new_york_day(stamp / 1000)
                closes[day] = DailyClose(day=day, close=price(close))
        return [closes[day] for day in sorted(closes)][-days:]

    # --- market status ---

    def session(self) -> str:
        """The API's market status now: ``open``, ``extended-hours`` or ``closed``."""
        body = self._call("market status", lambda: self._client.get_market_status(raw=True))
        market = str(body.get("market") or "")
        if market not in ("open", "extended-hours", "closed"):
            raise MarketDataRejected(f"Polygon answered an unknown market status {market!r}")
        return market

    # --- the three plans ---

    def _grouped_daily(self, wanted: list[str], at: datetime) -> dict[str, Quote]:
        from floor.market.calendar import last_closed_session, session_close

        day = last_closed_session(at)  # New York session dates: never a UTC date
        body = self._call(
            f"grouped daily closes of {day.isoformat()}",
            lambda: self._client.get_grouped_daily_aggs(day.isoformat(), adjusted=True, raw=True),
        )
        found: dict[str, Quote] = {}
        keep = set(wanted)
        for bar in body.get("results") or []:
            symbol, close = str(bar.get("T") or "").upper(), bar.get("c")
            if symbol in keep and _positive(close):
                stamp = bar.get("t")
                bar_day = _new_york_day(stamp / 1000) if isinstance(stamp, int | float) else day
                found[symbol] = Quote(symbol, price(close), session_close(bar_day), self.name)
        return found

    def _snapshot(self, wanted: list[str]) -> dict[str, Quote]:
        body = self._call(
            f"snapshot of {len(wanted)} symbols",
            lambda: self._client.get_snapshot_all("stocks", tickers=wanted, raw=True),
        )
        keep = set(wanted)
        found: dict[str, Quote] = {}
        for ticker in body.get("tickers") or []:
            symbol = str(ticker.get("ticker") or "").upper()
            trade, minute, day = (
                ticker.get("lastTrade") or {},
                ticker.get("min") or {},
                ticker.get("day") or {},
            )
            value = next((v for v in (trade.get("p"), minute.get("c"), day.get("c")) if _positive(v)), None)
            stamp = _stamp_seconds(trade.get("t")) or _stamp_seconds(ticker.get("updated"))
            if stamp is None and isinstance(minute.get("t"), int | float):
                stamp = minute["t"] / 1000
            if symbol in keep and value is not None and stamp is not None:
                previous = (ticker.get("prevDay") or {}).get("c")
                found[symbol] = Quote(
                    symbol,
                    price(value),
                    datetime.fromtimestamp(stamp, UTC),
                    self.name,
                    previous_close=price(previous) if _positive(previous) else None,
                )
        return found

    def _last_trades(self, wanted: list[str]) -> dict[str, Quote]:
        """One last-trade request per symbol, a few at a time; the first failure fails the batch."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=LAST_TRADE_CONCURRENCY) as pool:
            trades = list(pool.map(self._last_trade, wanted))
        return {quote.symbol: quote for quote in trades if quote is not None}

    def _last_trade(self, symbol: str) -> Quote | None:
        try:
            body = self._call(
                f"last trade of {symbol}", lambda: self._client.get_last_trade(symbol, raw=True)
            )
        except MarketDataRejected as exc:
            if "NOT_FOUND" in str(exc):  # a ticker the API does not know: no price, never 0
                return None
            raise
        trade = body.get("results") or {}
        stamp = _stamp_seconds(trade.get("t"))
        if not _positive(trade.get("p")) or stamp is None:
            return None
        return Quote(symbol, price(trade["p"]), datetime.fromtimestamp(stamp, UTC), self.name)

    # --- one request, its errors and its body ---

    def _call(self, what: str, request: Callable[[], Any]) -> dict:
        from massive.exceptions import BadResponse
        from urllib3.exceptions import HTTPError, MaxRetryError

        try:
            response = request()
        except MaxRetryError as exc:
            raise MarketDataUnavailable(
                f"Polygon {what} failed after {self.retries} retries: {_reason(exc.reason)}"
            ) from exc
        except BadResponse as exc:
            raise self._refusal(what, str(exc)) from exc
        except (HTTPError, OSError) as exc:
            raise MarketDataUnavailable(f"Polygon {what} failed: {_reason(exc)}") from exc
        try:
            body = json.loads(response.data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MarketDataUnavailable(f"Polygon {what} answered with a body that is not JSON") from exc
        if not isinstance(body, dict):
            raise MarketDataUnavailable(f"Polygon {what} answered with unexpected JSON: {str(body)[:80]}")
        return body

    def _refusal(self, what: str, text: str) -> FloorError:
        try:
            body = json.loads(text)
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        status = str(body.get("status") or "")
        message = str(body.get("message") or body.get("error") or text[:200]).strip()
        if status == "NOT_AUTHORIZED":
            return PlanNotAllowed(
                f"Polygon refused {what} for POLYGON_PLAN={self.plan} (403 NOT_AUTHORIZED: {message}). "
                f"Set POLYGON_PLAN to the plan this key has, or upgrade the plan."
            )
        if "api key" in message.lower():
            return BadApiKey(f"Polygon rejected POLYGON_API_KEY ({message}); check the key")
        return MarketDataRejected(f"Polygon refused {what}: {status or 'error'}: {message}")


def build_polygon_client(settings: Settings) -> Any:
    """A ``massive.RESTClient`` with explicit timeouts and bounded retries; no request is made."""
    from massive import RESTClient
    from urllib3.util.retry import Retry

    retry = Retry(
        total=settings.polygon_retries,
        connect=settings.polygon_retries,
        read=settings.polygon_retries,
        status=settings.polygon_retries,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=settings.polygon_backoff_seconds,
        backoff_max=max(settings.polygon_backoff_seconds * 8, 1.0),
        respect_retry_after_header=True,
        retry_after_max=settings.polygon_retry_after_max,
        raise_on_status=True,
    )
    options: dict[str, Any] = {
        "api_key": settings.polygon_api_key,
        "connect_timeout": settings.polygon_connect_timeout,
        "read_timeout": settings.polygon_read_timeout,
        "retries": settings.polygon_retries,
        "pagination": False,
        "connection_pool_kw": {"retries": retry},
    }
    if settings.polygon_base_url:
        options["base"] = settings.polygon_base_url.rstrip("/")
    return RESTClient(**options)


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _stamp_seconds(value: object) -> float | None:
    """A Polygon nanosecond timestamp in seconds; None when absent."""
    if isinstance(value, int | float) and value > 0:
        return value / 1e9
    return None


def _new_york_day(seconds: float) -> date:
    from floor.market.calendar import NEW_YORK

    return datetime.fromtimestamp(seconds, UTC).astimezone(NEW_YORK).date()


def _reason(error: object) -> str:
    text = str(error)
    if "Read timed out" in text or "ReadTimeout" in type(error).__name__:
        return f"read timed out ({text.split(':')[-1].strip()})"
    if "too many" in text and "error responses" in text:
        return text[text.index("too many") :]
    return text[:300]
