"""Who may use the floor's tools: one bearer credential per trader turn.

The tool service serves every trader's MCP servers from one process, so no argument can say
whose account a call is for: the credential does. A turn is issued a random token (256 bits)
naming its trader, its turn key (from which order idempotency keys derive), its cycle and the
server kinds it may open; only a SHA-256 hash of it is stored. The token expires, and the turn
revokes it when it ends. The stdio servers of ``floor mcp`` are bound at start instead, to the
same :class:`Grant` fields, so both transports act on exactly the same rules.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import Engine, bindparam, delete, insert, select, update

from floor.database import autocommit
from floor.errors import ConfigurationError
from floor.ledger.accounts import get_account
from floor.schema import accounts, tool_tokens

ServerKind = Literal["accounts", "market", "push", "memory", "research"]
# Every MCP server the floor serves, in one place: stdio launcher, tool service and turns use it.
SERVER_KINDS: tuple[ServerKind, ...] = get_args(ServerKind)
TOKEN_PREFIX = "tft_"  # recognisable in a leak scan; the rest is 32 random bytes


@dataclass(frozen=True)
class Grant:
    """What one credential lets its holder do: act for ``trader`` in this turn, on these servers."""

    id: int
    trader: str
    turn_key: str
    cycle_id: int | None
    kinds: frozenset[str]
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    engine: Engine,
    trader: str,
    *,
    turn_key: str,
    cycle_id: int | None,
    kinds: Iterable[str],
    ttl: timedelta,
    now: datetime | None = None,
) -> str:
    """A new token for ``trader``'s turn; only its hash is stored. The caller keeps the token."""
    chosen = sorted(set(kinds))
    unknown = [k for k in chosen if k not in SERVER_KINDS]
    if unknown or not chosen:
        raise ConfigurationError(
            f"unknown tool server kinds {unknown}; choose from {', '.join(SERVER_KINDS)}"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    issued = now or datetime.now(UTC)
    with engine.begin() as conn:
        account = get_account(conn, trader)
        conn.execute(
            insert(tool_tokens).values(
                token_hash=token_hash(token),
                account_id=account.id,
                turn_key=turn_key,
                cycle_id=cycle_id,
                kinds=",".join(chosen),
                issued_at=issued,
                expires_at=issued + ttl,
            )
        )
    return token


# The question every request to the tool service asks of its credential: the grant of a live
# token (issued, not expired, not revoked). Asked by :func:`find_grant` here and, on the
# service's event loop, by :class:`servers.auth.GrantLookup`, with :func:`grant_parameters`.
GRANT_QUERY = (
    select(
        tool_tokens.c.id,
        accounts.c.name,
        tool_tokens.c.turn_key,
        tool_tokens.c.cycle_id,
        tool_tokens.c.kinds,
        tool_tokens.c.expires_at,
    )
    .join(accounts, accounts.c.id == tool_tokens.c.account_id)
    .where(
        tool_tokens.c.token_hash == bindparam("token_hash"),
        tool_tokens.c.revoked_at.is_(None),
        tool_tokens.c.expires_at > bindparam("now"),
    )
)


def grant_parameters(token: str, now: datetime | None = None) -> dict | None:
    """:data:`GRANT_QUERY`'s parameters for ``token``; None for what cannot be a token at all."""
    if not token or len(token) > 200 or not token.startswith(TOKEN_PREFIX):
        return None
    return {"token_hash": token_hash(token), "now": now or datetime.now(UTC)}


def grant_from_row(row) -> Grant | None:
    """The :class:`Grant` of a :data:`GRANT_QUERY` row (None: no live token)."""
    if row is None:
        return None
    return Grant(
        id=row.id,
        trader=row.name,
        turn_key=row.turn_key,
        cycle_id=row.cycle_id,
        kinds=frozenset(row.kinds.split(",")),
        expires_at=row.expires_at,
    )


def find_grant(engine: Engine, token: str, now: datetime | None = None) -> Grant | None:
    """The grant of a live token (issued, not expired, not revoked), else None."""
    parameters = grant_parameters(token, now)
    if parameters is None:
        return None
    with autocommit(engine).connect() as conn:
        return grant_from_row(conn.execute(GRANT_QUERY, parameters).one_or_none())


def revoke_token(engine: Engine, token: str, now: datetime | None = None) -> None:
    """End a token's life now; later requests with it are refused."""
    with engine.begin() as conn:
        conn.execute(
            update(tool_tokens)
            .where(tool_tokens.c.token_hash == token_hash(token), tool_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now or datetime.now(UTC))
        )


def prune_tokens(
    engine: Engine, older_than: timedelta = timedelta(days=1), now: datetime | None = None
) -> int:
    """Delete tokens that expired more than ``older_than`` ago; returns how many."""
    cutoff = (now or datetime.now(UTC)) - older_than
    with engine.begin() as conn:
        return conn.execute(delete(tool_tokens).where(tool_tokens.c.expires_at < cutoff)).rowcount
