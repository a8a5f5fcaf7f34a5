"""Web search through the Brave Search API."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from floor.errors import FloorError

MAX_QUERY_CHARS = 400  # Brave's own limit
MAX_RESULTS = 20
_TAG = re.compile(r"<[^>]+>")


class SearchFailed(FloorError):
    """The search could not be made or answered; the message says why (never the key)."""


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    description: str


def _plain(text: object) -> str:
    """Brave highlights matches with <strong>; keep the words, drop the markup."""
    return " ".join(html.unescape(_TAG.sub("", str(text or ""))).split())


def brave_search(
    query: str, *, api_key: str, base_url: str, count: int = 5, timeout: float = 10.0
) -> list[SearchHit]:
    """The top ``count`` web results for ``query``."""
    import httpx

    cleaned = " ".join(str(query).split())
    if not cleaned:
        raise SearchFailed("the search query is empty")
    if len(cleaned) > MAX_QUERY_CHARS:
        raise SearchFailed(
            f"the search query is {len(cleaned)} characters; at most {MAX_QUERY_CHARS} are allowed"
        )
    if not 1 <= count <= MAX_RESULTS:
        raise SearchFailed(f"count must be between 1 and {MAX_RESULTS}, got {count}")
    try:
        response = httpx.get(
            f"{base_url.rstrip('/')}/res/v1/web/search",
            params={"q": cleaned, "count": count},
            headers={"Accept": "application/json", "X-Subscription-Token": api_key},
            timeout=timeout,
        )
    except httpx.TimeoutException as exc:
        raise SearchFailed(f"Brave Search did not answer within {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise SearchFailed(f"could not reach Brave Search ({type(exc).__name__})") from exc
    if response.status_code in (401, 403):
        raise SearchFailed("Brave Search refused the API key (check BRAVE_API_KEY)")
    if response.status_code == 429:
        raise SearchFailed("Brave Search rate limit reached; try again later")
    if response.status_code >= 400:
        raise SearchFailed(f"Brave Search answered HTTP {response.status_code}")
    try:
        results = (response.json().get("web") or {}).get("results") or []
    except ValueError as exc:
        raise SearchFailed("Brave Search answered something that is not JSON") from exc
    return [
        SearchHit(
            title=_plain(r.get("title")), url=str(r.get("url", "")), description=_plain(r.get("description"))
        )
        for r in results[:count]
        if isinstance(r, dict) and r.get("url")
    ]
