"""Revoked passkeys, told to every web process through Redis.

The tracker and the web seed keep access decisions per process for a few seconds
(``btt_platform.fastpath.AuthCache``). A rotation drops them only in the process that rotated;
so it also leaves a marker in Redis for the old passkey, and both fast paths refuse a cached
grant of a passkey with a marker: the tracker inside its announce script (no extra round
trip), the web seed with one EXISTS per grant. The marker only needs to outlive the longest
decision cache: after that, every process asks the database, where the passkey is revoked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Final

import redis
import redis.asyncio as aioredis
from django.conf import settings

# Longer than the tracker's 3 s and the web seed's 1 s decision caches, with slack for a
# process that loaded a decision just before the rotation committed.
REVOKED_HOLD_SECONDS: Final = 10

_client: redis.Redis | None = None
_client_url = ""
_client_lock = threading.Lock()


def revoked_key(passkey: str) -> str:
    """The Redis key marking ``passkey`` as revoked a moment ago."""
    return f"pk:revoked:{passkey}"


def mark_revoked(passkeys: Iterable[str]) -> None:
    """Tell every web process that ``passkeys`` are revoked: call it once that is committed."""
    keys = [revoked_key(passkey) for passkey in passkeys]
    if not keys:
        return
    pipe = sync_client().pipeline(transaction=False)
    for key in keys:
        pipe.set(key, "1", ex=REVOKED_HOLD_SECONDS)
    pipe.execute()


async def recently_revoked(client: aioredis.Redis, passkey: str) -> bool:
    """Whether ``passkey`` was revoked within REVOKED_HOLD_SECONDS (one EXISTS)."""
    return bool(await client.exists(revoked_key(passkey)))


def sync_client() -> redis.Redis:
    """This process's synchronous Redis client, for what sync code tells the fast paths."""
    global _client, _client_url
    with _client_lock:
        if _client is None or _client_url != settings.REDIS_URL:
            _client = redis.Redis.from_url(settings.REDIS_URL)
            _client_url = settings.REDIS_URL
        return _client
